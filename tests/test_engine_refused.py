"""A statement the engine refuses (Citus's 'not supported', SQLSTATE 0A000 / XX000) ends the CLI
with one clear message and exit code 7, never a traceback or a connection string; and any failure
ends with obsdb's one message, not psycopg's cleanup warnings besides it."""

from __future__ import annotations

import logging

import psycopg
import pytest

from obsdb import cli
from obsdb.errors import DatabaseUnavailable, engine_refused
from tests.helpers import obsdb_env, query, run_obsdb

pytestmark = pytest.mark.db


def _refused(conninfo: str) -> psycopg.Error:
    # A real 0A000 from the server (plain PostgreSQL has a few; Citus has many).
    with psycopg.connect(conninfo) as conn, pytest.raises(psycopg.errors.FeatureNotSupported) as caught:
        conn.execute("SELECT count(*) OVER () FROM pg_class FOR UPDATE")
    return caught.value


def test_feature_not_supported_becomes_a_clear_error(db: str, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    exc = _refused(db)
    refused = engine_refused(exc)
    assert refused is not None and refused.exit_code == 7
    assert "SQLSTATE 0A000" in str(refused) and "README section 'Citus'" in str(refused)

    def app() -> None:
        raise exc

    monkeypatch.setattr(cli, "app", app)
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 7
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and "postgresql://" not in err


def test_other_database_errors_are_not_relabelled(db: str) -> None:
    with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.UndefinedTable) as caught:
        conn.execute("SELECT * FROM no_such_table")
    assert engine_refused(caught.value) is None


def test_distributed_on_plain_postgresql_says_what_is_missing(empty_db: str) -> None:
    # Whether the server lacks the extension or does not preload it, nothing is created.
    done = run_obsdb("init", "--distributed", env=obsdb_env(empty_db))
    assert done.returncode == 2, done.stderr
    assert "--distributed needs Citus" in done.stderr and "Traceback" not in done.stderr
    relations = "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
    assert query(empty_db, relations) == [(0,)]


def test_any_other_server_error_is_explained_without_a_traceback(db: str, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # A real lock timeout (55P03): the server's words, and that running again is safe.
    with psycopg.connect(db) as holder, psycopg.connect(db) as waiter:
        holder.execute("CREATE TABLE IF NOT EXISTS obsdb_lock_probe (x int)")
        holder.commit()
        holder.execute("LOCK TABLE obsdb_lock_probe IN ACCESS EXCLUSIVE MODE")
        waiter.execute("SET lock_timeout = '50ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable) as caught:
            waiter.execute("SELECT * FROM obsdb_lock_probe")
    exc = caught.value

    def app() -> None:
        raise exc

    monkeypatch.setattr(cli, "app", app)
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 1
    err = capsys.readouterr().err
    flat = " ".join(err.split())  # rich wraps long lines
    assert "SQLSTATE 55P03" in flat and "running the command again is safe" in flat and "Traceback" not in err


def test_psycopg_cleanup_errors_after_a_lost_connection_are_not_a_second_message(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A connection killed inside COPY: psycopg logs the errors of its own cleanup on the way out
    (seen in test_promise_outage); the user must get obsdb's one message, not those too."""
    def app() -> None:  # each through the logger psycopg's own module logs it on
        logging.getLogger(psycopg.transaction.__name__).warning(
            "error ignored in rollback of %s: %s", "<Transaction>", "another command is already in progress")
        logging.getLogger("psycopg").warning("error ignored terminating %s: %s", "<Copy>", "consuming input failed")
        logging.getLogger("psycopg").warning("some other psycopg warning")
        raise DatabaseUnavailable("lost PostgreSQL while loading x.jsonl")

    monkeypatch.setattr(cli, "app", app)
    with caplog.at_level(logging.WARNING, logger="psycopg"), pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 3
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == ["some other psycopg warning"]
