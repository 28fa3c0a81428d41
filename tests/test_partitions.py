"""Migration 009: the large tables partitioned by KST month, converted in place, partitions on
demand for every table at once, retired months never re-created, and plans that prune."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import psycopg
import pytest
from psycopg import sql

from obsdb import api
from obsdb.db import schema
from tests.helpers import query, settings_for

pytestmark = pytest.mark.db

TABLES = ("scalp_ticks", "swing_snapshots", "scalp_1m_bars", "analysis_rolling_stats")
CONVERTED = {"swing_snapshots": "snapshot_time", "scalp_1m_bars": "bar_time", "analysis_rolling_stats": "bar_time"}

ROWS = """
SELECT obsdb_ensure_tick_partitions('2026-01-05+09', '2026-03-20+09');
INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape)
SELECT s, '2026-01-05 09:00+09'::timestamptz + i * interval '1 hour', 100 + i, 'A'
FROM unnest(ARRAY['005930', '000660']) s, generate_series(0, 1500) i;
INSERT INTO swing_snapshots (symbol, snapshot_time, price, record_shape, extra)
SELECT s, '2026-01-05 09:00+09'::timestamptz + i * interval '3 hours', 100 + i, 'F', jsonb_build_object('n', i)
FROM unnest(ARRAY['005930', '000660']) s, generate_series(0, 300) i;
INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close, volume)
SELECT s, '2026-01-05 09:00+09'::timestamptz + i * interval '1 minute', 'derived', 10, 12, 9, 11, i
FROM unnest(ARRAY['005930', '000660']) s, generate_series(0, 2000) i;
INSERT INTO analysis_rolling_stats (symbol, source_table, window_minutes, bar_time, bar_count, price_mean)
SELECT s, 'scalp_1m_bars', w, '2026-01-05 09:00+09'::timestamptz + i * interval '1 minute', 5, 10.5
FROM unnest(ARRAY['005930', '000660']) s, unnest(ARRAY[5, 30]) w, generate_series(0, 500) i;
CREATE ROLE {reader};
GRANT SELECT ON swing_snapshots, scalp_1m_bars TO {reader};
GRANT UPDATE (price) ON swing_snapshots TO {reader};
COMMENT ON TABLE scalp_1m_bars IS 'one-minute bars';
"""


def _checksums(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, str]]:
    out = {}
    for t in TABLES:
        row = conn.execute(sql.SQL("SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {} x")
                           .format(sql.Identifier(t))).fetchone()
        assert row is not None
        out[t] = (row[0], row[1])
    return out


def _partitions(db: str, table: str) -> list[tuple[object, ...]]:
    return query(db, "SELECT part::text, range_start::text, range_end::text FROM obsdb_partitions(%s::regclass)",
                 (table,))


@pytest.fixture
def at_007(empty_db: str) -> Iterator[str]:
    """A database at schema 007 (000-007 only) with rows in every large table."""
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(resources.files("obsdb.db").joinpath("sql/history.sql").read_text())
        for m in schema.available():
            if m.version <= 7:
                conn.execute(m.sql)
                conn.execute("INSERT INTO obsdb_schema_history (version, name, checksum, duration_ms, obsdb_version)"
                             " VALUES (%s, %s, %s, 0, 'test')", (m.version, m.name, m.checksum))
        reader = "obsdb_rd_" + empty_db.rsplit("obsdb_t_", 1)[-1][:12]
        conn.execute(ROWS.replace("{reader}", reader))
    try:
        yield empty_db
    finally:  # roles are the server's, not the database's: leave none behind
        with psycopg.connect(empty_db, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(reader)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(reader)))


def test_upgrade_converts_populated_tables_and_keeps_every_row(at_007: str) -> None:
    with psycopg.connect(at_007) as conn:
        before = _checksums(conn)
        acl: dict[str, str] = dict(conn.execute("SELECT relname, relacl::text FROM pg_class WHERE relname = ANY(%s)",
                                (list(CONVERTED),)).fetchall())
        indexes = conn.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                               "WHERE indrelid = ANY(%s::regclass[]) ORDER BY 1", (list(CONVERTED),)).fetchall()
    api.init(settings=settings_for(at_007))
    with psycopg.connect(at_007) as conn:
        assert _checksums(conn) == before
        kinds: dict[str, str] = dict(conn.execute("SELECT relname, relkind FROM pg_class WHERE relname = ANY(%s)",
                                  (list(TABLES),)).fetchall())
        assert kinds == {t: "p" for t in TABLES}
        assert dict(conn.execute("SELECT relname, relacl::text FROM pg_class WHERE relname = ANY(%s)",
                                 (list(CONVERTED),)).fetchall()) == acl
        assert conn.execute("SELECT attacl IS NOT NULL FROM pg_attribute WHERE attrelid = 'swing_snapshots'::regclass "
                            "AND attname = 'price'").fetchone() == (True,)
        assert conn.execute("SELECT obj_description('scalp_1m_bars'::regclass, 'pg_class')").fetchone() == (
            "one-minute bars",)
        after = conn.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                             "WHERE indrelid = ANY(%s::regclass[]) ORDER BY 1", (list(CONVERTED),)).fetchall()
        # same names, same definitions, but the statistics' key that 015 reorders and their time
        # index that 016 makes a BRIN index
        indexes = sorted((n.replace("analysis_rolling_stats_bar_time_idx", "analysis_rolling_stats_bar_time_brin"),
                          d.replace("(symbol, source_table, window_minutes, bar_time)",
                                    "(symbol, window_minutes, bar_time, source_table)")
                           .replace("bar_time_idx ON public.analysis_rolling_stats USING btree (bar_time)",
                                    "bar_time_brin ON public.analysis_rolling_stats USING brin (bar_time) "
                                    "WITH (autosummarize='on')")) for n, d in indexes)
        assert [(n, d.replace(" ONLY ", " ")) for n, d in after] == indexes
        with pytest.raises(psycopg.errors.CheckViolation):  # the CHECKs came along
            conn.execute("INSERT INTO swing_snapshots (symbol, snapshot_time, price, record_shape) "
                         "VALUES ('005930', '2026-03-01+09', -1, 'F')")
        conn.rollback()
        with pytest.raises(psycopg.errors.UniqueViolation):  # and the key
            conn.execute("INSERT INTO scalp_1m_bars (symbol, bar_time, origin, open, high, low, close) "
                         "VALUES ('005930', '2026-01-05 09:00+09', 'derived', 1, 1, 1, 1)")
    # The old table is the first partition, whole; the tick months have their derived partitions.
    assert _partitions(at_007, "scalp_1m_bars")[0][:2] == ("scalp_1m_bars_before_202602", "-infinity")
    assert [p[0] for p in _partitions(at_007, "swing_snapshots")] == ["swing_snapshots_before_202603",
                                                                      "swing_snapshots_202603"]
    assert [p[0] for p in _partitions(at_007, "analysis_rolling_stats")][1:] == [
        "analysis_rolling_stats_202602", "analysis_rolling_stats_202603"]


def test_partitions_appear_on_demand_in_every_table(db: str) -> None:
    assert query(db, "SELECT obsdb_ensure_tick_partitions('2026-04-30 23:00+09', '2026-05-01 01:00+09')") == [(2,)]
    assert query(db, "SELECT obsdb_ensure_tick_partitions('2026-04-02+09', '2026-05-30+09')") == [(0,)]
    for t in TABLES:
        assert [p[0] for p in _partitions(db, t)][-2:] == [f"{t}_202604", f"{t}_202605"]
    with psycopg.connect(db) as conn:  # a KST month: 2026-05-01 00:00 KST is April 30 in UTC
        conn.execute("INSERT INTO swing_snapshots (symbol, snapshot_time, price, record_shape) "
                     "VALUES ('005930', '2026-04-30 15:00Z', 1, 'F')")
        assert conn.execute("SELECT tableoid::regclass::text FROM swing_snapshots").fetchone() == (
            "swing_snapshots_202605",)


def test_retired_months_are_not_created_again_until_released(db: str) -> None:
    query(db, "SELECT 1 FROM (SELECT 1) x")  # connection check
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO obsdb_retired (table_name, range_start, range_end, partition_name, row_count) "
                     "VALUES ('scalp_ticks', '2026-06-01+09', '2026-07-01+09', 'scalp_ticks_202606', 0)")
    query(db, "SELECT obsdb_ensure_tick_partitions('2026-06-10+09', '2026-06-10+09')")
    names = {p[0] for p in _partitions(db, "scalp_ticks")}
    assert "scalp_ticks_202606" not in names
    assert "swing_snapshots_202606" in {p[0] for p in _partitions(db, "swing_snapshots")}  # only that table
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE obsdb_retired SET released_at = now()")
    query(db, "SELECT obsdb_ensure_tick_partitions('2026-06-10+09', '2026-06-10+09')")
    assert "scalp_ticks_202606" in {p[0] for p in _partitions(db, "scalp_ticks")}


def _scanned(conn: psycopg.Connection[Any], statement: str) -> set[str]:
    """The relations a plan reads (no ANALYZE: the plan, not its timing)."""
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(sql.SQL(statement))).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    found: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def test_query_plans_prune_to_the_months_asked(db: str) -> None:
    query(db, "SELECT obsdb_ensure_tick_partitions('2026-01-01+09', '2026-03-31+09')")
    with psycopg.connect(db) as conn:
        # one symbol's bars over a range; one day across all symbols; the latest tick per symbol
        bars = _scanned(conn, "SELECT * FROM scalp_1m_bars WHERE symbol = '005930' "
                              "AND bar_time >= '2026-02-03+09' AND bar_time < '2026-02-10+09'")
        day = _scanned(conn, "SELECT symbol, count(*) FROM analysis_rolling_stats "
                             "WHERE bar_time >= '2026-03-04+09' AND bar_time < '2026-03-05+09' GROUP BY symbol")
        latest = _scanned(conn, "SELECT DISTINCT ON (symbol) symbol, event_time, last_price FROM scalp_ticks "
                                "WHERE event_time >= '2026-03-01+09' ORDER BY symbol, event_time DESC")
        snaps = _scanned(conn, "SELECT * FROM swing_snapshots WHERE snapshot_time >= '2026-01-10+09' "
                               "AND snapshot_time < '2026-01-11+09'")
    assert bars == {"scalp_1m_bars_202602"}
    assert day == {"analysis_rolling_stats_202603"}
    assert latest == {"scalp_ticks_202603"}
    assert snaps == {"swing_snapshots_202601"}
