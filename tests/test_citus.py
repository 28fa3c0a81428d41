"""obsdb on a Citus cluster (issue 9 §1): layout, loading equal to plain PostgreSQL, status, and
clear errors. Runs when OBSDB_TEST_CITUS_URL names a coordinator with 2 workers; each test gets a
fresh database on every node (created like the README says) and drops it after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from obsdb.db import citus
from obsdb.db.tables import TABLES
from obsdb.load.run import load_paths
from tests.citus_cluster import CITUS_URL, NOT_SET, cluster, unique_name
from tests.helpers import obsdb_env, query, run_obsdb

pytestmark = [
    pytest.mark.citus,
    pytest.mark.db,
    pytest.mark.skipif(not CITUS_URL, reason=NOT_SET),
]

#: Columns that differ between two loads of the same archive by design: ledger ids, clocks.
_VOLATILE = ("src_file_id", "file_id", "run_id", "last_run_id", "gap_id")


@pytest.fixture
def cluster_db() -> Iterator[tuple[str, Any]]:
    """A new database on the coordinator and every worker (citus on the workers only), and a
    function that makes the coordinator's a Citus database: the way a plain obsdb database gets
    a cluster under it."""
    nodes = cluster()
    name = unique_name("obsdb_cx")
    target = nodes.create(name)
    try:
        yield target, lambda: nodes.register(target)
    finally:
        nodes.drop(name)


@pytest.fixture
def citus_db(cluster_db: tuple[str, Any]) -> str:
    """A new Citus database: citus in it on every node, the nodes registered (as the README says)."""
    target, make_citus = cluster_db
    make_citus()
    return target


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("citus") / "observer"
    done = run_obsdb("sample", str(path), env=obsdb_env(None))
    assert done.returncode == 0, done.stderr
    return path


def _obsdb(url: str, *args: str) -> Any:
    done = run_obsdb(*args, "--json", env=obsdb_env(url))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _placements(url: str) -> dict[str, tuple[str, int, int]]:
    rows = query(url, "SELECT table_name::text, citus_table_type, colocation_id, shard_count FROM citus_tables")
    return {str(r[0]): (str(r[1]), int(r[2]), int(r[3])) for r in rows}  # type: ignore[call-overload]


def _checksums(url: str, tables: list[str]) -> dict[str, tuple[int, str | None]]:
    """Row count and md5 of the rows sorted (outer ORDER BY, COLLATE "C"), volatile columns left out."""
    out = {}
    with psycopg.connect(url) as conn:
        for table in tables:
            cols = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s AND coalesce(column_default, '') NOT LIKE '%%now()%%' "
                "AND NOT column_name = ANY(%s) ORDER BY ordinal_position", (table, list(_VOLATILE))).fetchall()]
            row_text = sql.SQL("concat_ws('|', {})").format(sql.SQL(", ").join(
                sql.SQL("{}::text").format(sql.Identifier(c)) for c in cols))
            row = conn.execute(sql.SQL(
                "SELECT count(*), md5(string_agg(r, E'\\n' ORDER BY r COLLATE \"C\")) "
                "FROM (SELECT {} AS r FROM {}) s").format(row_text, sql.Identifier(table))).fetchone()
            assert row is not None
            out[table] = (int(row[0]), row[1])
    return out


_COMPARED = [t.name for t in TABLES] + ["obsdb_rejects"]


def test_init_lays_out_the_cluster(citus_db: str) -> None:
    before = _obsdb(citus_db, "init", "--plan")
    assert before["layout"]["will_distribute"] == list(citus.DISTRIBUTED + citus.STAGES)
    assert _placements(citus_db) == {}  # --plan changed nothing

    result = _obsdb(citus_db, "init")
    assert result["layout"]["applied"]
    placed = _placements(citus_db)
    anchor = placed[citus.ANCHOR]
    for table in citus.DISTRIBUTED + citus.STAGES:  # by symbol, one co-location group, the same shard count
        assert placed[table][0] == "distributed"
        assert placed[table][1:] == anchor[1:]
    assert query(citus_db, "SELECT DISTINCT distribution_column FROM citus_tables "
                           "WHERE citus_table_type = 'distributed'") == [("symbol",)]
    for table in citus.REFERENCE:
        assert placed[table][0] == "reference"
    for table in citus.LOCAL:  # bookkeeping: plain coordinator tables, not in Citus's metadata
        assert table not in placed

    again = _obsdb(citus_db, "init")  # idempotent
    assert not again["layout"]["applied"]
    assert again["layout"]["will_distribute"] == again["layout"]["will_reference"] == []


def test_plan_on_plain_postgresql_changes_nothing(empty_db: str) -> None:
    result = _obsdb(empty_db, "init", "--plan")
    assert "layout" not in result
    relations = "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
    assert query(empty_db, relations) == [(0,)]
    assert query(empty_db, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'") == [(0,)]


def test_existing_data_is_converted_only_with_distributed(cluster_db: tuple[str, Any], archive: Path) -> None:
    url, make_citus = cluster_db
    _obsdb(url, "migrate", "--no-derive", str(archive))  # a plain obsdb database with rows ...
    counts = _checksums(url, _COMPARED)
    make_citus()  # ... that then gets a cluster
    done = run_obsdb("init", env=obsdb_env(url))
    assert done.returncode == 0, done.stderr
    assert "--distributed" in done.stderr and _placements(url) == {}
    _obsdb(url, "init", "--distributed")
    assert _placements(url)[citus.ANCHOR][0] == "distributed"
    assert _checksums(url, _COMPARED) == counts


def test_migrate_on_a_fresh_citus_database_lays_it_out(citus_db: str, archive: Path) -> None:
    _obsdb(citus_db, "migrate", "--no-derive", str(archive))  # no init first: migrate applies it
    assert _placements(citus_db)[citus.ANCHOR][0] == "distributed"


def test_migrate_equals_plain_postgresql(citus_db: str, db: str, archive: Path) -> None:
    _obsdb(citus_db, "init")
    on_citus = _obsdb(citus_db, "migrate", "--no-derive", str(archive))
    on_plain = _obsdb(db, "migrate", "--no-derive", str(archive))
    assert on_citus["loaded"] == on_plain["loaded"] > 0
    assert _checksums(citus_db, _COMPARED) == _checksums(db, _COMPARED)
    assert _obsdb(citus_db, "migrate", "--no-derive", str(archive))["loaded"] == 0


def test_status_shows_kinds_shards_and_nodes(citus_db: str, db: str, archive: Path) -> None:
    _obsdb(citus_db, "init")
    for url in (citus_db, db):
        _obsdb(url, "migrate", "--no-derive", str(archive))
    report, plain = _obsdb(citus_db, "status"), _obsdb(db, "status")
    assert "citus" not in plain and "kind" not in plain["tables"][0]
    roles = sorted(n["role"] for n in report["citus"]["nodes"])
    assert roles == ["coordinator", "worker", "worker"]
    kinds = {t["name"]: (t["kind"], t["shards"]) for t in report["tables"]}
    assert kinds["scalp_ticks"][0] == "distributed" and kinds["scalp_ticks"][1] > 1
    assert kinds["rebalance_orders"] == ("reference", 1)
    # The per-shard first/last of scalp_ticks equals plain PostgreSQL's loose index scan.
    first = {t["name"]: (t["rows"], t["first"], t["last"]) for t in report["tables"]}
    assert first == {t["name"]: (t["rows"], t["first"], t["last"]) for t in plain["tables"]}


def test_derive_equals_plain_postgresql(citus_db: str, db: str, archive: Path) -> None:
    _obsdb(citus_db, "init")
    for url in (citus_db, db):
        _obsdb(url, "migrate", "--no-derive", str(archive))
    _obsdb(citus_db, "derive")
    _obsdb(db, "derive")
    assert _checksums(citus_db, _COMPARED) == _checksums(db, _COMPARED)


def test_dedup_stays_on_the_workers(citus_db: str, db: str, archive: Path) -> None:
    """On Citus a batch is staged in its table's co-located distributed stage (the dedup INSERT ..
    SELECT then runs shard by shard), not in a coordinator TEMP table; nothing stays staged."""
    _obsdb(citus_db, "init")
    temp_stage = "SELECT to_regclass('pg_temp.obsdb_tmp_swing_snapshots') IS NOT NULL"
    for url, temp_used in ((db, True), (citus_db, False)):
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(2):  # the second time every row is a duplicate
                load_paths(conn, [archive])
            assert conn.execute(temp_stage).fetchone() == (temp_used,)
    for stage in citus.STAGES:
        assert query(citus_db, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(stage))) == [(0,)]
    assert _checksums(citus_db, _COMPARED) == _checksums(db, _COMPARED)
