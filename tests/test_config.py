"""Where the database is: DATABASE_URL, DB_* variables, `.env`, the embedded default; and errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from obsdb import api
from obsdb.config import Settings
from obsdb.db.connect import resolve
from obsdb.errors import ConfigError, DatabaseUnavailable
from tests.helpers import obsdb_env, run_obsdb, settings_for, with_db

SENTINEL = "s3cr3t-SENTINEL-pw"
DB_VARS = ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in DB_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_database_url_wins_over_db_vars(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://alice@dbhost:6000/warehouse")
    monkeypatch.setenv("DB_HOST", "elsewhere")
    target = resolve(Settings())
    params = conninfo_to_dict(target.conninfo)
    got = (params["host"], params["port"], params["dbname"], params["user"])
    assert got == ("dbhost", "6000", "warehouse", "alice")
    assert target.embedded is None


def test_db_vars_with_defaults(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "10.1.2.3")
    target = resolve(Settings())
    params = conninfo_to_dict(target.conninfo)
    got = (params["host"], params["port"], params["dbname"], params["user"])
    assert got == ("10.1.2.3", "5432", "observer", "postgres")


def test_dotenv_file_is_read_and_password_is_masked(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        f"DB_HOST=dbhost\nDB_PORT=6543\nDB_NAME=obs\nDB_USER=loader\nDB_PASSWORD={SENTINEL}\n"
    )
    settings = Settings()
    assert not settings.uses_embedded
    target = resolve(settings)
    assert conninfo_to_dict(target.conninfo)["password"] == SENTINEL
    assert SENTINEL not in target.display
    assert target.display == "postgresql://loader:***@dbhost:6543/obs"
    assert SENTINEL not in repr(settings)


def test_nothing_configured_means_embedded(clean_env: Path) -> None:
    assert Settings().uses_embedded


def test_unreachable_server_is_one_clear_message_without_password(tmp_path: Path) -> None:
    env = obsdb_env(None, DB_HOST="127.0.0.1", DB_PORT="1", DB_PASSWORD=SENTINEL)
    for args in (("status",), ("init",), ("db", "url")):
        proc = run_obsdb(*args, env=env, cwd=tmp_path)
        assert SENTINEL not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        if args != ("db", "url"):
            assert proc.returncode == DatabaseUnavailable.exit_code
            assert "cannot reach PostgreSQL at 127.0.0.1:1" in proc.stderr
        else:
            assert proc.returncode == 0 and ":***@" in proc.stdout


def test_bad_database_url_is_a_config_error(tmp_path: Path) -> None:
    proc = run_obsdb("status", env=obsdb_env(f"host=x password={SENTINEL} nonsense"), cwd=tmp_path)
    assert proc.returncode == ConfigError.exit_code
    assert SENTINEL not in proc.stdout + proc.stderr
    assert "DATABASE_URL" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.db
def test_missing_database_is_created(admin_conninfo: str) -> None:
    name = f"obsdb_new_{uuid.uuid4().hex[:8]}"
    try:
        result = api.init(settings=settings_for(with_db(admin_conninfo, name)))
        assert result.applied
        with psycopg.connect(admin_conninfo) as conn:
            assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.db
def test_role_without_createdb_is_told_what_to_run(admin_conninfo: str) -> None:
    role = f"obsdb_nocreate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB NOSUPERUSER").format(sql.Identifier(role)))
    try:
        params = conninfo_to_dict(with_db(admin_conninfo, "obsdb_not_there"))
        params["user"] = role
        url = " ".join(f"{k}={v}" for k, v in params.items())
        with pytest.raises(ConfigError) as info:
            api.init(settings=settings_for(url))
        assert f'CREATE DATABASE "obsdb_not_there" OWNER "{role}";' in str(info.value)
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
