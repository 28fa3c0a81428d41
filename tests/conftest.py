"""Test databases on a real PostgreSQL: ``DATABASE_URL`` when set, else the embedded server.

Each test that needs a database gets its own, created from a migrated template, and dropped after.
In modules marked ``engines`` each such test also runs on a fresh Citus database (OBSDB_TEST_CITUS_URL).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import Verbosity
from hypothesis import settings as hypothesis_settings
from psycopg import sql

from obsdb import api
from tests import citus_cluster
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """In a module marked ``engines``, a test that takes a database runs on plain PostgreSQL and once
    more on a fresh Citus database (skipped, with the reason, without OBSDB_TEST_CITUS_URL)."""
    if "engine" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("engines") is None:
        return
    marks: list[pytest.MarkDecorator] = [pytest.mark.citus]
    if off := metafunc.definition.get_closest_marker("not_on_citus"):
        marks.append(pytest.mark.skip(reason=f"not on Citus: {off.args[0]}"))
    elif not citus_cluster.CITUS_URL:
        marks.append(pytest.mark.skip(reason=citus_cluster.NOT_SET))
    metafunc.parametrize("engine", ["plain", pytest.param("citus", marks=marks)], indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """Where the test's databases are: ``plain`` PostgreSQL, or ``citus`` (the Citus variant of a
    test in a module marked ``engines``)."""
    return str(getattr(request, "param", "plain"))


@pytest.fixture
def new_database(engine: str, request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """Makes further empty databases on the test's engine, by name (on Citus: on every node, the
    nodes registered), and drops them after the test. Returns their connection strings."""
    made: list[str] = []
    nodes = citus_cluster.cluster() if engine == "citus" else None
    admin = "" if nodes else request.getfixturevalue("admin_conninfo")

    def make(name: str) -> str:
        made.append(name)
        if nodes:
            return nodes.create_citus(name)
        _create(admin, name)
        return with_db(admin, name)

    try:
        yield make
    finally:
        for name in made:
            if nodes:
                nodes.drop(name)
            else:
                _drop(admin, name)


@pytest.fixture
def empty_db(engine: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A connection string to a new, empty database (dropped after the test). On Citus: citus in
    it on every node and the nodes registered, no obsdb table yet."""
    if engine == "citus":
        yield from _citus_db(init=False)
        return
    admin_conninfo = request.getfixturevalue("admin_conninfo")
    name = f"obsdb_t_{uuid.uuid4().hex[:12]}"
    _create(admin_conninfo, name)
    try:
        yield with_db(admin_conninfo, name)
    finally:
        _drop(admin_conninfo, name)


@pytest.fixture
def db(engine: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A connection string to a new database with the current schema (dropped after the test). On
    Citus laid out by ``obsdb init`` (a Citus database cannot be cloned from a template)."""
    if engine == "citus":
        yield from _citus_db(init=True)
        return
    admin_conninfo, migrated_template = (request.getfixturevalue(f) for f in ("admin_conninfo", "migrated_template"))
    name = f"obsdb_t_{uuid.uuid4().hex[:12]}"
    _create(admin_conninfo, name, migrated_template)
    try:
        yield with_db(admin_conninfo, name)
    finally:
        _drop(admin_conninfo, name)


def _citus_db(*, init: bool) -> Iterator[str]:
    nodes = citus_cluster.cluster()
    name = f"obsdb_ct_{uuid.uuid4().hex[:12]}"
    try:
        target = nodes.create_citus(name)
        if init:
            api.init(settings=settings_for(target))
        yield target
    finally:
        nodes.drop(name)


@pytest.fixture
def cli_env(db: str) -> dict[str, str]:
    """Environment for running the ``obsdb`` CLI as a subprocess against the test database."""
    return obsdb_env(db)
