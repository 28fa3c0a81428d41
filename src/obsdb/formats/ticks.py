"""Tick shapes A-D (docs/formats.md) -> ``scalp_ticks`` rows, each shape in its own column layout.

This is the hot path (millions of lines a day), so it plucks values and leaves type and range
checks to one batched Pydantic validation of the rows (see ``obsdb.load.validate``). Structural
problems raise :class:`FieldError` naming the field. Semantic oddities become quality flags.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from obsdb.formats.common import FieldError, aware, exchange_time, extras, join_flags, kst_day, merge_extras
from obsdb.krx import time_flag

Row = tuple[Any, ...]

_SYMBOL = re.compile(r"^[0-9A-Z]{6}$").match
#: KRX's daily price limit is +/-30% of the previous close: a larger change cannot be real.
CHANGE_LIMIT_PCT = 30.0


_NESTED_TOP = frozenset({"timestamp", "symbol", "execution_time", "price", "volume", "bid_ask", "bid_price",
                         "ask_price", "source", "session_id", "trade_count"})
_PRICE = frozenset({"current", "close", "open", "high", "low", "change_rate"})
_VOLUME = frozenset({"accumulated", "trade_value", "current"})
_BID_ASK = frozenset({"ask_price", "bid_price", "ask_size", "bid_size"})
_FLAT_C = frozenset({"symbol", "event_time", "bid_price", "ask_price", "bid_size", "ask_size", "last_price",
                     "volume", "session_id", "mitigation_level", "quality_flag"})
_MINIMAL_D = frozenset({"timestamp", "symbol", "price", "volume", "source"})

def tick_flags(symbol: Any, ts: datetime, day: date, price: Any, bid: Any, ask: Any,
               low: Any, high: Any, change_rate: Any) -> str:
    """``normal`` or the comma-separated flags of one tick. Values may still be of a wrong type
    (validation comes later and will reject such a row), so comparisons are guarded."""
    flags: list[str] = []
    try:
        if price is not None and low is not None and high is not None and not low <= price <= high:
            flags.append("price_outside_range")
        if low is not None and high is not None and low > high:
            flags.append("day_range_inverted")
        if bid is not None and ask is not None and bid > ask > 0:
            flags.append("bid_above_ask")
        if change_rate is not None and abs(change_rate) > CHANGE_LIMIT_PCT:
            flags.append("change_rate_beyond_limit")
    except TypeError:
        pass
    if not is_plausible_symbol(symbol):
        flags.append("implausible_symbol")
    if flags:
        flags.append("suspect")
    when = time_flag(ts, day)
    if when:
        flags.append(when)
    return join_flags(flags) if flags else "normal"


def _sub(record: Any, field: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise FieldError(field, f"expected an object, got {type(record).__name__}")
    return record


#: The columns a production tick can fill: the others are always NULL for it, so its rows are built
#: and COPYed without them (see :mod:`obsdb.formats.production`).
DENSE_COLUMNS = ("symbol", "event_time", "exchange_time", "last_price", "bid_price", "ask_price", "day_open",
                 "day_high", "day_low", "change_rate", "cum_volume", "cum_trade_value", "session_id", "source",
                 "record_shape", "quality_flag", "src_file_id", "src_line")
#: Each tick shape's row layout: only the columns that shape can fill.
NESTED_COLUMNS = ("symbol", "event_time", "exchange_time", "last_price", "bid_price", "ask_price", "bid_size",
                  "ask_size", "day_open", "day_high", "day_low", "change_rate", "cum_volume", "cum_trade_value",
                  "volume", "trade_count", "session_id", "source", "record_shape", "quality_flag", "extra",
                  "src_file_id", "src_line")
FLAT_COLUMNS = ("symbol", "event_time", "last_price", "bid_price", "ask_price", "bid_size", "ask_size", "volume",
                "mitigation_level", "session_id", "source", "record_shape", "quality_flag", "source_quality_flag",
                "extra", "src_file_id", "src_line")
MINIMAL_COLUMNS = ("symbol", "event_time", "last_price", "volume", "source", "record_shape", "quality_flag",
                   "extra", "src_file_id", "src_line")
#: A tick row and its layout (one of the tuples above).
TickRow = tuple[tuple[str, ...], Row]

#: symbol -> plausible (shared with the production path, which reads it first)
PLAUSIBLE_SYMBOLS: dict[str, bool] = {}


def is_plausible_symbol(symbol: Any) -> bool:
    """Six KRX code characters (cached: a day has few symbols)."""
    if type(symbol) is not str:
        return False
    ok = PLAUSIBLE_SYMBOLS.get(symbol)
    if ok is None:
        if len(PLAUSIBLE_SYMBOLS) > 65536:
            PLAUSIBLE_SYMBOLS.clear()
        ok = PLAUSIBLE_SYMBOLS[symbol] = bool(_SYMBOL(symbol))
    return ok


def nested_tick(d: dict[str, Any], file_id: int | None, line: int) -> TickRow:
    """Shapes A (production) and B (second code path, incl. older test data)."""
    return NESTED_COLUMNS, nested_tick_general(d, file_id, line)


def nested_tick_general(d: dict[str, Any], file_id: int | None, line: int) -> Row:
    """Every nested variant, as a row of all the table's columns; names the field at fault."""
    try:
        ts_text = d["timestamp"]
        symbol = d["symbol"]
        price = _sub(d["price"], "price")
    except KeyError as exc:
        raise FieldError(str(exc.args[0]), "missing required field") from None
    ts = aware(ts_text, "timestamp")
    day = kst_day(ts, ts_text)
    current = price.get("current")
    shape = "A"
    if current is None:
        current = price.get("close")
        shape = "B"
    if current is None:
        raise FieldError("price.current", "missing required field (nor price.close)")
    volume = d.get("volume")
    trade_volume = trade_value = None
    extra_volume = None
    if isinstance(volume, dict):
        cum = volume.get("accumulated")
        trade_value = volume.get("trade_value")
        trade_volume = volume.get("current")
        if not _VOLUME.issuperset(volume):
            extra_volume = extras(volume, _VOLUME, "volume.")
    else:
        cum = volume  # B: a plain cumulative integer (validation rejects anything else)
        shape = "B"
    bid_ask = d.get("bid_ask")
    extra_ba = None
    if bid_ask is None:
        bid, ask, bid_size, ask_size = d.get("bid_price"), d.get("ask_price"), None, None
        shape = "B"
    else:
        bid_ask = _sub(bid_ask, "bid_ask")
        bid, ask = bid_ask.get("bid_price", d.get("bid_price")), bid_ask.get("ask_price", d.get("ask_price"))
        bid_size, ask_size = bid_ask.get("bid_size"), bid_ask.get("ask_size")
        if not _BID_ASK.issuperset(bid_ask):
            extra_ba = extras(bid_ask, _BID_ASK, "bid_ask.")
        if not bid_ask or "close" in price:
            shape = "B"
    low, high, change_rate = price.get("low"), price.get("high"), price.get("change_rate")
    extra = None
    if not (_NESTED_TOP.issuperset(d) and _PRICE.issuperset(price)) or extra_volume or extra_ba:
        extra = merge_extras(extras(d, _NESTED_TOP), extras(price, _PRICE, "price."), extra_volume, extra_ba)
    try:
        trade_time = exchange_time(day, d.get("execution_time"))
        bad_time = False
    except FieldError:
        # Seen in the mis-mapped early collector: a value that is no time. The tick is kept, flagged,
        # with the raw value in `extra`; a wrong time must not become a plausible exchange_time.
        trade_time, bad_time = None, True
        extra = merge_extras(extra, {"execution_time": d.get("execution_time")})
    flags = tick_flags(symbol, ts, day, current, bid, ask, low, high, change_rate)
    if bad_time:
        flags = join_flags([*flags.split(","), "invalid_execution_time", "suspect"]) if flags != "normal" else \
            "invalid_execution_time,suspect"
    return (
        symbol, ts, trade_time, current, bid, ask, bid_size, ask_size,
        price.get("open"), high, low, change_rate, cum, trade_value, trade_volume, d.get("trade_count"),
        d.get("session_id"), d.get("source"), shape, flags, extra, file_id, line,
    )


