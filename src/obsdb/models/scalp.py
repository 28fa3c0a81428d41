"""Scalp tables (001_scalp.sql): real-time ticks, 1-minute bars and collection gaps."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from ._types import (
    KRW,
    AwareDatetime,
    BigInt,
    Count,
    Count32,
    Coverage,
    JsonObject,
    QualityFlag,
    Seconds,
    SmallInt,
    StatFloat,
    Symbol,
    Text,
)
from .base import TableModel, ohlc_violations

__all__ = ["FEED_SYMBOL", "Scalp1mBar", "ScalpGap", "ScalpTick"]

FEED_SYMBOL = "*"
"""The symbol of a whole-feed gap (migration 011): "every symbol", never a KRX code, NOT NULL as a
Citus distribution column must be. Reserved in scalp_gaps: scope 'feed' exactly when symbol '*'."""

BarOrigin = Literal["derived", "archived"]
RecordShape = Literal["A", "B", "C", "D"]
GapScope = Literal["feed", "symbol", "swing"]


class ScalpTick(TableModel):
    """One trade message as received: prices are integer KRW, ``volume`` only when stated."""

    __table__ = "scalp_ticks"
    __key__ = ("symbol", "event_time")

    symbol: Symbol
    event_time: AwareDatetime
    """Receive time at the collector."""
    exchange_time: AwareDatetime | None = None
    """KRX trade time: the KST date of event_time plus execution_time."""
    last_price: KRW | None = None
    bid_price: KRW | None = None
    ask_price: KRW | None = None
    bid_size: Count | None = None
    ask_size: Count | None = None
    day_open: KRW | None = None
    day_high: KRW | None = None
    day_low: KRW | None = None
    change_rate: StatFloat | None = None
    """Percent change against the previous close, as the collector sent it."""
    cum_volume: Count | None = None
    cum_trade_value: Count | None = None
    volume: Count | None = None
    """This trade's volume, only when the record states it (never a cumulative difference)."""
    trade_count: Count | None = None
    mitigation_level: SmallInt | None = None
    session_id: Text | None = None
    source: Text | None = None
    record_shape: RecordShape
    quality_flag: QualityFlag = "normal"
    source_quality_flag: Text | None = None
    extra: JsonObject | None = None
    """Fields this version does not map, kept so nothing is dropped."""
    src_file_id: BigInt | None = None
    src_line: BigInt | None = None


class Scalp1mBar(TableModel):
    """A 1-minute bar labelled by its KST-aligned start; ``derived`` from ticks or ``archived``."""

    __table__ = "scalp_1m_bars"
    __key__ = ("symbol", "bar_time", "origin")
    __db_filled__ = frozenset({"computed_at"})

    symbol: Symbol
    bar_time: AwareDatetime
    origin: BarOrigin
    open: KRW
    high: KRW
    low: KRW
    close: KRW
    volume: Count | None = None
    tick_count: Count32 | None = None
    coverage_ratio: Coverage | None = None
    quality_flag: QualityFlag = "normal"
    session_id: Text | None = None
    source_quality_flag: Text | None = None
    extra: JsonObject | None = None
    src_file_id: BigInt | None = None
    src_line: BigInt | None = None
    computed_at: AwareDatetime | None = None
    """None lets the database fill it (DEFAULT now())."""

    @model_validator(mode="after")
    def _check_ohlc(self) -> Scalp1mBar:
        if (problem := ohlc_violations(self.open, self.high, self.low, self.close)) is not None:
            raise ValueError(problem)
        return self


class ScalpGap(TableModel):
    """A collection gap of one symbol, or of the whole feed (``scope`` 'feed', ``symbol`` '*').

    As in the SQL, ``(scope = 'feed') = (symbol = '*')``: a feed gap names :data:`FEED_SYMBOL`, and
    a 'symbol' or 'swing' gap names a real symbol.
    """

    __table__ = "scalp_gaps"
    __key__ = ("symbol", "gap_start_ts", "scope", "origin")
    __db_filled__ = frozenset({"gap_id", "computed_at"})

    gap_id: BigInt | None = None
    """Identity column: None lets the database number the row."""
    symbol: Symbol
    gap_start_ts: AwareDatetime
    gap_end_ts: AwareDatetime
    gap_seconds: Seconds
    scope: GapScope
    reason: Text | None = None
    session_id: Text | None = None
    origin: BarOrigin
    track_type: Text | None = None
    gap_type: Text | None = None
    expected_interval_seconds: Seconds | None = None
    detected_at: AwareDatetime | None = None
    recorded_at: AwareDatetime | None = None
    extra: JsonObject | None = None
    src_file_id: BigInt | None = None
    src_line: BigInt | None = None
    computed_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check_order(self) -> ScalpGap:
        if self.gap_end_ts < self.gap_start_ts:
            raise ValueError(
                f"gap_end_ts ({self.gap_end_ts.isoformat()}) is before gap_start_ts"
                f" ({self.gap_start_ts.isoformat()})"
            )
        return self

    @model_validator(mode="after")
    def _check_scope(self) -> ScalpGap:
        if self.scope == "feed" and self.symbol != FEED_SYMBOL:
            raise ValueError(f"scope 'feed' is a whole-feed gap: symbol must be {FEED_SYMBOL!r}, not {self.symbol!r}")
        if self.scope != "feed" and self.symbol == FEED_SYMBOL:
            raise ValueError(f"scope {self.scope!r} needs a real symbol: {FEED_SYMBOL!r} is only for scope 'feed'")
        return self
