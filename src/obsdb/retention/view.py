"""How a retention report looks on a terminal, and its progress bar (quiet in pipes)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.markup import escape
from rich.progress import Progress, TextColumn
from rich.table import Table

from obsdb import ui


@contextmanager
def row_progress(enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """Rows archived so far, on a terminal only."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    with Progress(TextColumn("[bold]archiving"), TextColumn("{task.completed:>14,} rows"),
                  console=ui.err, transient=True) as bar:
        task = bar.add_task("archive", total=None)
        yield lambda n: bar.advance(task, n)


def print_report(d: dict[str, Any]) -> None:
    if d["released"]:
        verb = "would be released" if d["dry_run"] else "released"
        ui.out.print(f"{len(d['released'])} retired range(s) {verb}: migrate may load them again.")
        for r in d["released"]:
            ui.out.print(f"  {escape(r['table_name'])} {ui.when(r['range_start'])} .. {ui.when(r['range_end'])}")
        return
    parts = d["partitions"]
    if not parts:
        ui.out.print(f"Nothing is older than {d['keep_days']} days.")
        return
    table = Table("table", "partition", "from", "to", "rows", "action", "archive")
    for p in parts:
        rows = "?" if p["rows"] is None else f"{p['rows']:,}" if p["rows_exact"] else f"~{p['rows']:,}"
        start = ui.when(p["range_start"]) if p["range_start"] else "(start)"
        table.add_row(escape(p["table"]), escape(p["partition"]), start, ui.when(p["range_end"]), rows,
                      p["action"], escape(p["archive"] or ""))
    ui.out.print(table)
    if any(p["action"] == "kept" for p in parts):
        ui.out.print("Nothing was dropped: add --archive DIR (archive, then drop) or --drop (drop without archive).")
