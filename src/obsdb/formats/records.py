"""Portfolio and analysis records: JSONL formats obsdb defines (``docs/formats.md``).

Each line is one row of one table: a JSON object whose keys are that table's columns. The table is
recognised by a few distinctive keys, never by the file name.
"""

from __future__ import annotations

from typing import Any

from obsdb.formats.common import FieldError

#: (table, keys that must all be present, keys that must be absent), checked in this order.
SIGNATURES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("rebalance_execution", frozenset({"execution_id", "order_id"}), frozenset()),
    ("rebalance_orders", frozenset({"order_id", "plan_id", "side"}), frozenset()),
    ("rebalance_plan", frozenset({"plan_id", "policy_id", "account_id"}), frozenset()),
    ("target_weights", frozenset({"policy_id", "symbol", "weight"}), frozenset()),
    ("portfolio_policy", frozenset({"policy_id", "valid_from"}), frozenset()),
    ("portfolio_positions", frozenset({"account_id", "snapshot_time", "symbol", "quantity"}), frozenset()),
    ("portfolio_snapshot", frozenset({"account_id", "snapshot_time", "total_value"}), frozenset({"symbol"})),
    ("analysis_rolling_stats", frozenset({"symbol", "source_table", "window_minutes"}), frozenset()),
    ("analysis_threshold_candidates", frozenset({"symbol", "metric", "threshold"}), frozenset()),
    ("analysis_signal_events", frozenset({"symbol", "signal_type", "event_time"}), frozenset()),
)

#: Keys that make a line a candidate for one of the tables above (cheap pre-test).
MARKERS = frozenset({"execution_id", "order_id", "plan_id", "policy_id", "account_id", "source_table",
                     "metric", "signal_type"})


def table_of(d: dict[str, Any]) -> str | None:
    """The table a portfolio/analysis record belongs to, or None."""
    keys = d.keys()
    for table, required, absent in SIGNATURES:
        if required <= keys and not (absent & keys):
            return table
    return None


def as_columns(d: dict[str, Any], file_id: int | None, line: int) -> dict[str, Any]:
    """The record is already keyed by column; the table model validates it (unknown keys rejected)."""
    if "src_file_id" in d or "src_line" in d:
        raise FieldError("src_file_id", "reserved for obsdb's own lineage columns")
    return d
