"""``obsdb derive``: recompute what new raw rows touched, a KST day at a time.

The loader marks each (symbol, KST date) it wrote in ``obsdb_derive_dirty`` in the same transaction
as the rows. Derive takes a day's marks and recomputes that day in ONE transaction, so a crash leaves
either the old derived rows and the marks, or the new rows and no marks; a re-run with nothing new
does nothing. Each step is one statement for all of the day's symbols; independent days run in
parallel, each on its own connection (docs/derive.md).

Order within a day matters: feed gaps, then symbol gaps (they ask whether the feed was alive),
1-minute bars (their coverage comes from feed gaps), outcomes, 10-minute bars, statistics. Only
marked symbols are rebuilt; when the feed gaps move, every other symbol's bars and gap reasons are
refreshed only where the feed gaps changed (nothing else of theirs depends on them).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg

from obsdb.db import queries as q
from obsdb.db.runs import finish_run, flush_counts, start_run
from obsdb.derive import bars, gaps, stats, upkeep
from obsdb.derive.common import Changes, Day, DeriveSettings, is_citus, load_sql
from obsdb.derive.outcomes import fill_outcomes
from obsdb.derive.pool import run_spread

Work = dict[str, set[str]]  # source table -> symbols
Since = dict[str, datetime | None]  # tick symbol -> where its day changed (None: anywhere)


@dataclass
class DeriveReport:
    """What one derive did."""

    days: list[date] = field(default_factory=list)
    symbols: set[str] = field(default_factory=set)
    bars_1m: Changes = field(default_factory=Changes)
    bars_10m: Changes = field(default_factory=Changes)
    gaps: Changes = field(default_factory=Changes)
    stats: Changes = field(default_factory=Changes)
    outcomes: Changes = field(default_factory=Changes)
    seconds: float = 0.0
    run_id: int | None = None

    @property
    def nothing_to_do(self) -> bool:
        return not self.days

    def merge(self, other: DeriveReport) -> None:
        """Add another day's (or worker's) report to this one."""
        self.days = sorted(self.days + other.days)
        self.symbols |= other.symbols
        for name in ("bars_1m", "bars_10m", "gaps", "stats", "outcomes"):
            mine: Changes = getattr(self, name)
            mine += getattr(other, name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "nothing_to_do": self.nothing_to_do,
            "days": [d.isoformat() for d in self.days], "symbols": sorted(self.symbols),
            "bars_1m": self.bars_1m.to_dict(), "bars_10m": self.bars_10m.to_dict(),
            "gaps": self.gaps.to_dict(), "stats": self.stats.to_dict(), "outcomes": self.outcomes.to_dict(),
            "seconds": round(self.seconds, 3),
        }


def _work_from_marks(conn: psycopg.Connection[Any], day: date) -> tuple[Work, Since]:
    """Take (delete) the day's marks: {source table: symbols}, and where each symbol's ticks changed
    (None: anywhere in the day). Inside the day's transaction."""
    work: Work = defaultdict(set)
    since: Since = {}
    for symbol, source, at in conn.execute(load_sql("run_take_marks"), {"day": day}).fetchall():
        work[source].add(symbol)
        if source == "scalp_ticks":
            since[symbol] = at
    return work, since


def _work_in_range(conn: psycopg.Connection[Any], start: date, end: date, symbol: str | None) -> dict[date, Work]:
    found: dict[date, Work] = defaultdict(lambda: defaultdict(set))
    params = {"lo": Day.of(start).lo, "hi": Day.of(end).hi, "symbol": symbol}
    for day, sym, source in conn.execute(load_sql("run_raw_in_range"), params).fetchall():
        found[day][source].add(sym)
    return found


def _tick_gaps(conn: psycopg.Connection[Any], d: Day, ticks: set[str], polls: set[str], settings: DeriveSettings,
               since: Since | None, report: DeriveReport) -> tuple[gaps.FeedGaps, set[str]]:
    """Feed gaps, then what their change moves for the other symbols, then the symbols' own gaps:
    each from its anchor where ``since`` allows one (never on Citus: whole days, docs/derive.md).
    Answers the day's feed gaps and the symbols whose bars the moved feed gaps touched."""
    marks = since if since is not None and not is_citus(conn) else {}
    known = {s: marks.get(s) for s in ticks}  # None: the whole day
    changed_at = [t for t in known.values() if t is not None]
    earliest = min(changed_at) if changed_at and len(changed_at) == len(known) else None
    before = gaps.read_feed_gaps(conn, d)
    moved = gaps.feed_gaps(conn, d, settings, gaps.feed_anchor(conn, d, settings, earliest))
    report.gaps += moved
    feed = gaps.read_feed_gaps(conn, d) if moved.written or moved.deleted else before
    changed = gaps.changed_stretches(before, feed)
    anchors = gaps.symbol_anchors(conn, d, settings, known)
    report.gaps += gaps.refresh_reasons(conn, d, changed, feed, skip=ticks - anchors.keys())
    one, ten, touched = bars.refresh_coverage(conn, d, changed, feed, skip_1m=ticks, skip_10m=ticks | polls)
    report.bars_1m += one
    report.bars_10m += ten
    report.gaps += gaps.symbol_gaps(conn, ticks, d, settings, feed, anchors)
    return feed, touched


