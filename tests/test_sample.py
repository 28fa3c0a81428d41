"""The sample archive is what demos and loader tests stand on: it must be deterministic, its
manifest must tell the truth about the bytes on disk, and it must carry every shape and fault of
the spec. Lines are classified here by their keys, independently of the generator's own tags."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import zstandard

from obsdb.sample import SampleManifest, write_sample_archive

KST = timezone(timedelta(hours=9))
SHAPES = {"A", "B", "B_old", "B_mismapped", "C", "C_z_kst", "D", "E", "F", "F_utc", "F_flat", "F_mock"}
SHAPES |= {"G", "G_doc", "H_slot", "H_overflow", "H_pattern"}
PORTFOLIO = {"P_policy", "P_weight", "P_snapshot", "P_position", "P_plan", "P_order", "P_execution"}
ANALYSIS = {"X_threshold", "X_signal"}
RECORDS = PORTFOLIO | ANALYSIS
SHAPES |= RECORDS
FAULTS = {"bad_json", "bad_naive_time", "bad_missing_field", "bad_type", "blank", "incomplete_tail"}
TIME_KEYS = {"timestamp", "ts", "event_time", "bar_time", "last_update", "detected_at"}
TIME_KEYS |= {"gap_start_ts", "gap_end_ts"}
TIME_KEYS |= {"valid_from", "as_of", "snapshot_time", "created_at", "based_on_snapshot", "executed_at"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return write_sample_archive(tmp_path_factory.mktemp("one") / "data" / "observer")


@pytest.fixture(scope="module")
def lines(archive: SampleManifest) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(shape, line, parsed record or None) for every line of every original JSONL file."""
    known = _known_symbols(archive.root)
    out = []
    for path in _originals(archive):
        text, tail = _split(path)
        for line in text:
            out.append((_classify(line, known), line, _parse(line)))
        if tail:
            out.append(("incomplete_tail", tail, None))
    return out


def _split(path: Path) -> tuple[list[str], str]:
    """Complete lines (BOM and CR removed) and the unfinished last line ("" if none)."""
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    *complete, tail = data.split("\n")
    return [line.removesuffix("\r") for line in complete], tail


def _originals(m: SampleManifest) -> list[Path]:
    copies = {copy for copy, _ in m.duplicate_files}
    return [p for p in m.files if p.name.endswith(".jsonl") and p not in copies]


def _known_symbols(root: Path) -> set[str]:
    return {s for p in root.glob("*/*_kr_stocks.json") for s in json.loads(p.read_text())["symbols"]}


def _parse(line: str) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _aware(value: str) -> bool:
    return datetime.fromisoformat(value).tzinfo is not None


#: obsdb's own records, by a key (or keys) only that record has; checked before the market shapes.
_RECORD_KEYS = [({"execution_id"}, "P_execution"), ({"order_id"}, "P_order"), ({"plan_id"}, "P_plan"),
                ({"valid_from"}, "P_policy"), ({"policy_id", "weight"}, "P_weight"),
                ({"snapshot_time", "quantity"}, "P_position"), ({"snapshot_time"}, "P_snapshot"),
                ({"metric"}, "X_threshold"), ({"signal_type"}, "X_signal")]  # fmt: skip


def _shape(rec: dict[str, Any], known: set[str]) -> str:
    for keys, shape in _RECORD_KEYS:
        if keys <= rec.keys():
            return shape
    for key, shape in [("snapshot", "H_pattern"), ("slot_id", "H_slot"), ("trigger_type", "H_overflow"),
                       ("track_type", "G"), ("gap_start_ts", "G_doc"), ("coverage_ratio", "E"),
                       ("schema_version", "F_flat")]:  # fmt: skip
        if key in rec:
            return shape
    if "ts" in rec:
        return "F_utc" if rec["ts"].endswith("Z") else "F"
    if "event_time" in rec:  # a KST clock written with Z lands outside the session
        return "C" if 9 <= datetime.fromisoformat(rec["event_time"]).astimezone(KST).hour < 16 else "C_z_kst"
    price = rec["price"]
    if not isinstance(price, dict):
        return "F_mock" if "open" in rec else "D"
    if "current" in price:
        return "A"
    if isinstance(rec["volume"], dict):
        return "B_old"
    sane = price["low"] <= price["close"] <= price["high"] and rec["bid_price"] < rec["ask_price"]
    return "B" if sane and rec.get("symbol") in known else "B_mismapped"


