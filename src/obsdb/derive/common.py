"""What every derive step shares: settings, change counts, SQL files, the bounds of a KST day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any, LiteralString
from weakref import WeakKeyDictionary

import psycopg

from obsdb import krx
from obsdb.krx import KST


@dataclass(frozen=True)
class DeriveSettings:
    """Thresholds (seconds). Configurable from the CLI; these defaults are documented in docs/derive.md."""

    feed_gap_seconds: float = 10.0
    symbol_gap_seconds: float = 60.0
    #: snapshots further apart than this belong to different polling sweeps
    sweep_gap_seconds: float = 120.0


@dataclass
class Changes:
    """What one step did to its table: rows written (new or changed), deleted, and left as they were."""

    written: int = 0
    deleted: int = 0
    unchanged: int = 0

    def __iadd__(self, other: Changes) -> Changes:
        self.written += other.written
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        return self

    @classmethod
    def of(cls, written: int, deleted: int, computed: int) -> Changes:
        """From the ``(written, deleted, computed)`` every derive statement answers."""
        return cls(written=int(written), deleted=int(deleted), unchanged=int(computed) - int(written))

    def to_dict(self) -> dict[str, int]:
        return {"written": self.written, "deleted": self.deleted, "unchanged": self.unchanged}


@dataclass(frozen=True)
class Day:
    """A KST date as the half-open instant range [lo, hi), and its regular session [open, close]
    (both None on a day without one: then nothing is wanted, and stale derived rows go).

    The one way derive bounds a day: every statement takes these as %(lo)s, %(hi)s, %(open)s,
    %(close)s (docs/derive.md).
    """

    day: date
    lo: datetime
    hi: datetime
    open: datetime | None
    close: datetime | None

    @classmethod
    def of(cls, day: date) -> Day:
        lo = datetime.combine(day, time(0), KST)
        s = krx.session(day)
        return cls(day, lo, lo + timedelta(days=1), s.open if s else None, s.close if s else None)

    def params(self, **more: Any) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "open": self.open, "close": self.close, **more}


def session_bounds(day: date) -> tuple[datetime, datetime] | None:
    """The regular session [open, close] of a KST date (late opens included), or None."""
    d = Day.of(day)
    return (d.open, d.close) if d.open is not None and d.close is not None else None


@cache
def load_sql(name: str) -> LiteralString:
    """The text of ``obsdb/derive/sql/<name>.sql`` (SQL lives in files; values are parameters)."""
    text = resources.files("obsdb.derive").joinpath(f"sql/{name}.sql").read_text(encoding="utf-8")
    return text  # our own package file, not input


def counted(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> Changes:
    """Run a statement that answers one row ``(written, deleted, computed)``."""
    row = conn.execute(load_sql(name), params).fetchone()
    assert row is not None  # an aggregate-only SELECT always answers one row
    return Changes.of(*row)


def per_symbol(conn: psycopg.Connection[Any], query: Any,
               params: dict[str, Any]) -> tuple[Changes, dict[str, datetime]]:
    """Run a statement answering ``(symbol, written, deleted, computed, first_changed)`` rows: the
    total, and each symbol's earliest written or deleted bar_time (what later steps start from)."""
    total = Changes()
    first: dict[str, datetime] = {}
    for symbol, written, deleted, computed, first_changed in conn.execute(query, params).fetchall():
        total += Changes.of(written, deleted, computed)
        if first_changed is not None:
            first[symbol] = first_changed
    return total, first


#: per connection: does its database have the citus extension (asked once per connection)
_CITUS: WeakKeyDictionary[psycopg.Connection[Any], bool] = WeakKeyDictionary()


def is_citus(conn: psycopg.Connection[Any]) -> bool:
    """Whether ``conn``'s database is a Citus one: then the steps whose plain-PostgreSQL statement
    Citus refuses run their ``*_citus.sql`` form (same rows; docs/derive.md, "On Citus")."""
    known = _CITUS.get(conn)
    if known is None:
        known = conn.execute(load_sql("run_is_citus")).fetchone() is not None
        _CITUS[conn] = known
    return known


def split_per_symbol(conn: psycopg.Connection[Any], name: str,
                     params: dict[str, Any]) -> tuple[Changes, dict[str, datetime]]:
    """:func:`per_symbol` for a step run as three statements (the Citus forms): ``<name>_citus``
    writes and answers ``(symbol, written, first)``, ``<name>_delete_citus`` deletes and answers
    ``(symbol, deleted, first)``, ``<name>_count_citus`` then answers ``(symbol, computed)``."""
    written = {s: (int(n), t) for s, n, t in conn.execute(load_sql(f"{name}_citus"), params).fetchall()}
    deleted = {s: (int(n), t) for s, n, t in conn.execute(load_sql(f"{name}_delete_citus"), params).fetchall()}
    computed = {s: int(n) for s, n in conn.execute(load_sql(f"{name}_count_citus"), params).fetchall()}
    total = Changes()
    first: dict[str, datetime] = {}
    for symbol in written.keys() | deleted.keys() | computed.keys():
        w, wt = written.get(symbol, (0, None))
        d, dt = deleted.get(symbol, (0, None))
        total += Changes.of(w, d, computed.get(symbol, 0))
        times = [x for x in (wt, dt) if x is not None]
        if times:
            first[symbol] = min(times)
    return total, first


def transaction_time(conn: psycopg.Connection[Any]) -> datetime:
    """now() of the current transaction, for ``computed_at``: passed to statements as a value, since
    a STABLE call inside ON CONFLICT DO UPDATE is what a distributed (Citus) upsert cannot run."""
    row = conn.execute(load_sql("run_now")).fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


def sorted_list(symbols: Iterable[str]) -> list[str]:
    return sorted(set(symbols))
