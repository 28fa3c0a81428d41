"""The sample archive's portfolio and analysis records: where they are written, that they agree with
each other, and that obsdb recognises and validates every one of them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from obsdb.sample import SampleManifest, write_sample_archive
from tests.test_sample import _classify, _known_symbols, _split

KST = timezone(timedelta(hours=9))
PORTFOLIO = {"P_policy", "P_weight", "P_snapshot", "P_position", "P_plan", "P_order", "P_execution"}
ANALYSIS = {"X_threshold", "X_signal"}
RECORDS = PORTFOLIO | ANALYSIS


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return write_sample_archive(tmp_path_factory.mktemp("records") / "data" / "observer")


@pytest.fixture(scope="module")
def record_files(archive: SampleManifest) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The portfolio and analysis files: (independently classified shape, record) per line."""
    known = _known_symbols(archive.root)
    out = {}
    for folder in ("portfolio", "analysis"):
        (path,) = [p for p in archive.files if p.parent == archive.root / folder]
        text, tail = _split(path)
        assert tail == ""
        out[f"{folder}/{path.name}"] = [(_classify(line, known), json.loads(line)) for line in text]
    return out


def test_records_are_written_under_portfolio_and_analysis(
    archive: SampleManifest, record_files: dict[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    assert set(record_files) == {"portfolio/20260202_portfolio.jsonl", "analysis/20260202_signals.jsonl"}
    portfolio = Counter(shape for shape, _ in record_files["portfolio/20260202_portfolio.jsonl"])
    assert portfolio == {"P_policy": 1, "P_weight": 4, "P_snapshot": 1, "P_position": portfolio["P_position"],
                         "P_plan": 1, "P_order": 3, "P_execution": 3}
    assert portfolio["P_position"] >= 1
    analysis = Counter(shape for shape, _ in record_files["analysis/20260202_signals.jsonl"])
    assert set(analysis) == ANALYSIS and analysis["X_threshold"] >= 2 and analysis["X_signal"] >= 2
    assert {k: v for k, v in archive.lines_by_shape.items() if k in RECORDS} == portfolio + analysis
    for records in record_files.values():  # no rolling statistics: obsdb derives those
        assert not any("source_table" in rec or "bar_count" in rec for _, rec in records)


def test_portfolio_records_are_consistent_and_parents_first(
    archive: SampleManifest, record_files: dict[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    records = record_files["portfolio/20260202_portfolio.jsonl"]
    order = ["P_policy", "P_weight", "P_snapshot", "P_position", "P_plan", "P_order", "P_execution"]
    shapes = [shape for shape, _ in records]
    assert shapes == sorted(shapes, key=order.index)
    by: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for shape, rec in records:
        by[shape].append(rec)
    known = _known_symbols(archive.root)
    (policy,), (snapshot,), (plan,) = by["P_policy"], by["P_snapshot"], by["P_plan"]
    weights = by["P_weight"]
    assert {w["policy_id"] for w in weights} == {policy["policy_id"]} == {snapshot["policy_id"], plan["policy_id"]}
    assert len({w["symbol"] for w in weights}) == 4 and {w["symbol"] for w in weights} <= known
    assert 0 < sum(w["weight"] for w in weights) <= 1 and all(0 <= w["weight"] <= 1 for w in weights)
    positions = by["P_position"]
    assert {(p["account_id"], p["snapshot_time"]) for p in positions} == {
        (snapshot["account_id"], snapshot["snapshot_time"])}
    assert {p["symbol"] for p in positions} <= known
    for p in positions:
        assert p["market_value"] == p["quantity"] * p["market_price"] and isinstance(p["market_price"], int)
    assert snapshot["total_value"] == snapshot["cash"] + sum(p["market_value"] for p in positions)
    assert (plan["account_id"], plan["based_on_snapshot"]) == (snapshot["account_id"], snapshot["snapshot_time"])
    orders = {o["order_id"]: o for o in by["P_order"]}
    assert {o["plan_id"] for o in orders.values()} == {plan["plan_id"]}
    assert {o["side"] for o in orders.values()} == {"BUY", "SELL"}
    assert [o["limit_price"] for o in orders.values()].count(None) == 1
    assert all(o["quantity"] > 0 and o["symbol"] in known for o in orders.values())
    executions = by["P_execution"]
    assert len({e["order_id"] for e in executions}) == 3
    filled = Counter[str]()
    for e in executions:
        filled[e["order_id"]] += e["quantity"]
    partial = [o for o in orders.values() if 0 < filled[o["order_id"]] < o["quantity"]]
    assert [o["status"] for o in partial] == ["partially_filled"]  # executions needs a partial fill
    for e in executions:
        o = orders[e["order_id"]]
        assert (e["symbol"], e["side"]) == (o["symbol"], o["side"])
        assert 0 < e["quantity"] <= o["quantity"] and isinstance(e["price"], int) and e["price"] > 0
        if o["limit_price"] is not None:
            assert e["price"] >= o["limit_price"] if o["side"] == "SELL" else e["price"] <= o["limit_price"]
        assert datetime.fromisoformat(e["executed_at"]) > datetime.fromisoformat(o["created_at"])


def test_analysis_records_fit_the_sample_session(
    archive: SampleManifest, record_files: dict[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    known = _known_symbols(archive.root)
    for shape, rec in record_files["analysis/20260202_signals.jsonl"]:
        assert rec["symbol"] in known
        if shape == "X_signal":
            at = datetime.fromisoformat(rec["event_time"]).astimezone(KST)
            assert at.date().isoformat() == "2026-02-02" and 9 <= at.hour < 15, at
            assert rec["direction"] in {"up", "down", "neutral"}
        else:
            assert rec["direction"] in {"above", "below"} and rec["window_minutes"] > 0


def test_records_match_what_obsdb_recognises_and_validates(
    record_files: dict[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    """A cross-check with obsdb itself: each line is the table row it is meant to be."""
    from obsdb.formats.recognize import recognize
    from obsdb.models import model_for

    tables = {"P_policy": "portfolio_policy", "P_weight": "target_weights", "P_snapshot": "portfolio_snapshot",
              "P_position": "portfolio_positions", "P_plan": "rebalance_plan", "P_order": "rebalance_orders",
              "P_execution": "rebalance_execution", "X_threshold": "analysis_threshold_candidates",
              "X_signal": "analysis_signal_events"}  # fmt: skip
    for records in record_files.values():
        for shape, rec in records:
            shape_found = recognize(rec)
            assert shape_found is not None and shape_found.table == tables[shape], (shape, rec)
            model_for(tables[shape]).model_validate(rec)