def _classify(line: str, known: set[str]) -> str:
    if not line.strip():
        return "blank"
    rec = _parse(line)
    if rec is None:
        return "bad_json"
    shape = _shape(rec, known)
    if shape[0] in "ABCDF":
        when = next(rec[k] for k in ("timestamp", "ts", "event_time", "bar_time") if k in rec)
        price = rec.get("price", rec.get("last_price", rec.get("close")))
        if isinstance(price, dict):
            price = price.get("current", price.get("close"))
        if "symbol" not in rec:
            return "bad_missing_field"
        if not _aware(when):
            return "bad_naive_time"
        if not isinstance(price, int):
            return "bad_type"
    return shape


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_same_seed_same_bytes(archive: SampleManifest, tmp_path: Path) -> None:
    again = write_sample_archive(tmp_path / "data" / "observer")
    assert _hashes(again.root) == _hashes(archive.root)
    assert again.lines_by_shape == archive.lines_by_shape
    other = write_sample_archive(tmp_path / "other", seed=7)
    assert _hashes(other.root) != _hashes(archive.root)


def test_manifest_lists_exactly_the_files_on_disk(archive: SampleManifest) -> None:
    on_disk = sorted(p for p in archive.root.rglob("*") if p.is_file())
    assert list(archive.files) == on_disk
    assert archive.symbol_lists == len([p for p in on_disk if p.suffix == ".json"]) == 4


def test_manifest_counts_match_the_lines_on_disk(archive: SampleManifest, lines: list[Any]) -> None:
    assert Counter(shape for shape, _, _ in lines) == Counter(archive.lines_by_shape)


def test_every_shape_and_fault_is_present(archive: SampleManifest) -> None:
    present = {k for k, n in archive.lines_by_shape.items() if n > 0}
    assert present >= SHAPES | FAULTS
    assert archive.lines_by_shape["incomplete_tail"] == 1
    for fault in FAULTS - {"incomplete_tail"}:
        assert 1 <= archive.lines_by_shape[fault] <= 6, fault


def test_total_size_at_scale_one(archive: SampleManifest) -> None:
    assert 3_000 <= sum(archive.lines_by_shape.values()) <= 6_000


def test_scale_multiplies_ticks_only(archive: SampleManifest, tmp_path: Path) -> None:
    bigger = write_sample_archive(tmp_path, scale=2).lines_by_shape
    assert bigger["A"] > 1.6 * archive.lines_by_shape["A"]
    assert {k: v for k, v in bigger.items() if k not in {"A", "B"}} == {
        k: v for k, v in archive.lines_by_shape.items() if k not in {"A", "B"}
    }


def test_incomplete_tail_has_no_newline(archive: SampleManifest) -> None:
    unfinished = [p for p in _originals(archive) if not p.read_bytes().endswith(b"\n")]
    assert len(unfinished) == 1
    tail = _split(unfinished[0])[1]
    assert tail.startswith("{") and _parse(tail) is None


def test_copies_hold_the_original_bytes(archive: SampleManifest) -> None:
    kinds = set()
    for copy, original in archive.duplicate_files:
        data = copy.read_bytes()
        if copy.suffix == ".gz":
            assert data[3] == 0 and data[4:8] == b"\0\0\0\0", "gzip must carry no file name and mtime 0"
            data = gzip.decompress(data)
        elif copy.suffix == ".zst":
            data = zstandard.ZstdDecompressor().decompress(data)
        assert data == original.read_bytes()
        assert copy.parent != original.parent
        kinds.add(copy.suffix)
    assert kinds == {".jsonl", ".gz", ".zst"}


def test_crlf_bom_and_blank_lines(archive: SampleManifest, lines: list[Any]) -> None:
    with_bom = [p for p in _originals(archive) if p.read_bytes().startswith(b"\xef\xbb\xbf")]
    assert len(with_bom) == 1
    data = with_bom[0].read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") > 100
    assert any(line == "" for shape, line, _ in lines if shape == "blank")