def flat_tick(d: dict[str, Any], file_id: int | None, line: int) -> TickRow:
    """Shape C: the documented flat format; ``volume`` is this trade's volume."""
    try:
        ts_text = d["event_time"]
        symbol = d["symbol"]
    except KeyError as exc:
        raise FieldError(str(exc.args[0]), "missing required field") from None
    ts = aware(ts_text, "event_time")
    day = kst_day(ts, ts_text)
    price, bid, ask = d.get("last_price"), d.get("bid_price"), d.get("ask_price")
    return FLAT_COLUMNS, (
        symbol, ts, price, bid, ask, d.get("bid_size"), d.get("ask_size"), d.get("volume"),
        d.get("mitigation_level"), d.get("session_id"), d.get("source"), "C",
        tick_flags(symbol, ts, day, price, bid, ask, None, None, None),
        d.get("quality_flag"), extras(d, _FLAT_C), file_id, line,
    )


def minimal_tick(d: dict[str, Any], file_id: int | None, line: int) -> TickRow:
    """Shape D (mock WebSocket sample data): price and a per-message volume only."""
    try:
        ts_text = d["timestamp"]
        symbol = d["symbol"]
        price = d["price"]
    except KeyError as exc:
        raise FieldError(str(exc.args[0]), "missing required field") from None
    ts = aware(ts_text, "timestamp")
    day = kst_day(ts, ts_text)
    return MINIMAL_COLUMNS, (
        symbol, ts, price, d.get("volume"), d.get("source"), "D",
        tick_flags(symbol, ts, day, price, None, None, None, None, None),
        extras(d, _MINIMAL_D), file_id, line,
    )


