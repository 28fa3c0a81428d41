"""Writing a parsed batch: COPY, dedup on natural keys, rejects and the ledger, in ONE transaction.

Ticks take the fast path (binary COPY straight into ``scalp_ticks``) when no row of the batch can
already exist; otherwise, and for every other table, rows go through a staging table (TEMP; on Citus
a distributed one, co-located with the target) and ``INSERT .. ON CONFLICT DO NOTHING``, so
conflict handling is paid only where a conflict can be.
A row the server still refuses (a foreign key, say) is found by retrying row by row, and becomes a
reject with the server's reason instead of failing the batch.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import Copy, sql
from psycopg.copy import FileWriter
from psycopg.types.json import Jsonb

from obsdb.db import citus
from obsdb.db import queries as q
from obsdb.formats.production import DENSE_COLUMNS
from obsdb.krx import KST
from obsdb.load.packed import CopyFactory
from obsdb.load.parse import Parsed, Reject
from obsdb.load.rows import Row, RowGroup
from obsdb.models import ALL_MODELS
from obsdb.retention import guard

#: Parents before children, so foreign keys within one batch hold.
_UNIVERSE = ("symbol_universe_lists", "symbol_universe")
TABLE_ORDER = (*_UNIVERSE, *(m.__table__ for m in ALL_MODELS if m.__table__ not in _UNIVERSE))


def _order(group: RowGroup) -> int:
    return TABLE_ORDER.index(group.table)


#: What the server refuses about a row's values (class 54: a key too long for its index, say):
#: the row becomes a reject, the rest of the batch loads.
_REFUSED = (psycopg.errors.IntegrityError, psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded)


#: A constraint named in a message, less a Citus shard id suffix ("..._fkey_102395").
_CONSTRAINT_IN_MESSAGE = re.compile(r'constraint "(.+?)(?:_\d+)?"')


def _shard_constraint(message: str | None) -> str | None:
    """Citus passes a shard's error on without its constraint or column name, only the message
    (which names the shard's constraint): the table's constraint name from that, else None."""
    found = _CONSTRAINT_IN_MESSAGE.search(message or "")
    return found.group(1) if found else None


def _spans(times: Sequence[datetime], unit: Callable[[datetime], object]) -> dict[object, tuple[datetime, datetime]]:
    """The earliest and latest of ``times`` in each KST ``unit`` (month, day) that holds any."""
    spans: dict[object, tuple[datetime, datetime]] = {}
    for t in times:
        key = unit(t.astimezone(KST))
        a, b = spans.get(key, (t, t))
        spans[key] = (min(a, t), max(b, t))
    return spans


def _span(group: RowGroup) -> tuple[datetime, datetime] | None:
    """The earliest and latest partition time of a group of a time-partitioned table (one pass each)."""
    if group.table not in PARTITIONED:
        return None
    if group.packed is not None:
        return group.packed.lo, group.packed.hi
    return _time_span(group.rows, group.columns.index(PARTITIONED[group.table]))


def _symbols(rows: Sequence[Row]) -> list[str]:
    """The distinct symbols (first column) of ``rows``."""
    return list(set(map(_FIRST, rows)))


def _copy_query(table: str, columns: Sequence[str], target: sql.Composable | None) -> sql.Composed:
    return sql.SQL(q.COPY_BINARY).format(
        table=target or sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, columns)))


def _rows_of(rows: Sequence[Row] | RowGroup) -> Sequence[Row]:
    """Rows, or a group's rows (decoded again from its lines if they were packed)."""
    return rows.rows if isinstance(rows, RowGroup) else rows


def _time_span(rows: Sequence[Row], at: int) -> tuple[datetime, datetime]:
    return min(r[at] for r in rows), max(r[at] for r in rows)


def _group_symbols(group: RowGroup) -> list[str]:
    return group.packed.symbols if group.packed is not None else _symbols(group.rows)


_FIRST = itemgetter(0)


def _by_day(rows: Sequence[Row], at: int) -> dict[object, list[Row]]:
    days: dict[object, list[Row]] = {}
    for r in rows:
        days.setdefault(r[at].astimezone(KST).date(), []).append(r)
    return days


#: Raw tables derive reads, and their time column.
DIRTY_SOURCES = {"scalp_ticks": "event_time", "swing_snapshots": "snapshot_time"}
#: Tables partitioned by KST month (009), and the column that picks the partition. One call of
#: obsdb_ensure_tick_partitions makes a month exist in all of them.
PARTITIONED = {**DIRTY_SOURCES, "scalp_1m_bars": "bar_time", "analysis_rolling_stats": "bar_time"}


@dataclass(frozen=True)
class _Mark:
    """Symbols of one table changed from ``lo`` to ``hi`` (every KST date between is marked)."""

    table: str
    symbols: list[str]
    lo: datetime
    hi: datetime


class StreamMoved(Exception):
    """Another loader advanced this stream's ledger entry since we read it: start the file again."""


@dataclass
class Written:
    inserted: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    late_rejects: list[Reject] = field(default_factory=list)
    #: rows left out because `obsdb retention` retired their time range (counted as skipped lines)
    retired: int = 0


class Writer:
    """Holds per-connection state: column types for binary COPY, known partitions, staging tables."""

    def __init__(self, conn: psycopg.Connection[Any], run_id: int | None) -> None:
        self.conn = conn
        self.run_id = run_id
        self._types: dict[str, list[str]] = {}
        self._months: set[tuple[int, int]] = set()  # partitions known to exist (cleared on rollback)
        self._distributed_stages = citus.stages(conn)
        self._packer: CopyFactory | None = None

    # --- helpers ------------------------------------------------------------------------------
    def _column_types(self, table: str, columns: Sequence[str]) -> list[str]:
        key = table + ":" + ",".join(columns)
        if key not in self._types:
            types = dict(self.conn.execute(q.COLUMN_TYPES, (table,)).fetchall())
            self._types[key] = [types[c] for c in columns]
        return self._types[key]

    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[Row],
              target: sql.Composable | None = None) -> None:
        types = self._column_types(table, columns)  # before COPY starts: no queries inside it
        with self.conn.cursor() as cur, cur.copy(_copy_query(table, columns, target)) as copy:
            copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)

    def _copy_group(self, group: RowGroup, target: sql.Composable | None = None) -> None:
        """COPY a group's rows; packed ones as they are, already binary COPY data."""
        if group.packed is None:
            self._copy(group.table, group.columns, group.rows, target)
            return
        with self.conn.cursor() as cur, cur.copy(_copy_query(group.table, group.columns, target)) as copy:
            copy.write(memoryview(group.packed.payload))

    def packer(self) -> CopyFactory:
        """What ``parse_batch`` encodes production ticks with: a COPY of the dense columns' types into
        a file, on a cursor of its own that never runs a query (so the parse thread may use it)."""
        if self._packer is None:
            types = self._column_types("scalp_ticks", DENSE_COLUMNS)
            cursor = self.conn.cursor()

            def factory(sink: io.BytesIO) -> Copy:
                copy = Copy(cursor, binary=True, writer=FileWriter(sink))
                copy.set_types(types)
                return copy
            self._packer = factory
        return self._packer

    def _ensure_partitions(self, rows: Sequence[Row] | RowGroup, at: int,
                           span: tuple[datetime, datetime] | None = None) -> tuple[datetime, datetime]:
        """The partitions for the times in column ``at`` of ``rows`` (a group's rows are asked for only
        when needed); ``span`` is their min and max when known (the rows are then looked at again only
        when they are months apart)."""
        if span is None:
            span = _time_span(_rows_of(rows), at)
        lo, hi = span
        lo_k, hi_k = lo.astimezone(KST), hi.astimezone(KST)
        if (hi_k.year * 12 + hi_k.month) - (lo_k.year * 12 + lo_k.month) > 1:
            # Far apart (a stray time, say 1970 among 2026): only the months that hold rows, never every
            # month in between (thousands of partitions in one transaction: out of locks, or a hang).
            for month, (a, b) in _spans([r[at] for r in _rows_of(rows)], lambda k: (k.year, k.month)).items():
                if month not in self._months:
                    self.conn.execute(q.ENSURE_TICK_PARTITIONS, (a, b))
                    self._months.add(month)  # type: ignore[arg-type]
            return lo, hi
        months = {(lo_k.year, lo_k.month), (hi_k.year, hi_k.month)}
        if not months <= self._months:
            self.conn.execute(q.ENSURE_TICK_PARTITIONS, (lo, hi))
            self._months |= months
        return lo, hi

    def _stage(self, table: str) -> sql.Identifier:
        """Where a batch's rows wait for the dedup INSERT: on Citus the table's distributed stage
        (db/citus.py) when it has one, else a TEMP table. Either holds only this transaction's rows:
        they are deleted before it commits."""
        if table in self._distributed_stages:
            return sql.Identifier(citus.stage_of(table))
        # Not cached: a rolled-back savepoint takes the CREATE with it. IF NOT EXISTS is cheap.
        stage = sql.Identifier(f"obsdb_tmp_{table}")
        self.conn.execute(sql.SQL(q.STAGE_CREATE).format(stage=stage, target=sql.Identifier(table)))
        return stage

    # --- paths ----------------------------------------------------------------------------------
    def _staged_insert(self, group: RowGroup) -> int:
        table = group.table
        stage = self._stage(table)
        self._copy_group(group, target=stage)
        cols = sql.SQL(", ").join(map(sql.Identifier, group.columns))
        row = self.conn.execute(
            sql.SQL(q.STAGE_INSERT).format(target=sql.Identifier(table), cols=cols, stage=stage)).fetchone()
        self.conn.execute(sql.SQL(q.STAGE_CLEAR).format(stage=stage))
        return int(row[0]) if row else 0

    def _insert_ticks(self, group: RowGroup, lo: datetime, hi: datetime, symbols: list[str]) -> int:
        overlap = self.conn.execute(q.TICKS_OVERLAP, (symbols, lo, hi)).fetchone()
        if not (overlap and overlap[0]):
            try:
                with self.conn.transaction():  # a savepoint: a surprise conflict falls back below
                    self._copy_group(group)
                return len(group)
            except (psycopg.errors.UniqueViolation, psycopg.errors.InternalError_):
                # a duplicate inside the batch, or a concurrent loader: deduplicate instead. Citus
                # re-raises a shard's COPY error without its SQLSTATE (XX000); the staged path
                # below deduplicates it, or raises the server's real error.
                pass
        return self._staged_insert(group)

    def _insert(self, group: RowGroup, span: tuple[datetime, datetime] | None, symbols: list[str]) -> int:
        if span is not None:
            at = group.columns.index(PARTITIONED[group.table])
            self._ensure_partitions(group, at, span)
        if group.table == "scalp_ticks" and span is not None:
            return self._insert_ticks(group, *span, symbols)
        return self._staged_insert(group)

    def _row_by_row(self, parsed: Parsed, group: RowGroup, out: Written) -> tuple[int, list[Row]]:
        """The server refused the batch: insert rows one at a time to find and reject the bad ones.
        Returns the rows inserted and the rows not refused (only those may be marked for derive)."""
        table, columns = group.table, group.columns
        query = sql.SQL(q.INSERT_ONE).format(
            target=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            values=sql.SQL(", ").join(sql.Placeholder() * len(columns)))
        at = columns.index(PARTITIONED[table]) if table in PARTITIONED else -1
        inserted, kept = 0, []
        for row, i in zip(group.rows, group.index, strict=True):
            try:
                with self.conn.transaction():
                    if at >= 0:
                        self._ensure_partitions([row], at)
                    cur = self.conn.execute(query, row)
                    inserted += cur.rowcount
                kept.append(row)
            except _REFUSED as exc:
                diag = exc.diag
                column = diag.column_name or diag.constraint_name or _shard_constraint(diag.message_primary)
                b = parsed.batch
                out.late_rejects.append(Reject(b.first_line + i, b.offset_of(i), column,
                                               f"refused by PostgreSQL: {diag.message_primary or exc}", b.lines[i]))
        return inserted, kept

    def _marks(self, table: str, columns: Sequence[str], marked: Sequence[Row] | RowGroup,
               span: tuple[datetime, datetime] | None, symbols: list[str]) -> list[_Mark]:
        """Which (symbol, KST date) of ``table`` changed: symbols x the batch's date range, changed
        from its earliest time (a batch spans a day or two, so this is nearly exact). A batch that
        spans more (a stray time) is marked day by day, never every day in between."""
        at = columns.index(DIRTY_SOURCES[table])
        lo, hi = span or _time_span(_rows_of(marked), at)
        if hi - lo <= timedelta(days=2):
            return [_Mark(table, symbols, lo, hi)]
        marks = []
        for day_rows in _by_day(_rows_of(marked), at).values():
            times = [r[at] for r in day_rows]
            marks.append(_Mark(table, _symbols(day_rows), min(times), max(times)))
        return sorted(marks, key=lambda m: m.lo)

    def _mark_dirty(self, marks: list[_Mark]) -> None:
        """Tell derive what changed, in the same transaction as the rows: the days' derive locks
        (shared, held until the batch commits), then every mark in one statement, in key order."""
        for mark in marks:
            self.conn.execute(q.MARK_DAYS_LOCK, {"lo": mark.lo, "hi": mark.hi})
        flat = [(s, m.table, m.lo, m.hi) for m in marks for s in m.symbols]
        if flat:
            symbols, tables, los, his = (list(c) for c in zip(*flat, strict=True))
            self.conn.execute(q.MARK_DIRTY, {"symbols": symbols, "tables": tables, "los": los, "his": his})

    def _leave_out_retired(self, group: RowGroup) -> int:
        """Drop the rows whose time range was retired (docs/retention.md); return how many."""
        ranges = guard.retired_ranges(self.conn, group.table)
        if not ranges:
            return 0
        at = group.columns.index(PARTITIONED[group.table])
        retired = guard.split([r[at] for r in group.rows], ranges)
        group.keep([k for k, gone in enumerate(retired) if not gone])
        return sum(retired)

    # --- one batch ------------------------------------------------------------------------------
    def write(self, parsed: Parsed, *, file_id: int, path: str, start_bytes: int) -> Written:
        """Write one batch and advance the ledger, atomically. Raises StreamMoved on a lost race."""
        out = Written()
        try:
            return self._write(parsed, out, file_id=file_id, path=path, start_bytes=start_bytes)
        except BaseException:
            self._months.clear()  # what this transaction created is gone with it
            raise

    def _write(self, parsed: Parsed, out: Written, *, file_id: int, path: str, start_bytes: int) -> Written:
        with self.conn.transaction():
            guarded = held = False
            marks: list[_Mark] = []
            for group in sorted(parsed.groups, key=_order):
                if group.table in guard.RETIRABLE:
                    if not guarded:  # hold off a retirement until this batch commits
                        guard.lock_shared(self.conn)
                        guarded = True
                    out.retired += self._leave_out_retired(group)
                    if not len(group):
                        continue
                if group.table in q.DERIVED_TABLES and not held:
                    self.conn.execute(q.DERIVED_WRITE_LOCK)
                    held = True
                marked: Sequence[Row] | RowGroup = group
                span = _span(group)
                symbols = _group_symbols(group) if group.table in DIRTY_SOURCES else []  # once: two queries use it
                try:
                    with self.conn.transaction():
                        inserted = self._insert(group, span, symbols)
                except _REFUSED:
                    self._months.clear()
                    inserted, kept = self._row_by_row(parsed, group, out)
                    marked, span, symbols = kept, None, _symbols(kept)
                out.inserted[group.table] += inserted
                out.duplicates += len(group) - inserted
                if inserted and group.table in DIRTY_SOURCES:
                    marks += self._marks(group.table, group.columns, marked, span, symbols)
            self._mark_dirty(marks)
            rejects = parsed.rejects + out.late_rejects
            if rejects:
                self._copy("obsdb_rejects", q.REJECT_COLUMNS, [
                    (file_id, r.line_no, path, r.byte_offset, r.field, r.reason, r.raw, self.run_id)
                    for r in rejects])
            out.duplicates -= len(out.late_rejects)
            cur = self.conn.execute(q.LEDGER_ADVANCE, {
                "end_bytes": parsed.batch.end_offset,
                "end_lines": parsed.batch.first_line - 1 + len(parsed.batch.lines),
                "prefix": parsed.batch.prefix_digest, "loaded": sum(out.inserted.values()),
                "duplicates": out.duplicates, "rejected": len(rejects),
                "skipped": Jsonb(dict(parsed.skipped + Counter(retired=out.retired))),
                "flagged": Jsonb(dict(parsed.flagged)),
                "path": path, "run_id": self.run_id, "file_id": file_id, "start_bytes": start_bytes,
            })
            if cur.rowcount != 1:
                raise StreamMoved(path)
        return out
