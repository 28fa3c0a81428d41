"""The production fast path (msgspec) accepts exactly what the model accepts, with the same rows.

The reference is the general path: orjson, recognition by content, ``nested_tick_general`` and the
``ScalpTick`` model. For any line, either the fast path declines it (and the general path then
decides, with its own reason), or both accept it and build the same row. Whole batches are
compared too: the parse result (rows, rejects with their reasons, skips, flags) with the fast path
is the one without it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from obsdb.formats import production
from obsdb.formats.common import FieldError
from obsdb.formats.production import DENSE_COLUMNS, decode_batch
from obsdb.formats.recognize import recognize
from obsdb.formats.ticks import expand
from obsdb.load import parse
from obsdb.load.reader import Batch
from obsdb.load.validate import validate_rows
from obsdb.models import ScalpTick

KST = timezone(timedelta(hours=9))
INT64_MAX = 2**63 - 1
BASE: dict[str, Any] = {
    "timestamp": "2026-01-30T10:00:00.250000+09:00", "symbol": "005930", "execution_time": "100000",
    "price": {"current": 100, "open": 90, "high": 110, "low": 80, "change_rate": 1.5},
    "volume": {"accumulated": 10, "trade_value": 1000}, "bid_ask": {"ask_price": 101, "bid_price": 100},
    "source": "websocket", "session_id": "s",
}
edge = st.one_of(st.integers(-5, 5), st.just(INT64_MAX), st.just(INT64_MAX + 1), st.just(2**64), st.just(10**30),
                 st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=4), st.just("1"),
                 st.just([]), st.just({}), st.just(1.0), st.just(1e300), st.just("a\x00b"), st.just(""),
                 st.just("250000"), st.just("１２３４５６"), st.just("2026-01-30T01:00:00Z"), st.just("x+09:00"),
                 st.just("2026-01-30T10:00:00"), st.just("2026-13-01T10:00:00+09:00"))
PATHS = [(k,) for k in BASE] + [(k, sub) for k in ("price", "volume", "bid_ask") for sub in BASE[k]]


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid production record, then up to two mutations: a value, a missing or an extra key."""
    when = draw(st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2026, 2, 10))).replace(tzinfo=KST)
    low, high = sorted((draw(st.integers(0, 2_000_000)), draw(st.integers(0, 2_000_000))))
    current = draw(st.integers(low, high))
    rec: dict[str, Any] = {
        "timestamp": when.isoformat(),
        "symbol": draw(st.one_of(st.sampled_from(["005930", "0004V0", "001", "ABCDEFG"]),
                                 st.text(min_size=1, max_size=7))),
        "execution_time": draw(st.one_of(st.none(), st.just(when.strftime("%H%M%S")))),
        "price": {"current": draw(st.one_of(st.just(current), st.integers(0, 2_000_000))),
                  "open": draw(st.one_of(st.none(), st.integers(0, 2_000_000))), "high": high, "low": low,
                  "change_rate": draw(st.one_of(st.none(), st.floats(-40, 40, allow_nan=False), st.integers(-40, 40)))},
        "volume": {"accumulated": draw(st.one_of(st.none(), st.integers(0, 10**12))),
                   "trade_value": draw(st.one_of(st.none(), st.integers(0, 10**15)))},
        "bid_ask": {"ask_price": draw(st.one_of(st.none(), st.integers(0, 2_000_000))),
                    "bid_price": draw(st.one_of(st.none(), st.integers(0, 2_000_000)))},
        "source": draw(st.one_of(st.just("websocket"), st.none(), st.text(max_size=3))),
        "session_id": draw(st.one_of(st.text(max_size=8), st.none())),
    }
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(PATHS))
        parent = rec if len(path) == 1 else rec.get(path[0])
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["value", "value", "value", "drop", "add"]))
        if action == "value":
            parent[path[-1]] = draw(edge)
        elif action == "drop":
            parent.pop(path[-1], None)
        else:
            parent[draw(st.sampled_from(["extra", "current", "close", "ts", "bid_size"]))] = 1
    return rec


def reference(line: bytes) -> tuple[str, Any]:
    """("row", the table row) or ("reject", why), by the general path alone."""
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return "reject", f"json: {exc}"
    shape = recognize(d) if type(d) is dict else None
    if shape is None or shape.table != "scalp_ticks" or shape.extract is None:
        return "reject", "not a tick"
    try:
        layout, row = shape.extract(d, 7, 9)
    except FieldError as exc:
        return "reject", exc.reason
    errors = validate_rows(ScalpTick, [row], columns=layout)
    if errors:
        return "reject", errors[0].message
    return "row", expand(row, layout, ScalpTick.columns())


