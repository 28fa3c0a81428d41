"""Which shape a parsed line is, by its content alone (docs/formats.md), and what becomes of it.

Order matters and is part of the contract (``docs/formats.md``): not-market records first, then
obsdb's own portfolio/analysis records, gaps, bars, snapshots, and ticks last. The production tick
(shape A) is tested first of all because it is 99% of lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from obsdb.formats import market, records, ticks


@dataclass(frozen=True)
class Shape:
    """A recognised record shape: skipped (``table`` None), a tick row, or a model row."""

    name: str
    table: str | None
    extract: Callable[[dict[str, Any], int | None, int], Any] | None = None


NESTED_TICK = Shape("tick_nested", "scalp_ticks", ticks.nested_tick)
FLAT_TICK = Shape("tick_flat", "scalp_ticks", ticks.flat_tick)
MINIMAL_TICK = Shape("tick_minimal", "scalp_ticks", ticks.minimal_tick)
SWING_NESTED = Shape("swing_snapshot", "swing_snapshots", market.swing_nested)
SWING_MOCK = Shape("swing_snapshot_mock", "swing_snapshots", market.swing_mock)
BAR_1M = Shape("bar_1m", "scalp_1m_bars", market.bar_1m)
BAR_SWING = Shape("bar_10m", "swing_bars_10m", market.bar_swing_flat)
GAP_LEDGER = Shape("gap_ledger", "scalp_gaps", market.gap_ledger)
GAP_DOC = Shape("gap_record", "scalp_gaps", market.gap_documented)
SKIP_SLOT = Shape("slot", None)
SKIP_OVERFLOW = Shape("overflow", None)
SKIP_PATTERN = Shape("pattern", None)
RECORDS = {table: Shape(table, table, records.as_columns) for table, _, _ in records.SIGNATURES}

_BAR_SWING_KEYS = frozenset({"schema_version", "bid_price", "ask_price", "mitigation_level"})


def recognize(d: dict[str, Any]) -> Shape | None:
    """The shape of one JSON object, or None when no known shape matches."""
    price = d.get("price")
    if type(price) is dict and "timestamp" in d and "ts" not in d:
        return NESTED_TICK
    if "snapshot" in d and type(d["snapshot"]) is dict:
        return SKIP_PATTERN
    if "slot_id" in d:
        return SKIP_SLOT
    if "trigger_type" in d or ("priority_score" in d and "reason" in d):
        return SKIP_OVERFLOW
    if not records.MARKERS.isdisjoint(d):
        table = records.table_of(d)
        if table is not None:
            return RECORDS[table]
    if "gap_start_ts" in d:
        return GAP_DOC
    if "gap_duration_seconds" in d or "gap_type" in d:
        return GAP_LEDGER
    if "bar_time" in d:
        if "coverage_ratio" not in d and not _BAR_SWING_KEYS.isdisjoint(d):
            return BAR_SWING
        return BAR_1M
    if "ts" in d and type(price) is dict:
        return SWING_NESTED
    if "event_time" in d:
        return FLAT_TICK
    if "timestamp" in d and "price" in d:
        if "open" in d or "high" in d or "low" in d:
            return SWING_MOCK
        return MINIMAL_TICK
    return None


def describe_unknown(d: dict[str, Any]) -> str:
    keys = ", ".join(sorted(d)[:12])
    return f"unrecognised record shape (keys: {keys})"
