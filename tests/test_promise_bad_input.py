"""Bad input never crashes a load and never hides: every line ends as exactly one of loaded, duplicate,
rejected or skipped; a file that cannot be read is a per-file error; the other files still load."""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsdb import api
from obsdb.sample import write_sample_archive
from tests.helpers import obsdb_env, query, run_obsdb, settings_for

pytestmark = pytest.mark.db

IS_ROOT = os.geteuid() == 0


def tick(n: int, symbol: str = "005930") -> dict[str, object]:
    t = datetime(2026, 2, 3, 9, 30, tzinfo=timezone(timedelta(hours=9))) + timedelta(seconds=n)
    return {"timestamp": t.isoformat(), "symbol": symbol, "execution_time": t.strftime("%H%M%S"),
            "price": {"current": 70000 + n % 50, "open": 69000, "high": 71000, "low": 68000, "change_rate": 0.5},
            "volume": {"accumulated": 1000 + n, "trade_value": 70_000_000 + n},
            "bid_ask": {"ask_price": 70100, "bid_price": 70000}, "source": "websocket", "session_id": "s"}


def jsonl(records: list[dict[str, object]], end: bytes = b"\n") -> bytes:
    return b"".join(json.dumps(r).encode() + end for r in records)


# --- (a) mutated lines, property-based -----------------------------------------------------------------

@pytest.fixture(scope="module")
def base_lines() -> list[dict[str, Any]]:
    """Valid records of every shape: the first lines of each plain file of the sample archive."""
    with tempfile.TemporaryDirectory() as tmp:
        write_sample_archive(Path(tmp))
        out: list[dict[str, Any]] = []
        for path in sorted(Path(tmp).rglob("*.jsonl")):
            for raw in path.read_bytes().splitlines()[:3]:
                try:
                    record = json.loads(raw.decode("utf-8-sig"))
                except ValueError:
                    continue
                if isinstance(record, dict):
                    out.append(record)
    assert len(out) > 30
    return out


SENTINEL = "\u2603obsdb-raw\u2603"
RAW_LITERALS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "-0",
                "123456789012345678901234567890", "-9223372036854775809", "9223372036854775808",
                "18446744073709551616", "0.1e1", "1E400", "nan", "undefined", "'x'", "0x10", "01"]
TIMESTAMPS = st.one_of(
    st.sampled_from(["2026-01-30T10:00:00", "2026-01-30 10:00:00", "garbage", "", "2026-13-45T99:99:99+09:00",
                     "2026-02-30T10:00:00+09:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                     "2026-01-30T10:00:00+25:00", "1700000000", "2026-01-30T10:00:00Z[Asia/Seoul]",
                     "1970-01-01T09:00:00+09:00", "2199-06-01T00:00:00+09:00"]),  # valid, far from the rest
    st.datetimes(timezones=st.none() | st.integers(-14 * 60, 14 * 60).map(
        lambda m: timezone(timedelta(minutes=m)))).map(datetime.isoformat),
)
# every code point: control characters and lone surrogates too
TEXT = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["\x00", "\u0000abc", "\ud800", "\udfff", "\r\n", "\u2028", "\ufeff", "\U0001f4a9" * 3, "\x7f\x1b[2J"])
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    TEXT, TIMESTAMPS, st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
MUTATION = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 999), VALUES),  # a wrong type, a null, a bad timestamp...
    st.tuples(st.just("drop"), st.integers(0, 999), st.none()),
    st.tuples(st.just("literal"), st.integers(0, 999), st.sampled_from(RAW_LITERALS)),  # NaN, Infinity, huge
    st.tuples(st.just("dup_key"), st.integers(0, 999), VALUES),
    st.tuples(st.just("deep"), st.integers(0, 999), st.integers(1, 3000)),
    st.tuples(st.just("truncate"), st.integers(0, 999), st.none()),
    st.tuples(st.just("splice"), st.integers(0, 999), st.binary(min_size=1, max_size=6)),  # raw bytes, \n too
)
LINE = st.tuples(st.integers(0, 999), st.lists(MUTATION, max_size=3), st.booleans())


