"""Test databases on a real PostgreSQL: ``DATABASE_URL`` when set, else the embedded server.

Each test that needs a database gets its own, created from a migrated template, and dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import Verbosity
from hypothesis import settings as hypothesis_settings
from psycopg import sql

from obsdb import api
from tests.helpers import ROOT, obsdb_env, settings_for, with_db

# CI: derandomised (the same examples every run) and a failure printed as a reproducible blob.
# Locally, HYPOTHESIS_PROFILE=dev explores new examples; HYPOTHESIS_SEED=N pins a random run.
hypothesis_settings.register_profile(
    "ci", derandomize=True, print_blob=True, deadline=None, verbosity=Verbosity.normal
)
hypothesis_settings.register_profile("dev", print_blob=True, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def admin_conninfo() -> Iterator[str]:
    """A superuser connection string to a maintenance database on the server under test."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from obsdb.db.embedded import acquire

    server = acquire(Path(os.environ.get("OBSDB_TEST_PGDATA", ROOT / ".obsdb" / "test-pgdata")))
    try:
        yield server.conninfo("postgres")
    finally:
        server.release()


def _create(admin: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        conn.execute(query)


def _drop(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template(admin_conninfo: str) -> Iterator[str]:
    """A database with every migration applied, cloned for each test (cloning beats migrating)."""
    name = f"obsdb_tpl_{uuid.uuid4().hex[:10]}"
    _create(admin_conninfo, name)
    api.init(settings=settings_for(with_db(admin_conninfo, name)))
    try:
        yield name
    finally:
        _drop(admin_conninfo, name)


@pytest.fixture
def empty_db(admin_conninfo: str) -> Iterator[str]:
    """A connection string to a new, empty database (dropped after the test)."""
    name = f"obsdb_t_{uuid.uuid4().hex[:12]}"
    _create(admin_conninfo, name)
    try:
        yield with_db(admin_conninfo, name)
    finally:
        _drop(admin_conninfo, name)


@pytest.fixture
def db(admin_conninfo: str, migrated_template: str) -> Iterator[str]:
    """A connection string to a new database with the current schema (dropped after the test)."""
    name = f"obsdb_t_{uuid.uuid4().hex[:12]}"
    _create(admin_conninfo, name, migrated_template)
    try:
        yield with_db(admin_conninfo, name)
    finally:
        _drop(admin_conninfo, name)


@pytest.fixture
def cli_env(db: str) -> dict[str, str]:
    """Environment for running the ``obsdb`` CLI as a subprocess against the test database."""
    return obsdb_env(db)
