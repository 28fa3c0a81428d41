"""Analysis tables (004_analysis.sql): rolling statistics over bars, threshold candidates, signals.

Statistics are double precision (estimates, not money); price-valued columns are exact (bigint
KRW or numeric). Standard deviations, ranges, volatilities and prices are never negative.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ._types import (
    KRW,
    AwareDatetime,
    Count32,
    JsonObject,
    NonEmptyText,
    NonNegFloat,
    Number,
    PositiveInt32,
    PositiveKRW,
    Price4,
    Return8,
    StatFloat,
    Symbol,
    UnitFloat,
    Volume4,
)
from .base import TableModel

__all__ = ["AnalysisRollingStats", "AnalysisSignalEvent", "AnalysisSignalOutcome", "AnalysisThresholdCandidate",
           "WindowMinutes"]

WindowMinutes = Literal[5, 10, 30, 60, 240]


class AnalysisRollingStats(TableModel):
    """Statistics over the bars of one window that ends with the bar starting at ``bar_time``."""

    __table__ = "analysis_rolling_stats"
    __key__ = ("symbol", "window_minutes", "bar_time", "source_table")
    __db_filled__ = frozenset({"computed_at"})

    symbol: Symbol
    source_table: Literal["scalp_1m_bars", "swing_bars_10m"]
    window_minutes: WindowMinutes
    bar_time: AwareDatetime
    """Start of the last bar in the window."""
    bar_count: Count32
    coverage: UnitFloat | None = None
    price_mean: Price4 | None = None
    price_stddev: Price4 | None = None
    price_min: KRW | None = None
    price_max: KRW | None = None
    logret_mean: StatFloat | None = None
    logret_stddev: NonNegFloat | None = None
    logret_skew: StatFloat | None = None
    logret_kurtosis: StatFloat | None = None
    atr: Price4 | None = None
    annualized_vol: NonNegFloat | None = None
    hl_range: KRW | None = None
    volume_mean: Volume4 | None = None
    volume_stddev: Volume4 | None = None
    vwap: Price4 | None = None
    computed_at: AwareDatetime | None = None
    """None lets the database fill it (DEFAULT now())."""

    @model_validator(mode="after")
    def _check_range(self) -> AnalysisRollingStats:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min ({self.price_min}) > price_max ({self.price_max})")
        return self


class AnalysisThresholdCandidate(TableModel):
    """A threshold on one metric that a study proposes, with its score and sample size."""

    __table__ = "analysis_threshold_candidates"
    __key__ = ("symbol", "metric", "window_minutes", "as_of", "direction")

    symbol: Symbol
    metric: NonEmptyText
    window_minutes: PositiveInt32
    as_of: AwareDatetime
    direction: Literal["above", "below"]
    threshold: Number
    score: StatFloat | None = None
    sample_size: Count32 | None = None
    params: JsonObject = Field(default_factory=dict)


class AnalysisSignalEvent(TableModel):
    """A signal that fired for one symbol at one time."""

    __table__ = "analysis_signal_events"
    __key__ = ("symbol", "event_time", "signal_type")

    symbol: Symbol
    event_time: AwareDatetime
    signal_type: NonEmptyText
    direction: Literal["up", "down", "neutral"] | None = None
    value: Number | None = None
    threshold: Number | None = None
    window_minutes: PositiveInt32 | None = None
    details: JsonObject = Field(default_factory=dict)


class AnalysisSignalOutcome(TableModel):
    """What followed a signal (010_portfolio_signals.sql): filled by derive, see docs/portfolio.md.

    Returns are signed in the signal's direction; None while the horizon's bars are not loaded, so
    ``return_10m is None`` means derive will look at the event again.
    """

    __table__ = "analysis_signal_outcomes"
    __key__ = ("symbol", "event_time", "signal_type")
    __db_filled__ = frozenset({"computed_at"})

    symbol: Symbol
    event_time: AwareDatetime
    signal_type: NonEmptyText
    price_at_event: PositiveKRW | None = None
    price_time: AwareDatetime | None = None
    return_1m: Return8 | None = None
    return_5m: Return8 | None = None
    return_10m: Return8 | None = None
    mfe_10m: Return8 | None = None
    mae_10m: Return8 | None = None
    computed_at: AwareDatetime | None = None
    """None lets the database fill it (DEFAULT now())."""
