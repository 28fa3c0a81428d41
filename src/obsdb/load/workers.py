"""``--workers N``: files spread over N processes, each with its own connection and loader.

Processes, not threads: parsing is Python code and the GIL would serialise it. Each worker takes
whole files (the ledger's per-stream advisory lock keeps two workers off the same content), so the
exactly-once rules are the same as with one process. Progress comes back through a queue.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import queue
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import psycopg

from obsdb.errors import DatabaseUnavailable
from obsdb.load.files import Found
from obsdb.load.pipeline import FileLoader, Progress
from obsdb.load.report import FileReport

_worker: dict[str, Any] = {}


def _init(conninfo: str | None, run_id: int | None, dry_run: bool, progress: Any) -> None:
    gc.disable()  # as in the single-process load: the objects made here hold no cycles
    conn = psycopg.connect(conninfo, autocommit=True) if conninfo else None
    _worker["loader"] = FileLoader(conn, run_id, dry_run=dry_run,
                                   progress=lambda b, n, r: progress.put((b, n, r)))


def _load(found: Found) -> FileReport:
    try:
        report: FileReport = _worker["loader"].load(found)
        return report
    except psycopg.OperationalError as exc:  # psycopg errors do not cross processes well: say it plainly
        raise DatabaseUnavailable(f"lost PostgreSQL while loading {found.path}: {str(exc).strip()}") from None


def load_parallel(conninfo: str | None, files: Sequence[Found], workers: int, run_id: int | None, *,
                  dry_run: bool, progress: Progress | None) -> list[FileReport]:
    """Load ``files`` with ``workers`` processes; reports come back in the order of ``files``."""
    ctx = mp.get_context("fork")
    updates: Any = ctx.Queue()
    reports: list[FileReport] = []
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                             initargs=(conninfo, run_id, dry_run, updates)) as pool:
        # Biggest first keeps the workers busy to the end; reports are put back in path order.
        order = sorted(range(len(files)), key=lambda i: -files[i].size)
        futures: dict[Future[FileReport], int] = {pool.submit(_load, files[i]): i for i in order}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(updates, progress)
            for fut in done:
                fut.result()  # raise the first failure now, with the others cancelled by the pool
        _drain(updates, progress)
        by_index = {futures[f]: f.result() for f in futures}
        reports = [by_index[i] for i in range(len(files))]
    return reports


def _drain(updates: Any, progress: Progress | None) -> None:
    while True:
        try:
            b, n, r = updates.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(b, n, r)
