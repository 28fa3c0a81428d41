"""Fresh databases on the Citus cluster that ``OBSDB_TEST_CITUS_URL`` names (a coordinator with 2
workers), made the way the README says: the database on every node, citus in it on every node, the
nodes registered in the coordinator's. The URL's own database is only the entry point.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from functools import cache

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.helpers import query, with_db

CITUS_URL = os.environ.get("OBSDB_TEST_CITUS_URL")
NOT_SET = "OBSDB_TEST_CITUS_URL is not set: the Citus tests need a coordinator with 2 workers"


def _at(url: str, host: str, port: int, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params.update(host=host, port=str(port), dbname=dbname)
    return make_conninfo(**params)


def _admin(url: str, statement: sql.Composable) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


@dataclass(frozen=True)
class Cluster:
    coordinator: str
    host: str
    port: int
    workers: tuple[tuple[str, int], ...]

    @property
    def nodes(self) -> tuple[tuple[str, int], ...]:
        return ((self.host, self.port), *self.workers)

    def create(self, name: str) -> str:
        """A new database on every node, citus in it on the workers only (the coordinator's stays
        plain until :meth:`register`). Returns its conninfo on the coordinator."""
        for h, p in self.nodes:
            _admin(_at(self.coordinator, h, p, "postgres"), sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        for h, p in self.workers:
            _admin(_at(self.coordinator, h, p, name), sql.SQL("CREATE EXTENSION citus"))
        return with_db(self.coordinator, name)

    def register(self, target: str) -> None:
        """CREATE EXTENSION citus on the coordinator's database and register the nodes in it."""
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
            conn.execute("SELECT citus_set_coordinator_host(%s, %s)", (self.host, self.port))
            for h, p in self.workers:
                conn.execute("SELECT citus_add_node(%s, %s)", (h, p))

    def create_citus(self, name: str) -> str:
        """A new, empty Citus database (no obsdb tables yet)."""
        target = self.create(name)
        self.register(target)
        return target

    def drop(self, name: str) -> None:
        for h, p in self.nodes:
            _admin(_at(self.coordinator, h, p, "postgres"),
                   sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@cache
def _cluster(url: str) -> Cluster:
    rows = query(url, "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid > 0 AND noderole = 'primary' "
                      "ORDER BY nodeid")
    workers = tuple((str(h), int(p)) for h, p in rows)  # type: ignore[call-overload]
    if len(workers) < 2:
        pytest.fail(f"OBSDB_TEST_CITUS_URL has {len(workers)} worker(s) in pg_dist_node; the tests need 2")
    params = conninfo_to_dict(url)
    return Cluster(url, str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)), workers)


def cluster() -> Cluster:
    """The cluster of ``OBSDB_TEST_CITUS_URL`` (the workers listed in its database's pg_dist_node)."""
    if not CITUS_URL:
        pytest.skip(NOT_SET)
    return _cluster(CITUS_URL)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
