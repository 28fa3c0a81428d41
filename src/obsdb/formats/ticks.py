"""Tick shapes A-D (spec §2) -> ``scalp_ticks`` rows, in ``ScalpTick.columns()`` order.

This is the hot path (millions of lines a day), so it plucks values and leaves type and range
checks to one batched Pydantic validation of the rows (see ``obsdb.load.validate``). Structural
problems raise :class:`FieldError` naming the field. Semantic oddities become quality flags.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from obsdb.formats.common import FieldError, aware, exchange_time, extras, join_flags, kst_day, merge_extras
from obsdb.krx import session_seconds, time_flag

_fromiso = datetime.fromisoformat

Row = tuple[Any, ...]

_SYMBOL = re.compile(r"^[0-9A-Z]{6}$").match
#: KRX's daily price limit is +/-30% of the previous close: a larger change cannot be real.
CHANGE_LIMIT_PCT = 30.0

#: Flags that say a tick's values cannot be right (e.g. the mis-mapped early collector). Derived
#: tables leave such ticks out; ``suspect`` is added to them so one test finds them all.
VALUE_FLAGS = frozenset({"price_outside_range", "bid_above_ask", "day_range_inverted",
                         "change_rate_beyond_limit", "implausible_symbol", "invalid_execution_time"})

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
    if not (isinstance(symbol, str) and _SYMBOL(symbol)):
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


_A_KEYS = frozenset({"timestamp", "symbol", "execution_time", "price", "volume", "bid_ask", "source",
                     "session_id"})
_A_PRICE = frozenset({"current", "open", "high", "low", "change_rate"})
_A_VOLUME = frozenset({"accumulated", "trade_value"})
_A_BID_ASK = frozenset({"ask_price", "bid_price"})
_symbol_ok: dict[Any, bool] = {}
_day_bounds: dict[str, tuple[date, tuple[int, int, int] | None]] = {}
_HHMMSS: dict[str, tuple[int, int, int]] = {}


def _kst_day_bounds(day_text: str) -> tuple[date, tuple[int, int, int] | None]:
    day = date.fromisoformat(day_text)
    if len(_day_bounds) > 4096:
        _day_bounds.clear()
    _day_bounds[day_text] = result = (day, session_seconds(day))
    return result


#: The columns a production tick can fill: the others are always NULL for it, so its rows are built,
#: validated and COPYed without them (fewer values to check and encode per row).
DENSE_COLUMNS = ("symbol", "event_time", "exchange_time", "last_price", "bid_price", "ask_price", "day_open",
                 "day_high", "day_low", "change_rate", "cum_volume", "cum_trade_value", "session_id", "source",
                 "record_shape", "quality_flag", "src_file_id", "src_line")


def production_tick(d: dict[str, Any], file_id: int | None, line: int) -> Row | None:
    """Shape A exactly as the current collector writes it, with +09:00 times, on the shortest path:
    a row of :data:`DENSE_COLUMNS`.

    Returns None for anything else (other keys, another offset, an odd value), and the caller then
    uses :func:`nested_tick`, which handles every variant and says what is wrong. For the lines it
    accepts it returns exactly what nested_tick returns (tested property by property).
    """
    price = d["price"]
    volume = d.get("volume")
    bid_ask = d.get("bid_ask")
    if not (d.keys() == _A_KEYS and type(volume) is dict and type(bid_ask) is dict
            and price.keys() == _A_PRICE and volume.keys() == _A_VOLUME and bid_ask.keys() == _A_BID_ASK):
        return None
    ts_text = d["timestamp"]
    if type(ts_text) is not str or not ts_text.endswith("+09:00"):
        return None
    try:
        ts = _fromiso(ts_text)
    except ValueError:
        return None
    day, bounds = _day_bounds.get(ts_text[:10]) or _kst_day_bounds(ts_text[:10])
    hhmmss = d["execution_time"]
    trade_time = None
    if hhmmss is not None:
        if type(hhmmss) is not str or len(hhmmss) != 6 or not hhmmss.isdigit():
            return None
        trade_time = exchange_time(day, hhmmss)
    symbol = d["symbol"]
    current, low, high = price["current"], price["low"], price["high"]
    bid, ask, change_rate = bid_ask["bid_price"], bid_ask["ask_price"], price["change_rate"]
    if type(current) is not int or type(low) is not int or type(high) is not int:
        return None
    ok = _symbol_ok.get(symbol)
    if ok is None:
        ok = _symbol_ok[symbol] = isinstance(symbol, str) and bool(_SYMBOL(symbol))
    if bounds is None:
        when: str | None = "non_trading_day"
    else:
        second = ts.hour * 3600 + ts.minute * 60 + ts.second + (1 if ts.microsecond else 0)
        when = None if bounds[0] <= second <= bounds[1] else (
            "after_hours" if bounds[1] < second <= bounds[2] else "outside_session")
    clean = ok and low <= current <= high
    if clean and bid is not None and ask is not None:
        clean = type(bid) is int and type(ask) is int and not bid > ask > 0
    if clean and change_rate is not None:
        clean = type(change_rate) in (int, float) and abs(change_rate) <= CHANGE_LIMIT_PCT
    flags = (when or "normal") if clean else tick_flags(symbol, ts, day, current, bid, ask, low, high, change_rate)
    return (
        symbol, ts, trade_time, current, bid, ask, price["open"], high, low, change_rate,
        volume["accumulated"], volume["trade_value"], d["session_id"], d["source"], "A", flags, file_id, line,
    )


def nested_tick(d: dict[str, Any], file_id: int | None, line: int) -> Row:
    """Shapes A (production) and B (second code path, incl. older test data)."""
    fast = production_tick(d, file_id, line) if type(d.get("price")) is dict else None
    return fast if fast is not None else nested_tick_general(d, file_id, line)


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
        None, d.get("session_id"), d.get("source"), shape, flags, None, extra, file_id, line,
    )


def flat_tick(d: dict[str, Any], file_id: int | None, line: int) -> Row:
    """Shape C: the documented flat format; ``volume`` is this trade's volume."""
    try:
        ts_text = d["event_time"]
        symbol = d["symbol"]
    except KeyError as exc:
        raise FieldError(str(exc.args[0]), "missing required field") from None
    ts = aware(ts_text, "event_time")
    day = kst_day(ts, ts_text)
    price, bid, ask = d.get("last_price"), d.get("bid_price"), d.get("ask_price")
    return (
        symbol, ts, None, price, bid, ask, d.get("bid_size"), d.get("ask_size"),
        None, None, None, None, None, None, d.get("volume"), None,
        d.get("mitigation_level"), d.get("session_id"), d.get("source"), "C",
        tick_flags(symbol, ts, day, price, bid, ask, None, None, None),
        d.get("quality_flag"), extras(d, _FLAT_C), file_id, line,
    )


def minimal_tick(d: dict[str, Any], file_id: int | None, line: int) -> Row:
    """Shape D (mock WebSocket sample data): price and a per-message volume only."""
    try:
        ts_text = d["timestamp"]
        symbol = d["symbol"]
        price = d["price"]
    except KeyError as exc:
        raise FieldError(str(exc.args[0]), "missing required field") from None
    ts = aware(ts_text, "timestamp")
    day = kst_day(ts, ts_text)
    return (
        symbol, ts, None, price, None, None, None, None,
        None, None, None, None, None, None, d.get("volume"), None,
        None, None, d.get("source"), "D",
        tick_flags(symbol, ts, day, price, None, None, None, None, None),
        None, extras(d, _MINIMAL_D), file_id, line,
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


def expand_dense(row: Row, columns: tuple[str, ...]) -> Row:
    """A :data:`DENSE_COLUMNS` row as a row of ``columns`` (the table's), NULL elsewhere."""
    values = dict(zip(DENSE_COLUMNS, row, strict=True))
    return tuple(values.get(c) for c in columns)
