"""`obsdb status`: schema version, rows, first/last time and last load of every table."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest

from obsdb import api
from obsdb.db import schema
from obsdb.db.tables import TABLES
from tests.helpers import obsdb_env, run_obsdb, settings_for

pytestmark = pytest.mark.db
KST = ZoneInfo("Asia/Seoul")


def _seed(conninfo: str) -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute("SELECT obsdb_ensure_tick_partitions('2026-01-30 09:00+09', '2026-02-02 15:30+09')")
        conn.execute(
            "INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape) VALUES "
            "('005930', '2026-01-30 09:00:01+09', 70000, 'A'), ('005930', '2026-02-02 15:29:59+09', 71000, 'A'),"
            "('000660', '2026-01-30 09:00:00.5+09', 120000, 'A')"
        )
        conn.execute(
            "INSERT INTO obsdb_load_runs (status, finished_at, obsdb_version, totals) VALUES "
            "('ok', '2026-02-03 08:00+09', 'test', '{\"tables\": {\"scalp_ticks\": 3}}'),"
            "('ok', '2026-02-04 08:00+09', 'test', '{\"tables\": {\"scalp_ticks\": 0}}')"
        )


def test_status_reports_rows_extent_and_last_load(db: str) -> None:
    _seed(db)
    report = api.status(settings=settings_for(db))
    assert report.schema_version == max(m.version for m in schema.available())
    assert report.pending_migrations == []
    ticks = next(t for t in report.tables if t.name == "scalp_ticks")
    assert (ticks.rows, ticks.rows_estimated) == (3, False)
    assert ticks.first == datetime(2026, 1, 30, 9, 0, 0, 500000, tzinfo=KST)
    assert ticks.last == datetime(2026, 2, 2, 15, 29, 59, tzinfo=KST)
    assert ticks.last_load == datetime(2026, 2, 3, 8, 0, tzinfo=KST)  # the run that loaded 0 does not count
    bars = next(t for t in report.tables if t.name == "scalp_1m_bars")
    assert (bars.rows, bars.first, bars.last, bars.last_load) == (0, None, None, None)


def test_status_json_lists_every_table(db: str) -> None:
    _seed(db)
    proc = run_obsdb("status", "--json", env=obsdb_env(db))
    assert proc.returncode == 0, proc.stderr
    data = orjson.loads(proc.stdout)
    assert {t["name"] for t in data["tables"]} == {t.name for t in TABLES}
    assert data["schema_version"] == max(m.version for m in schema.available())
    ticks = next(t for t in data["tables"] if t["name"] == "scalp_ticks")
    assert ticks["rows"] == 3 and ticks["first"].startswith("2026-01-30")


def test_status_on_empty_database_says_what_is_missing(empty_db: str) -> None:
    report = api.status(settings=settings_for(empty_db))
    assert report.schema_version is None
    assert len(report.pending_migrations) == len(schema.available())
    assert all(not t.exists for t in report.tables)
    proc = run_obsdb("status", env=obsdb_env(empty_db))
    assert proc.returncode == 0 and "obsdb init" in proc.stdout


def test_every_market_key_includes_symbol(db: str) -> None:
    # The promise that makes Citus distribution by symbol possible.
    market = ("scalp_ticks", "scalp_1m_bars", "scalp_gaps", "swing_snapshots", "swing_bars_10m",
              "symbol_universe", "analysis_rolling_stats", "analysis_threshold_candidates",
              "analysis_signal_events", "target_weights", "portfolio_positions")
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            """SELECT c.conrelid::regclass::text, c.conname,
                      array(SELECT a.attname::text FROM pg_attribute a
                            WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey))
               FROM pg_constraint c WHERE c.contype IN ('p', 'u') AND c.conrelid::regclass::text = ANY(%s)""",
            (list(market),),
        ).fetchall()
    assert {r[0] for r in rows} == set(market)
    for table, name, cols in rows:
        assert "symbol" in cols, f"{table}.{name} lacks symbol"
