"""A whole ``obsdb migrate`` run: discover files, load each exactly once, record the run."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from obsdb.db.runs import finish_run, flush_counts, start_run
from obsdb.load.files import Found, discover
from obsdb.load.pipeline import FileLoader, Progress
from obsdb.load.report import RunReport

#: Called once before loading with the files found and their total size in bytes.
Start = Callable[[list[Found], int], None]


def load_paths(conn: psycopg.Connection[Any] | None, paths: Sequence[Path], *, dry_run: bool = False,
               progress: Progress | None = None, on_start: Start | None = None,
               arguments: dict[str, Any] | None = None, workers: int = 1,
               conninfo: str | None = None) -> RunReport:
    """Load every archive under ``paths`` through ``conn`` (autocommit). ``conn`` None: dry run only."""
    started = time.perf_counter()
    found, ignored = discover(paths)
    report = RunReport(dry_run=dry_run, ignored_files=ignored)
    if on_start is not None:
        on_start(found, sum(f.size for f in found))
    if conn is not None and not dry_run:
        report.run_id = start_run(conn, "migrate", arguments or {}, dry_run)
    loader = FileLoader(conn, report.run_id, dry_run=dry_run, progress=progress)
    status = "failed"
    # The loader makes millions of short-lived acyclic objects (dicts, tuples, datetimes): the cycle
    # collector only re-scans them. Off during the load (measured: ~30% of the client's CPU), on after.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if workers > 1 and len(found) > 1:
            from obsdb.load.workers import load_parallel

            report.files = load_parallel(conninfo if conn is not None else None, found,
                                         min(workers, len(found)), report.run_id, dry_run=dry_run,
                                         progress=progress)
        else:
            for f in found:
                report.files.append(loader.load(f))
            if conn is not None and not dry_run:
                flush_counts(conn)  # before derive (next) checks which partitions to ANALYZE
        status = "ok"
    finally:
        if gc_was_enabled:
            gc.enable()
        report.seconds = time.perf_counter() - started
        if conn is not None and report.run_id is not None and not conn.closed and not conn.broken:
            totals = report.to_dict()
            totals.pop("per_file")
            totals["tables"] = totals.pop("rows_by_table")
            finish_run(conn, report.run_id, status, totals)
    return report

