"""Format-level properties: tick layouts, recognition by content, and bad values never raise anything
but a field error. The production fast path has its own file (test_formats_production.py)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from obsdb.formats.common import FieldError
from obsdb.formats.recognize import recognize
from obsdb.formats.ticks import DENSE_COLUMNS, FLAT_COLUMNS, MINIMAL_COLUMNS, NESTED_COLUMNS, nested_tick_general
from obsdb.models import ScalpTick

KST = timezone(timedelta(hours=9))
prices = st.integers(min_value=0, max_value=2_000_000)


def test_tick_layouts_are_table_columns_in_order() -> None:
    columns = ScalpTick.columns()
    for layout in (DENSE_COLUMNS, NESTED_COLUMNS, FLAT_COLUMNS, MINIMAL_COLUMNS):
        positions = [columns.index(c) for c in layout]
        assert positions == sorted(positions)
        left_out = set(columns) - set(layout)
        assert all(not ScalpTick.model_fields[c].is_required() for c in left_out)


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
