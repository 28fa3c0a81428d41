"""What autovacuum does when it runs, done by derive for where it is off (or behind).

Before the days: summarise the block ranges the loads added to the ticks' BRIN indexes (an
unsummarised range is read whole by every query: bench-scale's derive grew 13 s -> 23 s per day
over 20 days), and ANALYZE the partitions whose statistics are stale (without any, a day's tick
read became a scan of the month: 9 GB a day by the 20th). After them: ANALYZE what derive wrote,
else the next derive (a live increment) pays for it. The work is one :class:`Task` per table; tables
are independent, so when an ANALYZE is due they run on several connections at once (the other
cores idled through them: 1-2 s of a ten-day derive). A role that does not own a table skips
it: this is speed, not correctness. Citus keeps the rows on the workers, whose autovacuum is theirs.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from obsdb.derive.common import is_citus, load_sql
from obsdb.derive.pool import run_spread


@dataclass(frozen=True)
class Task:
    """The upkeep of one table: summarise its BRIN indexes' new ranges, then ANALYZE it if due. One
    table's are never spread: both take its SHARE UPDATE EXCLUSIVE lock, and ANALYZE (SKIP_LOCKED)
    would skip a table whose index another connection is summarising."""

    table: tuple[str, str]  # (schema, name)
    brin: tuple[str, ...] = ()
    analyze: bool = False

    def run(self, conn: psycopg.Connection[Any]) -> None:
        for index in self.brin:
            with suppress(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT brin_summarize_new_values(%s::regclass)", (index,))
        if self.analyze:
            # SKIP_LOCKED: never wait behind retention or another ANALYZE; a non-owner gets a WARNING.
            # UndefinedTable: retired by retention meanwhile.
            with suppress(psycopg.errors.UndefinedTable):
                conn.execute(sql.SQL("ANALYZE (SKIP_LOCKED) {}").format(sql.Identifier(*self.table)))


def before_reads(conn: psycopg.Connection[Any], tables: tuple[str, ...], conninfo: str | None,
                 workers: int) -> None:
    """Summarise the new BRIN ranges and ANALYZE the stale partitions of ``tables``."""
    if is_citus(conn):
        return
    brin: dict[tuple[str, str], list[str]] = {}
    for index, schema, table in conn.execute(load_sql("run_brin_indexes")).fetchall():
        brin.setdefault((schema, table), []).append(index)
    stale = _stale(conn, tables)
    _run(conn, [Task(t, tuple(brin.get(t, ())), t in stale) for t in sorted(brin.keys() | stale)], conninfo, workers)


def after_writes(conn: psycopg.Connection[Any], tables: tuple[str, ...], conninfo: str | None,
                 workers: int) -> None:
    """ANALYZE the stale partitions of ``tables`` (what derive wrote)."""
    if not is_citus(conn):
        _run(conn, [Task(t, analyze=True) for t in sorted(_stale(conn, tables))], conninfo, workers)


def _stale(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> set[tuple[str, str]]:
    rows = conn.execute(load_sql("run_stale_tables"), {"tables": list(tables)}).fetchall()
    return {(schema, table) for schema, table in rows}


def _run(conn: psycopg.Connection[Any], tasks: list[Task], conninfo: str | None, workers: int) -> None:
    """Spread over connections of their own only where an ANALYZE is due (after a load: a live
    increment's summaries take milliseconds, less than opening a connection)."""
    if conninfo is not None and workers > 1 and len(tasks) > 1 and any(t.analyze for t in tasks):
        run_spread(conninfo, tasks, workers, lambda c, task: task.run(c))
    else:
        for task in tasks:
            task.run(conn)
