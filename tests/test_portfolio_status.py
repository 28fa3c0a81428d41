"""``portfolio status``: prices, weights, drift and breaches on a hand-computed fixture."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest

from obsdb import api
from obsdb.portfolio.common import PortfolioError
from obsdb.portfolio.valuation import reference_session
from tests.helpers import obsdb_env, run_obsdb, settings_for
from tests.portfolio_fixture import AT, KST, A, B, C, D, build, kst


def test_status_values_each_position_at_its_trustworthy_price(db: str) -> None:
    build(db)
    doc = api.portfolio_status(account="acc", at=AT, settings=settings_for(db)).to_dict()
    by = {p["symbol"]: p for p in doc["positions"]}
    assert doc["account_id"] == "acc" and doc["snapshot_time"] == "2026-02-02T09:30:00+09:00"
    # A: the 09:50 tick (the 09:55 suspect tick and the 10:00:30 tick after AT are not used)
    assert (by[A]["price"], by[A]["price_source"]) == (10_000, "tick")
    assert by[A]["price_time"] == "2026-02-02T09:50:00+09:00"
    assert (by[B]["price"], by[B]["price_source"]) == (5_000, "snapshot")
    # D: an archived bar's close, known at the bar's end
    assert (by[D]["price"], by[D]["price_source"]) == (3_000, "bar_1m")
    assert by[D]["price_time"] == "2026-02-02T09:41:00+09:00"
    # C: Friday's tick is stale on Monday; the others are from Monday's session
    assert [by[s]["stale"] for s in (A, B, C, D)] == [False, False, True, False]
    # 100,000 + 10 x 10,000 + 20 x 5,000 + 5 x 3,000 (the snapshot's own total_value is not used)
    assert doc["cash"] == 100_000 and doc["total_value"] == 315_000
    assert [by[s]["market_value"] for s in (A, B, C, D)] == [100_000, 100_000, 0, 15_000]
    assert [by[s]["quantity"] for s in (A, B, C, D)] == [10, 20, 0, 5]
    # weights: 100000/315000 = 0.317460317.. -> 0.31746032; 15000/315000 = 0.047619047.. -> 0.04761905
    assert [by[s]["weight"] for s in (A, B, C, D)] == [0.31746032, 0.31746032, 0.0, 0.04761905]
    assert [by[s]["target_weight"] for s in (A, B, C, D)] == [0.4, 0.3, 0.2, None]
    assert [by[s]["drift"] for s in (A, B, C, D)] == [-0.08253968, 0.01746032, -0.2, 0.04761905]
    assert doc["cash_weight"] == 0.31746032
    assert doc["held_without_target"] == [D] and doc["targeted_not_held"] == [C]
    assert doc["breaches"] == [
        {"kind": "drift", "symbol": A, "value": -0.08253968, "limit": 0.03},
        {"kind": "drift", "symbol": C, "value": -0.2, "limit": 0.03},
        {"kind": "drift", "symbol": D, "value": 0.04761905, "limit": 0.03},
    ]
    assert doc["policy"]["band"] == 0.03 and doc["policy"]["targets_as_of"] == "2026-02-02T08:00:00+09:00"


def test_weights_are_exact_decimals_and_money_never_a_float(db: str) -> None:
    build(db)
    val = api.portfolio_status(account="acc", at=AT, settings=settings_for(db))
    assert val.positions[0].weight == Decimal("0.31746032") and val.total_value == Decimal("315000.00")
    doc = val.to_dict()
    assert isinstance(doc["cash"], int) and all(isinstance(p["market_value"], int) for p in doc["positions"])


def test_max_weight_min_cash_breaches_and_default_band(db: str) -> None:
    build(db, band=None)  # no drift_band in params: the default 0.05
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE portfolio_policy SET max_weight = 0.30, min_cash_weight = 0.35")
    doc = api.portfolio_status(account="acc", at=AT, settings=settings_for(db)).to_dict()
    assert doc["policy"]["band"] == 0.05
    assert doc["breaches"] == [
        {"kind": "drift", "symbol": A, "value": -0.08253968, "limit": 0.05},
        {"kind": "max_weight", "symbol": A, "value": 0.31746032, "limit": 0.3},
        {"kind": "max_weight", "symbol": B, "value": 0.31746032, "limit": 0.3},
        {"kind": "drift", "symbol": C, "value": -0.2, "limit": 0.05},
        {"kind": "min_cash", "symbol": None, "value": 0.31746032, "limit": 0.35},
    ]


def test_stale_is_relative_to_the_latest_session_opened(db: str) -> None:
    # before Monday's open the reference session is Friday's, so Friday's prices are current
    assert reference_session(kst(2, 8, 59)) == date(2026, 1, 30)
    assert reference_session(kst(2, 9, 0)) == date(2026, 2, 2)
    assert reference_session(datetime(2026, 2, 1, 12, 0, tzinfo=KST)) == date(2026, 1, 30)  # Sunday
    build(db)
    early = api.portfolio_status(account="acc", at=kst(2, 9, 35), settings=settings_for(db)).to_dict()
    by = {p["symbol"]: p for p in early["positions"]}
    assert by[C]["stale"] is True and by[A]["price"] is None and by[A]["market_value"] is None
    assert early["unpriced"] == [A, B, D]  # no price of A, B, D before 09:35 yet
    assert early["total_value"] == 100_000  # an unpriced holding adds nothing (docs/portfolio.md)


def test_missing_account_and_missing_snapshot_are_clear_errors(db: str) -> None:
    with pytest.raises(PortfolioError, match="no portfolio snapshot is loaded"):
        api.portfolio_status(at=AT, settings=settings_for(db))
    build(db)
    with pytest.raises(PortfolioError, match="account 'acc' has no portfolio snapshot at or before"):
        api.portfolio_status(account="acc", at=kst(2, 9, 0), settings=settings_for(db))
    env = obsdb_env(db)
    done = run_obsdb("portfolio", "status", "--account", "nobody", "--json", env=env)
    assert done.returncode == 1 and "account 'nobody' has no portfolio snapshot" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_cli_json_contract(db: str) -> None:
    build(db)
    done = run_obsdb("portfolio", "status", "--at", "2026-02-02T10:00:00+09:00", "--json", env=obsdb_env(db))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert {"account_id", "at", "snapshot_time", "cash", "total_value", "positions", "breaches"} <= set(doc)
    assert set(doc["positions"][0]) >= {"symbol", "quantity", "price", "price_time", "price_source", "stale",
                                        "market_value", "weight", "target_weight", "drift"}
    assert set(doc["breaches"][0]) == {"kind", "symbol", "value", "limit"}
    assert doc["total_value"] == 315_000
    table = run_obsdb("portfolio", "status", "--at", "2026-02-02T10:00:00+09:00", env=obsdb_env(db))
    assert table.returncode == 0 and "breach drift 000030" in table.stdout


def test_portfolio_drift_view_matches_status_now(db: str) -> None:
    build(db)
    now = api.portfolio_status(account="acc", settings=settings_for(db))
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT symbol, quantity, price, weight, target_weight, drift, band FROM portfolio_drift"
                            " WHERE account_id = 'acc' ORDER BY symbol").fetchall()
    assert rows == [(p.symbol, p.quantity, p.price, p.weight, p.target_weight, p.drift, Decimal("0.03"))
                    for p in now.positions]