def _leaves(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for k, v in d.items():
        paths.append((*prefix, k))
        if isinstance(v, dict):
            paths += _leaves(v, (*prefix, k))
    return paths


def _set(d: dict[str, Any], path: tuple[str, ...], value: object, drop: bool = False) -> None:
    for k in path[:-1]:
        d = d[k]
    if drop:
        d.pop(path[-1], None)
    else:
        d[path[-1]] = value


def mutate(record: dict[str, Any], mutations: list[tuple[str, int, Any]], ascii_only: bool) -> bytes:
    """One mutated line (it may hold a raw newline, i.e. become several lines)."""
    d = json.loads(json.dumps(record))
    raws: list[str] = []
    byte_ops: list[tuple[str, int, Any]] = []
    for kind, at, arg in mutations:
        paths = _leaves(d)
        if kind in ("truncate", "splice") or not paths:
            byte_ops.append((kind, at, arg))
            continue
        path = paths[at % len(paths)]
        if kind == "set":
            _set(d, path, arg)
        elif kind == "drop":
            _set(d, path, None, drop=True)
        elif kind in ("literal", "deep"):
            raws.append(arg if kind == "literal" else "[" * arg + "]" * arg)
            _set(d, path, f"{SENTINEL}{len(raws) - 1}")
        elif kind == "dup_key":
            d = {path[0]: arg, **d}  # the same key again below: which one wins must not matter
    text = json.dumps(d, ensure_ascii=ascii_only)
    if any(k == "dup_key" for k, _, _ in mutations) and d:
        first = next(iter(d))
        text = "{" + json.dumps(first) + ": " + json.dumps(d[first]) + ", " + text[1:]
    text = re.sub(rf'"{SENTINEL}(\d+)"', lambda m: raws[int(m.group(1))], text)
    line = text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes invalid UTF-8, as in the wild
    for kind, at, arg in byte_ops:
        cut = at % (len(line) + 1)
        line = line[:cut] if kind == "truncate" else line[:cut] + arg + line[cut:]
    return line


@settings(max_examples=30, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(LINE, min_size=20, max_size=60))
def test_mutated_lines_are_each_accounted_for_exactly_once(db: str, tmp_path: Path, base_lines: list[dict[str, Any]],
                                                           lines: list[tuple[int, list[Any], bool]]) -> None:
    # A unique first line (a skipped slot record): each example is new content to the ledger.
    data = json.dumps({"slot_id": uuid.uuid4().hex}).encode() + b"\n"
    data += b"".join(mutate(base_lines[i % len(base_lines)], m, a) + b"\n" for i, m, a in lines)
    path = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    path.write_bytes(data)
    report = api.migrate([path], settings=settings_for(db))  # must not raise, whatever the lines hold
    (f,) = report.files
    assert f.error is None and f.status == "new", f.to_dict()
    assert f.lines_read == data.count(b"\n") and f.pending_bytes == 0, f.to_dict()
    assert f.balanced, f.to_dict()
    assert report.total("lines_read") == report.total("loaded") + report.total("duplicates") + \
        report.total("rejected") + sum(report.counter("skipped").values())
    # never hides: every rejected line is stored, with its raw bytes
    stored = query(db, "SELECT count(*), coalesce(sum(length(raw_line)), 0) FROM obsdb_rejects WHERE file_id = %s",
                   (f.file_id,))
    assert stored[0][0] == f.rejected
    ledger = query(db, "SELECT loaded_lines, loaded_bytes, rows_loaded + duplicates + rejected "
                       "FROM obsdb_ingest_files WHERE file_id = %s", (f.file_id,))
    assert ledger == [(f.lines_read, len(data), f.loaded + f.duplicates + f.rejected)]


# --- (b) a corpus of bad files, in one run with a good one -----------------------------------------------

@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "corpus"
    ok, broken = root / "readable", root / "broken"
    ok.mkdir(parents=True)
    broken.mkdir()
    (ok / "good.jsonl").write_bytes(jsonl([tick(i) for i in range(5)]))
    (ok / "bad_utf8.jsonl").write_bytes(
        jsonl([tick(10)]) + b'{"symbol": "\xff\xfe005930", "timestamp": "2026-02-03T09:00:00+09:00", "price": 1}\n'
        + jsonl([tick(11)]))
    nul = json.dumps(tick(21)).replace('"005930"', '"0059\\u000030"').encode()  # escaped: text can't hold it
    (ok / "nul.jsonl").write_bytes(jsonl([tick(20)]) + json.dumps(tick(22)).encode().replace(b"005930", b"00\x005930")
                                   + b"\n" + nul + b"\n" + b'{"symbol": "005930",\x00 "x": 1}\n')
    (ok / "huge.jsonl").write_bytes(b'{"blob": "' + b"x" * (20 << 20) + b'"}\n')  # one 20 MB line
    (ok / "empty.jsonl").write_bytes(b"")
    (ok / "bom_crlf.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl([tick(i) for i in range(30, 34)], end=b"\r\n"))
    whole = gzip.compress(jsonl([tick(i, "000660") for i in range(4000)]))
    (broken / "truncated.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (broken / "loop.jsonl").symlink_to("loop.jsonl")  # a symlink to itself: ELOOP
    (broken / "sub").mkdir()
    (broken / "sub" / "up").symlink_to("..")  # a directory loop: walked once, not forever
    (broken / "x.jsonl").mkdir()  # a directory with an archive's name: an error, then walked
    (broken / "x.jsonl" / "inner.jsonl").write_bytes(jsonl([tick(i, "035420") for i in range(3)]))
    locked = broken / "unreadable.jsonl"
    locked.write_bytes(jsonl([tick(i, "000270") for i in range(2)]))
    locked.chmod(0)
    yield root
    locked.chmod(0o644)  # so pytest can clean up


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    files = {Path(f["path"]).name: f for f in report["per_file"]}
    assert len(files) == len(report["per_file"])  # names are unique in the corpus
    return files


def test_a_corpus_of_bad_files_loads_the_rest_and_reports_each(db: str, empty_db: str, corpus: Path) -> None:
    done = run_obsdb("migrate", str(corpus), "--json", env=obsdb_env(db), timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 5, (done.returncode, done.stderr)  # README: a file could not be read at all
    report = json.loads(done.stdout)
    files = _by_name(report)
    assert all(f["lines_read"] == f["loaded"] + f["duplicates"] + f["rejected"] + sum(f["skipped"].values())
               for f in files.values()), files

    def outcome(name: str) -> tuple[object, ...]:
        f = files[name]
        return f["status"], f["lines_read"], f["loaded"], f["rejected"]

    assert outcome("good.jsonl") == ("new", 5, 5, 0)
    assert outcome("bad_utf8.jsonl") == ("new", 3, 2, 1)
    assert outcome("nul.jsonl") == ("new", 4, 1, 3)
    assert outcome("huge.jsonl") == ("new", 1, 0, 1)
    assert outcome("empty.jsonl")[1:] == (0, 0, 0) and files["empty.jsonl"]["error"] is None
    assert outcome("bom_crlf.jsonl") == ("new", 4, 4, 0)
    assert outcome("inner.jsonl") == ("new", 3, 3, 0)
    assert files["truncated.jsonl.gz"]["status"] == "error"
    assert "cannot decompress" in files["truncated.jsonl.gz"]["error"]
    assert files["loop.jsonl"]["status"] == "error" and "symbolic links" in files["loop.jsonl"]["error"]
    assert files["x.jsonl"]["status"] == "error" and "directory" in files["x.jsonl"]["error"]
    if IS_ROOT:  # root reads a 0000 file: it is simply loaded
        assert outcome("unreadable.jsonl") == ("new", 2, 2, 0)
    else:
        assert files["unreadable.jsonl"]["status"] == "error"
        assert "Permission denied" in files["unreadable.jsonl"]["error"]
    assert report["files_with_errors"] == len([f for f in files.values() if f["status"] == "error"]) >= 3

    reasons = dict(query(db, "SELECT p || ':' || line_no, reason FROM "
                             "(SELECT regexp_replace(path, '.*/', '') AS p, line_no, reason FROM obsdb_rejects) r"))
    assert len(reasons) == report["rejected"] == 5
    assert "invalid UTF-8" in str(reasons["bad_utf8.jsonl:2"])
    assert "64 MiB" not in str(reasons["huge.jsonl:1"]) and "unrecognised record shape" in str(reasons["huge.jsonl:1"])
    huge = query(db, "SELECT length(raw_line) FROM obsdb_rejects WHERE path LIKE '%%/huge.jsonl'")
    assert huge == [((20 << 20) + 12,)]  # the raw line, whole
    symbols = dict(query(db, "SELECT symbol, count(*) FROM scalp_ticks GROUP BY 1"))
    assert symbols["005930"] == 5 + 2 + 1 + 4 and symbols["035420"] == 3
    assert symbols.get("000660", 0) == files["truncated.jsonl.gz"]["loaded"]  # what it says it kept, it kept

    # --strict: exit 1 when anything was rejected (and nothing was unreadable)
    strict = run_obsdb("migrate", str(corpus / "readable"), "--strict", "--json", env=obsdb_env(empty_db),
                       timeout=120)
    assert strict.returncode == 1, (strict.returncode, strict.stderr)
    assert "Traceback" not in strict.stderr and json.loads(strict.stdout)["rejected"] == 5


def test_stray_timestamps_cost_only_their_own_month_and_day(db: str, tmp_path: Path) -> None:
    """Ticks decades away from the rest of their batch: a partition and a derive mark for the months and
    days that hold rows, not for every month and day in between (which ran out of locks, or hung)."""
    stray = [dict(tick(100, "000660"), timestamp="1970-01-01T09:00:00+09:00"),
             dict(tick(101, "035420"), timestamp="9999-12-30T12:00:00+09:00")]
    path = tmp_path / "stray.jsonl"
    path.write_bytes(jsonl([tick(1), *stray, tick(2)]))
    parts = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'scalp_ticks'::regclass"
    before = query(db, parts)[0][0]
    done = run_obsdb("migrate", str(path), "--json", "--no-derive", env=obsdb_env(db), timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert json.loads(done.stdout)["loaded"] == 4
    assert query(db, parts)[0][0] - before == 3  # type: ignore[operator]  # 1970-01, 2026-02, 9999-12
    marks = query(db, "SELECT symbol, kst_date::text FROM obsdb_derive_dirty ORDER BY 1")
    assert marks == [("000660", "1970-01-01"), ("005930", "2026-02-03"), ("035420", "9999-12-30")]
    derived = run_obsdb("derive", "--json", env=obsdb_env(db), timeout=60)  # far dates: no crash either
    assert derived.returncode == 0 and "Traceback" not in derived.stderr, derived.stderr
