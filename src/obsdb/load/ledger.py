"""The ledger: which content streams were loaded how far, and which path last held which stream.

A file is identified by the SHA-256 of its first line (``head``) and confirmed by the SHA-256 of
the prefix loaded so far; a path's size, mtime and inode let an unchanged file be passed over
without reading it. Every write here happens in the caller's transaction, next to the rows.
:class:`DryRunLedger` reads (when there is a database) and never writes or locks, so the loader has
one code path for real and dry runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from obsdb.db import queries as q
from obsdb.load.digest import digest_of
from obsdb.load.files import Found


@dataclass(frozen=True)
class Candidate:
    """A ledger entry that starts with the same line: loaded up to ``loaded_bytes``."""

    file_id: int
    loaded_bytes: int
    loaded_lines: int
    prefix_digest: str


def stream_lock_key(head_sha: str) -> tuple[int, int]:
    """The advisory lock that keeps two loaders off the same content stream."""
    return q.STREAM_LOCK_CLASS, int(head_sha[:8], 16) - (1 << 31)


class Ledger:
    """The ledger through one autocommit connection (writes join the caller's transaction)."""

    def __init__(self, conn: psycopg.Connection[Any], run_id: int | None) -> None:
        self.conn = conn
        self.run_id = run_id

    def unchanged_by_stat(self, found: Found) -> bool:
        """The path was fully loaded and its size, mtime and inode have not moved: nothing to read."""
        row = self.conn.execute(q.PATH_GET, (str(found.path),)).fetchone()
        if row is None:
            return False
        file_id, size, mtime_ns, inode, device, complete = row
        if (size, mtime_ns, inode, device) != (found.size, found.mtime_ns, found.inode, found.device):
            return False
        loaded = self.conn.execute(q.LEDGER_LOADED_BYTES, (file_id,)).fetchone()
        return loaded is not None and loaded[0] >= complete

    def candidates(self, head_sha: str) -> list[Candidate]:
        """Entries with this first line, shortest loaded prefix first."""
        return [Candidate(*r) for r in self.conn.execute(q.LEDGER_CANDIDATES, (head_sha,)).fetchall()]

    def loaded_bytes(self, file_id: int) -> int | None:
        row = self.conn.execute(q.LEDGER_LOADED_BYTES, (file_id,)).fetchone()
        return int(row[0]) if row else None

    def path_file_id(self, found: Found) -> int | None:
        row = self.conn.execute(q.PATH_GET, (str(found.path),)).fetchone()
        return int(row[0]) if row else None

    def new_entry(self, head_sha: str, found: Found, compression: str) -> int | None:
        row = self.conn.execute(q.LEDGER_NEW, (head_sha, digest_of(b""), str(found.path),
                                               str(found.path), compression, self.run_id)).fetchone()
        assert row is not None
        return int(row[0])

    def supersede(self, new_id: int | None, old_id: int) -> None:
        """The path's old content was replaced (not appended to): the new entry supersedes it."""
        if new_id is not None:
            self.conn.execute(q.LEDGER_SUPERSEDE, (new_id, old_id))

    def remember_path(self, found: Found, file_id: int | None, complete_bytes: int) -> None:
        if file_id is not None:
            self.conn.execute(q.PATH_UPSERT, (str(found.path), file_id, found.size, found.mtime_ns, found.inode,
                                              found.device, complete_bytes, self.run_id))

    @contextmanager
    def stream_lock(self, head_sha: str) -> Iterator[None]:
        """One loader per content stream at a time (session-level: it spans the file's batches)."""
        key = stream_lock_key(head_sha)
        self.conn.execute(q.STREAM_LOCK, key)
        try:
            yield
        finally:
            if not self.conn.closed:
                self.conn.execute(q.STREAM_UNLOCK, key)


class DryRunLedger(Ledger):
    """Reads the ledger when there is a database (so a dry run reports what is new), writes nothing."""

    def __init__(self, conn: psycopg.Connection[Any] | None) -> None:
        self.reader = Ledger(conn, None) if conn is not None else None
        self.run_id = None

    def unchanged_by_stat(self, found: Found) -> bool:
        return False  # a dry run reads everything: it reports what the files hold

    def candidates(self, head_sha: str) -> list[Candidate]:
        return self.reader.candidates(head_sha) if self.reader else []

    def path_file_id(self, found: Found) -> int | None:
        return self.reader.path_file_id(found) if self.reader else None

    def new_entry(self, head_sha: str, found: Found, compression: str) -> int | None:
        return None

    def supersede(self, new_id: int | None, old_id: int) -> None:
        return None

    def remember_path(self, found: Found, file_id: int | None, complete_bytes: int) -> None:
        return None

    @contextmanager
    def stream_lock(self, head_sha: str) -> Iterator[None]:
        yield
