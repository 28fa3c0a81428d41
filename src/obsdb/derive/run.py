"""``obsdb derive``: recompute what new raw rows touched, a KST day at a time.

The loader marks each (symbol, KST date) it wrote in ``obsdb_derive_dirty`` in the same transaction
as the rows. Derive takes a day's marks and recomputes that day in ONE transaction, so a crash leaves
either the old derived rows and the marks, or the new rows and no marks; a re-run with nothing new
does nothing. Order within a day matters: feed gaps, then symbol gaps (they ask whether the feed was
alive), 1-minute bars (their coverage comes from feed gaps), 10-minute bars, statistics.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg

from obsdb.derive import bars, gaps, stats
from obsdb.derive.common import Changes, DeriveSettings, load_sql
from obsdb.load.run import finish_run, start_run


@dataclass
class DeriveReport:
    """What one derive did."""

    days: list[date] = field(default_factory=list)
    symbols: set[str] = field(default_factory=set)
    bars_1m: Changes = field(default_factory=Changes)
    bars_10m: Changes = field(default_factory=Changes)
    gaps: Changes = field(default_factory=Changes)
    stats: Changes = field(default_factory=Changes)
    seconds: float = 0.0
    run_id: int | None = None

    @property
    def nothing_to_do(self) -> bool:
        return not self.days

    def to_dict(self) -> dict[str, Any]:
        def changes(c: Changes) -> dict[str, int]:
            return {"written": c.written, "deleted": c.deleted, "unchanged": c.unchanged}

        return {
            "run_id": self.run_id, "nothing_to_do": self.nothing_to_do,
            "days": [d.isoformat() for d in self.days], "symbols": sorted(self.symbols),
            "bars_1m": changes(self.bars_1m), "bars_10m": changes(self.bars_10m),
            "gaps": changes(self.gaps), "stats": changes(self.stats), "seconds": round(self.seconds, 3),
        }


def _work_from_marks(conn: psycopg.Connection[Any], day: date) -> dict[str, set[str]]:
    """Take (delete) the day's marks: {source table: symbols}. Inside the day's transaction."""
    work: dict[str, set[str]] = defaultdict(set)
    for symbol, source in conn.execute(load_sql("run_take_marks"), {"day": day}).fetchall():
        work[source].add(symbol)
    return work


def _work_in_range(conn: psycopg.Connection[Any], start: date, end: date,
                   symbol: str | None) -> dict[date, dict[str, set[str]]]:
    found: dict[date, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    rows = conn.execute(load_sql("run_raw_in_range"), {"start": start, "end": end, "symbol": symbol}).fetchall()
    for day, sym, source in rows:
        found[day][source].add(sym)
    return found


def _derive_day(conn: psycopg.Connection[Any], day: date, work: dict[str, set[str]],
                settings: DeriveSettings, report: DeriveReport) -> None:
    ticks, polls = work.get("scalp_ticks", set()), work.get("swing_snapshots", set())
    if ticks:
        feed = gaps.find_feed_gaps(conn, day, settings)
        report.gaps += feed
        if feed.written or feed.deleted:  # every symbol's coverage and gap reasons read the feed gaps
            ticks = ticks | _work_in_range(conn, day, day, None)[day]["scalp_ticks"]
    for symbol in sorted(ticks):
        report.gaps += gaps.find_symbol_gaps(conn, symbol, day, settings)
        report.bars_1m += bars.build_minute_bars(conn, symbol, day)
        report.stats += stats.rolling_stats(conn, symbol, day, "scalp_1m_bars")
    for symbol in sorted(ticks | polls):
        report.bars_10m += bars.build_ten_minute_bars(conn, symbol, day)
        report.stats += stats.rolling_stats(conn, symbol, day, "swing_bars_10m")
    if polls:
        report.gaps += gaps.find_swing_gaps(conn, day, settings)
    report.days.append(day)
    report.symbols |= ticks | polls


def derive(conn: psycopg.Connection[Any], *, start: date | None = None, end: date | None = None,
           symbol: str | None = None, settings: DeriveSettings | None = None) -> DeriveReport:
    """Recompute the days that received new raw rows; or, given a range (and a symbol), rebuild it.

    ``conn`` must be in autocommit mode: each day is its own transaction.
    """
    settings = settings or DeriveSettings()
    report = DeriveReport()
    started = time.perf_counter()
    if start is not None or end is not None or symbol is not None:
        planned = _work_in_range(conn, start or date(2000, 1, 1), end or date(2999, 12, 31), symbol)
        for day in sorted(planned):
            with conn.transaction():
                work = planned[day]
                for source, symbols in _work_from_marks(conn, day).items():  # pending marks of the day too
                    work[source] |= symbols
                _derive_day(conn, day, work, settings, report)
    else:
        days = [r[0] for r in conn.execute(load_sql("run_marked_days")).fetchall()]
        for day in days:
            with conn.transaction():
                work = _work_from_marks(conn, day)
                if work:
                    _derive_day(conn, day, work, settings, report)
    report.seconds = time.perf_counter() - started
    if not report.nothing_to_do:
        report.run_id = start_run(conn, "derive", {"start": str(start), "end": str(end), "symbol": symbol},
                                  dry_run=False)
        totals = report.to_dict()
        totals["tables"] = {"scalp_1m_bars": report.bars_1m.written, "swing_bars_10m": report.bars_10m.written,
                            "scalp_gaps": report.gaps.written, "analysis_rolling_stats": report.stats.written}
        finish_run(conn, report.run_id, "ok", totals)
    return report
