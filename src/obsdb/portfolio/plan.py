"""``portfolio plan``: the orders that bring a valued portfolio back within its policy.

Nothing is sent. Sizing is whole shares at limit prices on the KRX tick grid (``ticks``), sells
before buys, inside the cash, ``max_weight`` and ``max_turnover`` limits; whatever those limits cut
is reported in ``not_done``. A plan's id is a hash of its inputs, so ``--write`` is idempotent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import psycopg

from obsdb.portfolio.common import PortfolioError, exact, iso, load_sql, round8, weight
from obsdb.portfolio.ticks import ceil_to_grid, floor_to_grid
from obsdb.portfolio.valuation import Position, Valuation

PLAN_RULES = "obsdb-plan-v1"  # part of the identity: a changed algorithm makes a new plan


@dataclass(frozen=True)
class Order:
    symbol: str
    side: str
    quantity: int
    limit_price: int
    target_weight: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "side": self.side, "quantity": self.quantity,
                "limit_price": self.limit_price, "value": self.quantity * self.limit_price,
                "target_weight": weight(self.target_weight)}


@dataclass(frozen=True)
class NotDone:
    symbol: str | None
    side: str | None
    wanted: int
    planned: int
    reason: str  # 'max_turnover', 'cash', 'lot_size', 'no_price', 'min_cash'

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "side": self.side, "wanted_quantity": self.wanted,
                "planned_quantity": self.planned, "reason": self.reason}


@dataclass
class Plan:
    plan_id: str
    valuation: Valuation
    orders: list[Order] = field(default_factory=list)
    not_done: list[NotDone] = field(default_factory=list)
    turnover: Decimal = Decimal(0)
    cash_after: Decimal = Decimal(0)
    written: bool = False
    created: bool = False

    def to_dict(self) -> dict[str, Any]:
        v = self.valuation
        return {"plan_id": self.plan_id, "account_id": v.account_id, "at": iso(v.at),
                "snapshot_time": iso(v.snapshot_time),
                "policy_id": v.policy.policy_id if v.policy else None,
                "orders": [o.to_dict() for o in self.orders], "not_done": [n.to_dict() for n in self.not_done],
                "turnover": weight(self.turnover), "cash_after": exact(self.cash_after),
                "written": self.written, "created": self.created}


def _shares(value: Decimal, price: int, rounding: str = ROUND_HALF_UP) -> int:
    return int((value / price).to_integral_value(rounding=rounding)) if value > 0 else 0


def _needs_trade(p: Position, band: Decimal, max_weight: Decimal | None) -> bool:
    if p.weight is None or p.drift is None:
        return False
    return abs(p.drift) > band or (max_weight is not None and p.weight > max_weight)


def _wanted(p: Position, total: Decimal, max_weight: Decimal | None) -> Order | None:
    """The whole-share order that brings ``p`` nearest its goal (target capped by max_weight)."""
    assert p.price is not None and p.market_value is not None
    goal = p.target_weight or Decimal(0)
    if max_weight is not None:
        goal = min(goal, max_weight)
    delta = goal * total - p.market_value
    if delta < 0:
        n = p.quantity if goal == 0 else min(p.quantity, _shares(-delta, p.price))
        return Order(p.symbol, "SELL", n, ceil_to_grid(p.price), goal)
    n = _shares(delta, p.price)
    if max_weight is not None:  # nearest may round above the cap: stay under it
        n = min(n, _shares(max_weight * total - p.market_value, p.price, ROUND_FLOOR))
    return Order(p.symbol, "BUY", n, floor_to_grid(p.price), goal)


def propose(val: Valuation) -> Plan:
    """The plan for a valuation (pure: no database)."""
    pol = val.policy
    if pol is None:
        raise PortfolioError(f"account {val.account_id!r}: no policy in force at {val.at.isoformat()}"
                             " (the snapshot names none and none is valid then)")
    if val.total_value <= 0:
        raise PortfolioError(f"account {val.account_id!r}: total value is {val.total_value}; nothing to weigh")
    total = val.total_value
    plan = Plan("", val)
    wanted: list[Order] = []
    for p in sorted(val.positions, key=lambda p: (-abs(p.drift or Decimal(0)), p.symbol)):
        if p.price is None and p.target_weight and p.target_weight > pol.band:
            plan.not_done.append(NotDone(p.symbol, "BUY", 0, 0, "no_price"))
        elif p.price is None and p.quantity > 0:
            plan.not_done.append(NotDone(p.symbol, None, 0, 0, "no_price"))
        elif _needs_trade(p, pol.band, pol.max_weight):
            order = _wanted(p, total, pol.max_weight)
            if order is not None and order.quantity > 0:
                wanted.append(order)
            elif order is not None:
                plan.not_done.append(NotDone(p.symbol, order.side, 0, 0, "lot_size"))
    budget = None if pol.max_turnover is None else 2 * pol.max_turnover * total
    traded = Decimal(0)
    cash = val.cash
    floor_cash = (pol.min_cash_weight or Decimal(0)) * total
    for order in [o for o in wanted if o.side == "SELL"] + [o for o in wanted if o.side == "BUY"]:
        n, reason = order.quantity, ""
        if budget is not None and traded + n * order.limit_price > budget:
            n, reason = max(0, _shares(budget - traded, order.limit_price, ROUND_FLOOR)), "max_turnover"
        if order.side == "BUY" and (cash - n * order.limit_price) < floor_cash:
            n, reason = max(0, _shares(cash - floor_cash, order.limit_price, ROUND_FLOOR)), "cash"
        if reason:
            plan.not_done.append(NotDone(order.symbol, order.side, order.quantity, n, reason))
        if n > 0:
            plan.orders.append(Order(order.symbol, order.side, n, order.limit_price, order.target_weight))
            traded += n * order.limit_price
            cash += n * order.limit_price * (1 if order.side == "SELL" else -1)
    plan.turnover = round8(traded / (2 * total))
    plan.cash_after = cash
    if pol.min_cash_weight is not None and cash < floor_cash:
        plan.not_done.append(NotDone(None, None, 0, 0, "min_cash"))
    plan.plan_id = plan_identity(val, plan.orders)
    return plan


def plan_identity(val: Valuation, orders: list[Order]) -> str:
    """A stable id from the plan's inputs (account, snapshot, policy, targets, prices) and result."""
    pol = val.policy
    doc = {
        "rules": PLAN_RULES, "account": val.account_id, "snapshot": iso(val.snapshot_time), "cash": str(val.cash),
        "policy": None if pol is None else [pol.policy_id, str(pol.band), str(pol.max_weight),
                                            str(pol.min_cash_weight), str(pol.max_turnover)],
        "targets_as_of": iso(val.targets_as_of),
        "lines": [[p.symbol, p.quantity, p.price, str(p.target_weight)] for p in val.positions],
        "orders": [[o.symbol, o.side, o.quantity, o.limit_price] for o in orders],
    }
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
    return f"pl-{val.account_id}-{digest}"


def write(conn: psycopg.Connection[Any], plan: Plan, created_at: datetime) -> Plan:
    """Store the plan (status planned) and its orders (status new); an existing plan is left as is."""
    v = plan.valuation
    notes = "; ".join(f"{n.reason}: {n.symbol or '-'} {n.side or ''} {n.planned}/{n.wanted}".strip()
                      for n in plan.not_done) or None
    with conn.transaction():
        row = conn.execute(load_sql("plan_insert"), {
            "plan_id": plan.plan_id, "policy_id": v.policy.policy_id if v.policy else None,
            "account_id": v.account_id, "created_at": created_at, "snapshot_time": v.snapshot_time,
            "turnover": plan.turnover, "notes": notes}).fetchone()
        plan.created = row is not None
        if plan.created:
            for k, o in enumerate(plan.orders, start=1):
                conn.execute(load_sql("order_insert"), {
                    "order_id": f"{plan.plan_id}-{k:02d}", "plan_id": plan.plan_id, "symbol": o.symbol,
                    "side": o.side, "quantity": o.quantity, "limit_price": o.limit_price,
                    "target_weight": round8(o.target_weight), "created_at": created_at})
    plan.written = True
    return plan
