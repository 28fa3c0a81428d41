"""`obsdb migrate` as a user runs it: JSON report, --dry-run, --strict, exit codes, rejects."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from tests.helpers import obsdb_env, query, run_obsdb, write_lines
from tests.test_load_once import tick

pytestmark = pytest.mark.db


def _archive(tmp_path: Path) -> Path:
    root = tmp_path / "arch"
    write_lines(root / "scalp" / "a.jsonl", tick(1), tick(2), "", {"slot_id": 1, "symbol": "005930"})
    write_lines(root / "scalp" / "b.jsonl", tick(2), tick(3), '{"broken": ')
    return root


def test_json_report_adds_up_for_every_file(db: str, tmp_path: Path) -> None:
    proc = run_obsdb("migrate", str(_archive(tmp_path)), "--json", env=obsdb_env(db))
    assert proc.returncode == 0, proc.stderr
    report = orjson.loads(proc.stdout)
    for key in ("files", "lines_read", "rows_loaded", "duplicates", "rejected", "skipped", "per_file"):
        assert key in report
    assert (report["files"], report["lines_read"], report["loaded"], report["duplicates"], report["rejected"],
            report["skipped"]) == (2, 7, 3, 1, 1, 2)
    for f in report["per_file"]:
        assert f["lines_read"] == f["loaded"] + f["duplicates"] + f["rejected"] + sum(f["skipped"].values())
    assert report["skipped_by_type"] == {"blank": 1, "slot": 1}


def test_dry_run_writes_nothing(db: str, tmp_path: Path) -> None:
    before = query(db, "SELECT (SELECT count(*) FROM obsdb_load_runs), (SELECT count(*) FROM obsdb_ingest_files)")
    proc = run_obsdb("migrate", str(_archive(tmp_path)), "--dry-run", "--json", env=obsdb_env(db))
    assert proc.returncode == 0, proc.stderr
    report = orjson.loads(proc.stdout)
    assert report["dry_run"] is True and report["rejected"] == 1 and report["lines_read"] == 7
    assert query(db, "SELECT count(*) FROM scalp_ticks") == [(0,)]
    assert query(db, "SELECT count(*) FROM obsdb_rejects") == [(0,)]
    after = query(db, "SELECT (SELECT count(*) FROM obsdb_load_runs), (SELECT count(*) FROM obsdb_ingest_files)")
    assert before == after


def test_strict_exits_non_zero_on_rejects(db: str, tmp_path: Path) -> None:
    proc = run_obsdb("migrate", str(_archive(tmp_path)), "--strict", env=obsdb_env(db))
    assert proc.returncode == 1
    assert query(db, "SELECT count(*) FROM scalp_ticks") == [(3,)]  # still loaded: --strict only reports


def test_unreadable_file_is_a_per_file_error_and_others_load(db: str, tmp_path: Path) -> None:
    root = _archive(tmp_path)
    locked = write_lines(root / "locked.jsonl", tick(7))
    locked.chmod(0)
    (root / "dir.jsonl").mkdir()
    try:
        proc = run_obsdb("migrate", str(root), "--json", env=obsdb_env(db))
    finally:
        locked.chmod(0o644)
    report = orjson.loads(proc.stdout)
    errors = {Path(f["path"]).name: f["error"] for f in report["per_file"] if f["status"] == "error"}
    assert "dir.jsonl" in errors
    if os.geteuid() != 0:  # root reads anything
        assert "locked.jsonl" in errors
    assert proc.returncode == 5
    assert query(db, "SELECT count(*) FROM scalp_ticks") == [(3 if os.geteuid() else 4,)]


def test_rejects_command_lists_them(db: str, tmp_path: Path) -> None:
    run_obsdb("migrate", str(_archive(tmp_path)), env=obsdb_env(db))
    proc = run_obsdb("rejects", "--json", env=obsdb_env(db))
    assert proc.returncode == 0, proc.stderr
    (item,) = orjson.loads(proc.stdout)
    assert item["line_no"] == 3 and item["path"].endswith("b.jsonl") and "invalid JSON" in item["reason"]
    text = run_obsdb("rejects", env=obsdb_env(db))
    assert "invalid JSON" in text.stdout


def test_summary_is_printed_without_a_terminal(db: str, tmp_path: Path) -> None:
    proc = run_obsdb("migrate", str(_archive(tmp_path)), env=obsdb_env(db))
    assert "7 lines read = 3 loaded + 1 duplicate + 1 rejected + 2 skipped" in proc.stdout
    assert "\r" not in proc.stderr  # no progress bar in a pipe


TABLE_SUMMARY = ("SELECT (SELECT count(*) FROM scalp_ticks), (SELECT count(*) FROM swing_snapshots), "
                 "(SELECT count(*) FROM scalp_gaps), (SELECT count(*) FROM obsdb_rejects), "
                 "(SELECT md5(string_agg(symbol || event_time::text, ',' ORDER BY symbol, event_time)) "
                 "FROM scalp_ticks)")


def test_workers_end_in_the_same_state_as_one_process(db: str, empty_db: str, tmp_path: Path) -> None:
    from obsdb.sample import write_sample_archive

    write_sample_archive(tmp_path / "observer")
    one = run_obsdb("migrate", str(tmp_path / "observer"), "--workers", "1", "--json", env=obsdb_env(db))
    three = run_obsdb("migrate", str(tmp_path / "observer"), "--workers", "3", "--json", env=obsdb_env(empty_db))
    assert one.returncode == three.returncode == 0, three.stderr
    a, b = orjson.loads(one.stdout), orjson.loads(three.stdout)
    assert [(f["path"], f["status"], f["loaded"], f["rejected"]) for f in a["per_file"]] == \
        [(f["path"], f["status"], f["loaded"], f["rejected"]) for f in b["per_file"]]
    assert query(db, TABLE_SUMMARY) == query(empty_db, TABLE_SUMMARY)
