"""``portfolio executions`` and the ``rebalance_execution_quality`` view: fills, status, slippage."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import psycopg

from obsdb import api
from tests.helpers import obsdb_env, run_obsdb, settings_for
from tests.portfolio_fixture import AT, A, C, D, build, kst, tick


def _fill(conn: psycopg.Connection[object], xid: str, order_id: str, symbol: str, side: str, qty: int,
          price: int, fee: str, at: object) -> None:
    conn.execute("INSERT INTO rebalance_execution VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                 (xid, order_id, symbol, side, qty, price, fee, at))


def test_partial_fill_slippage_against_arrival_and_minute_vwap(db: str) -> None:
    build(db)
    plan = api.portfolio_plan(account="acc", at=AT, write=True, settings=settings_for(db)).plan_id
    sell_d, buy_c, buy_a = (f"{plan}-0{k}" for k in (1, 2, 3))
    with psycopg.connect(db, autocommit=True) as conn:
        tick(conn, C, kst(2, 10, 5, 5), 2_000, volume=100)  # the 10:05 minute of C: VWAP 1,996.25
        tick(conn, C, kst(2, 10, 5, 30), 1_995, volume=300)
        tick(conn, C, kst(2, 10, 5, 50), 9_999, "suspect", volume=1_000)  # not in the VWAP
        _fill(conn, "x1", buy_c, C, "BUY", 10, 2_000, "3.00", kst(2, 10, 5, 10))
        _fill(conn, "x2", buy_c, C, "BUY", 6, 1_999, "1.50", kst(2, 10, 5, 40))
        _fill(conn, "x3", sell_d, D, "SELL", 5, 3_000, "2.25", kst(2, 10, 1))
    doc = api.portfolio_executions(plan=plan, settings=settings_for(db))
    by = {o["order_id"]: o for o in doc["orders"]}
    c = by[buy_c]
    assert (c["filled_quantity"], c["fill_ratio"], c["implied_status"]) == (16, 0.5, "partially_filled")
    assert c["avg_fill_price"] == "1999.6250" and c["fees"] == "4.50"  # (20,000 + 11,994) / 16
    # arrival: C's price when the order was created (Friday's 2,000); a buy below it is a gain
    assert (c["arrival_price"], c["arrival_price_source"]) == (2_000, "tick")
    assert c["slippage_arrival_bp"] == "-1.8750"  # (1999.625 - 2000) / 2000 x 10,000
    vwap = Decimal("1996.25")
    bp = (10 * (2000 - vwap) + 6 * (1999 - vwap)) / 16 / vwap * 10_000
    assert Decimal(c["slippage_vwap_bp"]) == bp.quantize(Decimal("0.0001"), ROUND_HALF_UP)  # 16.9067
    d = by[sell_d]
    assert (d["filled_quantity"], d["fill_ratio"], d["implied_status"], d["avg_fill_price"]) == (5, 1.0, "filled", 3000)
    assert d["slippage_arrival_bp"] == 0 and d["slippage_vwap_bp"] is None  # no ticks in D's minute
    a = by[buy_a]
    assert (a["filled_quantity"], a["fill_ratio"], a["implied_status"], a["avg_fill_price"]) == (0, 0.0, "new", None)
    assert a["symbol"] == A and a["status"] == "new"  # the stored status is left as it was


def test_sell_slippage_sign_and_default_plan(db: str) -> None:
    build(db)
    plan = api.portfolio_plan(account="acc", at=AT, write=True, settings=settings_for(db)).plan_id
    with psycopg.connect(db, autocommit=True) as conn:  # D sold 60 below its 3,000 arrival: a cost
        _fill(conn, "x1", f"{plan}-01", D, "SELL", 5, 2_940, "0", kst(2, 10, 1))
    doc = api.portfolio_executions(settings=settings_for(db))  # the latest plan
    assert doc["plan_id"] == plan
    assert doc["orders"][0]["slippage_arrival_bp"] == 200  # -1 x (2940 - 3000) / 3000 x 10,000
    done = run_obsdb("portfolio", "executions", "--plan", "nope", env=obsdb_env(db))
    assert done.returncode == 1 and "no rebalance plan 'nope'" in done.stderr and "Traceback" not in done.stderr
    shown = run_obsdb("portfolio", "executions", "--json", env=obsdb_env(db))
    assert shown.returncode == 0 and '"slippage_arrival_bp": 200' in shown.stdout
    assert '"filled_quantity": 5,' in shown.stdout and '"avg_fill_price": 2940,' in shown.stdout
