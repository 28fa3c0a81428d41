"""Production ticks packed into COPY data as they are decoded (load/packed.py) are the rows the
unpacked parse builds: the same bytes a COPY of those rows sends, the same span, symbols and flags,
the same rows again when a path asks for them; and a packed group gives way to rows on any change."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import Copy, sql
from psycopg.copy import FileWriter

from obsdb import api
from obsdb.formats.production import DENSE_COLUMNS, decode_batch
from obsdb.load import packed, parse
from obsdb.load.reader import Batch
from obsdb.load.writer import Writer
from obsdb.retention import Options
from tests.helpers import query, settings_for, write_lines
from tests.test_formats_production import BASE, encode, records
from tests.test_retention import keep_until


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


def _tick(day: str, symbol: str, second: int) -> bytes:
    return orjson.dumps(dict(BASE, symbol=symbol, timestamp=f"{day}T10:00:{second:02d}.250000+09:00",
                             execution_time=f"1000{second:02d}"))


def test_packed_rows_take_the_paths_that_need_rows(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Months apart (partitions and marks day by day), then the same ticks again with one new (the
    staged, deduplicating path): what lands is what the lines say, counted as such, and whole (the
    row-by-row retry would hide a batch that failed)."""

    def refused(*args: object) -> None:
        raise AssertionError("the batch was refused and retried row by row")
    monkeypatch.setattr(Writer, "_row_by_row", refused)
    packed_batches = []

    def pack(*args: Any) -> Any:  # the loader packs its production ticks: seen, not assumed
        result = packed.pack_production(*args)
        packed_batches.append(result[0])
        return result
    monkeypatch.setattr(parse, "pack_production", pack)
    days = ("2026-01-30", "2026-02-02", "2026-04-01")
    lines = [_tick(d, s, k) for d in days for k, s in enumerate(("005930", "000660"))]
    write_lines(tmp_path / "a.jsonl", *lines)
    first = api.migrate([tmp_path / "a.jsonl"], settings=settings_for(db), derive_after=False).to_dict()
    assert (first["rows_loaded"], first["duplicates"]) == (6, 0)
    assert query(db, "SELECT DISTINCT kst_date FROM obsdb_derive_dirty ORDER BY 1") == [
        (date.fromisoformat(d),) for d in days]
    write_lines(tmp_path / "b.jsonl", _tick("2026-02-02", "035420", 5), *lines)
    again = api.migrate([tmp_path / "b.jsonl"], settings=settings_for(db), derive_after=False).to_dict()
    assert (again["rows_loaded"], again["duplicates"]) == (1, 6)
    assert [p.count for p in packed_batches if p is not None] == [6, 7]
    stored = query(db, sql.SQL("SELECT {} FROM scalp_ticks ORDER BY event_time, symbol").format(
        sql.SQL(", ").join(map(sql.Identifier, DENSE_COLUMNS[:-2]))))
    expected = sorted((r[:-2] for r in decode_batch([_tick("2026-02-02", "035420", 5), *lines], None, 1)
                       if r is not None), key=lambda r: (r[1], r[0]))
    assert stored == expected
    # A retired month (`obsdb retention`): its ticks are left out of a packed batch, the rest load.
    api.retention(Options(keep_until(date(2026, 2, 15)), drop=True), settings=settings_for(db))
    write_lines(tmp_path / "c.jsonl", _tick("2026-01-30", "035720", 7), _tick("2026-02-02", "035720", 7))
    late = api.migrate([tmp_path / "c.jsonl"], settings=settings_for(db), derive_after=False).to_dict()
    assert (late["rows_loaded"], late["skipped_by_type"].get("retired")) == (1, 1)
    assert query(db, "SELECT event_time::date FROM scalp_ticks WHERE symbol = '035720'") == [(date(2026, 2, 2),)]
