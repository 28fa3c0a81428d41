"""`obsdb retention`: dry runs change nothing, archives reload to the very same rows, retired days
stay retired unless released, derived tables are kept unless named, and a busy partition is left."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from obsdb import api
from obsdb.retention import Options, RetentionError, parse_keep
from obsdb.retention.guard import split
from obsdb.sample import write_sample_archive
from tests.helpers import obsdb_env, query, run_obsdb, settings_for

pytestmark = pytest.mark.db

RAW = ("scalp_ticks", "swing_snapshots")
DERIVED = ("scalp_1m_bars", "analysis_rolling_stats")
KEY = {"scalp_ticks": ("symbol", "event_time"), "swing_snapshots": ("symbol", "snapshot_time"),
       "scalp_1m_bars": ("symbol", "bar_time", "origin"),
       "analysis_rolling_stats": ("symbol", "source_table", "window_minutes", "bar_time")}


def keep_until(day: date) -> int:
    """A --keep window whose cutoff is just after ``day`` (the sample is January-February 2026)."""
    return (datetime.now(UTC).date() - day).days - 1


#: Cutoffs: after February (both sample months retire) and mid-February (only January does).
BOTH, JANUARY = keep_until(date(2026, 3, 2)), keep_until(date(2026, 2, 15))


def checksum(db: str, table: str, where: str = "true") -> tuple[int, str]:
    """Row count and MD5 of the rows in key order, every column but lineage (src_file_id, src_line)."""
    cols = [r[0] for r in query(db, "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                                    "AND table_schema = current_schema() AND column_name NOT IN "
                                    "('src_file_id', 'src_line') ORDER BY ordinal_position", (table,))]
    statement = sql.SQL("SELECT count(*), coalesce(md5(string_agg(row({cols})::text, E'\\n' ORDER BY {key})), '') "
                        "FROM {table} WHERE {where}").format(
        cols=sql.SQL(", ").join(sql.Identifier(str(c)) for c in cols),
        key=sql.SQL(", ").join(map(sql.Identifier, KEY[table])), table=sql.Identifier(table),
        where=sql.SQL(where))  # fixed conditions written in this file
    with psycopg.connect(db) as conn:
        row = conn.execute(statement).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def everything(db: str) -> dict[str, object]:
    state: dict[str, object] = {t: checksum(db, t) for t in (*RAW, *DERIVED)}
    state["partitions"] = query(db, "SELECT inhrelid::regclass::text FROM pg_inherits ORDER BY 1")
    state["retired"] = query(db, "SELECT count(*) FROM obsdb_retired")
    return state


@pytest.fixture
def loaded(db: str, tmp_path: Path) -> str:
    write_sample_archive(tmp_path / "archive")
    api.migrate([tmp_path / "archive"], settings=settings_for(db))
    for t in (*RAW, *DERIVED):
        assert checksum(db, t)[0] > 0, t
    return db


def test_dry_run_and_no_flags_change_nothing(loaded: str, tmp_path: Path) -> None:
    before = everything(loaded)
    dry = api.retention(Options(BOTH, archive=tmp_path / "out", dry_run=True), settings=settings_for(loaded))
    assert {p.action for p in dry.partitions} == {"would archive"}
    assert {p.partition for p in dry.partitions} >= {"scalp_ticks_202601", "scalp_ticks_202602",
                                                     "swing_snapshots_202601", "swing_snapshots_202602"}
    plain = api.retention(Options(BOTH), settings=settings_for(loaded))  # neither --archive nor --drop
    assert plain.partitions and {p.action for p in plain.partitions} == {"kept"}
    assert everything(loaded) == before
    assert not (tmp_path / "out").exists()


def test_archive_drops_and_migrate_restores_the_very_same_rows(loaded: str, tmp_path: Path) -> None:
    before = {t: checksum(loaded, t) for t in (*RAW, *DERIVED)}
    out = tmp_path / "retired"
    env = obsdb_env(loaded)
    done = run_obsdb("retention", "--keep", f"{BOTH}d", "--archive", str(out), "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    archived = {p["partition"]: p for p in report["partitions"]}
    assert {"scalp_ticks_202601", "swing_snapshots_202602"} <= archived.keys()
    assert all(p["action"] == "archived" and Path(p["archive"]).is_file() for p in archived.values())
    for t in RAW:
        assert checksum(loaded, t)[0] == 0, t  # the raw rows are gone with their partitions
    assert not query(loaded, "SELECT 1 FROM pg_class WHERE relname = 'scalp_ticks_202601'")
    assert {t: checksum(loaded, t) for t in DERIVED} == {t: before[t] for t in DERIVED}  # kept: not named
    rows = query(loaded, "SELECT table_name, sum(row_count) FROM obsdb_retired GROUP BY 1 ORDER BY 1")
    assert rows == [(t, before[t][0]) for t in RAW]

    released = run_obsdb("retention", "--reload-retired", "--json", env=env)
    assert released.returncode == 0, released.stderr
    assert len(json.loads(released.stdout)["released"]) == len(archived)
    api.migrate([out], settings=settings_for(loaded))
    assert {t: checksum(loaded, t) for t in RAW} == {t: before[t] for t in RAW}


def test_retired_days_are_not_loaded_again(loaded: str, tmp_path: Path) -> None:
    january = "event_time < '2026-02-01 00:00+09'"
    kept = checksum(loaded, "scalp_ticks", f"NOT ({january})")
    api.retention(Options(JANUARY, archive=tmp_path / "retired"), settings=settings_for(loaded))
    assert checksum(loaded, "scalp_ticks", january)[0] == 0
    again = api.migrate([tmp_path / "retired"], settings=settings_for(loaded))  # the old archive, again
    assert checksum(loaded, "scalp_ticks", january)[0] == 0  # not quietly reloaded
    counts = again.to_dict()  # ... and said so: skipped as retired, neither loaded nor rejected
    assert counts["skipped_by_type"].get("retired", 0) == counts["lines_read"] > 0
    assert counts["rejected"] == counts["rows_loaded"] == 0
    assert checksum(loaded, "swing_snapshots", "snapshot_time < '2026-02-01 00:00+09'")[0] == 0
    assert not query(loaded, "SELECT 1 FROM pg_class WHERE relname IN ('scalp_ticks_202601', "
                             "'swing_snapshots_202601')")
    assert checksum(loaded, "scalp_ticks", f"NOT ({january})") == kept  # February untouched


def test_drop_without_archive_and_derived_tables_only_when_named(loaded: str) -> None:
    settings = settings_for(loaded)
    with pytest.raises(RetentionError, match="--drop"):
        api.retention(Options(JANUARY, tables=("scalp_1m_bars",), archive=Path("/nonexistent")), settings=settings)
    ticks = checksum(loaded, "scalp_ticks")
    report = api.retention(Options(JANUARY, tables=("scalp_1m_bars",), drop=True), settings=settings)
    assert [p.partition for p in report.partitions if p.rows] == ["scalp_1m_bars_202601"]
    assert checksum(loaded, "scalp_1m_bars", "bar_time < '2026-02-01 00:00+09'")[0] == 0
    assert checksum(loaded, "scalp_1m_bars")[0] > 0 and checksum(loaded, "scalp_ticks") == ticks
    assert query(loaded, "SELECT count(*) FROM obsdb_retired WHERE table_name = 'scalp_1m_bars' "
                         "AND archive_path IS NULL AND partition_name = 'scalp_1m_bars_202601'") == [(1,)]


def test_a_partition_being_written_is_left_alone(loaded: str, tmp_path: Path) -> None:
    # A loader's open transaction holds rows for January: retention must not archive without them.
    with psycopg.connect(loaded) as writer:
        writer.execute("INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape) "
                       "VALUES ('005930', '2026-01-05 10:00+09', 1, 'A')")
        with pytest.raises(RetentionError, match="busy"):
            api.retention(Options(JANUARY, tables=("scalp_ticks",), archive=tmp_path / "a", lock_timeout_s=0.5),
                          settings=settings_for(loaded))
        writer.rollback()
    assert query(loaded, "SELECT count(*) FROM obsdb_retired") == [(0,)]
    assert query(loaded, "SELECT 1 FROM pg_class WHERE relname = 'scalp_ticks_202601'") == [(1,)]


def test_keep_and_table_errors_are_clear(db: str) -> None:
    assert parse_keep("180d") == 180 and parse_keep("26w") == 182
    for bad in ("180", "0d", "six months", "-3d"):
        with pytest.raises(RetentionError, match="--keep"):
            parse_keep(bad)
    result = run_obsdb("retention", "--table", "obsdb_ingest_files", "--dry-run", env=obsdb_env(db))
    assert result.returncode != 0 and "not a time-partitioned table" in result.stderr
    assert "Traceback" not in result.stderr


def test_guard_split_marks_exactly_the_retired_times() -> None:
    t = datetime(2026, 1, 31, 15, tzinfo=UTC)  # 2026-02-01 00:00 KST
    ranges = [(t, t + timedelta(days=28)), (None, datetime(1969, 12, 31, 15, tzinfo=UTC))]
    times = [t - timedelta(microseconds=1), t, t + timedelta(days=27, hours=23), t + timedelta(days=28),
             datetime(1960, 1, 1, tzinfo=UTC)]
    assert split(times, ranges) == [False, True, True, False, True]
    assert split(times, []) == [False] * 5
