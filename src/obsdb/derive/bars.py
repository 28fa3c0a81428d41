"""True 1-minute and 10-minute bars, derived in SQL from ticks and snapshots, and their reconciliation
with the archived bars. Definitions: docs/derive-bars.md.

Each build recomputes one (symbol, KST day) in a single statement that writes only the bars whose
values changed and deletes the ones that vanished, so a re-run is cheap and keeps ``computed_at``
meaningful. Nothing here commits: the caller owns the transaction (one per day in ``derive.run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import psycopg

from obsdb.derive.common import Changes, load_sql, session_bounds
from obsdb.krx import KST


@dataclass(frozen=True)
class BarDiff:
    """One disagreement between an archived and a derived 1-minute bar.

    ``field`` is open/high/low/close/volume, or ``missing_derived`` / ``missing_archived`` (then both
    values are None).
    """

    symbol: str
    bar_time: datetime
    field: str
    archived: int | None
    derived: int | None


def _kst_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), KST)


def _day_params(symbol: str, day: date) -> dict[str, Any]:
    """The KST day as [lo, hi) and its session; no session means no bars (and stale ones go)."""
    lo = _kst_midnight(day)
    bounds = session_bounds(day)
    return {"symbol": symbol, "lo": lo, "hi": lo + timedelta(days=1),
            "open": bounds[0] if bounds else None, "close": bounds[1] if bounds else None}


def _apply(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> Changes:
    row = conn.execute(load_sql(name), params).fetchone()
    assert row is not None  # the statement always returns its one row of counts
    written, deleted, computed = (int(v) for v in row)
    return Changes(written=written, deleted=deleted, unchanged=computed - written)


def build_minute_bars(conn: psycopg.Connection[Any], symbol: str, day: date) -> Changes:
    """Recompute the derived 1-minute bars of ``symbol`` on the KST date ``day`` from its ticks.

    Reads scalp_ticks and the derived feed gaps in scalp_gaps (coverage), so feed gaps must be
    computed first. Archived bars are never touched.
    """
    return _apply(conn, "bars_1m", _day_params(symbol, day))


def build_ten_minute_bars(conn: psycopg.Connection[Any], symbol: str, day: date) -> Changes:
    """Recompute the 10-minute bars of ``symbol`` on ``day``: from its derived 1-minute bars when it
    has any (origin ``ticks``), else reconstructed from swing snapshots (origin ``snapshots``).

    Reads scalp_1m_bars, so run it after :func:`build_minute_bars` for the same day.
    """
    return _apply(conn, "bars_10m", _day_params(symbol, day))


def reconcile(conn: psycopg.Connection[Any], *, start: date | None = None, end: date | None = None,
              symbol: str | None = None) -> list[BarDiff]:
    """Where archived 1-minute bars and derived ones disagree, KST dates ``start``..``end`` inclusive.

    Missing bars are reported only on (symbol, date)s that have both kinds: an archive that covers
    other days than the ticks is not a disagreement.
    """
    params = {"symbol": symbol,
              "lo": _kst_midnight(start) if start else None,
              "hi": _kst_midnight(end + timedelta(days=1)) if end else None}
    rows = conn.execute(load_sql("bars_reconcile"), params).fetchall()
    return [BarDiff(symbol=r[0], bar_time=r[1], field=r[2], archived=r[3], derived=r[4]) for r in rows]
