"""The report's bounded queries: each runs one ``sql/<name>.sql`` file with bind parameters.

Sessions are passed as three parallel arrays (day, open, close) built from the XKRX calendar in
Python, so the database never has to know the exchange's holidays and every scan is an index
range per session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any, LiteralString

import psycopg
from psycopg.rows import dict_row

from obsdb import krx

#: Symbols drawn when none are asked for: the heatmap stays readable, the page stays small.
MAX_SYMBOLS = 60
#: Gaps drawn in the timeline (longest first); more are counted, not drawn.
MAX_GAPS = 50_000
MAX_RUNS = 200
MAX_REJECT_GROUPS = 100
EXAMPLE_BYTES = 300
MAX_PORTFOLIO_ROWS = 200


@cache
def load_sql(name: str) -> LiteralString:
    """The text of ``obsdb/report/sql/<name>.sql`` (our own package file, never input)."""
    text = resources.files("obsdb.report").joinpath(f"sql/{name}.sql").read_text(encoding="utf-8")
    return text  # a package file is as constant as a literal


@dataclass(frozen=True)
class Sessions:
    """The XKRX sessions of the report's days, as query parameters."""

    days: list[date]
    opens: list[datetime]
    closes: list[datetime]

    @classmethod
    def between(cls, start: date, end: date) -> Sessions:
        days = krx.trading_days(start, end)
        found = [krx.session(d) for d in days]
        return cls(days, [s.open for s in found if s], [s.close for s in found if s])

    def params(self, symbols: list[str] | None) -> dict[str, Any]:
        return {"days": self.days, "opens": self.opens, "closes": self.closes, "symbols": symbols}


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00, 24:00) KST of ``day``."""
    lo = datetime.combine(day, time(0), krx.KST)
    return lo, lo + timedelta(days=1)


def _rows(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(load_sql(name), params).fetchall()


def extent(conn: psycopg.Connection[Any]) -> tuple[datetime | None, datetime | None]:
    row = conn.execute(load_sql("extent")).fetchone()
    return (row[0], row[1]) if row else (None, None)


def heatmap(conn: psycopg.Connection[Any], sessions: Sessions, symbols: list[str] | None) -> list[dict[str, Any]]:
    return _rows(conn, "heatmap", sessions.params(symbols))


def feed_days(conn: psycopg.Connection[Any], sessions: Sessions) -> list[dict[str, Any]]:
    return _rows(conn, "feed_days", sessions.params(None))


def gaps(conn: psycopg.Connection[Any], sessions: Sessions, symbols: list[str]) -> list[dict[str, Any]]:
    return _rows(conn, "gaps", {**sessions.params(symbols), "limit": MAX_GAPS})


def last_bar_day(conn: psycopg.Connection[Any], start: date, end: date, symbols: list[str] | None) -> date | None:
    row = conn.execute(load_sql("last_bar_day"), {
        "lo": day_bounds(start)[0], "hi": day_bounds(end)[1], "symbols": symbols}).fetchone()
    return krx.kst_date(row[0]) if row and row[0] is not None else None


def bars(conn: psycopg.Connection[Any], name: str, day: date, symbols: list[str]) -> list[dict[str, Any]]:
    """``bars_1m`` or ``bars_10m`` of ``symbols`` on ``day``."""
    lo, hi = day_bounds(day)
    return _rows(conn, name, {"lo": lo, "hi": hi, "symbols": symbols})


def load_runs(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return _rows(conn, "load_runs", {"limit": MAX_RUNS})


def reject_reasons(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return _rows(conn, "reject_reasons", {"limit": MAX_REJECT_GROUPS, "example_bytes": EXAMPLE_BYTES})


def portfolio(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return _rows(conn, "portfolio", {"limit": MAX_PORTFOLIO_ROWS})
