"""Every record shape of the format spec becomes the exact row it should, column by column."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from obsdb import api
from tests.helpers import query, settings_for, write_lines

pytestmark = [pytest.mark.db, pytest.mark.engines]
KST = timezone(timedelta(hours=9))

SHAPE_A = {"timestamp": "2026-01-30T13:05:01.482113+09:00", "symbol": "005930", "execution_time": "130501",
           "price": {"current": 152300, "open": 150100, "high": 153000, "low": 149800, "change_rate": 1.53},
           "volume": {"accumulated": 10234567, "trade_value": 1550123400000},
           "bid_ask": {"ask_price": 152300, "bid_price": 152200},
           "source": "websocket", "session_id": "observer-6f1c2d9e"}


def _load(db: str, tmp_path: Path, *records: dict[str, object], name: str = "a.jsonl") -> api.RunReport:
    write_lines(tmp_path / name, *records)
    report = api.migrate([tmp_path / name], settings=settings_for(db))
    assert all(f.balanced for f in report.files)
    return report


def test_shape_a_nested_production_tick(db: str, tmp_path: Path) -> None:
    report = _load(db, tmp_path, SHAPE_A)
    assert report.files[0].loaded == 1
    (row,) = query(db, "SELECT symbol, event_time, exchange_time, last_price, bid_price, ask_price, bid_size, "
                       "ask_size, day_open, day_high, day_low, change_rate, cum_volume, cum_trade_value, volume, "
                       "trade_count, mitigation_level, session_id, source, record_shape, quality_flag, "
                       "source_quality_flag, extra, src_line FROM scalp_ticks")
    assert row == (
        "005930", datetime(2026, 1, 30, 13, 5, 1, 482113, tzinfo=KST), datetime(2026, 1, 30, 13, 5, 1, tzinfo=KST),
        152300, 152200, 152300, None, None, 150100, 153000, 149800, 1.53, 10234567, 1550123400000, None, None,
        None, "observer-6f1c2d9e", "websocket", "A", "normal", None, None, 1,
    )


def test_shape_b_variants(db: str, tmp_path: Path) -> None:
    b = {"timestamp": "2026-01-30T09:00:01+09:00", "symbol": "000660", "execution_time": "090001",
         "price": {"close": 120000, "open": 119000, "high": 121000, "low": 118500, "change_rate": -0.5},
         "volume": 5000, "bid_price": 119900, "ask_price": 120000, "source": "kis_websocket", "trade_count": 42}
    old = {"timestamp": "2026-01-26T10:00:00+09:00", "symbol": "000660",
           "execution_time": "2026-01-26T10:00:00+09:00",
           "price": {"close": 100, "open": 100, "high": 100, "low": 100},
           "volume": {"accumulated": 77, "current": 7}, "bid_ask": {}}
    _load(db, tmp_path, b, old)
    rows = query(db, "SELECT last_price, cum_volume, volume, bid_price, ask_price, trade_count, record_shape, "
                     "exchange_time, source FROM scalp_ticks ORDER BY event_time")
    assert rows == [
        (100, 77, 7, None, None, None, "B", datetime(2026, 1, 26, 10, tzinfo=KST), None),
        (120000, 5000, None, 119900, 120000, 42, "B", datetime(2026, 1, 30, 9, 0, 1, tzinfo=KST), "kis_websocket"),
    ]


def test_shape_c_flat_tick_and_kst_clock_written_as_utc(db: str, tmp_path: Path) -> None:
    c = {"symbol": "005930", "event_time": "2026-01-28T00:00:00.500000Z", "bid_price": 70000, "ask_price": 70100,
         "bid_size": 100, "ask_size": 200, "last_price": 70050, "volume": 1000, "session_id": "s1",
         "mitigation_level": 0, "quality_flag": "normal"}
    z_kst = dict(c, event_time="2026-01-28T09:00:01.000000Z")  # 18:00 KST: a KST clock with a Z
    _load(db, tmp_path, c, z_kst)
    rows = query(db, "SELECT event_time, last_price, bid_size, ask_size, volume, cum_volume, mitigation_level, "
                     "record_shape, quality_flag, source_quality_flag FROM scalp_ticks ORDER BY event_time")
    assert rows == [
        (datetime(2026, 1, 28, 0, 0, 0, 500000, tzinfo=UTC), 70050, 100, 200, 1000, None, 0, "C", "normal", "normal"),
        (datetime(2026, 1, 28, 9, 0, 1, tzinfo=UTC), 70050, 100, 200, 1000, None, 0, "C", "outside_session", "normal"),
    ]


def test_shape_d_minimal_tick(db: str, tmp_path: Path) -> None:
    d = {"timestamp": "2026-01-29T00:30:06.495732+00:00", "symbol": "028260", "price": 41200, "volume": 1009,
         "source": "mock_websocket"}
    _load(db, tmp_path, d)
    assert query(db, "SELECT last_price, volume, cum_volume, source, record_shape, quality_flag FROM scalp_ticks") == [
        (41200, 1009, None, "mock_websocket", "D", "normal")]


def test_unknown_fields_are_kept_in_extra(db: str, tmp_path: Path) -> None:
    rec = dict(SHAPE_A, new_field={"x": 1}, price=dict(SHAPE_A["price"], prev_close=150000))  # type: ignore[arg-type]
    _load(db, tmp_path, rec)
    assert query(db, "SELECT extra FROM scalp_ticks") == [({"new_field": {"x": 1}, "price.prev_close": 150000},)]


def test_suspect_values_are_loaded_flagged(db: str, tmp_path: Path) -> None:
    shifted = dict(SHAPE_A, symbol="001", execution_time="5",
                   price={"current": 90001, "open": 3, "high": 5, "low": 1, "change_rate": 152300.0},
                   bid_ask={"ask_price": 100, "bid_price": 900})
    _load(db, tmp_path, shifted)
    ((flag, exchange, extra),) = query(db, "SELECT quality_flag, exchange_time, extra FROM scalp_ticks")
    assert set(flag.split(",")) == {"bid_above_ask", "change_rate_beyond_limit", "implausible_symbol",  # type: ignore[union-attr]
                                    "invalid_execution_time", "price_outside_range", "suspect"}
    assert exchange is None and extra == {"execution_time": "5"}


def test_weekend_and_out_of_session_flags(db: str, tmp_path: Path) -> None:
    sat = dict(SHAPE_A, timestamp="2026-01-31T10:00:00+09:00", execution_time="100000")
    early = dict(SHAPE_A, timestamp="2026-01-30T07:00:00+09:00", execution_time="070000")
    _load(db, tmp_path, sat, early)
    assert query(db, "SELECT quality_flag FROM scalp_ticks ORDER BY event_time") == [
        ("outside_session",), ("non_trading_day",)]


def test_swing_snapshot_shapes(db: str, tmp_path: Path) -> None:
    f = {"ts": "2026-02-02T10:05:12.345678+09:00", "session": "observer-6f1c", "dataset": "track_a_swing",
         "market": "kr_stocks", "symbol": "005930",
         "price": {"open": 150100, "high": 153000, "low": 149800, "close": 152300},
         "volume": 10234567, "bid_price": None, "ask_price": None, "source": "kis"}
    f_utc = dict(f, ts="2026-02-02T01:15:00Z")
    mock = {"timestamp": "2026-02-02T10:30:00+09:00", "symbol": "000660", "price": 69770, "volume": 5,
            "open": 69000, "high": 70000, "low": 68000}
    _load(db, tmp_path, f, f_utc, mock)
    rows = query(db, "SELECT symbol, snapshot_time, day_open, day_high, day_low, price, cum_volume, session_id, "
                     "dataset, market, source, record_shape FROM swing_snapshots ORDER BY snapshot_time, symbol")
    assert rows == [
        ("005930", datetime(2026, 2, 2, 10, 5, 12, 345678, tzinfo=KST), 150100, 153000, 149800, 152300, 10234567,
         "observer-6f1c", "track_a_swing", "kr_stocks", "kis", "F"),
        ("005930", datetime(2026, 2, 2, 10, 15, tzinfo=KST), 150100, 153000, 149800, 152300, 10234567,
         "observer-6f1c", "track_a_swing", "kr_stocks", "kis", "F"),
        ("000660", datetime(2026, 2, 2, 10, 30, tzinfo=KST), 69000, 70000, 68000, 69770, 5,
         None, None, None, None, "F_mock"),
    ]


def test_archived_bars(db: str, tmp_path: Path) -> None:
    e = {"symbol": "005930", "bar_time": "2026-01-28T00:00:00Z", "open": 70000, "high": 70200, "low": 69800,
         "close": 70100, "volume": 50000, "coverage_ratio": 0.95, "session_id": "s1", "quality_flag": "normal"}
    flat = {"symbol": "005930", "bar_time": "2026-01-28T00:10:00Z", "open": 70000, "high": 70300, "low": 69700,
            "close": 70200, "volume": 90000, "bid_price": None, "ask_price": None, "session_id": "s1",
            "schema_version": "1.0", "mitigation_level": 0, "quality_flag": "normal"}
    _load(db, tmp_path, e, flat)
    assert query(db, "SELECT bar_time, origin, open, high, low, close, volume, coverage_ratio, source_quality_flag "
                     "FROM scalp_1m_bars") == [
        (datetime(2026, 1, 28, tzinfo=UTC), "archived", 70000, 70200, 69800, 70100, 50000, Decimal("0.9500"),
         "normal")]
    assert query(db, "SELECT bar_time, origin, open, high, low, close, volume, schema_version, mitigation_level "
                     "FROM swing_bars_10m") == [
        (datetime(2026, 1, 28, 0, 10, tzinfo=UTC), "archived", 70000, 70300, 69700, 70200, 90000, "1.0", 0)]


def test_gap_ledgers(db: str, tmp_path: Path) -> None:
    g = {"track_type": "track_b", "symbol": "005930", "gap_type": "major", "gap_duration_seconds": 90.0,
         "last_update": "2026-02-02T10:01:00+09:00", "detected_at": "2026-02-02T10:02:30+09:00",
         "expected_interval_seconds": 2}
    doc = {"timestamp": "2026-02-02T10:11:01+09:00", "gap_start_ts": "2026-02-02T10:10:20+09:00",
           "gap_end_ts": "2026-02-02T10:11:00+09:00", "gap_seconds": 40.0, "scope": "all_symbols",
           "reason": "websocket_no_data", "session_id": "s1"}
    _load(db, tmp_path, g, doc)
    rows = query(db, "SELECT symbol, gap_start_ts, gap_end_ts, gap_seconds, scope, reason, origin, track_type, "
                     "gap_type, expected_interval_seconds, detected_at, recorded_at, extra FROM scalp_gaps "
                     "ORDER BY gap_start_ts")
    assert rows == [
        ("005930", datetime(2026, 2, 2, 10, 1, tzinfo=KST), datetime(2026, 2, 2, 10, 2, 30, tzinfo=KST),
         Decimal("90.000"), "symbol", "major", "archived", "track_b", "major", Decimal("2.000"),
         datetime(2026, 2, 2, 10, 2, 30, tzinfo=KST), None, None),
        ("*", datetime(2026, 2, 2, 10, 10, 20, tzinfo=KST), datetime(2026, 2, 2, 10, 11, tzinfo=KST),
         Decimal("40.000"), "feed", "websocket_no_data", "archived", None, None, None, None,
         datetime(2026, 2, 2, 10, 11, 1, tzinfo=KST), {"scope": "all_symbols"}),
    ]


def test_not_market_lines_are_skipped_by_type(db: str, tmp_path: Path) -> None:
    report = _load(db, tmp_path,
                   {"timestamp": "2026-02-02T09:00:00+09:00", "symbol": "005930", "slot_id": 3,
                    "trigger_type": "universe", "priority_score": 0.9},
                   {"timestamp": "2026-02-02T09:00:00+09:00", "symbol": "005930", "reason": "slots_full",
                    "trigger_type": "volume_surge", "priority_score": 0.2},
                   {"snapshot": {"meta": {}, "context": {}, "observation": {}}, "pattern_id": "p"})
    f = report.files[0]
    assert (f.lines_read, f.loaded, f.rejected) == (3, 0, 0)
    assert dict(f.skipped) == {"slot": 1, "overflow": 1, "pattern": 1}


@pytest.mark.parametrize("day", ["2026-02-02", "20260202"])
def test_symbol_list_becomes_a_dated_universe(db: str, tmp_path: Path, day: str) -> None:
    (tmp_path / "u").mkdir()
    doc = {"metadata": {"date": day, "market": "kr_stocks", "count": 3}, "symbols": ["000020", "0004V0", "005930"]}
    (tmp_path / "u" / "20260202_kr_stocks.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    report = api.migrate([tmp_path / "u"], settings=settings_for(db))
    assert (report.files[0].lines_read, report.files[0].loaded) == (1, 1)
    assert query(db, "SELECT universe_date, market, symbol_count FROM symbol_universe_lists") == [
        (date(2026, 2, 2), "kr_stocks", 3)]
    assert query(db, "SELECT symbol, position FROM symbol_universe ORDER BY position") == [
        ("000020", 0), ("0004V0", 1), ("005930", 2)]


def test_lineage_points_back_to_the_ledger(db: str, tmp_path: Path) -> None:
    _load(db, tmp_path, SHAPE_A, dict(SHAPE_A, timestamp="2026-01-30T13:05:02+09:00"))
    rows = query(db, "SELECT t.src_line, p.path FROM scalp_ticks t JOIN obsdb_ingest_paths p "
                     "ON p.file_id = t.src_file_id ORDER BY t.src_line")
    assert rows == [(1, str(tmp_path / "a.jsonl")), (2, str(tmp_path / "a.jsonl"))]
