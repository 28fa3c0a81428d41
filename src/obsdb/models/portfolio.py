"""Portfolio tables (003_portfolio.sql): policy, target weights, account snapshots and positions,
and the rebalance cycle (plan -> orders -> executions).

Identifiers are the producer's own text ids, so loading the same JSONL twice is idempotent. Money
is exact: integer KRW prices and quantities, numeric amounts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from ._types import (
    KRW,
    AwareDatetime,
    Count,
    JsonObject,
    Money,
    MoneyNonNeg,
    NonEmptyText,
    PositiveKRW,
    PositiveQuantity,
    Price4,
    Symbol,
    Text,
    Weight,
)
from .base import TableModel

__all__ = [
    "PortfolioPolicy",
    "PortfolioPosition",
    "PortfolioSnapshot",
    "RebalanceExecution",
    "RebalanceOrder",
    "RebalancePlan",
    "TargetWeight",
]

Side = Literal["BUY", "SELL"]
PlanStatus = Literal["planned", "approved", "executing", "done", "cancelled"]
OrderStatus = Literal["new", "sent", "partially_filled", "filled", "cancelled", "rejected"]


class PortfolioPolicy(TableModel):
    """The rules a portfolio follows during [valid_from, valid_to); valid_to None means open-ended."""

    __table__ = "portfolio_policy"
    __key__ = ("policy_id",)
    __db_filled__ = frozenset({"created_at"})

    policy_id: NonEmptyText
    name: Text
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    rebalance_interval: Text | None = None
    max_weight: Weight | None = None
    min_cash_weight: Weight | None = None
    max_turnover: Weight | None = None
    params: JsonObject = Field(default_factory=dict)
    created_at: AwareDatetime | None = None
    """None lets the database fill it (DEFAULT now())."""

    @model_validator(mode="after")
    def _check_validity(self) -> PortfolioPolicy:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(
                f"valid_to ({self.valid_to.isoformat()}) must be after valid_from"
                f" ({self.valid_from.isoformat()})"
            )
        return self


class TargetWeight(TableModel):
    """The weight a policy wants for one symbol from ``as_of`` on."""

    __table__ = "target_weights"
    __key__ = ("symbol", "policy_id", "as_of")

    symbol: Symbol
    policy_id: NonEmptyText
    as_of: AwareDatetime
    weight: Weight


class PortfolioSnapshot(TableModel):
    """An account's cash and total value at one time. Cash may be negative (it has no CHECK)."""

    __table__ = "portfolio_snapshot"
    __key__ = ("account_id", "snapshot_time")

    account_id: NonEmptyText
    snapshot_time: AwareDatetime
    cash: Money
    total_value: MoneyNonNeg
    currency: Text = "KRW"
    policy_id: NonEmptyText | None = None


class PortfolioPosition(TableModel):
    """One holding inside a portfolio snapshot (long only: quantity and weight are not negative)."""

    __table__ = "portfolio_positions"
    __key__ = ("symbol", "account_id", "snapshot_time")

    symbol: Symbol
    account_id: NonEmptyText
    snapshot_time: AwareDatetime
    quantity: Count
    avg_price: Price4 | None = None
    market_price: KRW | None = None
    market_value: MoneyNonNeg | None = None
    weight: Weight | None = None


class RebalancePlan(TableModel):
    """A planned rebalance of one account under one policy, from an optional snapshot."""

    __table__ = "rebalance_plan"
    __key__ = ("plan_id",)

    plan_id: NonEmptyText
    policy_id: NonEmptyText
    account_id: NonEmptyText
    created_at: AwareDatetime
    """The producer's time (no database default here)."""
    based_on_snapshot: AwareDatetime | None = None
    status: PlanStatus = "planned"
    turnover: Weight | None = None
    notes: Text | None = None


class RebalanceOrder(TableModel):
    """One order of a plan: BUY or SELL a positive quantity, optionally at a limit price."""

    __table__ = "rebalance_orders"
    __key__ = ("order_id",)

    order_id: NonEmptyText
    plan_id: NonEmptyText
    symbol: Symbol
    side: Side
    quantity: PositiveQuantity
    limit_price: PositiveKRW | None = None
    """None for a market order."""
    target_weight: Weight | None = None
    status: OrderStatus = "new"
    created_at: AwareDatetime


class RebalanceExecution(TableModel):
    """One fill of an order; its symbol must be the order's (a composite foreign key)."""

    __table__ = "rebalance_execution"
    __key__ = ("execution_id",)

    execution_id: NonEmptyText
    order_id: NonEmptyText
    symbol: Symbol
    side: Side
    quantity: PositiveQuantity
    price: PositiveKRW
    fee: MoneyNonNeg = Decimal("0.00")
    executed_at: AwareDatetime
