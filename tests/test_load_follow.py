"""``obsdb migrate --follow``: loads what a writer appends, never an incomplete line, exactly once
across kills, and reads nothing again for files that did not change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from bench.loader import generate
from psycopg import sql

from obsdb import api
from obsdb.load import pipeline
from obsdb.load.files import discover
from obsdb.load.pipeline import FileLoader
from obsdb.load.tails import Tails
from tests.helpers import obsdb_env, query, run_obsdb, settings_for

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.engines]

def _comparable(db: str) -> dict[str, tuple[object, ...]]:
    """Table contents without the bookkeeping that differs between runs (file ids, computed_at)."""
    out = {}
    with psycopg.connect(db) as conn:
        for table, cols in (("scalp_ticks", "symbol, event_time, last_price, cum_volume, quality_flag"),
                            ("scalp_1m_bars", "symbol, bar_time, origin, open, high, low, close, volume"),
                            ("swing_bars_10m", "symbol, bar_time, origin, open, high, low, close, volume")):
            q = sql.SQL("SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                        "FROM (SELECT {} FROM {}) x").format(sql.SQL(cols), sql.Identifier(table))  # our literal
            row = conn.execute(q).fetchone()
            assert row is not None
            out[table] = tuple(row)
    return out


def _lines(tmp: Path, n: int) -> list[bytes]:
    generate(n, tmp, symbols=6)
    out: list[bytes] = []
    for f in sorted(tmp.glob("*.jsonl")):
        out += f.read_bytes().splitlines(keepends=True)
    return out[:n]


def _writer(path: Path, lines: list[bytes], chunks: int, done: threading.Event) -> None:
    """Append ``lines`` in ``chunks`` writes, cutting lines in the middle, like a collector mid-write."""
    data = b"".join(lines)
    step = max(1, len(data) // chunks)
    with path.open("ab") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            time.sleep(0.05)
    done.set()


def _wait_for(db: str, rows: int, proc: subprocess.Popen[Any], limit: float = 180) -> None:
    """Until ``rows`` ticks are loaded (a deadline only against a hang, not a speed requirement)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "follow exited"
        if query(db, "SELECT count(*) FROM scalp_ticks")[0][0] == rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"follow did not load {rows} rows")


def _start(db: str, where: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "obsdb", "migrate", "--follow", str(where), "--interval", "0.2",
                             "--json"], env=obsdb_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_equals_one_clean_run(db: str, archive: Path, new_database: Callable[[str], str]) -> None:
    """The same archive, loaded by one plain migrate into a fresh database, gives the same tables."""
    clean = new_database(db.split("dbname=")[1].split()[0] + "_clean")
    assert run_obsdb("migrate", str(archive), "--json", env=obsdb_env(clean)).returncode == 0
    assert _comparable(db) == _comparable(clean)


