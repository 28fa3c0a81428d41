"""Migrations: apply, re-run, plan, drift, concurrency, and never destroying data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from obsdb import api
from obsdb.db import schema
from obsdb.db.tables import TABLES
from obsdb.errors import MigrationError
from tests.helpers import ROOT, obsdb_env, settings_for, with_db

pytestmark = pytest.mark.db


def _tables(conninfo: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " UNION SELECT relname::text FROM pg_class WHERE relkind = 'p'"
        ).fetchall()
    return {r[0] for r in rows}


def _history(conninfo: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT version, name, checksum FROM obsdb_schema_history ORDER BY version").fetchall()


def test_init_on_empty_database_creates_every_table(empty_db: str) -> None:
    result = api.init(settings=settings_for(empty_db))
    shipped = schema.available()
    assert [m.version for m in result.applied] == [m.version for m in shipped]
    assert {t.name for t in TABLES} <= _tables(empty_db)
    history = _history(empty_db)
    assert [(v, c) for v, _, c in history] == [(m.version, m.checksum) for m in shipped]
    with psycopg.connect(empty_db) as conn:
        durations = conn.execute("SELECT duration_ms, applied_at FROM obsdb_schema_history").fetchall()
    assert all(d is not None and d >= 0 and at is not None for d, at in durations)


def test_second_init_is_a_no_op(db: str) -> None:
    with psycopg.connect(db) as conn:
        before = conn.execute("SELECT version, applied_at FROM obsdb_schema_history ORDER BY 1").fetchall()
    result = api.init(settings=settings_for(db))
    assert result.applied == ()
    with psycopg.connect(db) as conn:
        after = conn.execute("SELECT version, applied_at FROM obsdb_schema_history ORDER BY 1").fetchall()
    assert before == after


def test_plan_changes_nothing(empty_db: str) -> None:
    result = api.init(plan_only=True, settings=settings_for(empty_db))
    assert [m.filename for m in result.plan.pending] == [m.filename for m in schema.available()]
    assert _tables(empty_db) == set()


def test_plan_cli_prints_sql_and_creates_no_table(empty_db: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "obsdb", "init", "--plan"], env=obsdb_env(empty_db), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "CREATE TABLE scalp_ticks" in proc.stdout
    assert "CREATE TABLE analysis_signal_events" in proc.stdout
    assert _tables(empty_db) == set()


def test_plan_on_missing_database_does_not_create_it(admin_conninfo: str) -> None:
    missing = with_db(admin_conninfo, "obsdb_plan_never_created")
    result = api.init(plan_only=True, settings=settings_for(missing))
    assert len(result.plan.pending) == len(schema.available())
    with psycopg.connect(admin_conninfo) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'obsdb_plan_never_created'").fetchone()
    assert row is None


def test_edited_applied_migration_is_refused_and_named(db: str, tmp_path: Path) -> None:
    # A real edit of a real file: copy the package, change an applied migration, run init from the copy.
    shutil.copytree(ROOT / "src" / "obsdb", tmp_path / "obsdb", ignore=shutil.ignore_patterns("__pycache__"))
    edited = tmp_path / "obsdb" / "db" / "migrations" / "001_scalp.sql"
    edited.write_text(edited.read_text() + "\n-- an innocent-looking comment\n")
    proc = subprocess.run(
        [sys.executable, "-m", "obsdb", "init"], env=obsdb_env(db, PYTHONPATH=str(tmp_path)),
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == MigrationError.exit_code
    assert "001_scalp.sql" in proc.stderr
    assert "Traceback" not in proc.stderr
    # the unedited package still sees a consistent schema
    assert api.init(settings=settings_for(db)).applied == ()


def test_unknown_applied_version_is_refused(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute(
            "INSERT INTO obsdb_schema_history (version, name, checksum, duration_ms, obsdb_version)"
            " VALUES (999, 'from_the_future', 'x', 1, '9.9')"
        )
    with pytest.raises(MigrationError, match=r"999_from_the_future"):
        api.init(settings=settings_for(db))


def test_failed_migration_rolls_back_and_keeps_existing_data(empty_db: str) -> None:
    # An old, unrelated scalp_ticks table with data: init must fail on 001 and touch nothing.
    with psycopg.connect(empty_db) as conn:
        conn.execute("CREATE TABLE scalp_ticks (id int)")
        conn.execute("INSERT INTO scalp_ticks VALUES (42)")
    with pytest.raises(MigrationError, match=r"001_scalp\.sql"):
        api.init(settings=settings_for(empty_db))
    assert [v for v, _, _ in _history(empty_db)] == [0]
    tables = _tables(empty_db)
    assert "scalp_1m_bars" not in tables  # 001 rolled back as a whole
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT id FROM scalp_ticks").fetchall() == [(42,)]


def test_concurrent_init_threads_apply_each_migration_once(empty_db: str) -> None:
    errors: list[BaseException] = []
    applied: list[int] = []

    def run() -> None:
        try:
            applied.extend(m.version for m in api.init(settings=settings_for(empty_db)).applied)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(applied) == [m.version for m in schema.available()]
    assert [v for v, _, _ in _history(empty_db)] == [m.version for m in schema.available()]


def test_concurrent_init_processes(empty_db: str) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-m", "obsdb", "init"], env=obsdb_env(empty_db),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [v for v, _, _ in _history(empty_db)] == [m.version for m in schema.available()]


_COMMENT = re.compile(r"--[^\n]*")


def test_migrations_never_drop_or_truncate() -> None:
    # A constraint or an index holds no data: replacing one (011, 016) is allowed, nothing else
    # that drops.
    for m in schema.available():
        code = _COMMENT.sub("", m.sql).upper().replace("DROP CONSTRAINT ", "").replace("DROP INDEX ", "")
        for word in ("DROP ", "TRUNCATE", "DELETE FROM"):
            assert word not in code, f"{m.filename} contains {word.strip()}"


def test_checksum_ignores_line_endings_only() -> None:
    assert schema.checksum("a\nb\n") == schema.checksum("a\r\nb\r\n")
    assert schema.checksum("a\nb\n") != schema.checksum("a\nb \n")


def test_upgrade_marks_raw_data_loaded_before_derive_existed(empty_db: str) -> None:
    # A database at schema 5 with ticks: applying 006 must queue those days for derive.
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(resources_sql("sql/history.sql"))
        for m in schema.available():
            if m.version <= 5:
                conn.execute(m.sql)
                conn.execute("INSERT INTO obsdb_schema_history (version, name, checksum, duration_ms, obsdb_version)"
                             " VALUES (%s, %s, %s, 0, 'test')", (m.version, m.name, m.checksum))
        conn.execute("SELECT obsdb_ensure_tick_partitions('2026-01-30+09', '2026-01-30+09')")
        conn.execute("INSERT INTO scalp_ticks (symbol, event_time, last_price, record_shape) "
                     "VALUES ('005930', '2026-01-30 09:00:01+09', 1, 'A')")
    api.init(settings=settings_for(empty_db))
    with psycopg.connect(empty_db) as conn:
        rows = conn.execute("SELECT symbol, kst_date::text, source_table FROM obsdb_derive_dirty").fetchall()
    assert rows == [("005930", "2026-01-30", "scalp_ticks")]


def resources_sql(name: str) -> str:
    from importlib import resources

    return resources.files("obsdb.db").joinpath(name).read_text()
