"""The library behind each command, usable from Python without the CLI.

>>> from obsdb import api
>>> api.init()                 # create or upgrade the schema
>>> report = api.status()      # what the database holds
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from obsdb.config import Settings, load_settings
from obsdb.db import connect as dbc
from obsdb.db import queries, schema
from obsdb.derive.bars import BarDiff
from obsdb.derive.bars import reconcile as bar_reconcile
from obsdb.derive.common import DeriveSettings
from obsdb.derive.run import DeriveReport
from obsdb.derive.run import derive as run_derive
from obsdb.errors import MissingDatabase
from obsdb.load.pipeline import Progress
from obsdb.load.report import RunReport
from obsdb.load.run import Start, ensure_schema, load_paths
from obsdb.status import StatusReport, collect


@contextmanager
def connection(
    settings: Settings | None = None, *, autocommit: bool = False, create_missing: bool = True
) -> Iterator[tuple[dbc.Target, psycopg.Connection[Any]]]:
    """Resolve the target database and hold a connection; driver errors become advice."""
    target = dbc.resolve(settings or load_settings())
    conn = dbc.connect(target, autocommit=autocommit, create_missing=create_missing)
    try:
        with conn:
            yield target, conn
    except psycopg.OperationalError as exc:
        raise dbc.unavailable(target, exc) from None


@dataclass(frozen=True)
class InitResult:
    """What ``init`` found and did."""

    database: str
    plan: schema.Plan
    applied: tuple[schema.AppliedMigration, ...]
    planned_only: bool


def init(*, plan_only: bool = False, settings: Settings | None = None) -> InitResult:
    """Apply pending migrations (or, with ``plan_only``, only report them and change nothing)."""
    settings = settings or load_settings()
    if plan_only:
        target = dbc.resolve(settings)
        try:
            conn = dbc.connect(target, create_missing=False)
        except MissingDatabase:  # nothing there yet: everything is pending, and we create nothing
            return InitResult(target.display, schema.Plan((), schema.available()), (), True)
        with conn:
            return InitResult(target.display, schema.plan(conn), (), True)
    with connection(settings, autocommit=True) as (target, conn):
        applied = schema.upgrade(conn)
        return InitResult(target.display, schema.plan(conn), applied, False)


def status(*, exact: bool = False, settings: Settings | None = None) -> StatusReport:
    """What the database holds, table by table, and where it came from."""
    with connection(settings) as (target, conn):
        return collect(conn, display=target.display, exact=exact)


def migrate(
    paths: Sequence[Path] = (Path("data/observer"),),
    *,
    dry_run: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
    on_start: Start | None = None,
    workers: int = 1,
    derive_after: bool = True,
) -> RunReport:
    """Load archives exactly once. With ``dry_run`` parse and validate only, and write nothing.
    ``workers`` > 1 loads files in that many processes. Then derive what the load touched, unless
    ``derive_after`` is False."""
    arguments = {"paths": [str(p) for p in paths], "dry_run": dry_run, "workers": workers}
    with connection(settings, autocommit=True) as (target, conn):
        if dry_run:
            usable = conn if schema.plan(conn).current_version is not None else None
            return load_paths(usable, paths, dry_run=True, progress=progress, on_start=on_start,
                              arguments=arguments, workers=workers, conninfo=target.conninfo)
        ensure_schema(conn)
        report = load_paths(conn, paths, progress=progress, on_start=on_start, arguments=arguments,
                            workers=workers, conninfo=target.conninfo)
        if derive_after:
            report.derive = run_derive(conn).to_dict()
        return report


def derive(*, start: date | None = None, end: date | None = None, symbol: str | None = None,
           derive_settings: DeriveSettings | None = None, settings: Settings | None = None) -> DeriveReport:
    """Recompute bars, gaps and statistics for what changed since the last derive (or rebuild a range)."""
    with connection(settings, autocommit=True) as (_, conn):
        ensure_schema(conn)
        return run_derive(conn, start=start, end=end, symbol=symbol, settings=derive_settings)


def reconcile(*, start: date | None = None, end: date | None = None, symbol: str | None = None,
              settings: Settings | None = None) -> list[BarDiff]:
    """Where archived 1-minute bars and derived ones differ, field by field."""
    with connection(settings) as (_, conn):
        return bar_reconcile(conn, start=start, end=end, symbol=symbol)


@dataclass(frozen=True)
class RejectRecord:
    """A stored reject: where the line was, why it was refused, and the line itself."""

    path: str
    line_no: int
    field: str | None
    reason: str
    raw_line: bytes
    rejected_at: Any
    file_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line_no": self.line_no, "field": self.field, "reason": self.reason,
                "raw_line": self.raw_line.decode("utf-8", "backslashreplace"), "rejected_at": self.rejected_at,
                "file_id": self.file_id}


def rejects(*, path_contains: str | None = None, limit: int = 50,
            settings: Settings | None = None) -> list[RejectRecord]:
    """Stored rejects, newest first."""
    pattern = None if path_contains is None else "%" + path_contains.replace("%", r"\%").replace("_", r"\_") + "%"
    with connection(settings) as (_, conn):
        if schema.plan(conn).current_version is None:
            return []
        rows = conn.execute(queries.REJECTS_LIST, {"path": pattern, "limit": limit}).fetchall()
    return [RejectRecord(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6]) for r in rows]
