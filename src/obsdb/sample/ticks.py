"""Tick and bar records (shapes A-E of docs/formats.md) built from simulated trades.

Field names and order follow the spec's examples, since a loader is tested against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from obsdb.sample.files import Record
from obsdb.sample.market import Day, Trade


def iso_utc_z(at: datetime, *, micros: bool = True) -> str:
    """UTC with a ``Z`` suffix, as the documented formats write it."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if micros else "%Y-%m-%dT%H:%M:%SZ"
    return at.astimezone(UTC).strftime(fmt)


def _received(t: Trade) -> datetime:
    assert t.received_at is not None, "only received trades become tick records"
    return t.received_at


def shape_a(t: Trade, session_id: str) -> Record:
    """Current production tick: nested price/volume/bid_ask, receive time in KST."""
    return {
        "timestamp": _received(t).isoformat(),
        "symbol": t.symbol,
        "execution_time": t.exec_at.strftime("%H%M%S"),
        "price": {
            "current": t.price,
            "open": t.open,
            "high": t.high,
            "low": t.low,
            "change_rate": t.change_rate,
        },
        "volume": {"accumulated": t.cum_volume, "trade_value": t.cum_value},
        "bid_ask": {"ask_price": t.ask, "bid_price": t.bid},
        "source": "websocket",
        "session_id": session_id,
    }


def shape_b(t: Trade, session_id: str, *, trade_count: bool) -> Record:
    """The second code path: ``price.close``, plain cumulative ``volume``, top-level bid/ask."""
    rec: Record = {
        "timestamp": _received(t).isoformat(),
        "symbol": t.symbol,
        "execution_time": t.exec_at.strftime("%H%M%S"),
        "price": {
            "close": t.price,
            "open": t.open,
            "high": t.high,
            "low": t.low,
            "change_rate": t.change_rate,
        },
        "volume": t.cum_volume,
        "bid_price": t.bid,
        "ask_price": t.ask,
    }
    if trade_count:
        rec["trade_count"] = t.count
    rec["source"] = "kis_websocket"
    rec["session_id"] = session_id
    return rec


def shape_b_old(t: Trade, session_id: str) -> Record:
    """Older test data: volume as {accumulated, current}, empty bid_ask, full ISO execution time."""
    return {
        "timestamp": _received(t).isoformat(),
        "symbol": t.symbol,
        "execution_time": t.exec_at.replace(microsecond=0).isoformat(),
        "price": {
            "close": t.price,
            "open": t.open,
            "high": t.high,
            "low": t.low,
            "change_rate": t.change_rate,
        },
        "volume": {"accumulated": t.cum_volume, "current": t.qty},
        "bid_ask": {},
        "source": "kis_websocket",
        "session_id": session_id,
    }


def shape_b_mismapped(t: Trade, session_id: str, shift: int) -> Record:
    """A shape-B tick from the early parser that read the KIS H0STCNT0 fields ``shift`` places off.

    The raw message is ``count|code^time^price^sign^change^rate^vwap^open^high^low^ask^bid^qty^
    cumqty^cumvalue``;
    reading it shifted yields e.g. the trade time as symbol, the change sign as price, bid > ask.
    """
    change = t.price - t.prev_close
    sign = "2" if change > 0 else "5" if change < 0 else "3"
    vwap = t.cum_value // max(t.cum_volume, 1)
    raw = [
        "001",
        t.symbol,
        t.exec_at.strftime("%H%M%S"),
        str(t.price),
        sign,
        str(abs(change)),
        f"{t.change_rate:.2f}",
        str(vwap),
        str(t.open),
        str(t.high),
        str(t.low),
        str(t.ask),
        str(t.bid),
        str(t.qty),
        str(t.cum_volume),
        str(t.cum_value),
        "0",
        "0",
    ]

    def field(i: int) -> str:
        return raw[i + shift]

    def num(i: int) -> int:
        return int(float(field(i)))

    return {
        "timestamp": _received(t).isoformat(),
        "symbol": field(1),
        "execution_time": field(2),
        "price": {
            "close": num(3),
            "open": num(8),
            "high": num(9),
            "low": num(10),
            "change_rate": float(field(6)),
        },
        "volume": num(14),
        "bid_price": num(12),
        "ask_price": num(11),
        "trade_count": t.count,
        "source": "kis_websocket",
        "session_id": session_id,
    }


def shape_c(t: Trade, session_id: str, *, kst_clock_as_z: bool = False) -> Record:
    """Documented flat tick; ``volume`` is this trade's. Optionally the KST-clock-with-Z bug."""
    at = _received(t)
    lot = max(1, 1_000_000 // t.price)
    event_time = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if kst_clock_as_z else iso_utc_z(at)
    return {
        "symbol": t.symbol,
        "event_time": event_time,
        "bid_price": t.bid,
        "ask_price": t.ask,
        "bid_size": lot * (1 + t.cum_volume % 37),
        "ask_size": lot * (1 + t.cum_value % 41),
        "last_price": t.price,
        "volume": t.qty,
        "session_id": session_id,
        "mitigation_level": 0,
        "quality_flag": "normal",
    }


def shape_d(t: Trade) -> Record:
    """Mock WebSocket tick: UTC ``+00:00`` timestamp, per-trade volume."""
    return {
        "timestamp": _received(t).astimezone(UTC).isoformat(),
        "symbol": t.symbol,
        "price": t.price,
        "volume": t.qty,
        "source": "mock_websocket",
    }


def bars_e(day: Day, codes: Sequence[str], start: datetime, minutes: int, session_id: str) -> list[Record]:
    """Documented one-minute bars from every trade; ``coverage_ratio`` = share of seconds with a trade."""
    out: list[Record] = []
    for m in range(minutes):
        lo = start + timedelta(minutes=m)
        hi = lo + timedelta(minutes=1)
        for code in codes:
            ts = [t for t in day.trades[code] if lo <= t.exec_at < hi]
            if not ts:
                continue
            prices = [t.price for t in ts]
            seconds = {t.exec_at.replace(microsecond=0) for t in ts}
            out.append(
                {
                    "symbol": code,
                    "bar_time": iso_utc_z(lo, micros=False),
                    "open": prices[0],
                    "high": max(prices),
                    "low": min(prices),
                    "close": prices[-1],
                    "volume": sum(t.qty for t in ts),
                    "coverage_ratio": round(len(seconds) / 60, 2),
                    "session_id": session_id,
                    "quality_flag": "normal",
                }
            )
    return out
