"""Production ticks packed into COPY data as they are decoded (load/packed.py) are the rows the
unpacked parse builds: the same bytes a COPY of those rows sends, the same span, symbols and flags,
the same rows again when a path asks for them; and a packed group gives way to rows on any change."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import Copy
from psycopg.copy import FileWriter

from obsdb.formats.production import DENSE_COLUMNS
from obsdb.load import packed, parse
from obsdb.load.reader import Batch
from obsdb.load.writer import Writer
from tests.test_formats_production import BASE, encode, records


@pytest.fixture
def writer(db: str) -> Iterator[Writer]:
    with psycopg.connect(db, autocommit=True) as conn:
        yield Writer(conn, None)


def _batch(lines: list[bytes]) -> Batch:
    return Batch(lines, 1, 0, sum(len(x) + 1 for x in lines), "x")


def _copy_bytes(writer: Writer, rows: list[tuple[Any, ...]]) -> bytes:
    """What a COPY of ``rows`` sends, row by row through psycopg (the unpacked path's encoding)."""
    sink = io.BytesIO()
    with Copy(writer.conn.cursor(), binary=True, writer=FileWriter(sink)) as copy:
        copy.set_types(writer._column_types("scalp_ticks", DENSE_COLUMNS))
        for row in rows:
            copy.write_row(row)
    return sink.getvalue()


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.one_of(records(), st.sampled_from([b"", b"{oops", b"[]"])), min_size=1, max_size=14),
       chunk=st.integers(1, 5))
def test_packed_batch_is_the_unpacked_one(writer: Writer, items: list[Any], chunk: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed, "CHUNK", chunk)  # small chunks: the boundaries fall inside the batch
    lines = [x if isinstance(x, bytes) else encode(x) for x in items]
    plain = parse.parse_batch(_batch(lines), 7)
    fast = parse.parse_batch(_batch(lines), 7, writer.packer())
    dense = plain.groups.group("scalp_ticks", DENSE_COLUMNS)
    group = fast.groups.group("scalp_ticks", DENSE_COLUMNS)
    assert (fast.flagged, fast.skipped) == (plain.flagged, plain.skipped)
    assert [(r.line_no, r.field, r.reason) for r in fast.rejects] == [(r.line_no, r.field, r.reason)
                                                                      for r in plain.rejects]
    assert len(group) == len(dense)
    if not dense.rows:
        assert group.packed is None
        return
    p = group.packed
    assert p is not None
    assert p.payload == _copy_bytes(writer, dense.rows)
    times = [r[DENSE_COLUMNS.index("event_time")] for r in dense.rows]
    assert (p.lo, p.hi, p.symbols) == (min(times), max(times), sorted({r[0] for r in dense.rows}))
    assert (group.rows, group.index) == (dense.rows, dense.index)  # decoded again, on demand
    assert group.packed is p  # asking for the rows keeps the packed form: nothing changed


def test_a_changed_packed_group_is_rows_only(writer: Writer) -> None:
    lines = [orjson.dumps(dict(BASE, symbol=s)) for s in ("005930", "000660", "035420")]
    group = parse.parse_batch(_batch(lines), 7, writer.packer()).groups.group("scalp_ticks", DENSE_COLUMNS)
    assert group.packed is not None and len(group) == 3
    group.keep([0, 2])  # as the retention guard does with a retired range
    assert group.packed is None
    assert [r[0] for r in group.rows] == ["005930", "035420"] and group.index == [0, 2]
