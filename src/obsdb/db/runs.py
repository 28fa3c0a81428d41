"""The bookkeeping every command that writes shares: a schema brought up to date before it writes,
and a row in ``obsdb_load_runs`` for each run.

Apart from the loader so that ``obsdb derive`` (run every minute in the live case) does not import
the loader's parsers and models to record its run: 0.2 s of start-up per command.
"""

from __future__ import annotations

import socket
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from obsdb import __version__
from obsdb.db import citus, schema
from obsdb.db import queries as q


def start_run(conn: psycopg.Connection[Any], kind: str, arguments: dict[str, Any], dry_run: bool) -> int:
    """Record a run of ``kind`` ('migrate', 'derive') as running; answers its id."""
    row = conn.execute(q.RUN_START, (kind, "dry_run" if dry_run else "running", socket.gethostname(),
                                     __version__, Jsonb(arguments))).fetchone()
    assert row is not None
    return int(row[0])


def finish_run(conn: psycopg.Connection[Any], run_id: int, status: str, totals: dict[str, Any]) -> None:
    conn.execute(q.RUN_FINISH, (status, Jsonb(totals), run_id))


def flush_counts(conn: psycopg.Connection[Any]) -> None:
    """Make this connection's row counts visible now. A backend reports them at most once a second,
    so without this the last second of a load reached pg_stat after derive's ANALYZE of the same
    partition: the partition looked stale again (74,492 rows of a 1M-tick morning), and the next
    `obsdb migrate`, a one-tick increment, paid 0.46 s for a second ANALYZE."""
    if conn.info.server_version >= 150000 and not conn.closed and not conn.broken:
        conn.execute(q.FLUSH_COUNTS)


def ensure_schema(conn: psycopg.Connection[Any]) -> tuple[schema.AppliedMigration, ...]:
    """Apply pending migrations (they never destroy anything), so migrate works on a fresh database;
    on a Citus coordinator the new (empty) tables are laid out as ``obsdb init`` would. Checked and
    done under the migrations' lock: of two first migrates at once, the second waits for the first's
    layout too, and never loads into the coordinator's not yet distributed tables."""
    conn.execute(q.MIGRATION_LOCK, (q.MIGRATION_LOCK_KEY,))
    try:
        if not schema.plan(conn).pending:
            return ()
        applied = schema.upgrade(conn)
        citus.init_layout(conn, distributed=False, plan_only=False)
        return applied
    finally:
        if not conn.closed:
            conn.execute(q.MIGRATION_UNLOCK, (q.MIGRATION_LOCK_KEY,))
