"""What the loader asks before it writes rows of a table `obsdb retention` may have retired.

Retired ranges live in ``obsdb_retired`` (migration 009). A range that is not released must not
be loaded again, or a later ``migrate`` of an old archive would quietly bring back days the user
retired; ``migrate --reload-retired`` releases them first (:func:`release`).

The protocol, in each loader transaction that writes a retirable table (see docs/retention.md):
``lock_shared(conn)``, then ``retired_ranges(conn, table)``, then :func:`split` the batch's times.
Retention takes the same lock exclusively for its short final step (recording the range and
dropping the partition), so a batch is either wholly before a retirement or sees it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from typing import Any, LiteralString

import psycopg

#: Tables whose partitions retention may retire.
RETIRABLE = ("scalp_ticks", "swing_snapshots", "scalp_1m_bars", "analysis_rolling_stats")
#: pg_advisory_xact_lock key shared by loaders (shared mode) and retention (exclusive mode).
RETIRE_LOCK_KEY = 0x6F62_7265  # "obre"
#: A retired range: start (None: from the beginning of time) inclusive, end exclusive.
Range = tuple[datetime | None, datetime]


def load_sql(name: str) -> LiteralString:
    """The text of ``obsdb/retention/sql/<name>.sql`` (our own package file, not input)."""
    text = resources.files("obsdb.retention").joinpath(f"sql/{name}.sql").read_text(encoding="utf-8")
    return text  # our own package file, not input


def lock_shared(conn: psycopg.Connection[Any]) -> None:
    """Hold off a retirement until this transaction ends (cheap: shared holders never wait on each other)."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (RETIRE_LOCK_KEY,))


def lock_exclusive(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (RETIRE_LOCK_KEY,))


def retired_ranges(conn: psycopg.Connection[Any], table: str) -> list[Range]:
    """The unreleased retired ranges of ``table``, sorted by start."""
    return [(r[0], r[1]) for r in conn.execute(load_sql("retired"), {"table": table}).fetchall()]


def split(times: Sequence[datetime], ranges: Sequence[Range]) -> list[bool]:
    """For each time, True when it falls in a retired range (the row must not be loaded).

    Pure: the loader calls it on a batch's time column with the ranges of :func:`retired_ranges`.
    Ranges never overlap (they are partitions' bounds), so one binary search per time suffices.
    """
    if not ranges:
        return [False] * len(times)
    ranges = sorted(ranges, key=lambda r: (r[0] is not None, r[0] or r[1]))  # the open-ended one first
    starts = [r[0] for r in ranges]
    first_open = starts[0] is None
    keyed = [s for s in starts if s is not None]
    out = []
    for t in times:
        if first_open and t < ranges[0][1]:
            out.append(True)
            continue
        i = bisect_right(keyed, t) - 1
        if i < 0:
            out.append(False)
            continue
        start, end = ranges[i + 1] if first_open else ranges[i]
        out.append(start is not None and start <= t < end)
    return out


def release(conn: psycopg.Connection[Any], tables: Sequence[str]) -> list[dict[str, Any]]:
    """Mark the tables' retired ranges as loadable again (``--reload-retired``); returns them."""
    cur = conn.execute(load_sql("release"), {"tables": list(tables)})
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
