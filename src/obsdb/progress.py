"""A progress bar for long work (bytes, lines, rows/s, ETA) on a terminal; silent in pipes. Follow
mode's status line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import orjson
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.text import Text

from obsdb import ui
from obsdb.load.files import Found
from obsdb.load.follow import Poll


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


@contextmanager
def follow_display(json_output: bool, targets: list[Path]) -> Iterator[Callable[[Poll], None]]:
    """Follow mode's view: a live status line on a terminal; a line per poll that did something in a
    pipe; a JSON object per poll with ``--json`` (one per line, for tools)."""
    where = ", ".join(str(t) for t in targets)
    if json_output:
        def emit(poll: Poll) -> None:
            sys.stdout.write(orjson.dumps(poll.to_dict()).decode() + "\n")
            sys.stdout.flush()
        yield emit
        return
    if not sys.stderr.isatty():
        def say(poll: Poll) -> None:
            if poll.lines or poll.errors:
                ui.out.print(_poll_line(poll))
        yield say
        return
    with Live(Text(f"following {where} ..."), console=ui.err, refresh_per_second=4, transient=False) as live:
        totals = {"rows": 0}

        def show(poll: Poll) -> None:
            totals["rows"] += poll.rows
            live.update(Text(f"following {where}: {totals['rows']:,} rows loaded; " + _poll_line(poll)
                             + "  (Ctrl-C stops)"))
        yield show


def _poll_line(poll: Poll) -> str:
    behind = "up to date" if poll.behind_bytes == 0 else f"{poll.behind_bytes:,} bytes behind (incomplete lines)"
    derived = f", derived {len(poll.derive.days)} day(s)" if poll.derive and not poll.derive.nothing_to_do else ""
    errors = f", {len(poll.errors)} file error(s): {poll.errors[0]}" if poll.errors else ""
    return (f"poll {poll.number}: {poll.lines:,} new lines, {poll.rows:,} rows, {poll.rejected:,} rejected{derived}"
            f" in {poll.seconds:.2f} s; {behind}{errors}")
