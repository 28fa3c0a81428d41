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
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

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
#: Timestamps are built as _EPOCH_KST + (naive - _EPOCH): cheaper than ``.replace(tzinfo=KST)`` (about
#: 1 µs), every one shares the KST object (so min/max per batch skips ``utcoffset()``), and the
#: timedelta gives the day and the second of the day for free.
_EPOCH = datetime(2000, 1, 1)
_EPOCH_KST = _EPOCH.replace(tzinfo=KST)
#: The lengths of ``YYYY-MM-DDTHH:MM:SS+09:00`` with and without ``.ffffff``; others go the general way.
_LENGTHS = frozenset({25, 32})
_Clock = dict[str, datetime]
_Day = tuple[date, "tuple[int, int, int] | None", _Clock, datetime]
_days: dict[int, _Day] = {}


def _day(days: int) -> _Day:
    """The KST date ``days`` after _EPOCH, its session seconds, HHMMSS -> exchange time, its midnight.
    Only a few days are kept: a batch spans one or two, and each day's cache can hold 86,400 times."""
    if len(_days) >= 4:
        _days.clear()
    midnight = _EPOCH_KST + timedelta(days)
    day = midnight.date()
    found = _days[days] = (day, session_seconds(day), {}, midnight)
    return found


def _clock(midnight: datetime, clock: _Clock, hhmmss: str) -> datetime | None:
    """``HHMMSS`` of that day as an aware datetime, as :func:`obsdb.formats.common.exchange_time`
    makes it; None when it is no valid time (the general path keeps the tick, flagged)."""
    if len(hhmmss) != 6 or not (hhmmss.isascii() and hhmmss.isdigit()):
        return None
    hh, mmss = divmod(int(hhmmss), 10000)
    mm, ss = divmod(mmss, 100)
    if hh > 23 or mm > 59 or ss > 59:
        return None
    value = clock[hhmmss] = midnight + timedelta(0, hh * 3600 + mm * 60 + ss)  # positional: kwargs are slow
    return value


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
    if len(ts_text) not in _LENGTHS or not ts_text.endswith("+09:00"):
        return None
    try:  # TypeError: the text before "+09:00" had an offset of its own (not a production line)
        since = _fromiso(ts_text[:-6]) - _EPOCH
    except (ValueError, TypeError):
        return None
    ts = _EPOCH_KST + since
    days = since.days
    day, bounds, clock, midnight = _days.get(days) or _day(days)
    hhmmss = t.execution_time
    trade_time = None
    if hhmmss is not None:
        trade_time = clock.get(hhmmss) or _clock(midnight, clock, hhmmss)
        if trade_time is None:
            return None
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
            second = since.seconds + (1 if since.microseconds else 0)
            flags = "normal" if bounds[0] <= second <= bounds[1] else (
                "after_hours" if bounds[1] < second <= bounds[2] else "outside_session")
    else:
        if rate is not None and not math.isfinite(rate):
            return None
        flags = tick_flags(symbol, ts, day, current, bid, ask, low, high, rate)
    return (symbol, ts, trade_time, current, bid, ask, p.open, high, low, rate, v.accumulated, v.trade_value,
            t.session_id, t.source, "A", flags, file_id, line)


#: Lines decoded per msgspec call: the structs of a few hundred lines are still in the CPU cache when
#: their rows are built (measured: 2.7 µs/row for decode + rows at 256, 4.0 at 4,096), and a whole
#: batch's structs (50,000 lines) would add about 20 MB to the loader's peak.
_CHUNK = 256


def decode_batch(lines: list[bytes], file_id: int | None, first_line: int) -> list[_Row | None]:
    """A :data:`DENSE_COLUMNS` row for each production line of ``lines``, None for any other line."""
    rows: list[_Row | None] = []
    append = rows.append
    line = first_line
    row = _row
    for start in range(0, len(lines), _CHUNK):
        for tick in _decode_all(lines[start:start + _CHUNK]):
            append(None if tick is None else row(tick, file_id, line))
            line += 1
    return rows
