"""How ``--workers`` hands files out (load/workers.py): in path order, copies kept together."""

from __future__ import annotations

from pathlib import Path

from obsdb.load.files import Found
from obsdb.load.workers import group_files


def _found(path: Path, line: bytes, size: int) -> Found:
    path.write_bytes(line + b"\n")
    return Found(path, size=size)


def test_groups_go_out_in_path_order_whatever_their_size(tmp_path: Path) -> None:
    # the hours as the collector names them; the middle one is the biggest
    files = [_found(tmp_path / f"20260202_{h:02d}.jsonl", f'{{"h": {h}}}'.encode(), size)
             for h, size in ((9, 10), (10, 1_000), (11, 20))]
    assert [[f.path.name for f in g] for g in group_files(files)] == [
        ["20260202_09.jsonl"], ["20260202_10.jsonl"], ["20260202_11.jsonl"]]


def test_files_with_the_same_first_line_go_to_one_worker_in_path_order(tmp_path: Path) -> None:
    a = _found(tmp_path / "a.jsonl", b'{"x": 1}', 5)
    b = _found(tmp_path / "b.jsonl", b'{"x": 2}', 500)
    c = _found(tmp_path / "c.jsonl", b'{"x": 1}', 5)
    assert [[f.path.name for f in g] for g in group_files([a, b, c])] == [["a.jsonl", "c.jsonl"], ["b.jsonl"]]
