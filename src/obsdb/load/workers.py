"""``--workers N``: files spread over N processes, each with its own connection and loader.

Processes, not threads: parsing is Python code and the GIL would serialise it. Each worker takes
whole files (the ledger's per-stream advisory lock keeps two workers off the same content), so the
exactly-once rules are the same as with one process. Progress comes back through a queue.

Files go out in path order (the archive's names are its hours), so the workers write neighbouring
hours at once and the table's pages follow time: the tick partitions' BRIN index on event_time then
narrows a day to its own block ranges. Handed out biggest first, two workers wrote days far apart
into the same block ranges, and derive's feed gaps scanned the whole month for every day.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import psycopg

from obsdb.db.runs import flush_counts
from obsdb.errors import DatabaseUnavailable
from obsdb.load.files import Found, open_archive
from obsdb.load.pipeline import FileLoader, Progress
from obsdb.load.reader import StreamReader
from obsdb.load.report import FileReport

_worker: dict[str, Any] = {}
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """A worker must not outlive the obsdb that started it, even one killed with SIGKILL: it would
    hold locks, a connection, and the embedded server's client lock."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown is all there is
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _init(parent: int, conninfo: str | None, run_id: int | None, dry_run: bool, progress: Any) -> None:
    _die_with(parent)
    gc.disable()  # as in the single-process load: the objects made here hold no cycles
    conn = psycopg.connect(conninfo, autocommit=True) if conninfo else None
    _worker["writes"] = conn if not dry_run else None  # the connection whose row counts to flush
    _worker["loader"] = FileLoader(conn, run_id, dry_run=dry_run,
                                   progress=lambda b, n, r: progress.put((b, n, r)))


def _load(group: list[Found]) -> list[FileReport]:
    reports: list[FileReport] = []
    for found in group:
        try:
            reports.append(_worker["loader"].load(found))
        except psycopg.OperationalError as exc:  # psycopg errors do not cross processes well: say it plainly
            raise DatabaseUnavailable(
                f"lost PostgreSQL while loading {found.path}: {str(exc).strip()}\n  -> once PostgreSQL "
                "answers again, run the same command: the load resumes where it stopped") from None
    if _worker["writes"] is not None:
        flush_counts(_worker["writes"])  # before derive checks which partitions to ANALYZE
    return reports


def _head_key(found: Found) -> str:
    """Files that start with the same line may hold the same content: one worker takes them all, in
    path order, so which one is the `copy` does not depend on which worker was quicker."""
    if found.error:
        return f"path:{found.path}"
    try:
        opened = open_archive(found.path)
        try:
            head = StreamReader(opened.stream).head()
        finally:
            opened.close()
    except (OSError, EOFError, ValueError):
        return f"path:{found.path}"  # the loader will report the problem
    return "head:" + hashlib.sha256(head).hexdigest() if head else f"path:{found.path}"


def group_files(files: Sequence[Found]) -> list[list[Found]]:
    """Files grouped by first line, each group in path order; the groups in the path order of their
    first file."""
    groups: dict[str, list[Found]] = {}
    for f in files:
        groups.setdefault(_head_key(f), []).append(f)
    return list(groups.values())


def default_workers() -> int:
    """As many as the machine has cores, up to 4: the server needs cores too."""
    return max(1, min(4, os.cpu_count() or 1))


def load_parallel(conninfo: str | None, files: Sequence[Found], workers: int, run_id: int | None, *,
                  dry_run: bool, progress: Progress | None) -> list[FileReport]:
    """Load ``files`` with ``workers`` processes; reports come back in the order of ``files``."""
    ctx = mp.get_context("fork")
    updates: Any = ctx.Queue()
    reports: list[FileReport] = []
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                             initargs=(os.getpid(), conninfo, run_id, dry_run, updates)) as pool:
        # In path order, so pages follow time (see above); a worker takes the next group when free.
        futures = [pool.submit(_load, group) for group in group_files(files)]
        pending: set[Future[list[FileReport]]] = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(updates, progress)
            for fut in done:
                fut.result()  # raise the first failure now, with the others cancelled by the pool
        _drain(updates, progress)
        by_path = {r.path: r for fut in futures for r in fut.result()}
        reports = [by_path[str(f.path)] for f in files]
    return reports


def _drain(updates: Any, progress: Progress | None) -> None:
    while True:
        try:
            b, n, r = updates.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(b, n, r)