def test_follow_loads_what_a_writer_appends_and_stops_on_sigterm(db: str, tmp_path: Path,
                                                                  new_database: Callable[[str], str]) -> None:
    lines = _lines(tmp_path / "gen", 6_000)
    archive = tmp_path / "archive"
    archive.mkdir()
    day = archive / "20260202_09.jsonl"
    day.write_bytes(b"".join(lines[:1000]))
    proc = _start(db, archive)
    try:
        _wait_for(db, 1000, proc)
        done = threading.Event()
        writer = threading.Thread(target=_writer, args=(day, lines[1000:], 40, done))
        writer.start()
        seen_partial = False
        while not done.is_set():  # while the writer runs: never a row from an incomplete line
            loaded = query(db, "SELECT count(*) FROM scalp_ticks")[0][0]
            complete = day.read_bytes().count(b"\n")
            assert loaded <= complete  # type: ignore[operator]
            seen_partial |= not day.read_bytes().endswith(b"\n")
            time.sleep(0.05)
        writer.join()
        _wait_for(db, len(lines), proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    polls = [orjson.loads(x) for x in out.splitlines() if x.startswith("{\"poll\"")]
    assert sum(p["rows_loaded"] for p in polls) == len(lines)
    assert query(db, "SELECT count(*) FROM obsdb_rejects")[0][0] == 0
    _assert_equals_one_clean_run(db, archive, new_database)


def test_follow_killed_while_a_writer_appends_then_restarted_equals_one_clean_run(
        db: str, tmp_path: Path, new_database: Callable[[str], str]) -> None:
    lines = _lines(tmp_path / "gen", 8_000)
    archive = tmp_path / "archive"
    archive.mkdir()
    day = archive / "20260202_09.jsonl"
    day.write_bytes(b"")
    proc = _start(db, archive)
    done = threading.Event()
    writer = threading.Thread(target=_writer, args=(day, lines, 60, done))
    writer.start()
    try:
        deadline = time.monotonic() + 120
        while query(db, "SELECT count(*) FROM scalp_ticks")[0][0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: whatever it was doing
        proc.wait()
        writer.join()
        again = _start(db, archive)
        try:
            _wait_for(db, len(lines), again)
            again.send_signal(signal.SIGTERM)
            _, err = again.communicate(timeout=120)
            assert again.returncode == 0, err[-2000:]  # stopped cleanly, its derive included
        finally:
            if again.poll() is None:
                again.kill()
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_equals_one_clean_run(db, archive, new_database)


class _Counting:
    """Counts the statements a connection runs (the cheapness of an idle poll is the promise)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn, self.calls = conn, 0
        self._execute = conn.execute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return self._execute(*args, **kwargs)

        conn.execute = counted  # type: ignore[method-assign]


def test_an_idle_poll_reads_nothing_and_an_append_reads_only_the_new_bytes(db: str, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _lines(tmp_path / "gen", 3_000)
    day = tmp_path / "archive" / "day.jsonl"
    day.parent.mkdir()
    day.write_bytes(b"".join(lines[:2000]))
    opened: list[Path] = []
    real_open = pipeline.open_archive
    monkeypatch.setattr(pipeline, "open_archive", lambda p: opened.append(p) or real_open(p))
    with psycopg.connect(db, autocommit=True) as conn:
        counting = _Counting(conn)
        loader = FileLoader(conn, None, tails=Tails())
        first = loader.load(discover([day])[0][0])
        assert (first.status, first.loaded) == ("new", 2000)
        opened.clear()
        counting.calls = 0
        idle = loader.load(discover([day])[0][0])
        assert idle.status == "unchanged" and counting.calls == 0 and opened == []
        with day.open("ab") as f:
            f.write(b"".join(lines[2000:]))
        hashed: list[int] = []
        real_skip = pipeline.StreamReader.skip
        monkeypatch.setattr(pipeline.StreamReader, "skip", lambda self, n: hashed.append(n) or real_skip(self, n))
        more = loader.load(discover([day])[0][0])
        assert (more.status, more.loaded, more.resumed_at_line) == ("appended", 1000, 2001)
        assert opened == [] and hashed == []  # the loaded prefix was neither reopened nor hashed again
        loader.tails.close()  # type: ignore[union-attr]
    assert query(db, "SELECT loaded_lines FROM obsdb_ingest_files")[0][0] == 3000


def test_a_replaced_file_is_looked_at_afresh(db: str, tmp_path: Path) -> None:
    lines = _lines(tmp_path / "gen", 2_000)
    day = tmp_path / "archive" / "day.jsonl"
    day.parent.mkdir()
    day.write_bytes(b"".join(lines[:1000]))
    with psycopg.connect(db, autocommit=True) as conn:
        loader = FileLoader(conn, None, tails=Tails())
        loader.load(discover([day])[0][0])
        other = tmp_path / "other.jsonl"
        other.write_bytes(b"".join(lines[1000:]))
        other.replace(day)  # a new inode at the same path
        again = loader.load(discover([day])[0][0])
        assert (again.status, again.loaded) == ("changed", 1000)
        loader.tails.close()  # type: ignore[union-attr]


def test_follow_derives_what_an_earlier_run_left_marked(db: str, tmp_path: Path) -> None:
    """A follower killed between its load and its derive leaves marks; the next one's first poll
    derives them even though the archive brings nothing new."""
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "20260202_09.jsonl").write_bytes(b"".join(_lines(tmp_path / "gen", 500)))
    assert run_obsdb("migrate", str(archive), "--no-derive", "--json", env=obsdb_env(db)).returncode == 0
    assert query(db, "SELECT count(*) FROM scalp_1m_bars")[0][0] == 0
    polls: list[Any] = []
    api.follow([archive], interval=0.0, on_poll=polls.append, settings=settings_for(db), max_polls=1)
    assert polls[0].rows == 0 and polls[0].derive is not None
    assert query(db, "SELECT count(*) FROM scalp_1m_bars")[0][0] > 0
    assert query(db, "SELECT count(*) FROM obsdb_derive_dirty")[0][0] == 0
