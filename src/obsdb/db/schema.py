"""Versioned, checksummed schema migrations (the files in ``obsdb/db/migrations``).

Rules, after Flyway and sqitch: each file runs in its own transaction; an advisory lock serialises
concurrent ``init`` runs; a file that changed after it was applied stops everything and is named;
nothing is ever dropped. ``plan`` reads and never writes.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import psycopg

from obsdb import __version__
from obsdb.db import queries as q
from obsdb.db.splitsql import split_statements
from obsdb.errors import MigrationError

_FILE_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration file shipped with the package."""

    version: int
    name: str
    filename: str
    sql: str
    checksum: str


@dataclass(frozen=True)
class AppliedMigration:
    """One row of ``obsdb_schema_history``."""

    version: int
    name: str
    checksum: str
    applied_at: datetime
    duration_ms: int


@dataclass(frozen=True)
class Plan:
    """What the database has and what ``init`` would apply."""

    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]

    @property
    def current_version(self) -> int | None:
        return max((m.version for m in self.applied), default=None)


def checksum(text: str) -> str:
    """SHA-256 of the file with line endings normalised, so a CRLF checkout is not 'drift'."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def available() -> tuple[Migration, ...]:
    """The migration files in version order."""
    found = []
    for entry in resources.files("obsdb.db").joinpath("migrations").iterdir():
        match = _FILE_RE.match(entry.name)
        if not match:
            continue
        text = entry.read_text(encoding="utf-8")
        found.append(Migration(int(match[1]), match[2], entry.name, text, checksum(text)))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return tuple(found)


def _applied(conn: psycopg.Connection[Any]) -> tuple[AppliedMigration, ...]:
    row = conn.execute(q.HISTORY_EXISTS).fetchone()
    if not row or not row[0]:
        return ()
    return tuple(AppliedMigration(*r) for r in conn.execute(q.HISTORY_ROWS).fetchall())


def _check(applied: tuple[AppliedMigration, ...], files: tuple[Migration, ...]) -> tuple[Migration, ...]:
    """Refuse drift and unknown versions; return the pending files."""
    by_version = {m.version: m for m in files}
    for done in applied:
        shipped = by_version.get(done.version)
        if shipped is None:
            raise MigrationError(
                f"the database has migration {done.version:03d}_{done.name} applied, which this obsdb "
                f"({__version__}) does not ship. Upgrade obsdb before using this database."
            )
        if shipped.checksum != done.checksum:
            raise MigrationError(
                f"migration {shipped.filename} changed after it was applied "
                f"(database {done.checksum[:12]}, file {shipped.checksum[:12]}). Applied migrations must "
                f"never change: restore {shipped.filename} and put the change in a new migration file."
            )
    applied_versions = {m.version for m in applied}
    return tuple(m for m in files if m.version not in applied_versions)


def plan(conn: psycopg.Connection[Any]) -> Plan:
    """Compare the database with the shipped files. Reads only."""
    applied = _applied(conn)
    return Plan(applied, _check(applied, available()))


def _run_file(conn: psycopg.Connection[Any], migration: Migration) -> None:
    """One statement at a time (inside the caller's transaction): Citus forwards some DDL to the
    workers with the statement's text, and a worker refuses a multi-statement string."""
    for statement in split_statements(migration.sql):
        conn.execute(statement.encode("utf-8"))


def upgrade(conn: psycopg.Connection[Any]) -> tuple[AppliedMigration, ...]:
    """Apply pending migrations, each in its own transaction, under an advisory lock.

    ``conn`` must be in autocommit mode: the lock is held by the session across transactions.
    Returns what this call applied (empty when the schema was already current).
    """
    if not conn.autocommit:
        raise ValueError("upgrade() needs an autocommit connection")
    conn.execute(q.MIGRATION_LOCK, (q.MIGRATION_LOCK_KEY,))
    try:
        conn.execute(resources.files("obsdb.db").joinpath("sql/history.sql").read_text(encoding="utf-8"))
        done: list[AppliedMigration] = []
        for migration in _check(_applied(conn), available()):
            started = time.perf_counter()
            try:
                with conn.transaction():
                    _run_file(conn, migration)
                    duration_ms = round((time.perf_counter() - started) * 1000)
                    row = conn.execute(
                        q.HISTORY_INSERT,
                        (migration.version, migration.name, migration.checksum, duration_ms, __version__),
                    ).fetchone()
            except psycopg.DatabaseError as exc:
                raise MigrationError(
                    f"migration {migration.filename} failed and was rolled back (nothing from it was kept): "
                    f"{str(exc).strip()}"
                ) from None
            assert row is not None
            done.append(AppliedMigration(migration.version, migration.name, migration.checksum, row[0], duration_ms))
        return tuple(done)
    finally:
        if not conn.closed:
            conn.execute(q.MIGRATION_UNLOCK, (q.MIGRATION_LOCK_KEY,))
