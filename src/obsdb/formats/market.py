"""Low-volume market shapes -> column dicts, validated later by the table's Pydantic model:
swing snapshots (F and variants), archived bars (E, flat swing bars) and gap ledgers (G)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from obsdb.formats.common import FieldError, aware, aware_or_none, extras, join_flags, kst_day
from obsdb.krx import time_flag
from obsdb.models.scalp import FEED_SYMBOL

Values = dict[str, Any]

_F_NESTED = frozenset({"ts", "session", "dataset", "market", "symbol", "price", "volume", "bid_price",
                       "ask_price", "source"})
_F_PRICE = frozenset({"open", "high", "low", "close"})
_F_MOCK = frozenset({"timestamp", "symbol", "price", "volume", "open", "high", "low", "source"})
_E_BAR = frozenset({"symbol", "bar_time", "open", "high", "low", "close", "volume", "coverage_ratio",
                    "session_id", "quality_flag", "tick_count"})
_F_FLAT = frozenset({"symbol", "bar_time", "open", "high", "low", "close", "volume", "bid_price", "ask_price",
                     "session_id", "schema_version", "mitigation_level", "quality_flag"})
_G_LEDGER = frozenset({"track_type", "symbol", "gap_type", "gap_duration_seconds", "last_update",
                       "detected_at", "expected_interval_seconds", "session_id"})
_G_DOC = frozenset({"timestamp", "symbol", "gap_start_ts", "gap_end_ts", "gap_seconds", "scope", "reason",
                    "session_id"})


def _required(d: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if key not in d:
            raise FieldError(key, "missing required field")


def _snapshot_flags(symbol: Any, ts: Any, text: str, price: Any, low: Any, high: Any) -> str:
    flags = []
    try:
        if price is not None and low is not None and high is not None and not low <= price <= high:
            flags.append("price_outside_range")
    except TypeError:
        pass
    when = time_flag(ts, kst_day(ts, text))
    if when:
        flags.append(when)
    return join_flags(flags)


def swing_nested(d: dict[str, Any], file_id: int | None, line: int) -> Values:
    """Shape F: a REST poll. ``price`` holds the day's OHLC so far with the current price as close."""
    _required(d, "ts", "symbol", "price")
    ts = aware(d["ts"], "ts")
    price = d["price"]
    if not isinstance(price, dict):
        raise FieldError("price", f"expected an object, got {type(price).__name__}")
    extra = extras(d, _F_NESTED) or {}
    extra.update(extras(price, _F_PRICE, "price.") or {})
    return {
        "symbol": d["symbol"], "snapshot_time": ts, "day_open": price.get("open"), "day_high": price.get("high"),
        "day_low": price.get("low"), "price": price.get("close"), "cum_volume": d.get("volume"),
        "bid_price": d.get("bid_price"), "ask_price": d.get("ask_price"), "session_id": d.get("session"),
        "dataset": d.get("dataset"), "market": d.get("market"), "source": d.get("source"),
        "record_shape": "F",
        "quality_flag": _snapshot_flags(d["symbol"], ts, d["ts"], price.get("close"), price.get("low"),
                                        price.get("high")),
        "extra": extra or None, "src_file_id": file_id, "src_line": line,
    }


def swing_mock(d: dict[str, Any], file_id: int | None, line: int) -> Values:
    """The mock swing shape: ``{"timestamp","symbol","price": n,"volume","open","high","low"}``."""
    _required(d, "timestamp", "symbol", "price")
    ts = aware(d["timestamp"], "timestamp")
    return {
        "symbol": d["symbol"], "snapshot_time": ts, "day_open": d.get("open"), "day_high": d.get("high"),
        "day_low": d.get("low"), "price": d["price"], "cum_volume": d.get("volume"), "source": d.get("source"),
        "record_shape": "F_mock",
        "quality_flag": _snapshot_flags(d["symbol"], ts, d["timestamp"], d["price"], d.get("low"), d.get("high")),
        "extra": extras(d, _F_MOCK), "src_file_id": file_id, "src_line": line,
    }


def _bar_common(d: dict[str, Any], known: frozenset[str], file_id: int | None, line: int) -> Values:
    _required(d, "symbol", "bar_time", "open", "high", "low", "close")
    bar_time = aware(d["bar_time"], "bar_time")
    flags = []
    when = time_flag(bar_time, kst_day(bar_time, d["bar_time"]))
    if when:
        flags.append(when)
    return {
        "symbol": d["symbol"], "bar_time": bar_time, "origin": "archived", "open": d["open"], "high": d["high"],
        "low": d["low"], "close": d["close"], "volume": d.get("volume"), "quality_flag": join_flags(flags),
        "session_id": d.get("session_id"), "source_quality_flag": d.get("quality_flag"),
        "extra": extras(d, known), "src_file_id": file_id, "src_line": line,
    }


