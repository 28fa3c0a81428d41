"""Swing tables (002_swing.sql): raw REST polls and true 10-minute bars.

A swing snapshot is the day so far at poll time (day open/high/low, current price, cumulative
volume), not a bar; bars are built from ticks or snapshots, or archived as written.
"""

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
    SmallInt,
    Symbol,
    Text,
)
from .base import TableModel, ohlc_violations

__all__ = ["SwingBar10m", "SwingSnapshot"]

SnapshotShape = Literal["F", "F_mock"]


class SwingSnapshot(TableModel):
    """One symbol in one polling sweep, at the collector's write time."""

    __table__ = "swing_snapshots"
    __key__ = ("symbol", "snapshot_time")

    symbol: Symbol
    snapshot_time: AwareDatetime
    """The collector's write time (`ts`): on no bar boundary."""
    day_open: KRW | None = None
    day_high: KRW | None = None
    day_low: KRW | None = None
    price: KRW | None = None
    """Current price (`price.close` in the archive)."""
    cum_volume: Count | None = None
    bid_price: KRW | None = None
    ask_price: KRW | None = None
    session_id: Text | None = None
    dataset: Text | None = None
    market: Text | None = None
    source: Text | None = None
    record_shape: SnapshotShape
    quality_flag: QualityFlag = "normal"
    source_quality_flag: Text | None = None
    extra: JsonObject | None = None
    src_file_id: BigInt | None = None
    src_line: BigInt | None = None


class SwingBar10m(TableModel):
    """A 10-minute bar starting at 09:00, 09:10, ... KST, from ticks, snapshots or an archive."""

    __table__ = "swing_bars_10m"
    __key__ = ("symbol", "bar_time", "origin")
    __db_filled__ = frozenset({"computed_at"})

    symbol: Symbol
    bar_time: AwareDatetime
    origin: Literal["ticks", "snapshots", "archived"]
    open: KRW
    high: KRW
    low: KRW
    close: KRW
    volume: Count | None = None
    bar_count: Count32 | None = None
    """How many 1-minute bars or snapshots went into the bar."""
    coverage_ratio: Coverage | None = None
    bid_price: KRW | None = None
    ask_price: KRW | None = None
    quality_flag: QualityFlag = "normal"
    session_id: Text | None = None
    schema_version: Text | None = None
    mitigation_level: SmallInt | None = None
    source_quality_flag: Text | None = None
    extra: JsonObject | None = None
    src_file_id: BigInt | None = None
    src_line: BigInt | None = None
    computed_at: AwareDatetime | None = None
    """None lets the database fill it (DEFAULT now())."""

    @model_validator(mode="after")
    def _check_ohlc(self) -> SwingBar10m:
        if (problem := ohlc_violations(self.open, self.high, self.low, self.close)) is not None:
            raise ValueError(problem)
        return self
