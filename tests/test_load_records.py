"""obsdb's own portfolio and analysis JSONL records load into their tables column for column, once,
and a record the model or PostgreSQL refuses becomes a reject that says why (the rest still loads)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from obsdb import api
from obsdb.load.report import RunReport
from tests.helpers import query, settings_for, write_lines

pytestmark = [pytest.mark.db, pytest.mark.engines]
KST = timezone(timedelta(hours=9))
T = "2026-02-02T{}+09:00".format
Rec = dict[str, object]


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 2, 2, hh, mm, ss, tzinfo=KST)


POLICY: Rec = {"policy_id": "core", "name": "Core", "valid_from": "2026-01-02T00:00:00+09:00",
               "valid_to": "2026-07-01T00:00:00+09:00", "rebalance_interval": "1 week", "max_weight": 0.35,
               "min_cash_weight": 0.05, "max_turnover": 0.123456789, "params": {"drift_band": 0.05, "tags": ["kr"]}}
POLICY_OPEN: Rec = {"policy_id": "open", "name": "Open-ended", "valid_from": "2026-01-02T00:00:00+09:00"}
WEIGHT: Rec = {"symbol": "005930", "policy_id": "core", "as_of": T("08:00:00"), "weight": 0.3}
SNAPSHOT: Rec = {"account_id": "acc-1", "snapshot_time": T("13:00:00"), "cash": -1234.5, "total_value": 200000000,
                 "currency": "KRW", "policy_id": "core"}
POSITION: Rec = {"symbol": "005930", "account_id": "acc-1", "snapshot_time": T("13:00:00"), "quantity": 500,
                 "avg_price": 140229.5837, "market_price": 143800, "market_value": 71900000, "weight": 0.3595}
PLAN: Rec = {"plan_id": "plan-1", "policy_id": "core", "account_id": "acc-1", "created_at": T("13:02:00"),
             "based_on_snapshot": T("13:00:00"), "status": "executing", "turnover": 0.143547, "notes": "trim"}
ORDER: Rec = {"order_id": "o-1", "plan_id": "plan-1", "symbol": "005930", "side": "SELL", "quantity": 82,
              "limit_price": 143800, "target_weight": 0.3, "status": "filled", "created_at": T("13:03:00")}
MARKET_ORDER: Rec = {"order_id": "o-2", "plan_id": "plan-1", "symbol": "068270", "side": "BUY", "quantity": 10,
                     "limit_price": None, "created_at": T("13:03:00")}
EXECUTION: Rec = {"execution_id": "x-1", "order_id": "o-1", "symbol": "005930", "side": "SELL", "quantity": 82,
                  "price": 143900, "fee": 1769.85, "executed_at": T("13:05:42")}
THRESHOLD: Rec = {"symbol": "005930", "metric": "logret_stddev", "window_minutes": 5, "as_of": T("08:30:00"),
                  "direction": "above", "threshold": 0.0012, "score": 0.61, "sample_size": 480,
                  "params": {"study": "s1"}}
SIGNAL: Rec = {"symbol": "000660", "event_time": T("09:00:38.346213"), "signal_type": "range_break",
               "direction": "up", "value": 768000, "threshold": -12.5, "window_minutes": 5,
               "details": {"prior_high": 767000}}
PARENTS = (POLICY, WEIGHT, SNAPSHOT, POSITION, PLAN, ORDER)


def migrate(db: str, *paths: Path) -> RunReport:
    report = api.migrate(list(paths), settings=settings_for(db))
    assert not report.errors and all(f.balanced for f in report.files)
    return report


def rejects(db: str) -> list[tuple[object, ...]]:
    return query(db, "SELECT line_no, field, reason FROM obsdb_rejects ORDER BY file_id, line_no")


def test_each_record_type_loads_into_its_table_exactly(db: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "p.jsonl", POLICY, POLICY_OPEN, WEIGHT, SNAPSHOT, POSITION, PLAN, ORDER,
                       MARKET_ORDER, EXECUTION, THRESHOLD, SIGNAL)
    f = migrate(db, path).files[0]
    assert (f.lines_read, f.loaded, f.rejected, f.duplicates) == (11, 11, 0, 0)
    assert rejects(db) == []
    assert f.rows == Counter({"portfolio_policy": 2, "rebalance_orders": 2, "target_weights": 1,
                              "portfolio_snapshot": 1, "portfolio_positions": 1, "rebalance_plan": 1,
                              "rebalance_execution": 1, "analysis_threshold_candidates": 1,
                              "analysis_signal_events": 1})

    rows = query(db, "SELECT policy_id, name, valid_from, valid_to, rebalance_interval, max_weight, "
                     "min_cash_weight, max_turnover, params, created_at IS NOT NULL FROM portfolio_policy "
                     "ORDER BY policy_id")
    assert rows == [
        ("core", "Core", datetime(2026, 1, 2, tzinfo=KST), datetime(2026, 7, 1, tzinfo=KST), "1 week",
         Decimal("0.35000000"), Decimal("0.05000000"), Decimal("0.12345679"),  # numeric(9, 8) rounds
         {"drift_band": 0.05, "tags": ["kr"]}, True),
        ("open", "Open-ended", datetime(2026, 1, 2, tzinfo=KST), None, None, None, None, None, {}, True),
    ]
    assert query(db, "SELECT symbol, policy_id, as_of, weight FROM target_weights") == [
        ("005930", "core", at(8, 0), Decimal("0.30000000"))]
    assert query(db, "SELECT account_id, snapshot_time, cash, total_value, currency, policy_id "
                     "FROM portfolio_snapshot") == [
        ("acc-1", at(13, 0), Decimal("-1234.50"), Decimal("200000000.00"), "KRW", "core")]
    assert query(db, "SELECT symbol, account_id, snapshot_time, quantity, avg_price, market_price, market_value, "
                     "weight FROM portfolio_positions") == [
        ("005930", "acc-1", at(13, 0), 500, Decimal("140229.5837"), 143800, Decimal("71900000.00"),
         Decimal("0.35950000"))]
    assert query(db, "SELECT plan_id, policy_id, account_id, created_at, based_on_snapshot, status, turnover, "
                     "notes FROM rebalance_plan") == [
        ("plan-1", "core", "acc-1", at(13, 2), at(13, 0), "executing", Decimal("0.14354700"), "trim")]
    assert query(db, "SELECT order_id, plan_id, symbol, side, quantity, limit_price, target_weight, status, "
                     "created_at FROM rebalance_orders ORDER BY order_id") == [
        ("o-1", "plan-1", "005930", "SELL", 82, 143800, Decimal("0.30000000"), "filled", at(13, 3)),
        ("o-2", "plan-1", "068270", "BUY", 10, None, None, "new", at(13, 3)),  # a market order; default status
    ]
    assert query(db, "SELECT execution_id, order_id, symbol, side, quantity, price, fee, executed_at "
                     "FROM rebalance_execution") == [
        ("x-1", "o-1", "005930", "SELL", 82, 143900, Decimal("1769.85"), at(13, 5, 42))]
    assert query(db, "SELECT symbol, metric, window_minutes, as_of, direction, threshold, score, sample_size, "
                     "params FROM analysis_threshold_candidates") == [
        ("005930", "logret_stddev", 5, at(8, 30), "above", Decimal("0.00120000"), 0.61, 480, {"study": "s1"})]
    assert query(db, "SELECT symbol, event_time, signal_type, direction, value, threshold, window_minutes, "
                     "details FROM analysis_signal_events") == [
        ("000660", at(9, 0, 38) + timedelta(microseconds=346213), "range_break", "up", Decimal("768000.00000000"),
         Decimal("-12.50000000"), 5, {"prior_high": 767000})]


def test_omitted_columns_take_their_database_defaults(db: str, tmp_path: Path) -> None:
    execution = {k: v for k, v in EXECUTION.items() if k != "fee"}
    snapshot = {k: v for k, v in SNAPSHOT.items() if k not in ("currency", "policy_id")}
    threshold = {k: v for k, v in THRESHOLD.items() if k not in ("score", "sample_size", "params")}
    migrate(db, write_lines(tmp_path / "d.jsonl", POLICY, PLAN | {"based_on_snapshot": None}, ORDER, execution,
                            snapshot, threshold))
    assert rejects(db) == []
    assert query(db, "SELECT fee FROM rebalance_execution") == [(Decimal("0.00"),)]
    assert query(db, "SELECT currency, policy_id FROM portfolio_snapshot") == [("KRW", None)]
    assert query(db, "SELECT score, sample_size, params FROM analysis_threshold_candidates") == [(None, None, {})]
    assert query(db, "SELECT status, based_on_snapshot FROM rebalance_plan") == [("executing", None)]
    assert query(db, "SELECT now() - created_at < interval '1 hour' FROM portfolio_policy") == [(True,)]


def test_a_given_created_at_is_kept(db: str, tmp_path: Path) -> None:
    migrate(db, write_lines(tmp_path / "c.jsonl", POLICY | {"created_at": "2025-12-31T18:00:00+09:00"}))
    assert query(db, "SELECT created_at FROM portfolio_policy") == [(datetime(2025, 12, 31, 18, tzinfo=KST),)]


TABLES = ("portfolio_policy", "target_weights", "portfolio_snapshot", "portfolio_positions", "rebalance_plan",
          "rebalance_orders", "rebalance_execution", "analysis_threshold_candidates", "analysis_signal_events")
COUNTS = ("SELECT (SELECT count(*) FROM portfolio_policy), (SELECT count(*) FROM target_weights), "
          "(SELECT count(*) FROM portfolio_snapshot), (SELECT count(*) FROM portfolio_positions), "
          "(SELECT count(*) FROM rebalance_plan), (SELECT count(*) FROM rebalance_orders), "
          "(SELECT count(*) FROM rebalance_execution), (SELECT count(*) FROM analysis_threshold_candidates), "
          "(SELECT count(*) FROM analysis_signal_events)")


def _table_counts(db: str) -> dict[str, object]:
    (row,) = query(db, COUNTS)
    return dict(zip(TABLES, row, strict=True))


def test_loading_the_same_records_again_adds_no_copy(db: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a" / "p.jsonl", *PARENTS, EXECUTION, THRESHOLD, SIGNAL)
    first = migrate(db, path).files[0]
    assert (first.loaded, first.rejected) == (9, 0)
    counts = _table_counts(db)
    assert set(counts.values()) == {1}

    again = migrate(db, path).files[0]  # the same file: the ledger knows it
    assert (again.status, again.lines_read, again.loaded) == ("unchanged", 0, 0)

    copy = tmp_path / "b" / "p.jsonl"  # the same bytes under another path
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    assert migrate(db, copy).files[0].status == "copy"

    # The same rows in a different file (other line order, one new row): keys deduplicate them.
    other = write_lines(tmp_path / "c" / "q.jsonl", SIGNAL, *PARENTS, EXECUTION, THRESHOLD,
                        SIGNAL | {"symbol": "005930"})
    f = migrate(db, other).files[0]
    assert (f.lines_read, f.loaded, f.duplicates, f.rejected) == (10, 1, 9, 0)
    assert _table_counts(db) == counts | {"analysis_signal_events": 2}
    assert rejects(db) == []


def test_execution_of_another_symbol_than_its_order_is_refused_by_postgresql(db: str, tmp_path: Path) -> None:
    wrong = EXECUTION | {"execution_id": "x-2", "symbol": "000660"}
    path = write_lines(tmp_path / "x.jsonl", *PARENTS, wrong, EXECUTION)
    f = migrate(db, path).files[0]
    assert (f.lines_read, f.loaded, f.rejected, f.duplicates) == (8, 7, 1, 0)
    ((line_no, field, reason),) = rejects(db)
    assert line_no == 7 and field
    assert "refused by PostgreSQL" in str(reason) and "foreign key" in str(reason)
    assert query(db, "SELECT execution_id, symbol FROM rebalance_execution") == [("x-1", "005930")]
    assert query(db, "SELECT count(*) FROM rebalance_orders") == [(1,)]


@pytest.mark.parametrize(("record", "field", "reason"), [
    (WEIGHT | {"weight": 1.5}, "weight", "less than or equal to 1"),
    (ORDER | {"side": "HOLD"}, "side", "'BUY' or 'SELL'"),
    (EXECUTION | {"side": "HOLD"}, "side", "'BUY' or 'SELL'"),
    (POSITION | {"weight": 1.5}, "weight", "less than or equal to 1"),
    (ORDER | {"broker_ref": "K-1"}, "broker_ref", "Extra inputs are not permitted"),
    (POLICY | {"policy_id": "p2", "owner": "me"}, "owner", "Extra inputs are not permitted"),
    (SIGNAL | {"confidence": 0.9}, "confidence", "Extra inputs are not permitted"),
])
def test_invalid_record_is_rejected_naming_its_field(db: str, tmp_path: Path, record: dict[str, object],
                                                     field: str, reason: str) -> None:
    path = write_lines(tmp_path / "r.jsonl", *PARENTS, record, EXECUTION)
    f = migrate(db, path).files[0]
    assert (f.lines_read, f.loaded, f.rejected) == (8, 7, 1)
    ((line_no, got_field, got_reason),) = rejects(db)
    assert (line_no, got_field) == (7, field)
    assert reason in str(got_reason)


def test_sample_portfolio_and_analysis_files_load_without_rejects(db: str, tmp_path: Path) -> None:
    from obsdb.sample import write_sample_archive

    manifest = write_sample_archive(tmp_path / "observer")
    root = manifest.root
    report = migrate(db, root / "portfolio", root / "analysis")
    assert len(report.files) == 2 and {f.status for f in report.files} == {"new"}
    shapes = {k: v for k, v in manifest.lines_by_shape.items() if k[:2] in ("P_", "X_")}
    assert report.total("rejected") == 0 and rejects(db) == []
    assert report.total("loaded") == report.total("lines_read") == sum(shapes.values())
    assert _table_counts(db) == {
        "portfolio_policy": shapes["P_policy"], "target_weights": shapes["P_weight"],
        "portfolio_snapshot": shapes["P_snapshot"], "portfolio_positions": shapes["P_position"],
        "rebalance_plan": shapes["P_plan"], "rebalance_orders": shapes["P_order"],
        "rebalance_execution": shapes["P_execution"], "analysis_threshold_candidates": shapes["X_threshold"],
        "analysis_signal_events": shapes["X_signal"],
    }
    assert query(db, "SELECT count(*) FROM rebalance_orders WHERE limit_price IS NULL") == [(1,)]