def bar_1m(d: dict[str, Any], file_id: int | None, line: int) -> Values:
    """Shape E: an archived 1-minute bar."""
    values = _bar_common(d, _E_BAR, file_id, line)
    values["coverage_ratio"] = _decimal(d.get("coverage_ratio"), "coverage_ratio")
    values["tick_count"] = d.get("tick_count")
    return values


def bar_swing_flat(d: dict[str, Any], file_id: int | None, line: int) -> Values:
    """The flat swing variant: an archived 10-minute bar."""
    values = _bar_common(d, _F_FLAT, file_id, line)
    values.update(bid_price=d.get("bid_price"), ask_price=d.get("ask_price"),
                  schema_version=_text_or_none(d.get("schema_version")), mitigation_level=d.get("mitigation_level"))
    return values


def _text_or_none(value: Any) -> Any:
    # schema_version is sometimes a number in the wild ("1.0" vs 1): keep it, as text.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _decimal(value: Any, field: str) -> Any:
    """JSON numbers for numeric columns become exact Decimals from their shortest repr."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float | int):
        try:
            return Decimal(repr(value))
        except InvalidOperation:
            raise FieldError(field, f"not a finite number: {value!r}") from None
    return value


def _gap_symbol(symbol: Any) -> tuple[Any, str]:
    """(symbol, scope) of an archived gap: none, empty or '*' is the whole feed, stored as '*'."""
    if not symbol or symbol == FEED_SYMBOL:
        return FEED_SYMBOL, "feed"
    return symbol, "symbol"


def gap_ledger(d: dict[str, Any], file_id: int | None, line: int) -> Values:
    """Shape G: the collector's gap ledger. The gap runs from ``last_update`` for its duration."""
    _required(d, "last_update", "gap_duration_seconds")
    start = aware(d["last_update"], "last_update")
    seconds = _decimal(d["gap_duration_seconds"], "gap_duration_seconds")
    if not isinstance(seconds, Decimal):
        raise FieldError("gap_duration_seconds", f"expected a number, got {type(seconds).__name__}")
    try:
        end = start + timedelta(seconds=float(seconds))
    except (OverflowError, ValueError):
        raise FieldError("gap_duration_seconds", f"out of range: {seconds}") from None
    symbol, scope = _gap_symbol(d.get("symbol"))
    return {
        "symbol": symbol, "gap_start_ts": start, "gap_end_ts": end, "gap_seconds": seconds,
        "scope": scope, "reason": d.get("gap_type"), "session_id": d.get("session_id"),
        "origin": "archived", "track_type": d.get("track_type"), "gap_type": d.get("gap_type"),
        "expected_interval_seconds": _decimal(d.get("expected_interval_seconds"), "expected_interval_seconds"),
        "detected_at": aware_or_none(d.get("detected_at"), "detected_at"),
        "extra": extras(d, _G_LEDGER), "src_file_id": file_id, "src_line": line,
    }


def gap_documented(d: dict[str, Any], file_id: int | None, line: int) -> Values:
    """The documented gap record: explicit start, end, seconds, scope and reason."""
    _required(d, "gap_start_ts", "gap_end_ts")
    start = aware(d["gap_start_ts"], "gap_start_ts")
    end = aware(d["gap_end_ts"], "gap_end_ts")
    seconds = d.get("gap_seconds")
    seconds = _decimal(seconds, "gap_seconds") if seconds is not None else Decimal(
        repr(round((end - start).total_seconds(), 3)))
    symbol, scope = _gap_symbol(d.get("symbol"))
    extra = extras(d, _G_DOC) or {}
    if d.get("scope") not in (None, scope):
        extra["scope"] = d["scope"]  # e.g. "all_symbols": kept verbatim, normalised to feed/symbol
    return {
        "symbol": symbol, "gap_start_ts": start, "gap_end_ts": end, "gap_seconds": seconds,
        "scope": scope, "reason": d.get("reason"), "session_id": d.get("session_id"), "origin": "archived",
        "recorded_at": aware_or_none(d.get("timestamp"), "timestamp"),
        "extra": extra or None, "src_file_id": file_id, "src_line": line,
    }
