"""PostgreSQL's binary formats read into and written from numpy: arrays without NULLs, and COPY
streams of fixed-width NOT NULL rows.

psycopg turns binary values into Python objects one at a time (a day of ticks is 1.2 million of
them, about 0.1 us each, and as many again for numpy to read them back); the columns derive moves
this way are integers, timestamps and booleans that are never NULL, so numpy can view (or lay out)
each whole value at once. Formats: PostgreSQL's documentation of COPY ("Binary Format") and its
array_send(); a timestamptz is int64 microseconds since 2000-01-01 00:00 UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format

#: COPY: signature, flags (no OIDs), header extension length (none)
HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"  # a field count of -1
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_TYPES = {"int4": ">i4", "int8": ">i8", "timestamptz": ">i8", "bool": "?"}
#: the array types :func:`raw_arrays` leaves as bytes, by OID (int4[], int8[], timestamptz[])
_ARRAY_OIDS = {1007: "int4", 1016: "int8", 1185: "timestamptz"}


class _Raw(Loader):
    """A binary value as the server sent it, for numpy to read."""

    format = Format.BINARY

    def load(self, data: Any) -> bytes:
        return bytes(data)


def raw_arrays(cur: psycopg.Cursor[Any]) -> None:
    """Make ``cur`` (a binary cursor) answer int4[], int8[] and timestamptz[] values as raw bytes."""
    for oid in _ARRAY_OIDS:
        cur.adapters.register_loader(oid, _Raw)


def read_array(raw: bytes | None, pg_type: str) -> np.ndarray:
    """A one-dimensional array without NULLs, from its binary form (None, SQL NULL: empty), as int64."""
    if raw is None:
        return np.empty(0, np.int64)
    ndim, has_nulls = int.from_bytes(raw[0:4], "big"), int.from_bytes(raw[4:8], "big")
    if ndim == 0:
        return np.empty(0, np.int64)
    if ndim != 1 or has_nulls:
        raise ValueError("expected a one-dimensional array without NULLs")
    element = np.dtype([("len", ">i4"), ("value", _TYPES[pg_type])])
    cells = np.frombuffer(raw, element, offset=20)  # ndim, flags, element OID, length, lower bound
    return cells["value"].astype(np.int64)


def row_type(columns: Sequence[tuple[str, str]]) -> np.dtype[np.void]:
    """One COPY row's layout: the field count, then each column's length word and value (big-endian)."""
    fields: list[tuple[str, str]] = [("_count", ">i2")]
    for name, pg_type in columns:
        fields += [(f"_{name}_len", ">i4"), (name, _TYPES[pg_type])]
    return np.dtype(fields)


def write_rows(columns: Mapping[str, np.ndarray], dtype: np.dtype[np.void]) -> bytes:
    """A whole binary COPY stream of ``columns`` (every array the same length), laid out as ``dtype``."""
    size = len(next(iter(columns.values()))) if columns else 0
    rows = np.empty(size, dtype)
    rows["_count"] = len(columns)
    for name, values in columns.items():
        rows[f"_{name}_len"] = dtype[name].itemsize
        rows[name] = values
    return HEADER + rows.tobytes() + TRAILER


def micros(t: datetime) -> int:
    """``t`` as a binary timestamptz: microseconds since PostgreSQL's epoch."""
    return (t - PG_EPOCH) // timedelta(microseconds=1)
