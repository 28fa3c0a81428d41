"""Format-level properties: the production fast path agrees with the general one, recognition is by
content, and bad values never raise anything but a field error."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from obsdb.formats.common import FieldError
from obsdb.formats.recognize import recognize
from obsdb.formats.ticks import DENSE_COLUMNS, expand_dense, nested_tick_general, production_tick
from obsdb.models import ScalpTick

KST = timezone(timedelta(hours=9))
prices = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def production_ticks(draw: st.DrawFn) -> dict[str, Any]:
    when = draw(st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2026, 2, 10)))
    when = when.replace(tzinfo=KST)
    exec_time = draw(st.one_of(st.none(), st.just(when.strftime("%H%M%S"))))
    low, high = sorted((draw(prices), draw(prices)))
    return {
        "timestamp": when.isoformat(), "symbol": draw(st.sampled_from(["005930", "0004V0", "001", "ABCDEFG"])),
        "execution_time": exec_time,
        "price": {"current": draw(prices), "open": draw(prices), "high": high, "low": low,
                  "change_rate": draw(st.one_of(st.none(), st.floats(-40, 40, allow_nan=False), st.integers(-40, 40)))},
        "volume": {"accumulated": draw(st.integers(0, 10**12)), "trade_value": draw(st.one_of(st.none(), prices))},
        "bid_ask": {"ask_price": draw(st.one_of(st.none(), prices)), "bid_price": draw(st.one_of(st.none(), prices))},
        "source": "websocket", "session_id": draw(st.text(max_size=8)),
    }


@settings(max_examples=400, deadline=None)
@given(production_ticks())
def test_production_fast_path_equals_general_path(record: dict[str, Any]) -> None:
    record = orjson.loads(orjson.dumps(record))  # exactly what the loader sees
    fast = production_tick(record, 7, 9)
    general = nested_tick_general(record, 7, 9)
    assert fast is not None
    assert expand_dense(fast, ScalpTick.columns()) == general


def test_dense_columns_are_table_columns_in_order() -> None:
    columns = ScalpTick.columns()
    positions = [columns.index(c) for c in DENSE_COLUMNS]
    assert positions == sorted(positions)
    left_out = set(columns) - set(DENSE_COLUMNS)
    assert all(not ScalpTick.model_fields[c].is_required() for c in left_out)


def test_fast_path_declines_anything_unusual() -> None:
    base = {"timestamp": "2026-01-30T10:00:00+09:00", "symbol": "005930", "execution_time": "100000",
            "price": {"current": 1, "open": 1, "high": 1, "low": 1, "change_rate": 0.0},
            "volume": {"accumulated": 1, "trade_value": 1}, "bid_ask": {"ask_price": 1, "bid_price": 1},
            "source": "websocket", "session_id": "s"}
    assert production_tick(base, None, 1) is not None
    for variant in (dict(base, timestamp="2026-01-30T01:00:00Z"), dict(base, extra=1),
                    dict(base, execution_time="5"), dict(base, price=dict(base["price"], current="1")),  # type: ignore[arg-type]
                    dict(base, timestamp="2026-01-30T10:00:00")):
        assert production_tick(variant, None, 1) is None


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["timestamp", "symbol", "price", "volume", "ts", "event_time", "bar_time",
                                        "open", "high", "low", "close", "execution_time", "bid_ask", "slot_id",
                                        "gap_start_ts", "gap_end_ts", "last_update", "gap_duration_seconds"]),
                       st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=30),
                                 st.just("2026-01-30T10:00:00+09:00"), st.just({"current": 1}),
                                 st.lists(st.integers(), max_size=2)),
                       max_size=8))
def test_extraction_raises_only_field_errors(record: dict[str, Any]) -> None:
    shape = recognize(record)
    if shape is None or shape.extract is None:
        return
    with contextlib.suppress(FieldError):
        shape.extract(record, None, 1)


def test_naive_time_is_a_field_error_naming_the_field() -> None:
    record = {"timestamp": "2026-01-30T10:00:00", "symbol": "005930", "price": 1}
    shape = recognize(record)
    assert shape is not None and shape.extract is not None
    try:
        shape.extract(record, None, 1)
    except FieldError as exc:
        assert exc.field == "timestamp" and "offset" in exc.reason
    else:
        raise AssertionError("a naive timestamp was accepted")


def test_utc_and_kst_spellings_are_the_same_instant() -> None:
    a = nested_tick_general({"timestamp": "2026-01-30T01:00:00Z", "symbol": "005930", "price": {"current": 1}}, None, 1)
    b = nested_tick_general({"timestamp": "2026-01-30T10:00:00+09:00", "symbol": "005930", "price": {"current": 1}},
                            None, 1)
    assert a[1] == b[1] == datetime(2026, 1, 30, 1, tzinfo=UTC)
