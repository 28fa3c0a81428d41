"""A progress bar for long work (bytes, lines, rows/s, ETA) on a terminal; silent in pipes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from obsdb import ui
from obsdb.load.files import Found


class LoadProgress:
    """Receives (bytes, lines, rows) increments from the loader."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.lines = 0
        self.rows = 0
        self.started = time.perf_counter()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TransferSpeedColumn(), TextColumn("{task.fields[lines]:>12,} lines"),
            TextColumn("{task.fields[rate]:>9,} rows/s"), TimeRemainingColumn(),
            console=ui.err, disable=not enabled, transient=False,
        )
        self._task: TaskID | None = None

    def start(self, files: list[Found], total_bytes: int) -> None:
        self._task = self._progress.add_task(f"loading {len(files)} files", total=total_bytes or None,
                                             lines=0, rate=0)

    def __call__(self, nbytes: int, lines: int, rows: int) -> None:
        self.lines += lines
        self.rows += rows
        if self._task is not None:
            elapsed = max(time.perf_counter() - self.started, 1e-6)
            self._progress.update(self._task, advance=nbytes, lines=self.lines, rate=int(self.rows / elapsed))

    def __enter__(self) -> LoadProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.__exit__(et, ev, tb)


@contextmanager
def load_progress(json_output: bool) -> Iterator[LoadProgress]:
    with LoadProgress(enabled=sys.stderr.isatty() and not json_output) as progress:
        yield progress