def _derive_day(conn: psycopg.Connection[Any], day: date, work: Work, settings: DeriveSettings,
                since: Since | None) -> DeriveReport:
    """Recompute one day in the caller's transaction. ``since``: where each tick symbol's day
    changed (its gaps are recomputed from an anchor before it, gaps.symbol_anchors; its statistics
    from its first changed bar); None, a rebuild: the whole day of every symbol of ``work``."""
    d, report = Day.of(day), DeriveReport(days=[day])
    ticks, polls = set(work.get("scalp_ticks", ())), set(work.get("swing_snapshots", ()))
    feed, touched = None, set[str]()
    if ticks:
        feed, touched = _tick_gaps(conn, d, ticks, polls, settings, since, report)
    minutes = bars.minute_bars(conn, ticks, d, feed) if ticks else bars.Built(Changes(), {})
    report.bars_1m += minutes.changes
    report.outcomes += fill_outcomes(conn, day, ticks | touched)  # the day's 1-minute bars are final
    tens = bars.ten_minute_bars(conn, ticks | polls, d, feed)
    report.bars_10m += tens.changes
    for built, symbols, table in ((minutes, ticks, "scalp_1m_bars"), (tens, ticks | polls, "swing_bars_10m")):
        first: dict[str, datetime | None] = dict.fromkeys(symbols) if since is None else dict(built.first_changed)
        report.stats += stats.rolling_stats_of(conn, first, d, table)
    if polls:
        report.gaps += gaps.swing_gaps(conn, d, settings)
    report.symbols = ticks | polls | touched
    return report


def _one_day(conn: psycopg.Connection[Any], day: date, planned: Work | None, settings: DeriveSettings) -> DeriveReport:
    """One day, ONE transaction: its marks are taken in it, so they go only with the new rows."""
    with conn.transaction():
        conn.execute(load_sql("run_day_begin"), {"day": day, "one_at_a_time": is_citus(conn)})
        work, since = _work_from_marks(conn, day)
        for source, symbols in (planned or {}).items():  # a rebuild takes the day's pending marks too
            work[source] |= symbols
        if not work:
            return DeriveReport()
        report = _derive_day(conn, day, work, settings, None if planned is not None else since)
    if not is_citus(conn):  # so that the ANALYZE of what derive wrote (end of derive) sees this day
        flush_counts(conn)
    return report


def _in_parallel(conninfo: str, jobs: list[tuple[date, Work | None]], settings: DeriveSettings,
                 workers: int) -> DeriveReport:
    """Days on ``workers`` connections of their own; the first failure stops the rest and is raised."""
    total = DeriveReport()
    for done in run_spread(conninfo, jobs, workers, lambda conn, job: _one_day(conn, job[0], job[1], settings)):
        total.merge(done)
    return total


#: what derive writes (and reads again), and what it reads of the loader's
WRITTEN_TABLES = q.DERIVED_TABLES
READ_TABLES = ("scalp_ticks", "swing_snapshots", *WRITTEN_TABLES)


def derive(conn: psycopg.Connection[Any], *, start: date | None = None, end: date | None = None,
           symbol: str | None = None, settings: DeriveSettings | None = None, conninfo: str | None = None,
           workers: int | None = None) -> DeriveReport:
    """Recompute the days that received new raw rows; or, given a range (and a symbol), rebuild it.

    ``conn`` must be in autocommit mode: each day is its own transaction. With ``conninfo``, days
    run in parallel on up to ``workers`` connections of their own (default: one per core).
    """
    settings = settings or DeriveSettings()
    started = time.perf_counter()
    cores = workers or os.cpu_count() or 1
    upkeep.before_reads(conn, READ_TABLES, conninfo, cores)
    if start is not None or end is not None or symbol is not None:
        planned = _work_in_range(conn, start or date(2000, 1, 1), end or date(2999, 12, 31), symbol)
        jobs: list[tuple[date, Work | None]] = [(day, planned[day]) for day in sorted(planned)]
    else:
        jobs = [(r[0], None) for r in conn.execute(load_sql("run_marked_days")).fetchall()]
    n = min(cores, len(jobs))
    if is_citus(conn):  # days on Citus one at a time (run_day_begin.sql says why)
        n = 1
    if conninfo is not None and n > 1:
        report = _in_parallel(conninfo, jobs, settings, n)
    else:
        report = DeriveReport()
        for day, work in jobs:
            report.merge(_one_day(conn, day, work, settings))
    if not report.nothing_to_do:
        upkeep.after_writes(conn, WRITTEN_TABLES, conninfo, cores)
    report.seconds = time.perf_counter() - started
    if not report.nothing_to_do:
        report.run_id = start_run(conn, "derive", {"start": str(start), "end": str(end), "symbol": symbol},
                                  dry_run=False)
        totals = report.to_dict()
        totals["tables"] = {"scalp_1m_bars": report.bars_1m.written, "swing_bars_10m": report.bars_10m.written,
                            "scalp_gaps": report.gaps.written, "analysis_rolling_stats": report.stats.written}
        finish_run(conn, report.run_id, "ok", totals)
    return report
