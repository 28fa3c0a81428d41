"""Swing snapshot records (shape F and its variants) from REST-style polling of the market.

A snapshot is the day so far (open/high/low, last price as ``close``, cumulative volume) at the
poll time, not a bar: that is the trap the sample must set for a loader.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from obsdb.sample.files import Record
from obsdb.sample.market import Trade
from obsdb.sample.ticks import iso_utc_z


def sweeps(
    start: datetime, end: datetime, codes: Sequence[str], rng: random.Random
) -> list[tuple[datetime, str]]:
    """Poll times: a sweep over ``codes`` every 5-10 minutes plus the sweep's own duration,
    so ``ts`` lies on no bar boundary and differs between symbols of one sweep."""
    out: list[tuple[datetime, str]] = []
    t = start
    while t < end:
        for code in codes:
            t += timedelta(seconds=rng.uniform(0.25, 2.5))
            out.append((t, code))
        t += timedelta(seconds=rng.uniform(300, 600))
    return out


def shape_f(ts: datetime, t: Trade, session: str, *, utc_z: bool = False) -> Record:
    """Production snapshot; early collectors wrote ``ts`` in UTC with ``Z``."""
    return {
        "ts": ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if utc_z else ts.isoformat(),
        "session": session,
        "dataset": "track_a_swing",
        "market": "kr_stocks",
        "symbol": t.symbol,
        "price": {"open": t.open, "high": t.high, "low": t.low, "close": t.price},
        "volume": t.cum_volume,
        "bid_price": None,
        "ask_price": None,
        "source": "kis",
    }


def shape_f_flat(bar_time: datetime, t: Trade, session_id: str) -> Record:
    """The documented flat variant (still day-so-far values, despite ``bar_time``)."""
    return {
        "symbol": t.symbol,
        "bar_time": iso_utc_z(bar_time, micros=False),
        "open": t.open,
        "high": t.high,
        "low": t.low,
        "close": t.price,
        "volume": t.cum_volume,
        "bid_price": None,
        "ask_price": None,
        "session_id": session_id,
        "schema_version": "1.0",
        "mitigation_level": 0,
        "quality_flag": "normal",
    }


def shape_f_mock(ts: datetime, t: Trade) -> Record:
    """Mock snapshot: flat prices, UTC ``+00:00`` timestamp."""
    return {
        "timestamp": ts.astimezone(UTC).isoformat(),
        "symbol": t.symbol,
        "price": t.price,
        "volume": t.cum_volume,
        "open": t.open,
        "high": t.high,
        "low": t.low,
    }