def encode(rec: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(rec)
    except TypeError:  # an int beyond 64 bits: spell it by hand, as another writer might
        return repr(rec).replace("'", '"').replace("None", "null").replace("True", "true").replace(
            "False", "false").encode()


@settings(max_examples=700)
@given(records())
@example(BASE)
@example(dict(BASE, price=dict(BASE["price"], change_rate=1e300)))
@example(dict(BASE, execution_time="250000"))
@example(dict(BASE, volume={"accumulated": INT64_MAX + 1, "trade_value": 1}))
@example(dict(BASE, session_id="a\x00b"))
@example(dict(BASE, timestamp="2026-01-30T10:00:00+08:00+09:00"))  # an offset before the offset
@example(dict(BASE, timestamp="2026-01-30 10:00:00,250000+09:00"))
@example(dict(BASE, timestamp="1999-12-31T23:59:59.999999+09:00", execution_time="235959"))
@example(dict(BASE, timestamp="2026-01-30T10:00:00.5+09:00"))
@example(dict(BASE, execution_time="\u0661\u0660\u0660\u0660\u0660\u0660"))  # Arabic-Indic digits
@example(dict(BASE, execution_time="240000"))
@example(dict(BASE, execution_time="096000"))
@example(dict(BASE, timestamp="2026-02-01T18:00:00+09:00", execution_time="180000"))  # a Sunday
def test_fast_path_accepts_exactly_what_the_model_accepts(rec: dict[str, Any]) -> None:
    line = encode(rec)
    fast = decode_batch([line], 7, 9)[0]
    kind, expected = reference(line)
    if fast is not None:
        assert kind == "row", f"fast path took a line the model refuses ({expected})"
        assert as_stored(expand(fast, DENSE_COLUMNS, ScalpTick.columns())) == as_stored(expected)


_RATE = ScalpTick.columns().index("change_rate")


def as_stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """change_rate is float8: an integer rate is stored as float(rate) whichever path built the row."""
    rate = row[_RATE]
    return row if rate is None else (*row[:_RATE], float(rate), *row[_RATE + 1:])


def test_fast_path_takes_the_production_tick() -> None:
    assert decode_batch([orjson.dumps(BASE)], None, 1)[0] is not None


@pytest.mark.parametrize("line", [
    b'{"timestamp":"2026-01-30T10:00:00+09:00"}', b"", b"   ", b"not json", b"[1]",
    orjson.dumps(dict(BASE, symbol="\u00e9\u0000")), orjson.dumps(BASE).replace(b'"s"', b'"\\u0073"'),
])
def test_fast_path_declines_what_is_not_exactly_production(line: bytes) -> None:
    assert decode_batch([line], None, 1) == [None]


def _parse(lines: list[bytes]) -> dict[str, Any]:
    parsed = parse.parse_batch(Batch(lines, 1, 0, sum(len(x) + 1 for x in lines), "x"), 7)
    groups = {}
    for g in parsed.groups:
        for row, i in zip(g.rows, g.index, strict=True):
            plain = tuple(v.obj if isinstance(v, Jsonb) else v for v in row)  # Jsonb wraps compare by identity
            groups[i] = as_stored(expand(plain, g.columns, ScalpTick.columns()))
    return {"rows": groups, "rejects": [(r.line_no, r.field, r.reason) for r in parsed.rejects],
            "skipped": dict(parsed.skipped), "flagged": dict(parsed.flagged)}


@settings(max_examples=150)
@given(st.lists(records(), min_size=1, max_size=12), st.lists(st.sampled_from([b"", b"{oops", b"[]"]), max_size=2))
def test_batches_parse_the_same_with_and_without_the_fast_path(recs: list[dict[str, Any]], junk: list[bytes]) -> None:
    lines = [encode(r) for r in recs] + junk
    with_fast = _parse(lines)
    original = production.decode_batch
    parse.decode_batch = lambda lines, file_id, first: [None] * len(lines)  # type: ignore[assignment]
    try:
        without = _parse(lines)
    finally:
        parse.decode_batch = original
    assert with_fast == without
