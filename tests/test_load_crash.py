"""A load killed with SIGKILL in the middle, then run again, ends exactly like one clean run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from bench.loader import generate

from obsdb.db.queries import STREAM_LOCK
from obsdb.load.ledger import stream_lock_key
from obsdb.load.pipeline import BATCH_LINES
from tests.helpers import obsdb_env, query, run_obsdb

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.engines]

CHECKSUM = ("SELECT count(*), md5(string_agg(symbol || event_time::text || last_price::text || "
            "coalesce(cum_volume::text, '-'), ',' ORDER BY symbol, event_time)) FROM scalp_ticks")

#: Backends of this database waiting on a two-key advisory lock (objsubid 2), other than our own.
LOCK_WAITERS = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2 "
                "AND classid = %s AND objid::bigint = %s AND pid <> pg_backend_pid() "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


def _ledger(db: str) -> list[tuple[object, ...]]:
    return query(db, "SELECT head_sha256, prefix_digest, loaded_bytes, loaded_lines, rows_loaded, duplicates, "
                     "rejected FROM obsdb_ingest_files ORDER BY head_sha256")


def stream_lock(path: Path) -> tuple[int, int]:
    """The advisory lock a loader takes for this file's content stream (keyed by its first line)."""
    with path.open("rb") as f:
        return stream_lock_key(hashlib.sha256(f.readline()).hexdigest())


def waits_for(conn: psycopg.Connection[object], lock: tuple[int, int]) -> bool:
    """Some other backend of this database waits (not granted) on that two-key advisory lock."""
    return conn.execute(LOCK_WAITERS, (lock[0], lock[1] & 0xFFFF_FFFF)).fetchone() != (0,)


def merge_first_files(archive: Path, keep_apart: int) -> tuple[Path, int]:
    """Move all but the last ``keep_apart`` hour files into one file that sorts first: several batches."""
    hours = sorted(archive.glob("*_*.jsonl"))
    merged = archive / f"{hours[0].name.split('_')[0]}.jsonl"  # "." sorts before "_": loaded first
    with merged.open("wb") as out:
        for path in hours[:-keep_apart]:
            out.write(path.read_bytes())
            path.unlink()
    return merged, sum(1 for _ in merged.open("rb"))


def test_sigkill_mid_load_then_rerun_equals_a_clean_run(db: str, tmp_path: Path,
                                                        new_database: Callable[[str], str]) -> None:
    archive = tmp_path / "archive"
    generate(120_000, archive, symbols=8)
    first, first_lines = merge_first_files(archive, keep_apart=14)  # 96,000 lines: two batches
    assert first_lines > 1.5 * BATCH_LINES
    with (archive / "bad.jsonl").open("wb") as f:
        f.write(b'{"not": "a tick"}\n{"timestamp": "2026-02-02T09:00:00", "symbol": "005930", "price": 1}\n')
    loaded_first, second = sorted(archive.iterdir())[:2]
    assert loaded_first == first
    env = obsdb_env(db)
    # The kill point does not depend on speed: one worker loads files in path order, and while we
    # hold the second file's stream lock it commits the first file's batches, then waits for us.
    with psycopg.connect(db, autocommit=True) as hold:
        hold.execute(STREAM_LOCK, stream_lock(second))
        with (tmp_path / "stderr.txt").open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "obsdb", "migrate", str(archive), "--json",
                                     "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 120  # a hang, not slowness: fail only then
            while not waits_for(hold, stream_lock(second)):
                assert proc.poll() is None, (f"migrate exited {proc.returncode} before the second file: "
                                             f"{(tmp_path / 'stderr.txt').read_text()[-2000:]}")
                assert time.monotonic() < deadline, "migrate never reached the second file"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # exactly the first file's lines, in more than one committed batch, and nothing after it
    assert query(db, "SELECT count(*) FROM scalp_ticks")[0][0] == first_lines
    assert query(db, "SELECT sum(loaded_lines) FROM obsdb_ingest_files")[0][0] == first_lines
    again = run_obsdb("migrate", str(archive), "--json", env=env)
    assert again.returncode == 0, again.stderr

    # the same archive, loaded once without interruption, into a second database
    clean = new_database(db.split("dbname=")[1].split()[0] + "_clean")
    assert run_obsdb("migrate", str(archive), env=obsdb_env(clean)).returncode == 0
    assert query(db, CHECKSUM) == query(clean, CHECKSUM)
    assert query(db, CHECKSUM)[0][0] == 120_000
    rejects = "SELECT line_no, field, reason FROM obsdb_rejects ORDER BY line_no"
    assert query(db, rejects) == query(clean, rejects)
    ledger_done = [r[:4] + r[6:] for r in _ledger(db)]  # per-run counters differ, offsets must not
    assert ledger_done == [r[:4] + r[6:] for r in _ledger(clean)]


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
