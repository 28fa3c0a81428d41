"""1-minute bars summed client-side from a day's ticks (numpy), for ``bars.minute_bars``.

The ticks come in no order (``sql/bars_1m_ticks.sql`` sends the filtered ticks as six binary
arrays); here they are ordered by symbol, tick time (exchange time, else receive time) and
receive time, cut into (symbol, minute) buckets, and each bucket's open, high, low, close, tick count
and raw volume computed exactly in int64: the same definitions as before, in SQL (docs/derive-bars.md).
What needs the day's feed gaps or the session (coverage, quality flags) and the minimal write stay in
SQL (``sql/bars_1m.sql``), over the rows staged here. Without numpy's vectorised passes the same work
in SQL was three window sorts of every tick: about 1 s a day of 200,000 ticks against 0.1 s here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from obsdb.derive import pgbinary
from obsdb.derive.common import Day, load_sql

#: sql/bars_1m_ticks.sql's arrays: the symbol's 1-based index in %(symbols)s, tick time, receive
#: time, price, and the cumulative and own volume (-1: NULL; both are >= 0 by the table's checks)
TICKS = (("s", "int4"), ("t", "timestamptz"), ("e", "timestamptz"), ("p", "int8"), ("cum", "int8"),
         ("vol", "int8"))
#: sql/bars_1m_in_create.sql's columns, in order
STAGED = pgbinary.row_type([("s", "int4"), ("bar_time", "timestamptz"), ("open", "int8"), ("high", "int8"),
                            ("low", "int8"), ("close", "int8"), ("tick_count", "int4"), ("raw_volume", "int8"),
                            ("has_volume", "bool"), ("partial", "bool")])
_MINUTE = 60_000_000  # microseconds


def stage(conn: psycopg.Connection[Any], params: dict[str, Any], day: Day) -> None:
    """Read the day's ticks of ``params["symbols"]``, sum their buckets into ``obsdb_bars_in``.

    Call inside a transaction block: the staged rows are emptied at commit.
    """
    with conn.cursor(binary=True) as cur:
        pgbinary.raw_arrays(cur)
        row = cur.execute(load_sql("bars_1m_ticks"), params).fetchone()
        assert row is not None  # an aggregate-only SELECT always answers one row
        ticks = {name: pgbinary.read_array(raw, pg_type) for (name, pg_type), raw in zip(TICKS, row, strict=True)}
        del row  # the raw arrays, and (at the next statement) the server's result: freed before the sums
        for name in ("bars_1m_in_create", "bars_1m_in_empty"):
            cur.execute(load_sql(name))
        bars = bars_of(ticks, pgbinary.micros(day.lo))
        del ticks
        if bars["s"].size:
            with cur.copy(load_sql("bars_1m_in_copy")) as copy:
                pgbinary.write_rows(copy.write, bars, STAGED)


def bars_of(ticks: dict[str, np.ndarray], lo: int) -> dict[str, np.ndarray]:
    """The buckets of ``ticks`` (int64 arrays named as in :data:`TICKS`; every tick time >= ``lo``, the
    day's start in binary-timestamp microseconds), one entry per column of :data:`STAGED`."""
    if not ticks["s"].size:
        return {name: np.empty(0, np.int64) for name in _staged_names()}
    s, t, e = ticks["s"], ticks["t"], ticks["e"]
    order = np.lexsort((e, t, s))  # symbol, then tick time, then receive time (unique per symbol)
    s, t = s[order], t[order]
    price, cum, vol = (ticks[n][order] for n in ("p", "cum", "vol"))
    minute = (t - lo) // _MINUTE
    new = np.ones(s.size, np.bool_)
    new[1:] = (s[1:] != s[:-1]) | (minute[1:] != minute[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], s.size)
    bucket = np.cumsum(new) - 1
    first_cum, last_cum = _first_last(cum, bucket, starts.size)
    own_ticks = (cum < 0) & (vol >= 0)  # ticks without a cumulative volume add their own
    own = np.add.reduceat(np.where(own_ticks, vol, 0), starts)
    has_own = np.logical_or.reduceat(own_ticks, starts)
    symbol = s[starts]
    raw_volume, has_volume, partial = _volumes(symbol, first_cum, last_cum, own, has_own)
    return {"s": symbol, "bar_time": lo + minute[starts] * _MINUTE, "open": price[starts],
            "high": np.maximum.reduceat(price, starts), "low": np.minimum.reduceat(price, starts),
            "close": price[ends - 1], "tick_count": ends - starts, "raw_volume": raw_volume,
            "has_volume": has_volume, "partial": partial}


def _staged_names() -> tuple[str, ...]:
    return tuple(n for n in STAGED.names or () if not n.startswith("_"))


def _first_last(cum: np.ndarray, bucket: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Each bucket's first and last cumulative volume, in tick order (-1: the bucket has none)."""
    first, last = np.full(buckets, -1, np.int64), np.full(buckets, -1, np.int64)
    at = np.flatnonzero(cum >= 0)
    if at.size:
        b = bucket[at]
        opens = np.ones(at.size, np.bool_)
        opens[1:] = b[1:] != b[:-1]
        closes = np.ones(at.size, np.bool_)
        closes[:-1] = opens[1:]
        first[b[opens]] = cum[at[opens]]
        last[b[closes]] = cum[at[closes]]
    return first, last


def _volumes(symbol: np.ndarray, first_cum: np.ndarray, last_cum: np.ndarray, own: np.ndarray,
             has_own: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bucket's raw volume: its last cumulative volume less the one carried from the symbol's
    previous bucket that had one (else its own first: then the bar is ``partial``); without a
    cumulative volume, the sum of its ticks' own volumes (none: no volume)."""
    n = symbol.size
    index = np.arange(n)
    has_last = last_cum >= 0
    opens = np.ones(n, np.bool_)
    opens[1:] = symbol[1:] != symbol[:-1]
    symbol_start = np.maximum.accumulate(np.where(opens, index, 0))
    carrier = np.maximum.accumulate(np.where(has_last, index, -1))  # latest bucket with one, so far
    carry = np.where(carrier >= symbol_start, last_cum[carrier], -1)
    prev = np.full(n, -1, np.int64)
    prev[1:] = np.where(opens[1:], -1, carry[:-1])
    has_prev = prev >= 0
    raw = np.where(has_last, last_cum - np.where(has_prev, prev, first_cum), own)
    return raw, has_last | has_own, has_last & ~has_prev
