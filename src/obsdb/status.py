"""What the database holds and where it came from: the data behind ``obsdb status``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from obsdb.db import citus, schema
from obsdb.db import queries as q
from obsdb.db.tables import TABLES, TableInfo

#: Above this many rows (planner estimate) ``status`` reports the estimate instead of counting,
#: unless asked for exact counts: count(*) on a year of ticks takes minutes.
EXACT_COUNT_LIMIT = 1_000_000


@dataclass(frozen=True)
class TableStatus:
    name: str
    group: str
    exists: bool
    rows: int | None = None
    rows_estimated: bool = False
    first: datetime | date | None = None
    last: datetime | date | None = None
    last_load: datetime | None = None
    #: Citus only: distributed | reference | local, and the shard count
    kind: str | None = None
    shards: int | None = None


@dataclass(frozen=True)
class SourceSummary:
    files: int
    paths: int
    lines: int
    rows_loaded: int
    rejected: int
    last_update: datetime | None


@dataclass(frozen=True)
class CitusSummary:
    version: str
    nodes: list[dict[str, Any]]


@dataclass(frozen=True)
class StatusReport:
    database: str
    server_version: str
    schema_version: int | None
    pending_migrations: list[str]
    tables: list[TableStatus] = field(default_factory=list)
    sources: SourceSummary | None = None
    #: Citus only: the extension's version and the nodes
    citus: CitusSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (datetimes as ISO strings are left to the encoder). On plain
        PostgreSQL the Citus keys are left out, so the output is what it always was."""
        data = asdict(self)
        if self.citus is None:
            del data["citus"]
            for table in data["tables"]:
                del table["kind"], table["shards"]
        return data


def _count(conn: psycopg.Connection[Any], table: TableInfo, exact: bool) -> tuple[int, bool]:
    ident = sql.Identifier(table.name)
    if not exact:
        row = conn.execute(q.ROW_ESTIMATE, (table.name, table.name)).fetchone()
        if row and row[0] is not None and not row[1] and row[0] > EXACT_COUNT_LIMIT:
            return int(row[0]), True
    counted = conn.execute(sql.SQL(q.COUNT_ROWS).format(table=ident)).fetchone()
    return int(counted[0]) if counted else 0, False


def _extent(conn: psycopg.Connection[Any], table: TableInfo, kind: str | None = None) -> tuple[Any, Any]:
    if table.time_column is None:
        return None, None
    if table.symbol_time_key and kind == "distributed":
        return citus.extent_by_symbol(conn, table.name, table.time_column)
    template = q.EXTENT_BY_SYMBOL if table.symbol_time_key else q.EXTENT
    query = sql.SQL(template).format(table=sql.Identifier(table.name), col=sql.Identifier(table.time_column))
    row = conn.execute(query).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute(q.TABLE_EXISTS, (name,)).fetchone()
    return bool(row and row[0])


def table_status(conn: psycopg.Connection[Any], table: TableInfo, *, exact: bool = False,
                 placement: tuple[str, int | None] | None = None) -> TableStatus:
    """Row count, first and last time, and last load of one table. ``placement``: on Citus, the
    table's kind and shard count ("local" when Citus does not know the table)."""
    if not _exists(conn, table.name):
        return TableStatus(table.name, table.group, exists=False)
    kind, shards = placement or (None, None)
    rows, estimated = _count(conn, table, exact)
    first, last = _extent(conn, table, kind)
    last_load = None
    if _exists(conn, "obsdb_load_runs"):
        row = conn.execute(q.LAST_LOAD, (table.name, table.name)).fetchone()
        last_load = row[0] if row else None
    return TableStatus(table.name, table.group, True, rows, estimated, first, last, last_load, kind, shards)


def _sources(conn: psycopg.Connection[Any]) -> SourceSummary | None:
    if not _exists(conn, "obsdb_ingest_files"):
        return None
    files, lines, rows, rejected, updated = conn.execute(q.LEDGER_SUMMARY).fetchone() or (0, 0, 0, 0, None)
    paths_row = conn.execute(q.PATHS_COUNT).fetchone()
    return SourceSummary(int(files), int(paths_row[0]) if paths_row else 0, int(lines), int(rows),
                         int(rejected), updated)


def collect(conn: psycopg.Connection[Any], *, display: str = "", exact: bool = False) -> StatusReport:
    """Everything ``obsdb status`` shows. Read-only; works on an empty database too."""
    plan = schema.plan(conn)
    version_row = conn.execute(q.SERVER_VERSION).fetchone()
    citus_version = citus.installed(conn)
    known = citus.placements(conn) if citus_version else {}

    def placement(name: str) -> tuple[str, int | None] | None:
        if not citus_version:
            return None
        kind, shards, _ = known.get(name, ("local", None, None))
        return kind, shards

    report = StatusReport(
        database=display,
        server_version=str(version_row[0]) if version_row else "?",
        schema_version=plan.current_version,
        pending_migrations=[m.filename for m in plan.pending],
        tables=[table_status(conn, t, exact=exact, placement=placement(t.name)) for t in TABLES],
        sources=_sources(conn),
        citus=CitusSummary(citus_version, [n.__dict__ for n in citus.nodes(conn)]) if citus_version else None,
    )
    conn.rollback()  # end the read transaction: status holds no locks afterwards
    return report
