"""The production tick (shape A exactly as the current collector writes it), on the shortest path.

It is 99% of all lines, so a batch of them is decoded by msgspec straight into typed Structs whose
constraints are those of the ``ScalpTick`` columns it fills: integers strict and in bigint range,
non-negative prices and volumes, a non-empty symbol. A line that decodes is a valid row; nothing is
re-checked by Pydantic. Any line that does not fit exactly (another key, another offset, a value of
another type or out of range, a JSON escape, a blank line) is handed back as None, and the general
path (orjson, :func:`obsdb.formats.ticks.nested_tick_general`, the Pydantic model) takes it and, if it
is bad, says why. So the reasons for a reject always come from the model, and the property test in
``tests/test_formats_production.py`` shows that both paths accept exactly the same lines with the same
rows. Format: docs/formats.md, shape A.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from obsdb.formats.common import FieldError, exchange_time
from obsdb.formats.ticks import CHANGE_LIMIT_PCT, DENSE_COLUMNS, PLAUSIBLE_SYMBOLS, is_plausible_symbol, tick_flags
from obsdb.krx import KST, session_seconds

__all__ = ["DENSE_COLUMNS", "decode_batch"]

_INT64_MAX = 2**63 - 1
_KRW = Annotated[int, Meta(ge=0, le=_INT64_MAX)]  # = models KRW / Count: strict, bigint, >= 0


class _Price(Struct, gc=False, forbid_unknown_fields=True):
    current: _KRW
    open: _KRW | None
    high: _KRW
    low: _KRW
    change_rate: float | None


class _Volume(Struct, gc=False, forbid_unknown_fields=True):
    accumulated: _KRW | None
    trade_value: _KRW | None


class _BidAsk(Struct, gc=False, forbid_unknown_fields=True):
    ask_price: _KRW | None
    bid_price: _KRW | None


class _Tick(Struct, gc=False, forbid_unknown_fields=True):
    """Every key required and no other allowed: the exact production layout."""

    timestamp: str
    symbol: Annotated[str, Meta(min_length=1)]
    execution_time: str | None
    price: _Price
    volume: _Volume
    bid_ask: _BidAsk
    source: str | None
    session_id: str | None


_decoder = msgspec.json.Decoder(_Tick)
_fromiso = datetime.fromisoformat
_Row = tuple[Any, ...]
_days: dict[str, tuple[date, tuple[int, int, int] | None]] = {}


def _day(text: str) -> tuple[date, tuple[int, int, int] | None]:
    """The KST date of a ``+09:00`` timestamp and its session seconds (cached: few days per batch)."""
    found = _days.get(text)
    if found is None:
        if len(_days) > 4096:
            _days.clear()
        day = date.fromisoformat(text)
        found = _days[text] = (day, session_seconds(day))
    return found


def _decode_all(lines: list[bytes]) -> list[_Tick | None]:
    """One msgspec call for the whole batch; line by line only when some line does not fit."""
    data = b"\n".join(lines)
    if b"\\u" not in data:  # escapes are never in production lines; NULs and surrogates hide there
        try:
            ticks: list[_Tick | None] = list(_decoder.decode_lines(data))
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            if len(ticks) == len(lines):  # decode_lines passes over blank lines: then align one by one
                return ticks
    out: list[_Tick | None] = []
    for line in lines:
        try:
            out.append(None if b"\\u" in line else _decoder.decode(line))
        except (msgspec.ValidationError, msgspec.DecodeError):
            out.append(None)
    return out


def _row(t: _Tick, file_id: int | None, line: int) -> _Row | None:
    ts_text = t.timestamp
    if not ts_text.endswith("+09:00"):
        return None
    try:  # one shared tzinfo: comparing datetimes that share it skips utcoffset() (min/max per batch)
        ts = _fromiso(ts_text[:-6]).replace(tzinfo=KST)
    except ValueError:
        return None
    day, bounds = _days.get(ts_text[:10]) or _day(ts_text[:10])
    hhmmss = t.execution_time
    trade_time = None
    if hhmmss is not None:
        if len(hhmmss) != 6 or not hhmmss.isdigit():
            return None
        try:
            trade_time = exchange_time(day, hhmmss)
        except FieldError:
            return None  # the general path keeps it, flagged invalid_execution_time
    p, v, ba, symbol = t.price, t.volume, t.bid_ask, t.symbol
    current, low, high, bid, ask, rate = p.current, p.low, p.high, ba.bid_price, ba.ask_price, p.change_rate
    clean = (PLAUSIBLE_SYMBOLS.get(symbol) or is_plausible_symbol(symbol)) and low <= current <= high
    if clean and bid is not None and ask is not None:
        clean = not bid > ask > 0
    if clean and rate is not None:
        clean = abs(rate) <= CHANGE_LIMIT_PCT
    if clean:
        if bounds is None:
            flags = "non_trading_day"
        else:  # as krx.time_flag, on seconds of the day (cheaper than comparing datetimes)
            second = ts.hour * 3600 + ts.minute * 60 + ts.second + (1 if ts.microsecond else 0)
            flags = "normal" if bounds[0] <= second <= bounds[1] else (
                "after_hours" if bounds[1] < second <= bounds[2] else "outside_session")
    else:
        if rate is not None and not math.isfinite(rate):
            return None
        flags = tick_flags(symbol, ts, day, current, bid, ask, low, high, rate)
    return (symbol, ts, trade_time, current, bid, ask, p.open, high, low, rate, v.accumulated, v.trade_value,
            t.session_id, t.source, "A", flags, file_id, line)


def decode_batch(lines: list[bytes], file_id: int | None, first_line: int) -> list[_Row | None]:
    """A :data:`DENSE_COLUMNS` row for each production line of ``lines``, None for any other line."""
    rows: list[_Row | None] = []
    append = rows.append
    line = first_line
    for tick in _decode_all(lines):
        append(None if tick is None else _row(tick, file_id, line))
        line += 1
    return rows
