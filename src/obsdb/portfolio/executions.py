"""``portfolio executions``: fills, implied status and slippage per order of a plan.

The figures come from the ``rebalance_execution_quality`` view (migration 010), so SQL users and
this command read the same definitions (docs/portfolio.md).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from obsdb.portfolio.common import PortfolioError, exact, iso, load_sql, weight

_MONEY = ("limit_price", "avg_fill_price", "fees", "arrival_price", "slippage_arrival_bp", "slippage_vwap_bp")


def _row(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    for key in _MONEY:
        out[key] = exact(out[key])
    out["fill_ratio"] = weight(out["fill_ratio"])
    out["created_at"], out["arrival_price_time"] = iso(out["created_at"]), iso(out["arrival_price_time"])
    return out


def execution_quality(conn: psycopg.Connection[Any], plan: str | None,
                      account: str | None = None) -> dict[str, Any]:
    """``{"plan_id", "orders": [...]}`` for ``plan`` (default: the most recent plan)."""
    if plan is None:
        row = conn.execute(load_sql("latest_plan"), {"account": account}).fetchone()
        if row is None:
            raise PortfolioError("no rebalance plan is loaded or written yet (obsdb portfolio plan --write)")
        plan = str(row[0])
    elif conn.execute(load_sql("plan_exists"), {"plan": plan}).fetchone() is None:
        raise PortfolioError(f"no rebalance plan {plan!r}")
    with conn.cursor(row_factory=dict_row) as cur:
        orders = [_row(r) for r in cur.execute(load_sql("executions"), {"plan": plan}).fetchall()]
    return {"plan_id": plan, "orders": orders}