def test_valid_lines_have_aware_timestamps(lines: list[Any]) -> None:
    checked = 0
    for shape, _, rec in lines:
        if shape in SHAPES:
            for key in TIME_KEYS & rec.keys():
                assert _aware(rec[key]), (shape, key, rec[key])
                checked += 1
    assert checked > 3_000


def _tick_times(lines: list[Any]) -> dict[str, list[datetime]]:
    """Receive times of valid ticks (A-D) per symbol, in KST."""
    out: dict[str, list[datetime]] = defaultdict(list)
    for shape, _, rec in lines:
        if shape in {"A", "B", "B_old", "C", "D"}:
            when = datetime.fromisoformat(rec.get("timestamp") or rec["event_time"])
            out[rec["symbol"]].append(when.astimezone(KST))
    return out


def test_outages_have_no_tick_but_ticks_around(archive: SampleManifest, lines: list[Any]) -> None:
    times = sorted(t for ts in _tick_times(lines).values() for t in ts)
    assert len(archive.outages) == 2
    for start, end in archive.outages:
        assert start.utcoffset() == timedelta(hours=9)
        assert timedelta(seconds=20) <= end - start <= timedelta(minutes=1)
        assert not [t for t in times if start <= t < end]
        assert [t for t in times if start - timedelta(seconds=3) <= t < start]
        assert [t for t in times if end <= t < end + timedelta(seconds=3)]


def test_a_quiet_symbol_while_others_trade(archive: SampleManifest, lines: list[Any]) -> None:
    times = _tick_times(lines)
    quiet = []
    for symbol, ts in times.items():
        ts.sort()
        for a, b in itertools.pairwise(ts):
            others = [t for s, o in times.items() if s != symbol for t in o if a < t < b]
            if timedelta(seconds=50) <= b - a <= timedelta(minutes=2) and len(others) > 50:
                quiet.append(symbol)
    assert quiet


def _tick(price: int) -> int:
    bands = [(2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500)]
    return next((t for bound, t in bands if price < bound), 1_000)


def test_valid_ticks_are_realistic(lines: list[Any]) -> None:
    last: dict[tuple[str, str], tuple[datetime, int]] = {}
    whole_seconds = 0
    rows = [rec for shape, _, rec in lines if shape in {"A", "B"}]
    rows.sort(key=lambda r: datetime.fromisoformat(r["timestamp"]))
    for rec in rows:
        p = rec["price"]
        price = p.get("current", p.get("close"))
        bid, ask = (rec["bid_ask"]["bid_price"], rec["bid_ask"]["ask_price"]) if "bid_ask" in rec else (
            rec["bid_price"], rec["ask_price"])  # fmt: skip
        assert p["low"] <= price <= p["high"] and p["low"] <= p["open"] <= p["high"]
        assert bid < ask and price % _tick(price) == 0 and bid % _tick(bid) == 0
        received = datetime.fromisoformat(rec["timestamp"])
        assert received.utcoffset() == timedelta(hours=9) and abs(p["change_rate"]) <= 30
        whole_seconds += received.microsecond == 0
        if rec["execution_time"] is not None:
            clock = datetime.strptime(rec["execution_time"], "%H%M%S").time()
            executed = datetime.combine(received.date(), clock, KST)
            assert timedelta(0) <= received - executed <= timedelta(seconds=2)
        volume = rec["volume"]["accumulated"] if isinstance(rec["volume"], dict) else rec["volume"]
        key = (rec["symbol"], received.date().isoformat())
        if key in last:
            assert last[key][0] <= received and last[key][1] <= volume
        last[key] = (received, volume)
    assert whole_seconds > 0


def test_symbol_lists(archive: SampleManifest) -> None:
    docs = [json.loads(p.read_text()) for p in archive.files if p.suffix == ".json"]
    assert all(d["metadata"]["count"] == len(d["symbols"]) for d in docs)
    assert {d["metadata"]["date"] for d in docs} >= {"20260131", "2026-02-02"}
    assert "0004V0" in docs[0]["symbols"]


def test_writes_only_its_own_files(tmp_path: Path) -> None:
    keep = tmp_path / "data" / "assets" / "scalp" / "mine.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("keep me")
    manifest = write_sample_archive(tmp_path)
    assert keep.read_text() == "keep me" and keep not in manifest.files
    with pytest.raises(ValueError):
        write_sample_archive(tmp_path, scale=0)
