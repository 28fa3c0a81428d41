"""How results look: Rich on a terminal, plain text in pipes, JSON on request."""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from obsdb.krx import KST

# In a pipe Rich assumes 80 columns and would cut table names: give it room instead.
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def print_json(data: Any) -> None:
    """One JSON document on stdout (datetimes keep their offsets)."""
    sys.stdout.write(orjson.dumps(data, default=_default, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def when(value: datetime | date | None) -> str:
    """Times in KST, the market's clock, to the second."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def status_table(report: Any) -> Table:
    table = Table(title=f"obsdb status: {escape(report.database)}", title_justify="left")
    on_citus = getattr(report, "citus", None) is not None  # kind and shards: Citus only
    columns = [("group", "left"), ("table", "left"), ("rows", "right"), ("first (KST)", "left"),
               ("last (KST)", "left"), ("last load (KST)", "left")]
    columns += [("kind", "left"), ("shards", "right")] if on_citus else []
    for col, justify in columns:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in report.tables:
        citus_cells = [t.kind or "", "" if t.shards is None else str(t.shards)] if on_citus else []
        if not t.exists:
            table.add_row(t.group, t.name, "[red]missing[/red]", "", "", "", *citus_cells)
            continue
        rows = f"~{t.rows:,}" if t.rows_estimated else f"{t.rows:,}"
        table.add_row(t.group, t.name, rows, when(t.first), when(t.last), when(t.last_load), *citus_cells)
    return table


def print_load_report(report: Any) -> None:
    """The per-file and total summary of a load."""
    table = Table(title="obsdb migrate" + (" (dry run: nothing written)" if report.dry_run else ""),
                  title_justify="left")
    for col in ("file", "status", "read", "loaded", "dup", "rejected", "skipped", "flagged"):
        table.add_column(col, justify="left" if col in ("file", "status") else "right")
    shown = [f for f in report.files if f.status not in ("unchanged",)]
    for f in shown[:200]:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(f.skipped.items())) or "0"
        flagged = sum(f.flagged.values())
        status = f.status if f.status != "error" else "[red]error[/red]"
        table.add_row(escape(f.path), status, f"{f.lines_read:,}", f"{f.loaded:,}", f"{f.duplicates:,}",
                      f"{f.rejected:,}", skipped, f"{flagged:,}")
    if shown:
        out.print(table)
    if len(shown) > 200:
        out.print(f"... and {len(shown) - 200} more files (see --json)")
    d = report.to_dict()
    unchanged = sum(1 for f in report.files if f.status == "unchanged")
    out.print(
        f"{d['files']} files ({unchanged} unchanged since the last run, {d['ignored_files']} other files ignored): "
        f"{d['lines_read']:,} lines read = {d['loaded']:,} loaded + {d['duplicates']:,} duplicate + "
        f"{d['rejected']:,} rejected + {d['skipped']:,} skipped"
    )
    if d["skipped_by_type"]:
        out.print("skipped by type: " + ", ".join(f"{k} {v:,}" for k, v in d["skipped_by_type"].items()))
    if d["flagged"]:
        out.print("quality flags: " + ", ".join(f"{k} {v:,}" for k, v in d["flagged"].items()))
    if d["rows_by_table"]:
        out.print("rows written: " + ", ".join(f"{k} {v:,}" for k, v in d["rows_by_table"].items()))
    if d["pending_bytes"]:
        out.print(f"{d['pending_bytes']:,} bytes of unterminated last lines wait for the next run")
    rate = f", {d['rows_per_second']:,} rows/s" if d["rows_per_second"] else ""
    out.print(f"took {d['seconds']:.1f} s{rate}")
    if d["derive"] is not None:
        print_derive_report(d["derive"])
    for f in report.errors:
        err.print(f"[red]error:[/red] {escape(f.path)}: {escape(str(f.error))}")
    for f in report.files:
        if f.note:
            out.print(f"note: {escape(f.path)}: {escape(f.note)}")
    if d["rejected"]:
        out.print("see the rejected lines with `obsdb rejects`")


def print_rejects(items: Any) -> None:
    if not items:
        out.print("no rejects stored")
        return
    table = Table(title="rejected lines (newest first)", title_justify="left")
    for col in ("file:line", "field", "reason", "line"):
        table.add_column(col, overflow="fold")
    for r in items:
        raw = r.raw_line[:160].decode("utf-8", "backslashreplace")
        # paths, fields, reasons and lines are input: never Rich markup ("[/red]" would crash)
        table.add_row(escape(f"{r.path}:{r.line_no}"), escape(r.field or "-"), escape(r.reason), escape(raw))
    out.print(table)


def print_derive_report(d: dict[str, Any]) -> None:
    """What derive recomputed, or that there was nothing to do."""
    if d["nothing_to_do"]:
        out.print("derive: nothing new since the last derive; nothing to do")
        return
    days = d["days"]
    out.print(f"derive: {len(days)} day(s) ({days[0]} .. {days[-1]}), {len(d['symbols'])} symbol(s), "
              f"{d['seconds']:.1f} s")
    for name in ("bars_1m", "bars_10m", "gaps", "stats"):
        c = d[name]
        out.print(f"  {name:8s} {c['written']:>9,} written  {c['deleted']:>7,} deleted  {c['unchanged']:>9,} unchanged")


def print_reconcile(diffs: Any, shown: int = 20) -> None:
    """A count per field, then the first differences (all of them with --json)."""
    if not diffs:
        out.print("archived and derived 1-minute bars agree (where both exist)")
        return
    by_field: dict[str, int] = {}
    for d in diffs:
        by_field[d.field] = by_field.get(d.field, 0) + 1
    out.print(f"{len(diffs)} difference(s) between archived and derived 1-minute bars: "
              + ", ".join(f"{k} {v}" for k, v in sorted(by_field.items())))
    table = Table(title=f"the first {min(shown, len(diffs))} (all with --json)", title_justify="left")
    for col in ("symbol", "bar (KST)", "field", "archived", "derived"):
        table.add_column(col)
    for d in diffs[:shown]:
        table.add_row(escape(d.symbol), when(d.bar_time), d.field, str(d.archived), str(d.derived))
    out.print(table)