#: For reject messages: the JSON field behind each scalp_ticks column, by record shape.
_COMMON = {"symbol": "symbol", "session_id": "session_id", "source": "source", "extra": "(unmapped fields)"}
TICK_FIELDS: dict[str, dict[str, str]] = {
    "A": _COMMON | {
        "event_time": "timestamp", "exchange_time": "execution_time", "last_price": "price.current",
        "bid_price": "bid_ask.bid_price", "ask_price": "bid_ask.ask_price", "bid_size": "bid_ask.bid_size",
        "ask_size": "bid_ask.ask_size", "day_open": "price.open", "day_high": "price.high",
        "day_low": "price.low", "change_rate": "price.change_rate", "cum_volume": "volume.accumulated",
        "cum_trade_value": "volume.trade_value", "volume": "volume.current", "trade_count": "trade_count",
    },
    "C": _COMMON | {"event_time": "event_time", "last_price": "last_price", "bid_price": "bid_price",
                    "ask_price": "ask_price", "bid_size": "bid_size", "ask_size": "ask_size", "volume": "volume",
                    "mitigation_level": "mitigation_level", "source_quality_flag": "quality_flag"},
    "D": _COMMON | {"event_time": "timestamp", "last_price": "price", "volume": "volume"},
}
TICK_FIELDS["B"] = TICK_FIELDS["A"] | {"last_price": "price.close", "cum_volume": "volume",
                                       "bid_price": "bid_price", "ask_price": "ask_price"}


def expand(row: Row, layout: tuple[str, ...], columns: tuple[str, ...]) -> Row:
    """A row of ``layout`` as a row of ``columns`` (e.g. the table's), NULL elsewhere."""
    values = dict(zip(layout, row, strict=True))
    return tuple(values.get(c) for c in columns)
