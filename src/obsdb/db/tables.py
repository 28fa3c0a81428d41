"""The tables obsdb owns, by group. Their names are a contract: other tools query them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableInfo:
    """What ``status`` needs to know to describe a table cheaply."""

    name: str
    group: str
    time_column: str | None
    #: the primary key starts with (symbol, time_column): min/max per symbol is an index probe,
    #: which is how the first/last time of a billion-row table stays instant.
    symbol_time_key: bool = False


TABLES: tuple[TableInfo, ...] = (
    TableInfo("scalp_ticks", "scalp", "event_time", symbol_time_key=True),
    TableInfo("scalp_1m_bars", "scalp", "bar_time"),
    TableInfo("scalp_gaps", "scalp", "gap_start_ts"),
    TableInfo("swing_snapshots", "swing", "snapshot_time"),
    TableInfo("swing_bars_10m", "swing", "bar_time"),
    TableInfo("symbol_universe", "universe", "universe_date"),
    TableInfo("symbol_universe_lists", "universe", "universe_date"),
    TableInfo("portfolio_policy", "portfolio", "valid_from"),
    TableInfo("target_weights", "portfolio", "as_of"),
    TableInfo("portfolio_snapshot", "portfolio", "snapshot_time"),
    TableInfo("portfolio_positions", "portfolio", "snapshot_time"),
    TableInfo("rebalance_plan", "portfolio", "created_at"),
    TableInfo("rebalance_orders", "portfolio", "created_at"),
    TableInfo("rebalance_execution", "portfolio", "executed_at"),
    TableInfo("analysis_rolling_stats", "analysis", "bar_time"),
    TableInfo("analysis_threshold_candidates", "analysis", "as_of"),
    TableInfo("analysis_signal_events", "analysis", "event_time"),
    TableInfo("analysis_signal_outcomes", "analysis", "event_time"),
)

