"""Planned files: lines tagged with their shape, rendered to bytes with the file facts of docs/formats.md.

Keeping each line's shape next to its text is what lets the manifest say exactly what is on
disk without parsing it back.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import zstandard

Record = dict[str, Any]
BOM = "\ufeff"


def dumps(record: Record) -> str:
    """One JSONL line as the Python collector writes it (``json.dumps`` defaults, UTF-8 kept)."""
    return json.dumps(record, ensure_ascii=False)


@dataclass
class PlannedFile:
    """A JSONL file to write: tagged lines plus the quirks it is written with."""

    rel: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (shape, text without newline)
    crlf: bool = False
    bom: bool = False
    tail: str | None = None  # an unfinished last line: cut mid-JSON, no newline

    def add(self, shape: str, record: Record) -> None:
        self.lines.append((shape, dumps(record)))

    def add_raw(self, shape: str, text: str) -> None:
        self.lines.append((shape, text))

    def render(self) -> bytes:
        newline = "\r\n" if self.crlf else "\n"
        text = "".join(line + newline for _, line in self.lines) + (self.tail or "")
        return ((BOM if self.bom else "") + text).encode("utf-8")

    def counts(self) -> Counter[str]:
        counts = Counter(shape for shape, _ in self.lines)
        if self.tail is not None:
            counts["incomplete_tail"] += 1
        return counts


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name, mtime 0."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def zstd_bytes(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=10).compress(data)
