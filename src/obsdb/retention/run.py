"""`obsdb retention`: retire whole time partitions older than the kept window.

Each partition is retired in ONE transaction: lock it against writes (SHARE: readers and loads of
other months go on), stream its rows in key order into a compressed archive that migrate reloads
(each line checked on the way, see :mod:`obsdb.retention.shapes`), fsync and rename the file, then
take the retirement lock and the partition lock of ``obsdb_ensure_tick_partitions``, record the
range in ``obsdb_retired`` and DROP the partition. A crash before COMMIT leaves the partition in
place (at most a finished archive file that the next run writes again); after COMMIT the range is
recorded as retired and its rows are in the archive.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import zstandard
from psycopg import sql
from psycopg.rows import dict_row

from obsdb.errors import ObsdbError
from obsdb.retention import guard
from obsdb.retention.guard import load_sql
from obsdb.retention.shapes import ARCHIVABLE, Unarchivable, encode

#: Raw tables: retired unless --table names others. Derived tables only when named.
RAW = ("scalp_ticks", "swing_snapshots")
_PARTITIONS_LOCK = "SELECT pg_advisory_xact_lock(hashtext('obsdb.scalp_ticks.partitions'))"
_WOULD = {"archived": "would archive", "dropped": "would drop", "kept": "kept"}
_KEEP = re.compile(r"^\s*(\d+)\s*([dw])\s*$")


class RetentionError(ObsdbError):
    """Retention could not proceed safely; nothing of the partition named was dropped."""

    exit_code = 6


def parse_keep(text: str) -> int:
    """``180d`` or ``26w`` as a number of days."""
    match = _KEEP.match(text)
    if not match or int(match[1]) < 1:
        raise RetentionError(f"--keep {text!r}: give a window like 180d (days) or 26w (weeks), at least 1 day")
    return int(match[1]) * (7 if match[2] == "w" else 1)


@dataclass
class Retired:
    """One partition older than the window, and what happened to it."""

    table: str
    partition: str
    range_start: datetime | None  # None: from the beginning (a converted table's first partition)
    range_end: datetime
    rows: int | None  # None: not counted (a dry run on a never-analysed partition)
    rows_exact: bool
    action: str  # archived | dropped | would archive | would drop | kept
    archive: str | None = None
    archive_bytes: int | None = None
    sha256: str | None = None


@dataclass
class RetentionReport:
    keep_days: int
    cutoff: datetime | None
    dry_run: bool
    partitions: list[Retired] = field(default_factory=list)
    released: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    keep_days: int
    tables: tuple[str, ...] = RAW
    archive: Path | None = None
    drop: bool = False
    dry_run: bool = False
    lock_timeout_s: float = 10.0


def check_tables(tables: Sequence[str]) -> tuple[str, ...]:
    unknown = [t for t in tables if t not in guard.RETIRABLE]
    if unknown:
        raise RetentionError(f"--table {unknown[0]}: not a time-partitioned table; "
                             f"choose from {', '.join(guard.RETIRABLE)}")
    return tuple(dict.fromkeys(tables)) or RAW


def _action(table: str, opts: Options) -> str:
    if opts.archive is not None:
        if table not in ARCHIVABLE:
            raise RetentionError(f"{table} cannot be archived in a shape migrate reloads (derived rows are "
                                 f"recomputed by `obsdb derive` from the raw rows): retire it with --drop")
        return "archived"
    return "dropped" if opts.drop else "kept"


def retire(conn: psycopg.Connection[Any], opts: Options,
           on_rows: Callable[[int], None] | None = None) -> RetentionReport:
    """Plan and (unless ``dry_run``, or neither --archive nor --drop) retire. ``conn`` autocommits."""
    report = RetentionReport(opts.keep_days, None, opts.dry_run)
    for table in opts.tables:
        action = _action(table, opts)
        for cand in conn.execute(guard.load_sql("candidates"),
                                 {"table": table, "keep_days": opts.keep_days}).fetchall():
            name, start, end, estimate, report.cutoff = cand
            item = Retired(table, name, start, end, None if estimate is None else int(estimate), False, action)
            if opts.dry_run or action == "kept":
                item.action = _WOULD[action]
            else:
                _retire_one(conn, item, opts, on_rows)
            report.partitions.append(item)
    return report


def _archive_path(root: Path, item: Retired) -> Path:
    return root / item.table / f"{item.partition}.jsonl.zst"


def _retire_one(conn: psycopg.Connection[Any], item: Retired, opts: Options,
                on_rows: Callable[[int], None] | None) -> None:
    part = sql.Identifier(item.partition)
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(opts.lock_timeout_s * 1000)}ms",))
            conn.execute(sql.SQL("LOCK TABLE ONLY {} IN SHARE MODE").format(part))
            path = tmp = None
            if opts.archive is not None:
                path = _archive_path(opts.archive, item)
                tmp = path.with_name(path.name + ".part")
                _write_archive(conn, item, tmp, on_rows)
            else:
                row = conn.execute(sql.SQL("SELECT count(*) FROM ONLY {}").format(part)).fetchone()
                item.rows, item.rows_exact = (int(row[0]) if row else 0), True
            guard.lock_exclusive(conn)
            conn.execute(_PARTITIONS_LOCK)
            conn.execute(guard.load_sql("retire"), {
                "table": item.table, "range_start": item.range_start, "range_end": item.range_end,
                "partition": item.partition, "rows": item.rows, "sha256": item.sha256,
                "archive_path": str(path) if path else None, "archive_bytes": item.archive_bytes})
            conn.execute(sql.SQL("DROP TABLE {}").format(part))
            if path is not None and tmp is not None:
                os.replace(tmp, path)  # durable before COMMIT: a committed drop always has its archive
                _fsync_dir(path.parent)
    except psycopg.errors.LockNotAvailable:
        raise RetentionError(f"{item.partition} is busy (a long transaction holds it); nothing was dropped. "
                             f"Run retention again, or raise the wait") from None
    except psycopg.errors.DeadlockDetected:
        raise RetentionError(f"a concurrent load wrote into {item.partition} while it was being retired; "
                             f"nothing was dropped. Run retention again") from None
    except OSError as exc:
        raise RetentionError(f"cannot write the archive of {item.partition} ({exc}); nothing was dropped") from None


def _write_archive(conn: psycopg.Connection[Any], item: Retired, tmp: Path,
                   on_rows: Callable[[int], None] | None) -> None:
    key = [r[0] for r in conn.execute(guard.load_sql("key"), {"table": item.table}).fetchall()]
    query = sql.SQL(load_sql("rows")).format(
        partition=sql.Identifier(item.partition), key=sql.SQL(", ").join(map(sql.Identifier, key)))
    tmp.parent.mkdir(parents=True, exist_ok=True)
    digest, rows = hashlib.sha256(), 0
    with open(tmp, "wb") as raw, zstandard.ZstdCompressor(level=6).stream_writer(raw, closefd=False) as out, \
            conn.cursor("obsdb_retention_rows", row_factory=dict_row) as cur:
        cur.itersize = 10_000
        cur.execute(query)
        for row in cur:
            try:
                line = encode(item.table, row) + b"\n"
            except Unarchivable as exc:
                raise RetentionError(f"{item.partition}: row {_key_text(row, key)}: {exc}; nothing was dropped "
                                     f"(retire this partition with --drop if its rows are not needed)") from None
            digest.update(line)
            out.write(line)
            rows += 1
            if on_rows and rows % 10_000 == 0:
                on_rows(10_000)
        out.flush(zstandard.FLUSH_FRAME)
        raw.flush()
        os.fsync(raw.fileno())
    if on_rows:
        on_rows(rows % 10_000)
    item.rows, item.rows_exact, item.sha256 = rows, True, digest.hexdigest()
    item.archive, item.archive_bytes = str(tmp.with_name(tmp.name.removesuffix(".part"))), tmp.stat().st_size


def _key_text(row: dict[str, Any], key: Sequence[str]) -> str:
    return "(" + ", ".join(f"{k}={row.get(k)}" for k in key) + ")"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def release(conn: psycopg.Connection[Any], tables: Sequence[str], *, dry_run: bool) -> list[dict[str, Any]]:
    """``--reload-retired``: the tables' retired ranges become loadable again (rolled back if dry-run)."""
    with conn.transaction(force_rollback=dry_run):
        return guard.release(conn, tables)
