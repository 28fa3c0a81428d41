"""``portfolio status``: the account's snapshot valued at trustworthy prices, weights, drift, breaches.

Quantities and cash come from the snapshot in force; prices come from the market tables (the
snapshot's own ``market_price`` is what the producer believed, not what obsdb knows). Definitions:
docs/portfolio.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from obsdb import krx
from obsdb.portfolio.common import DEFAULT_BAND, PortfolioError, exact, iso, load_sql, round8, weight


@dataclass(frozen=True)
class Policy:
    policy_id: str
    max_weight: Decimal | None
    min_cash_weight: Decimal | None
    max_turnover: Decimal | None
    band: Decimal


@dataclass
class Position:
    symbol: str
    quantity: int
    price: int | None
    price_time: datetime | None
    price_source: str | None
    stale: bool
    market_value: int | None
    weight: Decimal | None
    target_weight: Decimal | None
    drift: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "quantity": self.quantity, "price": self.price,
                "price_time": iso(self.price_time), "price_source": self.price_source, "stale": self.stale,
                "market_value": self.market_value, "weight": weight(self.weight),
                "target_weight": weight(self.target_weight), "drift": weight(self.drift)}


@dataclass(frozen=True)
class Breach:
    kind: str  # 'drift', 'max_weight', 'min_cash'
    symbol: str | None
    value: Decimal
    limit: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "symbol": self.symbol, "value": weight(self.value), "limit": weight(self.limit)}


@dataclass
class Valuation:
    account_id: str
    at: datetime
    snapshot_time: datetime
    cash: Decimal
    total_value: Decimal
    cash_weight: Decimal | None
    policy: Policy | None
    targets_as_of: datetime | None
    positions: list[Position]
    breaches: list[Breach] = field(default_factory=list)
    held_without_target: list[str] = field(default_factory=list)
    targeted_not_held: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        p = self.policy
        return {
            "account_id": self.account_id, "at": iso(self.at), "snapshot_time": iso(self.snapshot_time),
            "cash": exact(self.cash), "total_value": exact(self.total_value), "cash_weight": weight(self.cash_weight),
            "policy": None if p is None else {
                "policy_id": p.policy_id, "band": weight(p.band), "max_weight": weight(p.max_weight),
                "min_cash_weight": weight(p.min_cash_weight), "max_turnover": weight(p.max_turnover),
                "targets_as_of": iso(self.targets_as_of)},
            "positions": [pos.to_dict() for pos in self.positions],
            "breaches": [b.to_dict() for b in self.breaches],
            "held_without_target": self.held_without_target, "targeted_not_held": self.targeted_not_held,
            "unpriced": self.unpriced,
        }


def reference_session(at: datetime) -> date | None:
    """The KRX session a price must come from not to be stale: the latest one opened by ``at``."""
    d = krx.kst_date(at)
    for _ in range(40):
        s = krx.session(d)
        if s is not None and s.open <= at:
            return d
        d -= timedelta(days=1)
    return None


def default_account(conn: psycopg.Connection[Any], account: str | None) -> str:
    """``account``, or the only account with a snapshot; a clear error otherwise."""
    if account is not None:
        return account
    found = [r[0] for r in conn.execute(load_sql("accounts")).fetchall()]
    if not found:
        raise PortfolioError("no portfolio snapshot is loaded: load a portfolio_snapshot JSONL file first"
                             " (docs/formats.md)")
    if len(found) > 1:
        raise PortfolioError("several accounts have snapshots: choose one with --account")
    return str(found[0])


def load_policy(conn: psycopg.Connection[Any], policy_id: str | None, at: datetime) -> Policy | None:
    row = conn.execute(load_sql("policy"), {"policy": policy_id, "at": at}).fetchone()
    if row is None:
        return None
    try:
        band = Decimal(row[4]) if row[4] is not None else DEFAULT_BAND
    except ArithmeticError:
        raise PortfolioError(f"policy {row[0]}: params.drift_band is not a number ({row[4]!r})") from None
    if not 0 <= band <= 1:
        raise PortfolioError(f"policy {row[0]}: params.drift_band must be between 0 and 1 (got {band})")
    return Policy(row[0], row[1], row[2], row[3], band)


def prices(conn: psycopg.Connection[Any], symbols: list[str],
           at: datetime) -> dict[str, tuple[int | None, datetime | None, str | None]]:
    """Each symbol's trustworthy price, its time and source at ``at`` (None when nothing is known)."""
    rows = conn.execute(load_sql("prices"), {"symbols": symbols, "at": at}).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def value(conn: psycopg.Connection[Any], account: str | None, at: datetime) -> Valuation:
    """Value the snapshot of ``account`` in force at ``at`` (see docs/portfolio.md)."""
    account_id = default_account(conn, account)
    snap = conn.execute(load_sql("snapshot"), {"account": account_id, "at": at}).fetchone()
    if snap is None:
        raise PortfolioError(f"account {account_id!r} has no portfolio snapshot at or before {at.isoformat()}")
    snapshot_time, cash, policy_id = snap
    held = {r[0]: int(r[1]) for r in conn.execute(
        load_sql("positions"), {"account": account_id, "snapshot_time": snapshot_time}).fetchall()}
    policy = load_policy(conn, policy_id, at)
    targets: dict[str, Decimal] = {}
    as_of = None
    if policy is not None:
        for symbol, w, t in conn.execute(load_sql("targets"), {"policy": policy.policy_id, "at": at}).fetchall():
            targets[symbol], as_of = w, t
    symbols = sorted(set(held) | set(targets))
    found = prices(conn, symbols, at)
    session_day = reference_session(at)
    lines: list[Position] = []
    for symbol in symbols:
        price, price_time, source = found.get(symbol, (None, None, None))
        qty = held.get(symbol, 0)
        stale = price_time is not None and (session_day is None or krx.kst_date(price_time) < session_day)
        mv = qty * price if price is not None else (0 if qty == 0 else None)
        lines.append(Position(symbol, qty, price, price_time, source, stale, mv, None, targets.get(symbol), None))
    total = Decimal(cash) + sum((Decimal(p.market_value) for p in lines if p.market_value is not None), Decimal(0))
    val = Valuation(account_id, at, snapshot_time, Decimal(cash), total, None, policy, as_of, lines,
                    held_without_target=[s for s in symbols if s in held and s not in targets],
                    targeted_not_held=[s for s in symbols if s in targets and s not in held],
                    unpriced=[p.symbol for p in lines if p.market_value is None])
    if total > 0:
        val.cash_weight = round8(val.cash / total)
        for p in lines:
            if p.market_value is not None:
                p.weight = round8(Decimal(p.market_value) / total)
                p.drift = p.weight - (p.target_weight or Decimal(0))
    val.breaches = breaches(val)
    return val


def breaches(val: Valuation) -> list[Breach]:
    """Drift beyond the band, weight above max_weight, cash below min_cash_weight."""
    p = val.policy
    if p is None:
        return []
    out: list[Breach] = []
    for pos in val.positions:
        if pos.drift is not None and abs(pos.drift) > p.band:
            out.append(Breach("drift", pos.symbol, pos.drift, p.band))
        if pos.weight is not None and p.max_weight is not None and pos.weight > p.max_weight:
            out.append(Breach("max_weight", pos.symbol, pos.weight, p.max_weight))
    if val.cash_weight is not None and p.min_cash_weight is not None and val.cash_weight < p.min_cash_weight:
        out.append(Breach("min_cash", None, val.cash_weight, p.min_cash_weight))
    return out
