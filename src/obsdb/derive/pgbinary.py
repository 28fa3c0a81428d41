"""PostgreSQL's binary formats read into and written from numpy: arrays without NULLs, and COPY
streams of NOT NULL rows whose fields each have one width (numeric too: a fixed count of digits).

psycopg turns binary values into Python objects one at a time (a day of ticks is 1.2 million of
them, about 0.1 us each, and as many again for numpy to read them back); the columns derive moves
this way are integers, timestamps and booleans that are never NULL, so numpy can view (or lay out)
each whole value at once. Formats: PostgreSQL's documentation of COPY ("Binary Format") and its
array_send(); a timestamptz is int64 microseconds since 2000-01-01 00:00 UTC; numeric_send()/
numeric_recv() in src/backend/utils/adt/numeric.c for numeric (the server strips the leading zero
digits a fixed count leaves).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
_TYPES = {"int4": ">i4", "int8": ">i8", "timestamptz": ">i8", "bool": "?", "float8": ">f8"}
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


def row_type(columns: Sequence[tuple[str, str | np.dtype[Any]]]) -> np.dtype[np.void]:
    """One COPY row's layout: the field count, then each column's length word and value (big-endian).
    A column's type is a name of :data:`_TYPES` or a layout such as :func:`numeric_type`'s."""
    return null_row_type(columns, ())


#: base-10000 digits of an int64: |value| < 10**20
INT64_DIGITS = 5
_NBASE = 10_000
_NUMERIC_NEG = 0x4000


def numeric_type(digits: int) -> np.dtype[np.void]:
    """A numeric value of ``digits`` base-10000 digits, scale 0: the layout numeric_recv() reads."""
    return np.dtype([("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">u2"),
                     ("digits", ">i2", (digits,))])


def numeric_digits(values: np.ndarray) -> int:
    """The digits :func:`numerics` needs for ``values`` (int64, or Python integers of any size)."""
    if values.dtype != np.object_:
        return INT64_DIGITS
    largest = max((abs(v) for v in values.tolist()), default=0)
    return max(1, (len(str(largest)) + 3) // 4)


def numerics(values: np.ndarray, digits: int) -> np.ndarray:
    """Integers (int64, or Python integers in an object array) as numeric values of ``digits`` digits."""
    out = np.zeros(values.size, numeric_type(digits))
    out["ndigits"], out["weight"] = digits, digits - 1
    negative = values < 0
    out["sign"] = np.where(negative, _NUMERIC_NEG, 0)
    magnitude = np.where(negative, -values, values)
    for place in range(digits - 1, -1, -1):  # least significant digit last
        out["digits"][:, place] = (magnitude % _NBASE).astype(np.int64)
        magnitude = magnitude // _NBASE
    return out


#: Rows laid out per piece of a COPY stream: a day's statistics at once were a 43 MB array, its
#: bytes and the stream made of them as much again each, in each of derive's threads.
ROWS_PER_WRITE = 8192


def write_rows(write: Callable[[bytes], Any], columns: Mapping[str, np.ndarray], dtype: np.dtype[np.void]) -> None:
    """A whole binary COPY stream of ``columns`` (every array the same length), laid out as ``dtype``,
    handed to ``write`` a few thousand rows at a time."""
    write_parts(write, [(columns, dtype)])


def write_parts(write: Callable[[bytes], Any],
                parts: Iterable[tuple[Mapping[str, np.ndarray], np.dtype[np.void]]]) -> None:
    """One binary COPY stream of several groups of rows, each with its own layout: ``columns`` not
    in a group's ``dtype`` (see :func:`null_row_type`) are NULL in all of its rows."""
    write(HEADER)
    for columns, dtype in parts:
        size = len(next(iter(columns.values()))) if columns else 0
        present = [name for name in dtype.names or () if not name.startswith("_")]
        lengths = [(f"_{name}_len", dtype[name].itemsize if name in present else -1) for name in columns]
        for start in range(0, size, ROWS_PER_WRITE):
            stop = min(size, start + ROWS_PER_WRITE)
            rows = np.empty(stop - start, dtype)
            rows["_count"] = len(columns)
            for length_field, length in lengths:
                rows[length_field] = length
            for name in present:
                rows[name] = columns[name][start:stop]
            write(rows.tobytes())
    write(TRAILER)


def null_row_type(columns: Sequence[tuple[str, str | np.dtype[Any]]], nulls: Iterable[str]) -> np.dtype[np.void]:
    """:func:`row_type` of a row whose ``nulls`` are NULL: their length word (-1) and no value."""
    null = set(nulls)
    fields: list[tuple[str, Any]] = [("_count", ">i2")]
    for name, pg_type in columns:
        fields.append((f"_{name}_len", ">i4"))
        if name not in null:
            fields.append((name, _TYPES[pg_type] if isinstance(pg_type, str) else pg_type))
    return np.dtype(fields)


def micros(t: datetime) -> int:
    """``t`` as a binary timestamptz: microseconds since PostgreSQL's epoch."""
    return (t - PG_EPOCH) // timedelta(microseconds=1)
