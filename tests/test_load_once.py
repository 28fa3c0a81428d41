"""Exactly once: re-runs, appends, unterminated lines, copies, compressed copies, edits in the middle."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import orjson
import psycopg
import pytest
import zstandard

from obsdb import api
from obsdb.load.digest import digest_of
from obsdb.load.report import RunReport
from tests.helpers import query, settings_for, write_lines

pytestmark = [pytest.mark.db, pytest.mark.engines]


def tick(second: int, symbol: str = "005930", price: int = 70000) -> dict[str, object]:
    return {"timestamp": f"2026-01-30T10:00:{second:02d}.250000+09:00", "symbol": symbol,
            "execution_time": f"1000{second:02d}",
            "price": {"current": price, "open": 69000, "high": 71000, "low": 68000, "change_rate": 0.5},
            "volume": {"accumulated": 1000 + second, "trade_value": 70000000 + second},
            "bid_ask": {"ask_price": price + 100, "bid_price": price}, "source": "websocket", "session_id": "s"}


def line(second: int, **kw: object) -> bytes:
    return orjson.dumps(tick(second, **kw)) + b"\n"  # type: ignore[arg-type]


def migrate(db: str, *paths: Path) -> RunReport:
    report = api.migrate(list(paths), settings=settings_for(db))
    assert all(f.balanced for f in report.files), [f.to_dict() for f in report.files]
    return report


def count(db: str) -> int:
    return int(query(db, "SELECT count(*) FROM scalp_ticks")[0][0])  # type: ignore[call-overload]


def test_second_run_loads_nothing_and_reads_nothing(db: str, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(line(s) for s in range(10)))
    first = migrate(db, path)
    assert (first.files[0].status, first.files[0].loaded) == ("new", 10)
    second = migrate(db, path)
    assert (second.files[0].status, second.files[0].lines_read, second.rows_loaded) == ("unchanged", 0, 0)
    assert count(db) == 10


def test_unchanged_file_is_recognised_even_when_touched(db: str, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(line(s) for s in range(5)))
    migrate(db, path)
    path.touch()  # new mtime, same content: the ledger's prefix hash decides, nothing is parsed
    report = migrate(db, path)
    assert (report.files[0].status, report.files[0].lines_read) == ("unchanged", 0)


def test_appended_file_is_read_from_where_the_last_run_stopped(db: str, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(line(s) for s in range(5)))
    migrate(db, path)
    with path.open("ab") as f:
        f.write(b"".join(line(s) for s in range(5, 8)))
    report = migrate(db, path)
    f0 = report.files[0]
    assert (f0.status, f0.resumed_at_line, f0.lines_read, f0.loaded, f0.duplicates) == ("appended", 6, 3, 3, 0)
    assert count(db) == 8
    assert query(db, "SELECT min(src_line), max(src_line) FROM scalp_ticks") == [(1, 8)]


@pytest.mark.parametrize("digest", ["sha256", "wrong"])
def test_a_ledger_row_from_before_014_is_checked_with_sha256_then_carries_the_new_digest(
        db: str, tmp_path: Path, digest: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(line(s) for s in range(5)))
    migrate(db, path)
    old = hashlib.sha256(path.read_bytes()).hexdigest() if digest == "sha256" else "0" * 64
    with psycopg.connect(db) as conn:  # as a row written before 014 holds it
        conn.execute("UPDATE obsdb_ingest_files SET prefix_digest = %s", (old,))
    with path.open("ab") as f:
        f.write(b"".join(line(s) for s in range(5, 8)))
    f0 = migrate(db, path).files[0]
    if digest == "sha256":  # the prefix is confirmed: resumed, not read again
        assert (f0.status, f0.resumed_at_line, f0.loaded, f0.duplicates) == ("appended", 6, 3, 0)
    else:  # not the prefix it was: read from the start, the first five lines are duplicates
        assert (f0.loaded, f0.duplicates) == (3, 5)
    assert query(db, "SELECT prefix_digest FROM obsdb_ingest_files WHERE loaded_bytes = %s",
                 (path.stat().st_size,)) == [(digest_of(path.read_bytes()),)]
    assert count(db) == 8


def test_unterminated_last_line_waits_until_it_is_complete(db: str, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    whole = line(3)
    path.write_bytes(line(1) + line(2) + whole[:40])
    first = migrate(db, path)
    f0 = first.files[0]
    assert (f0.lines_read, f0.loaded, f0.rejected, f0.pending_bytes) == (2, 2, 0, 40)
    assert query(db, "SELECT count(*) FROM obsdb_rejects") == [(0,)]
    with path.open("ab") as f:
        f.write(whole[40:])
    second = migrate(db, path)
    f1 = second.files[0]
    assert (f1.status, f1.resumed_at_line, f1.lines_read, f1.loaded, f1.pending_bytes) == ("appended", 3, 1, 1, 0)
    assert count(db) == 3


def test_copy_under_another_path_counts_once(db: str, tmp_path: Path) -> None:
    original = write_lines(tmp_path / "config" / "scalp" / "20260130_10.jsonl", *(tick(s) for s in range(6)))
    copy = tmp_path / "data" / "assets" / "scalp" / "20260130_10.jsonl"
    copy.parent.mkdir(parents=True)
    shutil.copy(original, copy)
    report = migrate(db, tmp_path)
    statuses = {Path(f.path).relative_to(tmp_path).parts[0]: (f.status, f.lines_read) for f in report.files}
    assert statuses == {"config": ("new", 6), "data": ("copy", 0)}
    assert count(db) == 6


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_copy_counts_once(db: str, tmp_path: Path, kind: str) -> None:
    plain = write_lines(tmp_path / "a" / "t.jsonl", *(tick(s) for s in range(4)))
    data = plain.read_bytes()
    packed = gzip.compress(data) if kind == "gzip" else zstandard.ZstdCompressor().compress(data)
    # named without a compression suffix on purpose: compression is recognised by content
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "t.jsonl").write_bytes(packed)
    report = migrate(db, tmp_path / "b", tmp_path / "a")
    by_dir = {Path(f.path).parent.name: (f.status, f.compression, f.loaded) for f in report.files}
    assert by_dir == {"a": ("new", "none", 4), "b": ("copy", kind, 0)}  # files load in path order
    assert count(db) == 4


def test_compressed_archive_last_line_without_newline_is_loaded(db: str, tmp_path: Path) -> None:
    # A finished (compressed) archive is not being written to: its last line is complete.
    (tmp_path / "t.jsonl.gz").write_bytes(gzip.compress(line(1) + line(2).rstrip(b"\n")))
    report = migrate(db, tmp_path)
    assert (report.files[0].loaded, report.files[0].pending_bytes) == (2, 0)


def test_edit_in_the_middle_is_detected_and_reread_safely(db: str, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(line(s) for s in range(6)))
    migrate(db, path)
    lines = [line(s) for s in range(6)]
    lines[3] = line(3, price=70500)  # same key, different value: an edit, not an append
    lines.append(line(6))
    path.write_bytes(b"".join(lines))
    report = migrate(db, path)
    f0 = report.files[0]
    assert f0.status == "changed" and f0.note
    assert (f0.resumed_at_line, f0.lines_read, f0.loaded, f0.duplicates) == (1, 7, 1, 6)
    assert count(db) == 7
    # the row already stored is kept (never silently overwritten); both ledger entries remain
    assert query(db, "SELECT last_price FROM scalp_ticks WHERE src_line = 4") == [(70000,)]
    assert query(db, "SELECT count(*) FROM obsdb_ingest_files") == [(2,)]
    assert migrate(db, path).files[0].status == "unchanged"


def test_duplicate_lines_inside_one_file_are_counted(db: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", tick(1), tick(2), tick(1))
    report = migrate(db, path)
    assert (report.files[0].loaded, report.files[0].duplicates) == (2, 1)
    assert count(db) == 2


def test_same_rows_in_a_different_file_are_duplicates(db: str, tmp_path: Path) -> None:
    write_lines(tmp_path / "a.jsonl", tick(1), tick(2), tick(3))
    write_lines(tmp_path / "b.jsonl", tick(0), tick(2), tick(3), tick(4))  # other head, overlapping rows
    report = migrate(db, tmp_path)
    b = next(f for f in report.files if f.path.endswith("b.jsonl"))
    assert (b.loaded, b.duplicates) == (2, 2)
    assert count(db) == 5


def test_ledger_commits_with_the_data(db: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", *(tick(s) for s in range(3)))
    migrate(db, path)
    ((loaded_bytes, loaded_lines, rows),) = query(
        db, "SELECT loaded_bytes, loaded_lines, rows_loaded FROM obsdb_ingest_files")
    assert (loaded_bytes, loaded_lines, rows) == (path.stat().st_size, 3, 3)


def test_sample_archive_every_line_accounted_and_second_run_loads_nothing(db: str, tmp_path: Path) -> None:
    from obsdb.sample import write_sample_archive

    manifest = write_sample_archive(tmp_path / "observer")
    first = migrate(db, tmp_path / "observer")
    d = first.to_dict()
    assert d["files_with_errors"] == 0
    assert d["lines_read"] == d["loaded"] + d["duplicates"] + d["rejected"] + d["skipped"]
    distinct = len(manifest.files) - len(manifest.duplicate_files)
    assert sum(1 for f in first.files if f.status == "new") == distinct
    assert sum(1 for f in first.files if f.status == "copy") == len(manifest.duplicate_files)
    bad = sum(v for k, v in manifest.lines_by_shape.items() if k.startswith("bad_"))
    assert d["rejected"] == bad
    assert d["skipped_by_type"]["blank"] == manifest.lines_by_shape["blank"]
    second = migrate(db, tmp_path / "observer").to_dict()
    assert (second["lines_read"], second["rows_loaded"]) == (0, 0)
