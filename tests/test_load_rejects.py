"""Every kind of bad line becomes a reject naming its field, stored with the raw line; nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsdb import api
from tests.helpers import query, settings_for, write_lines
from tests.test_load_once import tick

pytestmark = [pytest.mark.db, pytest.mark.engines]

NAIVE = dict(tick(1), timestamp="2026-01-30T10:00:01.5")
WRONG_TYPE = dict(tick(2), price={"current": "abc", "open": 1, "high": 2, "low": 1})
FLOAT_PRICE = dict(tick(3), price={"current": 70000.5, "open": 1, "high": 80000, "low": 1})
NEGATIVE = dict(tick(4), volume={"accumulated": -5})
MISSING = {k: v for k, v in tick(5).items() if k != "symbol"}
NOT_NESTED = dict(tick(6), price=[1, 2])
BAD_BAR = {"symbol": "005930", "bar_time": "2026-01-28T00:00:00Z", "open": 100, "high": 90, "low": 80,
           "close": 85, "coverage_ratio": 0.5}
UNKNOWN = {"hello": "world"}
CASES: list[tuple[bytes | dict[str, object], str | None, str]] = [
    (b'{"timestamp": "2026-01-30T10:00:00+09:00", "symbol": ', None, "invalid JSON"),
    (b"[1, 2, 3]", None, "expected a JSON object, got list"),
    (b'{"symbol": "\xff\xfe"}', None, "invalid UTF-8"),
    (NAIVE, "timestamp", "no time-zone offset"),
    (WRONG_TYPE, "price.current", "valid integer"),
    (FLOAT_PRICE, "price.current", "valid integer"),
    (NEGATIVE, "volume.accumulated", "greater than or equal to 0"),
    (MISSING, "symbol", "missing required field"),
    (NOT_NESTED, "price", "valid integer"),  # read as the minimal shape D, whose price is a number
    (BAD_BAR, None, "low <= open, close <= high"),
    (UNKNOWN, None, "unrecognised record shape (keys: hello)"),
]


@pytest.mark.parametrize(("line", "field", "reason"), CASES, ids=[c[2][:24] for c in CASES])
def test_each_kind_of_reject_names_its_field(db: str, tmp_path: Path, line: bytes | dict[str, object],
                                             field: str | None, reason: str) -> None:
    path = write_lines(tmp_path / "t.jsonl", tick(10), line, tick(11))
    report = api.migrate([path], settings=settings_for(db))
    f = report.files[0]
    assert (f.lines_read, f.loaded, f.rejected) == (3, 2, 1)
    ((line_no, got_field, got_reason, raw, offset),) = query(
        db, "SELECT line_no, field, reason, raw_line, byte_offset FROM obsdb_rejects")
    assert line_no == 2
    assert got_field == field
    assert reason in str(got_reason)
    content = path.read_bytes()
    first_end = content.index(b"\n") + 1
    assert offset == first_end
    assert bytes(raw) == content[first_end:content.index(b"\n", first_end)]  # type: ignore[arg-type]


def test_server_refusal_becomes_a_reject_and_the_rest_loads(db: str, tmp_path: Path) -> None:
    # A foreign key the client cannot check: the weight names a policy that does not exist.
    policy = {"policy_id": "core", "name": "Core", "valid_from": "2026-01-01T00:00:00+09:00"}
    ok = {"policy_id": "core", "symbol": "005930", "as_of": "2026-02-02T09:00:00+09:00", "weight": 0.25}
    orphan = {"policy_id": "nope", "symbol": "000660", "as_of": "2026-02-02T09:00:00+09:00", "weight": 0.5}
    path = write_lines(tmp_path / "w.jsonl", policy, ok, orphan)
    report = api.migrate([path], settings=settings_for(db))
    f = report.files[0]
    assert (f.lines_read, f.loaded, f.rejected, f.duplicates) == (3, 2, 1, 0)
    assert query(db, "SELECT symbol FROM target_weights") == [("005930",)]
    ((line_no, field, reason),) = query(db, "SELECT line_no, field, reason FROM obsdb_rejects")
    assert line_no == 3 and "refused by PostgreSQL" in str(reason) and field


def test_rejects_are_listed(db: str, tmp_path: Path) -> None:
    write_lines(tmp_path / "t.jsonl", NAIVE, tick(9))
    api.migrate([tmp_path], settings=settings_for(db))
    items = api.rejects(settings=settings_for(db))
    assert [(r.line_no, r.field) for r in items] == [(1, "timestamp")]
    assert items[0].to_dict()["raw_line"].startswith('{"timestamp":"2026-01-30T10:00:01.5"')
