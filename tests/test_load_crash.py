"""A load killed with SIGKILL in the middle, then run again, ends exactly like one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from bench.loader import generate
from psycopg import sql

from tests.helpers import obsdb_env, query, run_obsdb

pytestmark = [pytest.mark.db, pytest.mark.slow]

CHECKSUM = ("SELECT count(*), md5(string_agg(symbol || event_time::text || last_price::text || "
            "coalesce(cum_volume::text, '-'), ',' ORDER BY symbol, event_time)) FROM scalp_ticks")


def _ledger(db: str) -> list[tuple[object, ...]]:
    return query(db, "SELECT head_sha256, prefix_sha256, loaded_bytes, loaded_lines, rows_loaded, duplicates, "
                     "rejected FROM obsdb_ingest_files ORDER BY head_sha256")


def test_sigkill_mid_load_then_rerun_equals_a_clean_run(db: str, tmp_path: Path, admin_conninfo: str) -> None:
    archive = tmp_path / "archive"
    generate(120_000, archive, symbols=8)  # several files of several batches each
    with (archive / "bad.jsonl").open("wb") as f:
        f.write(b'{"not": "a tick"}\n{"timestamp": "2026-02-02T09:00:00", "symbol": "005930", "price": 1}\n')
    env = obsdb_env(db)
    proc = subprocess.Popen([sys.executable, "-m", "obsdb", "migrate", str(archive), "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    with psycopg.connect(db, autocommit=True) as conn:
        while time.monotonic() < deadline and proc.poll() is None:
            row = conn.execute("SELECT coalesce(sum(loaded_lines), 0) FROM obsdb_ingest_files").fetchone()
            if row and row[0] > 0:
                break
            time.sleep(0.02)
    assert proc.poll() is None, "the load finished before it could be killed: make the archive bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = query(db, "SELECT count(*) FROM scalp_ticks")[0][0]
    assert 0 < partial < 120_000  # type: ignore[operator]
    again = run_obsdb("migrate", str(archive), "--json", env=env)
    assert again.returncode == 0, again.stderr

    # the same archive, loaded once without interruption, into a second database
    from tests.helpers import with_db

    clean_name = db.split("dbname=")[1].split()[0] + "_clean"
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(clean_name)))
    clean = with_db(admin_conninfo, clean_name)
    try:
        assert run_obsdb("migrate", str(archive), env=obsdb_env(clean)).returncode == 0
        assert query(db, CHECKSUM) == query(clean, CHECKSUM)
        assert query(db, CHECKSUM)[0][0] == 120_000
        rejects = "SELECT line_no, field, reason FROM obsdb_rejects ORDER BY line_no"
        assert query(db, rejects) == query(clean, rejects)
        ledger_done = [r[:4] + r[6:] for r in _ledger(db)]  # per-run counters differ, offsets must not
        assert ledger_done == [r[:4] + r[6:] for r in _ledger(clean)]
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(clean_name)))


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_sigkilled_migrate_leaves_no_worker_behind(db: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    generate(60_000, archive, symbols=8)
    proc = subprocess.Popen([sys.executable, "-m", "obsdb", "migrate", str(archive), "--workers", "2"],
                            env=obsdb_env(db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = _children_of(proc.pid)
        time.sleep(0.02)
    assert len(workers) >= 2, "the workers did not start"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.05)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "obsdb" in Path(f"/proc/{w}/cmdline").read_text()]
    assert alive == []
