"""Resolve what the report covers, run its queries and write the page.

The range defaults to the last 250 trading days that hold derived data; symbols default to those
the heatmap finds (at most :data:`~obsdb.report.queries.MAX_SYMBOLS`, the busiest); the candles'
day defaults to the newest day with derived 1-minute bars.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from obsdb import __version__, krx
from obsdb.errors import ObsdbError
from obsdb.report import data, queries
from obsdb.report.page import render

DEFAULT_DAYS = 250
MAX_DAYS = 750


class ReportError(ObsdbError):
    """The report's options cannot be met (a bad range or day, an unwritable file)."""

    exit_code = 2


@dataclass(frozen=True)
class ReportOptions:
    """What to draw. Dates are KST trading days; None means "from the data"."""

    output: Path = Path("report.html")
    start: date | None = None
    end: date | None = None
    symbols: tuple[str, ...] = ()
    day: date | None = None


@dataclass
class ReportResult:
    """Where the page went and what it holds (the CLI's ``--json``)."""

    output: Path
    bytes: int
    seconds: float
    start: date | None
    end: date | None
    day: date | None
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "bytes": self.bytes, "seconds": round(self.seconds, 3),
                "from": self.start, "to": self.end, "day": self.day, "counts": self.counts, "notes": self.notes}


def resolve_range(conn: psycopg.Connection[Any], options: ReportOptions) -> tuple[date, date]:
    """[start, end] of the heatmap: the options, else the data's extent (at most 250 trading days)."""
    first, last = queries.extent(conn)
    end = options.end or (krx.kst_date(last) if last else options.day or date.today())
    if options.start is not None:
        start = options.start
    else:
        start = end - timedelta(days=DEFAULT_DAYS * 7 // 5 + 30)
        days = krx.trading_days(start, end)[-DEFAULT_DAYS:]
        start = days[0] if days else end
        if first is not None and options.end is None:
            start = max(start, krx.kst_date(first))
    if start > end:
        raise ReportError(f"--from {start} is after --to {end}: nothing to show.")
    count = len(krx.trading_days(start, end))
    if count > MAX_DAYS:
        raise ReportError(f"{start}..{end} holds {count} trading days; a report shows at most {MAX_DAYS}: "
                          "narrow --from/--to.")
    return start, end


def build_report(conn: psycopg.Connection[Any], options: ReportOptions, *, database: str) -> ReportResult:
    """Query, render and write the page; the connection is only read from."""
    began = clock.perf_counter()
    if options.day is not None and krx.session(options.day) is None:
        raise ReportError(f"--day {options.day} is not a KRX trading day (weekend or holiday): pick another.")
    # The planner guesses the session-joined scans far too large and would JIT-compile them: that
    # costs more than running them (measured: 1.3 s of a 5 s build at 40 x 250).
    conn.execute("SET LOCAL jit = off")
    start, end = resolve_range(conn, options)
    sessions = queries.Sessions.between(start, end)
    wanted = list(options.symbols) or None
    cells = queries.heatmap(conn, sessions, wanted)
    symbols, cut = data.choose_symbols(cells, wanted)
    cells = [c for c in cells if c["symbol"] in set(symbols)]
    gaps = queries.gaps(conn, sessions, symbols) if symbols else []
    day = options.day or queries.last_bar_day(conn, start, end, symbols or wanted)
    if day is None and sessions.days:
        day = sessions.days[-1]
    candles = data.candles(conn, day, symbols) if day is not None and symbols else None
    snapshot = queries.portfolio(conn)
    payload = data.payload(
        meta={"database": database, "obsdb_version": __version__, "from": start, "to": end, "day": day,
              "generated_at": datetime.now(krx.KST), "symbols_cut": cut, "symbols_asked": list(options.symbols),
              "chart_library": "TradingView Lightweight Charts 5.2.1"},
        sessions=sessions, symbols=symbols, cells=cells, feed=queries.feed_days(conn, sessions), gaps=gaps,
        candles=candles, runs=queries.load_runs(conn), rejects=queries.reject_reasons(conn), portfolio=snapshot)
    html = render(payload)
    try:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_bytes(html)
    except OSError as exc:
        raise ReportError(f"cannot write {options.output}: {exc.strerror or exc}") from None
    notes = [f"{cut} more symbol(s) not drawn; choose with --symbol"] if cut else []
    if len(gaps) > queries.MAX_GAPS:
        notes.append(f"only the {queries.MAX_GAPS:,} longest gaps are drawn")
    return ReportResult(
        output=options.output, bytes=len(html), seconds=clock.perf_counter() - began, start=start, end=end,
        day=day, notes=notes,
        counts={"symbols": len(symbols), "trading_days": len(sessions.days), "cells": len(symbols) * len(sessions.days),
                "cells_with_data": len(cells), "gaps": min(len(gaps), queries.MAX_GAPS),
                "candle_symbols": len(candles["symbols"]) if candles else 0,
                "load_runs": len(payload["runs"]), "reject_groups": len(payload["rejects"]),
                "portfolio_rows": len(snapshot)})
