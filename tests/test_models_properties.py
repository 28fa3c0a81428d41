"""The models' properties: any valid bar round-trips, any inverted one is refused, numeric rounds
like PostgreSQL, no fractional price passes (hypothesis; pure Python)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from obsdb.models import AnalysisSignalEvent, Scalp1mBar
from tests.model_examples import EXAMPLES, KST
from tests.test_models import TICK, _assert_identical, reject, replaced

tz = st.sampled_from([UTC, KST, timezone(timedelta(hours=-5))])
when = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=tz)
krw = st.integers(min_value=0, max_value=2**63 - 1)
coverage = st.decimals(min_value=0, max_value=1, places=4)
symbol = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)


@st.composite
def bars(draw: st.DrawFn) -> Scalp1mBar:
    low, a, b, high = sorted(draw(st.lists(krw, min_size=4, max_size=4)))
    open_, close = draw(st.permutations([a, b]))
    origin = draw(st.sampled_from(["derived", "archived"]))
    return Scalp1mBar(symbol=draw(symbol), bar_time=draw(when), origin=origin, open=open_, high=high, low=low,
                      close=close, volume=draw(st.none() | krw), coverage_ratio=draw(st.none() | coverage),
                      computed_at=draw(st.none() | when))  # fmt: skip


@given(bars())
def test_any_valid_bar_round_trips(bar: Scalp1mBar) -> None:
    _assert_identical(Scalp1mBar.model_validate_json(bar.model_dump_json()), bar)
    _assert_identical(Scalp1mBar.from_row(bar.to_row()), bar)


@given(bars(), st.data())
def test_any_bar_with_high_below_low_is_rejected(bar: Scalp1mBar, data: st.DataObject) -> None:
    high = data.draw(st.integers(min_value=0, max_value=2**63 - 2))
    low = data.draw(st.integers(min_value=high + 1, max_value=2**63 - 1))
    with pytest.raises(ValidationError, match=r"low \(\d+\) > high \(\d+\)"):
        replaced(bar, high=high, low=low)


@given(st.decimals(min_value=-(10**15), max_value=10**15, allow_nan=False, allow_infinity=False))
def test_numeric_24_8_matches_postgres_rounding(value: Decimal) -> None:
    event = replaced(EXAMPLES[AnalysisSignalEvent], value=value)
    assert isinstance(event, AnalysisSignalEvent) and event.value is not None
    assert event.value == value.quantize(Decimal("1e-8"), ROUND_HALF_UP)
    _assert_identical(AnalysisSignalEvent.model_validate_json(event.model_dump_json()), event)


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()))
def test_no_fractional_price_is_accepted(price: float) -> None:
    reject(TICK, "last_price", price)
