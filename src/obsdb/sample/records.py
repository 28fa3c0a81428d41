"""obsdb's own portfolio and analysis records (one table row per line), cut from the same market.

A small rebalance cycle of one account on Monday 2026-02-02: the policy and its target weights,
a snapshot valued at the simulated prices, the plan it leads to, its orders and the fills seen so
far. Analysis lines are threshold candidates proposed before the open and range-break signals that
really happened in the simulated trades. Lines come parents first, so foreign keys hold in order.
Rolling statistics are not written: obsdb derives them from the bars.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from obsdb.sample.files import Record
from obsdb.sample.market import Day, Span, kst, step

POLICY_ID = "kr-core-v1"
ACCOUNT_ID = "acct-kr-001"
TARGETS = {"005930": Decimal("0.30"), "000660": Decimal("0.25"), "035420": Decimal("0.15"),
           "068270": Decimal("0.15")}  # fmt: skip
HOLDINGS = {"005930": Decimal("0.36"), "000660": Decimal("0.25"), "035420": Decimal("0.14"),
            "051910": Decimal("0.08")}  # fmt: skip  # weights the account drifted to
NOMINAL_VALUE = 200_000_000  # KRW
FEE_RATE = Decimal("0.00015")
_W8 = Decimal("0.00000001")

Entries = list[tuple[str, Record]]


def _weight(x: Decimal) -> float:
    """A numeric(9, 8) weight as a JSON number (8 decimals at most)."""
    return float(x.quantize(_W8))


def portfolio(day: Day, rng: random.Random) -> Entries:
    """Policy, weights, snapshot, positions, plan, orders and executions, in that (parents-first) order."""
    d = day.plan.day
    snap_at, plan_at, order_at = kst(d, 13, 0), kst(d, 13, 2), kst(d, 13, 3)
    out: Entries = [
        (
            "P_policy",
            {
                "policy_id": POLICY_ID,
                "name": "KR large-cap core",
                "valid_from": kst(date(2026, 1, 2), 0, 0).isoformat(),
                "valid_to": None,
                "rebalance_interval": "1 week",
                "max_weight": 0.35,
                "min_cash_weight": 0.05,
                "max_turnover": 0.35,
                "params": {"universe": "kr_stocks", "drift_band": 0.05, "lot_rounding": "floor"},
            },
        )
    ]
    as_of = kst(d, 8, 0).isoformat()
    out += [
        ("P_weight", {"symbol": code, "policy_id": POLICY_ID, "as_of": as_of, "weight": _weight(w)})
        for code, w in TARGETS.items()
    ]

    def price(code: str, at: datetime) -> int:
        state = day.state_at(code, at)
        assert state is not None, f"no trade of {code} before {at}"
        return state.price

    marks = {code: price(code, snap_at) for code in HOLDINGS}
    qty = {code: int(w * NOMINAL_VALUE) // marks[code] for code, w in HOLDINGS.items()}
    value = {code: qty[code] * marks[code] for code in HOLDINGS}
    cash = NOMINAL_VALUE - sum(value.values())
    total = cash + sum(value.values())
    out.append(
        (
            "P_snapshot",
            {
                "account_id": ACCOUNT_ID,
                "snapshot_time": snap_at.isoformat(),
                "cash": cash,
                "total_value": total,
                "currency": "KRW",
                "policy_id": POLICY_ID,
            },
        )
    )
    for code in HOLDINGS:
        cost = (Decimal(marks[code]) * Decimal(rng.uniform(0.9, 1.06))).quantize(Decimal("0.0001"))
        out.append(
            (
                "P_position",
                {
                    "symbol": code,
                    "account_id": ACCOUNT_ID,
                    "snapshot_time": snap_at.isoformat(),
                    "quantity": qty[code],
                    "avg_price": float(cost),
                    "market_price": marks[code],
                    "market_value": value[code],
                    "weight": _weight(Decimal(value[code]) / total),
                },
            )
        )

    # Trim the overweight holding, exit the one the policy dropped, enter the new target.
    trim, exit_, enter = "005930", "051910", "068270"
    p_trim, p_enter = price(trim, order_at), price(enter, order_at)
    trim_qty = max(1, int((Decimal(value[trim]) / total - TARGETS[trim]) * total) // p_trim)
    enter_qty = max(1, int(TARGETS[enter] * total) // p_enter)
    plan_id = f"rb-{d:%Y%m%d}-{ACCOUNT_ID}"
    traded = trim_qty * p_trim + value[exit_] + enter_qty * p_enter
    out.append(
        (
            "P_plan",
            {
                "plan_id": plan_id,
                "policy_id": POLICY_ID,
                "account_id": ACCOUNT_ID,
                "created_at": plan_at.isoformat(),
                "based_on_snapshot": snap_at.isoformat(),
                "status": "executing",
                "turnover": _weight(Decimal(traded) / 2 / total),
                "notes": f"drift above band: trim {trim}, exit {exit_}, enter {enter}",
            },
        )
    )
    orders = [
        # (order id, symbol, side, quantity, limit price (None: market order), target weight, status)
        (f"{plan_id}-1", trim, "SELL", trim_qty, step(p_trim, -1), TARGETS[trim], "filled"),
        (f"{plan_id}-2", exit_, "SELL", qty[exit_], None, Decimal(0), "filled"),
        (f"{plan_id}-3", enter, "BUY", enter_qty, p_enter, TARGETS[enter], "partially_filled"),
    ]
    for order_id, code, side, n, limit, target, status in orders:
        out.append(
            (
                "P_order",
                {
                    "order_id": order_id,
                    "plan_id": plan_id,
                    "symbol": code,
                    "side": side,
                    "quantity": n,
                    "limit_price": limit,
                    "target_weight": _weight(target),
                    "status": status,
                    "created_at": order_at.isoformat(),
                },
            )
        )
    # the buy is only partly filled so far (obsdb portfolio executions shows it as such)
    fills = [(orders[1], kst(d, 13, 4, 41), qty[exit_]), (orders[0], kst(d, 13, 5, 42), trim_qty),
             (orders[2], kst(d, 13, 5, 45), max(1, enter_qty // 3))]
    for k, ((order_id, code, side, _, limit, _, _), at, n) in enumerate(fills, start=1):
        fill = price(code, at)
        if limit is not None:  # a limit order fills at its limit or better
            fill = max(fill, limit) if side == "SELL" else min(fill, limit)
        out.append(
            (
                "P_execution",
                {
                    "execution_id": f"{order_id}-x{k}",
                    "order_id": order_id,
                    "symbol": code,
                    "side": side,
                    "quantity": n,
                    "price": fill,
                    "fee": int(fill * n * FEE_RATE),
                    "executed_at": at.isoformat(),
                },
            )
        )
    return out


def _candidates(d: date) -> Entries:
    as_of = kst(d, 8, 30).isoformat()
    rows = [
        ("005930", "logret_stddev", 5, "above", 0.0012, 0.61, 480),
        ("000660", "volume_ratio", 10, "above", 3.5, 0.57, 240),
        ("068270", "range_position", 30, "below", 0.1, 0.52, 160),
    ]
    return [
        (
            "X_threshold",
            {
                "symbol": code,
                "metric": metric,
                "window_minutes": window,
                "as_of": as_of,
                "direction": direction,
                "threshold": threshold,
                "score": score,
                "sample_size": n,
                "params": {"study": "kr-core-signals", "lookback_days": 20},
            },
        )
        for code, metric, window, direction, threshold, score, n in rows
    ]


def range_breaks(day: Day, codes: Sequence[str], spans: Sequence[Span], *, minutes: int = 5,
                 per_span: int = 2) -> Entries:  # fmt: skip
    """The first trade of each symbol that leaves the range of the ``minutes`` before it, for the
    ``per_span`` earliest such symbols of each span."""
    out: list[tuple[datetime, str, Record]] = []
    for span in spans:
        found: list[tuple[datetime, str, Record]] = []
        for code in codes:
            trades = day.trades[code]
            for t in trades:
                if not span.covers(t.exec_at):
                    continue
                prior = [p.price for p in trades if t.exec_at - timedelta(minutes=minutes) <= p.exec_at < t.exec_at]
                if not prior or min(prior) <= t.price <= max(prior):
                    continue
                up = t.price > max(prior)
                found.append(
                    (
                        t.exec_at,
                        code,
                        {
                            "symbol": code,
                            "event_time": t.exec_at.isoformat(),
                            "signal_type": "range_break",
                            "direction": "up" if up else "down",
                            "value": t.price,
                            "threshold": max(prior) if up else min(prior),
                            "window_minutes": minutes,
                            "details": {"prior_high": max(prior), "prior_low": min(prior), "prior_trades": len(prior)},
                        },
                    )
                )
                break
        out += sorted(found, key=lambda f: (f[0], f[1]))[:per_span]
    return [("X_signal", rec) for _, _, rec in out]


def analysis(day: Day, codes: Sequence[str]) -> Entries:
    """Threshold candidates proposed before the open, then the signals of the session."""
    d = day.plan.day
    spans = [Span(kst(d, 9, 0, 30), kst(d, 9, 1, 40)), Span(kst(d, 13, 4, 40), kst(d, 13, 5, 50))]
    return _candidates(d) + range_breaks(day, codes, spans)
