"""What a load did, per file and in total: every line is loaded, duplicate, rejected or skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FileReport:
    """One file's outcome; ``status`` is decided by :func:`obsdb.load.status.file_status`."""

    path: str
    status: str = "new"
    file_id: int | None = None
    compression: str = "none"
    lines_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    resumed_at_line: int = 1
    pending_bytes: int = 0
    error: str | None = None
    note: str | None = None
    seconds: float = 0.0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def balanced(self) -> bool:
        """The promise: every line read is accounted for exactly once."""
        return self.lines_read == self.loaded + self.duplicates + self.rejected + self.skipped_total

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "status": self.status, "file_id": self.file_id, "compression": self.compression,
            "lines_read": self.lines_read, "loaded": self.loaded, "duplicates": self.duplicates,
            "rejected": self.rejected, "skipped": dict(sorted(self.skipped.items())),
            "flagged": dict(sorted(self.flagged.items())), "rows": dict(sorted(self.rows.items())),
            "resumed_at_line": self.resumed_at_line, "pending_bytes": self.pending_bytes,
            "error": self.error, "note": self.note, "seconds": round(self.seconds, 3),
        }


@dataclass
class RunReport:
    files: list[FileReport] = field(default_factory=list)
    run_id: int | None = None
    dry_run: bool = False
    ignored_files: int = 0
    seconds: float = 0.0
    derive: dict[str, Any] | None = None

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    def counter(self, name: str) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(getattr(f, name))
        return total

    @property
    def errors(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "error"]

    @property
    def rows_loaded(self) -> int:
        return sum(self.counter("rows").values())

    def to_dict(self) -> dict[str, Any]:
        skipped = self.counter("skipped")
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "files": len(self.files),
            "files_with_errors": len(self.errors),
            "ignored_files": self.ignored_files,
            "lines_read": self.total("lines_read"),
            "loaded": self.total("loaded"),
            "rows_loaded": self.rows_loaded,
            "duplicates": self.total("duplicates"),
            "rejected": self.total("rejected"),
            "skipped": sum(skipped.values()),
            "skipped_by_type": dict(sorted(skipped.items())),
            "flagged": dict(sorted(self.counter("flagged").items())),
            "rows_by_table": dict(sorted(self.counter("rows").items())),
            "pending_bytes": self.total("pending_bytes"),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_loaded / self.seconds) if self.seconds > 0 else None,
            "derive": self.derive,
            "per_file": [f.to_dict() for f in self.files],
        }
