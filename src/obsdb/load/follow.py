"""``obsdb migrate --follow``: keep loading (and deriving) what the collector appends, until stopped.

Each poll walks the paths, passes over files whose size, mtime and inode did not move (no read, no
query), and reads growing files on from where the last poll stopped, with the hash state kept in
memory (``load.tails``). Every batch commits with its ledger entry as in a one-off migrate, so a
kill at any moment followed by a restart gives the same tables (the first poll derives what a
killed predecessor left marked); an unterminated last line waits.
SIGTERM and Ctrl-C stop it between polls, or between batches of a poll.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from obsdb.db.runs import finish_run, flush_counts, start_run
from obsdb.derive.run import DeriveReport
from obsdb.derive.run import derive as run_derive
from obsdb.load.files import discover
from obsdb.load.pipeline import FileLoader, Progress
from obsdb.load.report import FileReport, RunReport
from obsdb.load.tails import Tails


@dataclass
class Poll:
    """What one poll did, and how far behind the archive the database still is."""

    number: int
    files: int
    lines: int
    rows: int
    rejected: int
    behind_bytes: int
    seconds: float
    derive: DeriveReport | None = None
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"poll": self.number, "files": self.files, "lines_read": self.lines, "rows_loaded": self.rows,
                "rejected": self.rejected, "behind_bytes": self.behind_bytes, "seconds": round(self.seconds, 3),
                "derive": self.derive.to_dict() if self.derive else None, "errors": self.errors}


OnPoll = Callable[[Poll], None]


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT, so the loop ends cleanly between batches."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now (every committed batch is safe)
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def follow(conn: psycopg.Connection[Any], paths: Sequence[Path], *, interval: float, stop: threading.Event,
           on_poll: OnPoll, derive_after: bool = True, progress: Progress | None = None,
           max_polls: int | None = None) -> RunReport:
    """Poll ``paths`` every ``interval`` seconds until ``stop`` is set (or ``max_polls`` polls)."""
    report = RunReport()
    report.run_id = start_run(conn, "migrate", {"paths": [str(p) for p in paths], "follow": True}, dry_run=False)
    tails = Tails()
    loader = FileLoader(conn, report.run_id, progress=progress, tails=tails)
    number, status, started = 0, "failed", time.perf_counter()
    try:
        while not stop.is_set() and (max_polls is None or number < max_polls):
            number += 1
            poll_started = time.perf_counter()
            poll = _poll(loader, paths, number, report, stop)
            # the first poll derives whatever it loaded: a follower killed before its derive (or a
            # migrate --no-derive) may have left marks that no new row would ever bring a derive for
            if derive_after and (poll.rows or number == 1):
                flush_counts(conn)  # this poll's rows count before derive decides what to ANALYZE
                poll.derive = run_derive(conn)
            poll.behind_bytes = tails.behind()
            poll.seconds = time.perf_counter() - poll_started
            on_poll(poll)
            stop.wait(max(0.0, interval - poll.seconds))
        status = "ok"
    finally:
        tails.close()
        report.seconds = time.perf_counter() - started
        if not conn.closed and not conn.broken:
            totals = report.to_dict()
            totals.pop("per_file")
            totals["tables"] = totals.pop("rows_by_table")
            totals["polls"] = number
            finish_run(conn, report.run_id, status, totals)
    return report


def _poll(loader: FileLoader, paths: Sequence[Path], number: int, report: RunReport,
          stop: threading.Event) -> Poll:
    found, _ = discover(paths)
    poll = Poll(number, len(found), 0, 0, 0, 0, 0.0)
    by_path = {f.path: f for f in report.files}
    for f in found:
        if stop.is_set():
            break
        done = loader.load(f)
        if done.status == "unchanged":
            continue
        if done.path in by_path:  # one report per file for the whole run: memory stays flat
            _merge(by_path[done.path], done)
        else:
            report.files.append(done)
            by_path[done.path] = done
        poll.lines += done.lines_read
        poll.rows += sum(done.rows.values())
        poll.rejected += done.rejected
        if done.error:
            poll.errors.append(f"{done.path}: {done.error}")
    return poll


def _merge(into: FileReport, more: FileReport) -> None:
    for name in ("lines_read", "loaded", "duplicates", "rejected"):
        setattr(into, name, getattr(into, name) + getattr(more, name))
    for name in ("skipped", "flagged", "rows"):
        getattr(into, name).update(getattr(more, name))
    into.status, into.pending_bytes, into.error = more.status, more.pending_bytes, more.error
    into.seconds += more.seconds
