"""One file, exactly once: match it against the ledger, then parse and write its new lines.

The parse of batch n+1 runs in a thread while batch n is being COPYed, so the client's work
overlaps the server's (orjson, Pydantic's core and psycopg's COPY release the GIL or are short).
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import psycopg

from obsdb.db import queries as q
from obsdb.formats.common import FieldError
from obsdb.formats.universe import is_symbol_list, symbol_list
from obsdb.load.files import ByteStream, Found, open_archive
from obsdb.load.parse import Parsed, parse_batch
from obsdb.load.reader import Batch, StreamReader, tail_batch
from obsdb.load.report import FileReport
from obsdb.load.validate import RowError, validate_model
from obsdb.load.writer import StreamMoved, Writer
from obsdb.models import SymbolUniverse, SymbolUniverseList

BATCH_LINES = 50_000
BATCH_BYTES = 32 << 20
MAX_DOCUMENT = 64 << 20
Progress = Callable[[int, int, int], None]  # (bytes, lines, rows) done since the last call
T = TypeVar("T")


@dataclass(frozen=True)
class Candidate:
    file_id: int
    loaded_bytes: int
    loaded_lines: int
    prefix_sha256: str


def _stream_lock(head_sha: str) -> tuple[int, int]:
    return q.STREAM_LOCK_CLASS, int(head_sha[:8], 16) - (1 << 31)


def pipelined(produce: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Run ``produce`` in a thread, ``depth`` items ahead of the consumer; errors re-raise here."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in produce:
                if stop.is_set():
                    return
                items.put(("item", item))
            items.put(("done", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put(("error", exc))

    worker = threading.Thread(target=run, name="obsdb-parse", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)


class FileLoader:
    """Loads files through one connection; ``conn`` is None for a dry run without a database."""

    def __init__(self, conn: psycopg.Connection[Any] | None, run_id: int | None, *,
                 dry_run: bool = False, progress: Progress | None = None) -> None:
        self.conn = conn
        self.run_id = run_id
        self.dry_run = dry_run
        self.writer = Writer(conn, run_id) if conn is not None and not dry_run else None
        self.progress = progress or (lambda b, n, r: None)
        self._closing: list[ByteStream] = []  # streams opened for the current file

    # --- ledger -----------------------------------------------------------------------------------
    def _unchanged_by_stat(self, found: Found) -> bool:
        if self.conn is None:
            return False
        row = self.conn.execute(q.PATH_GET, (str(found.path),)).fetchone()
        if row is None:
            return False
        file_id, size, mtime_ns, inode, device, complete = row
        if (size, mtime_ns, inode, device) != (found.size, found.mtime_ns, found.inode, found.device):
            return False
        loaded = self.conn.execute(q.LEDGER_LOADED_BYTES, (file_id,)).fetchone()
        return loaded is not None and loaded[0] >= complete

    def _candidates(self, head_sha: str) -> list[Candidate]:
        if self.conn is None:
            return []
        return [Candidate(*r) for r in self.conn.execute(q.LEDGER_CANDIDATES, (head_sha,)).fetchall()]

    def _path_file_id(self, found: Found) -> int | None:
        if self.conn is None:
            return None
        row = self.conn.execute(q.PATH_GET, (str(found.path),)).fetchone()
        return int(row[0]) if row else None

    # --- one file ---------------------------------------------------------------------------------
    def load(self, found: Found) -> FileReport:
        report = FileReport(str(found.path))
        started = time.perf_counter()
        try:
            if found.error:
                report.status, report.error = "error", found.error
            elif not self.dry_run and self._unchanged_by_stat(found):
                report.status = "unchanged"
                self.progress(found.size, 0, 0)
            else:
                self._load(found, report)
        except OSError as exc:
            report.status, report.error = "error", f"cannot read: {exc.strerror or exc}"
        except (EOFError, ValueError) as exc:  # e.g. a truncated gzip or a corrupt zstd frame
            if isinstance(exc, FieldError):
                raise
            report.status = "error"
            report.error = f"cannot decompress ({type(exc).__name__}: {exc}); lines before the damage were kept"
        report.seconds = time.perf_counter() - started
        return report

    def _load(self, found: Found, report: FileReport) -> None:
        while True:
            try:
                if found.is_document and found.size <= MAX_DOCUMENT:
                    opened = open_archive(found.path)
                    try:
                        report.compression = opened.compression
                        if self._document(found, opened, report):
                            return
                    finally:
                        opened.stream.close()
                opened = open_archive(found.path)  # JSONL (or a .json file that holds JSONL)
                report.compression = opened.compression
                self._closing = [opened.stream]
                try:
                    self._jsonl(found, opened.stream, report, opened.compression)
                finally:
                    for stream in self._closing:
                        stream.close()
                return
            except StreamMoved:  # another loader advanced this stream meanwhile: look again
                fresh = FileReport(str(found.path))
                report.__dict__.update(fresh.__dict__)

    def _jsonl(self, found: Found, stream: Any, report: FileReport, compression: str) -> None:
        reader = StreamReader(stream)
        head = reader.head()
        if head is None:
            report.status, report.pending_bytes = "pending", len(reader.pending)
            report.note = "no complete line yet" if reader.pending else "empty file"
            if not reader.pending:
                report.status = "unchanged"
            return
        head_sha = hashlib.sha256(head).hexdigest()
        lock = _stream_lock(head_sha)
        if self.conn is not None and not self.dry_run:
            self.conn.execute(q.STREAM_LOCK, lock)
        try:
            self._jsonl_locked(found, stream, reader, head_sha, report, compression)
        finally:
            if self.conn is not None and not self.dry_run and not self.conn.closed:
                self.conn.execute(q.STREAM_UNLOCK, lock)

    def _match(self, reader: StreamReader, candidates: list[Candidate]) -> Candidate | None:
        best = None
        for cand in candidates:  # ascending loaded_bytes: hash each prefix on the way
            if not reader.skip(cand.loaded_bytes - reader.offset):
                break
            if reader.digest() == cand.prefix_sha256:
                best = cand
        return best

    def _jsonl_locked(self, found: Found, stream: Any, reader: StreamReader, head_sha: str,
                      report: FileReport, compression: str) -> None:
        candidates = self._candidates(head_sha)
        best = self._match(reader, candidates)
        known_id = self._path_file_id(found)
        start_bytes = best.loaded_bytes if best else 0
        if reader.offset != start_bytes:  # hashed past the point to resume from: rewind
            rewound = open_archive(found.path).stream
            self._closing.append(rewound)
            reader = StreamReader(rewound)
            reader.skip(start_bytes)
        first_line = (best.loaded_lines if best else 0) + 1
        if best is not None:
            file_id: int | None = best.file_id
            report.status = "appended" if start_bytes else "new"
        else:
            file_id = self._new_entry(head_sha, found, compression)
            report.status = "changed" if candidates or known_id is not None else "new"
            if report.status == "changed":
                report.note = "content changed (not an append): read again from the start, deduplicated by key"
                if known_id is not None and file_id is not None and self.conn is not None:
                    self.conn.execute(q.LEDGER_SUPERSEDE, (file_id, known_id))
        if known_id is not None and best is not None and known_id != best.file_id:
            report.status, report.note = "changed", "this path now holds other content; loaded it as well"
        report.file_id, report.resumed_at_line = file_id, first_line
        self.progress(start_bytes, 0, 0)
        batches: Iterator[Batch] = reader.batches(BATCH_LINES, BATCH_BYTES, first_line)
        parsed_batches = pipelined(parse_batch(b, file_id) for b in batches)
        for parsed in parsed_batches:
            start_bytes = self._write(parsed, found, file_id, start_bytes, report)
        if compression != "none":
            tail = tail_batch(reader, reader.lines_done + 1)
            if tail is not None:
                start_bytes = self._write(parse_batch(tail, file_id), found, file_id, start_bytes, report)
        report.pending_bytes = len(reader.pending)
        if report.lines_read == 0 and report.status in ("appended", "new") and best is not None:
            report.status = "unchanged" if known_id == best.file_id else "copy"
        self._remember_path(found, file_id, reader.offset)

    def _new_entry(self, head_sha: str, found: Found, compression: str) -> int | None:
        if self.conn is None or self.dry_run:
            return None
        row = self.conn.execute(q.LEDGER_NEW, (head_sha, hashlib.sha256().hexdigest(), str(found.path),
                                               str(found.path), compression, self.run_id)).fetchone()
        assert row is not None
        return int(row[0])

    def _remember_path(self, found: Found, file_id: int | None, complete_bytes: int) -> None:
        if self.conn is None or self.dry_run or file_id is None:
            return
        self.conn.execute(q.PATH_UPSERT, (str(found.path), file_id, found.size, found.mtime_ns, found.inode,
                                          found.device, complete_bytes, self.run_id))

    def _write(self, parsed: Parsed, found: Found, file_id: int | None, start_bytes: int,
               report: FileReport) -> int:
        batch = parsed.batch
        rows = sum(len(r) for r in parsed.rows.values())
        report.lines_read += len(batch.lines)
        report.skipped.update(parsed.skipped)
        report.flagged.update(parsed.flagged)
        if self.writer is None or file_id is None:  # dry run: what would be loaded
            report.loaded += rows
            report.rejected += len(parsed.rejects)
            for table, table_rows in parsed.rows.items():
                report.rows[table] += len(table_rows)
        else:
            written = self.writer.write(parsed, file_id=file_id, path=str(found.path), start_bytes=start_bytes,
                                        rejects_path=str(found.path))
            loaded = sum(written.inserted.values())
            report.loaded += loaded
            report.duplicates += written.duplicates
            report.rejected += len(parsed.rejects) + len(written.late_rejects)
            report.rows.update(written.inserted)
        self.progress(batch.end_offset - batch.start_offset, len(batch.lines), rows)
        return batch.end_offset

    # --- plain-JSON documents (symbol lists) ------------------------------------------------------
    def _document(self, found: Found, opened: Any, report: FileReport) -> bool:
        """Load a symbol list; False when the file is not one JSON document (then read as JSONL)."""
        content = opened.stream.read(MAX_DOCUMENT + 1)
        try:
            doc = orjson.loads(content)
        except orjson.JSONDecodeError:
            return False
        if not is_symbol_list(doc):
            return False
        head_sha = hashlib.sha256(content).hexdigest()
        lock = _stream_lock(head_sha)  # one loader per document at a time, as for JSONL streams
        if self.conn is not None and not self.dry_run:
            self.conn.execute(q.STREAM_LOCK, lock)
        try:
            return self._document_locked(found, opened, report, doc, content, head_sha)
        finally:
            if self.conn is not None and not self.dry_run and not self.conn.closed:
                self.conn.execute(q.STREAM_UNLOCK, lock)

    def _document_locked(self, found: Found, opened: Any, report: FileReport, doc: Any, content: bytes,
                         head_sha: str) -> bool:
        batch = Batch([content], 1, 0, len(content), head_sha)
        parsed = Parsed(batch)
        candidates = self._candidates(head_sha)
        if any(c.loaded_bytes == len(content) for c in candidates):
            known = self._path_file_id(found)
            done = next(c for c in candidates if c.loaded_bytes == len(content))
            report.status = "unchanged" if known == done.file_id else "copy"
            self._remember_path(found, done.file_id, len(content))
            return True
        file_id = candidates[0].file_id if candidates else self._new_entry(head_sha, found, opened.compression)
        report.file_id = file_id
        try:
            header, members = symbol_list(doc, file_id)
            header_model = validate_model(SymbolUniverseList, header)
            member_models = [validate_model(SymbolUniverse, m) for m in members]
            problem = next((m for m in (header_model, *member_models) if isinstance(m, RowError)), None)
            if isinstance(problem, RowError):
                raise FieldError(problem.column, problem.message)
        except FieldError as exc:
            parsed.reject(0, exc.field, exc.reason)
        else:
            parsed.rows["symbol_universe_lists"] = [header_model.to_row(SymbolUniverseList.insert_columns())]  # type: ignore[union-attr]
            parsed.rows["symbol_universe"] = [m.to_row(SymbolUniverse.insert_columns()) for m in member_models]  # type: ignore[union-attr]
            parsed.index = {"symbol_universe_lists": [0], "symbol_universe": [0] * len(member_models)}
        before = (report.loaded, report.duplicates)
        self._write(parsed, found, file_id, 0, report)
        # A document is one line: loaded if anything in it was new, else a duplicate.
        rows_new = report.loaded - before[0]
        if not parsed.rejects:
            report.loaded, report.duplicates = before[0] + (1 if rows_new else 0), before[1] + (0 if rows_new else 1)
        self._remember_path(found, file_id, len(content))
        return True
