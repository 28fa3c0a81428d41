"""PostgreSQL going away in the middle of `obsdb migrate`: one clear message, a truthful ledger, and a
re-run that ends exactly like one clean run.

Everything runs on a PRIVATE embedded server (its own data dir), so stopping it never disturbs other
tests. This process holds the server (``acquire``); the migrate under test only talks to it through
``DATABASE_URL``, so it is no client of the embedded server and cannot keep it up or restart it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bench.loader import generate

from obsdb.db import embedded
from obsdb.load.digest import digest_of
from tests.helpers import obsdb_env, query, run_obsdb

pytestmark = [pytest.mark.db, pytest.mark.slow]

LINES = 240_000
CHECKSUM = ("SELECT count(*), md5(string_agg(symbol || event_time::text || last_price::text || "
            "coalesce(cum_volume::text, '-'), ',' ORDER BY symbol, event_time)) FROM scalp_ticks")
#: derive is left out (--no-derive, it would triple the time): what it is told to do must match, though
DERIVED = ("SELECT count(*), md5(string_agg(symbol || kst_date::text || source_table, ',' "
           "ORDER BY symbol, kst_date, source_table)) FROM obsdb_derive_dirty")
LEDGER = ("SELECT head_sha256, prefix_digest, loaded_bytes, loaded_lines, rows_loaded, duplicates, rejected "
          "FROM obsdb_ingest_files ORDER BY head_sha256")


@dataclass
class Private:
    """A private embedded server, a big archive, and what one clean run of it gives."""

    data: Path
    archive: Path
    clean: list[tuple[object, ...]] = field(default_factory=list)
    clean_ledger: list[tuple[object, ...]] = field(default_factory=list)

    def up(self, dbname: str) -> str:
        """(Re)start the server if it is down; the database's connection string."""
        server = embedded.acquire(self.data)
        server.ensure_database(dbname)
        return server.conninfo(dbname)

    def stop_postgres(self) -> None:
        """What an outage looks like to obsdb: the real postmaster told to stop (fast shutdown, every
        session terminated). Returns once the supervisor has noticed and cleaned up."""
        server = embedded.acquire(self.data)  # the server this process holds: no restart here
        pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while (server.is_running() or Path(f"/proc/{pid}").exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.is_running(), "the embedded server did not go down"


@pytest.fixture(scope="module")
def private() -> Iterator[Private]:
    base = Path(tempfile.mkdtemp(prefix="obsdb-outage-"))
    base.chmod(0o755)  # as root, postgres runs as `obsdb` and must traverse it
    p = Private(base / "pgdata", base / "archive")
    try:
        generate(LINES, p.archive, symbols=40)  # ~70 hourly files: the load takes several seconds
        clean = p.up("obsdb_clean")
        done = run_obsdb("migrate", str(p.archive), "--json", "--no-derive", env=obsdb_env(clean))
        assert done.returncode == 0, done.stderr
        p.clean = query(clean, CHECKSUM) + query(clean, DERIVED)
        p.clean_ledger = query(clean, LEDGER)
        assert p.clean[0][0] == LINES
        yield p
    finally:
        with contextlib.suppress(Exception):
            embedded.stop(p.data, timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def _start_migrate(url: str, *extra: str, archive: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "obsdb", "migrate", str(archive), "--json", "--no-derive", *extra]
    return subprocess.Popen(argv, env=obsdb_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_progress(conn: psycopg.Connection[Any], proc: subprocess.Popen[str]) -> None:
    """Until the ledger has committed at least one batch (and the load is still running)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            row = conn.execute("SELECT coalesce(sum(loaded_lines), 0) FROM obsdb_ingest_files").fetchone()
        except psycopg.errors.UndefinedTable:  # the migrate is still creating the schema
            row = None
        if row and int(row[0]) > 0:
            return
        time.sleep(0.02)
    pytest.fail("the load finished (or never progressed) before the outage: make the archive bigger")


def _one_clear_message(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, (proc.returncode, err)  # README: PostgreSQL cannot be reached
    assert "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert lines and lines[0].startswith("error:"), err
    assert sum(line.lstrip().startswith("error") for line in lines) == 1, err  # one message, no noise
    assert "PostgreSQL" in err and "->" in err, err  # names the server and says what to do
    return err


def _assert_ledger_truthful(url: str) -> int:
    """The ledger claims exactly the rows that are there, and its offsets are exactly its lines."""
    per_file = {int(r[0]): (int(r[1]), int(r[2]))
                for r in query(url, "SELECT src_file_id, count(*), max(src_line) FROM scalp_ticks GROUP BY 1")}
    ledger = query(url, "SELECT file_id, first_path, loaded_bytes, loaded_lines, prefix_digest, rows_loaded, "
                        "duplicates, rejected FROM obsdb_ingest_files")
    claimed = 0
    for file_id, path, loaded_bytes, loaded_lines, prefix, rows_loaded, duplicates, rejected in ledger:
        content = Path(str(path)).read_bytes()[: int(loaded_bytes)]
        assert len(content) == loaded_bytes and (not content or content.endswith(b"\n")), path
        assert content.count(b"\n") == loaded_lines, path
        assert digest_of(content) == prefix, path
        count, last_line = per_file.pop(int(file_id), (0, 0))
        assert (rows_loaded, duplicates, rejected) == (count, 0, 0), path
        assert last_line <= loaded_lines, path  # no row from a line the ledger does not cover
        claimed += count
    assert per_file == {}, "rows whose file the ledger does not know"
    assert query(url, "SELECT count(*) FROM scalp_ticks")[0][0] == claimed
    assert query(url, "SELECT count(*) FROM obsdb_rejects")[0][0] == 0
    return claimed


def _rerun_equals_clean(p: Private, dbname: str, partial: int) -> None:
    url = p.up(dbname)
    again = run_obsdb("migrate", str(p.archive), "--json", "--no-derive", env=obsdb_env(url), timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    report = json.loads(again.stdout)
    assert report["loaded"] == LINES - partial and report["duplicates"] == 0 and report["rejected"] == 0
    assert all(f["lines_read"] == f["loaded"] for f in report["per_file"])
    assert query(url, CHECKSUM) + query(url, DERIVED) == p.clean
    assert _assert_ledger_truthful(url) == LINES
    assert query(url, LEDGER) == p.clean_ledger  # offsets, hashes and counters: as if never interrupted


def test_postgres_stopped_mid_load_then_rerun_equals_a_clean_run(private: Private) -> None:
    dbname = f"obsdb_outage_{uuid.uuid4().hex[:8]}"
    url = private.up(dbname)
    proc = _start_migrate(url, archive=private.archive)  # default workers: the parallel path on 2+ cores
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            _wait_for_progress(conn, proc)
        private.stop_postgres()
        _one_clear_message(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    url = private.up(dbname)  # restart on the same data: crash recovery, then the state as committed
    partial = _assert_ledger_truthful(url)
    assert 0 < partial < LINES
    _rerun_equals_clean(private, dbname, partial)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_connection_killed_during_copy_then_rerun_equals_a_clean_run(private: Private, workers: str) -> None:
    dbname = f"obsdb_killed_{uuid.uuid4().hex[:8]}"
    url = private.up(dbname)
    proc = _start_migrate(url, "--workers", workers, archive=private.archive)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            _wait_for_progress(conn, proc)
            deadline, killed = time.monotonic() + 30, None
            while killed is None and time.monotonic() < deadline and proc.poll() is None:
                row = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                    "AND pid <> pg_backend_pid() AND query LIKE 'COPY%FROM STDIN%' LIMIT 1").fetchone()
                if row is not None:
                    killed = conn.execute("SELECT pg_terminate_backend(%s)", row).fetchone()
            assert killed == (True,), "never caught the loader inside a COPY"
        _one_clear_message(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    partial = _assert_ledger_truthful(url)
    assert 0 < partial < LINES
    _rerun_equals_clean(private, dbname, partial)
