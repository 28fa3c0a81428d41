"""One file, exactly once: match it against the ledger, then parse and write its new lines.

The parse of batch n+1 runs in a thread while batch n is being COPYed (``load.background``), so
the client's work overlaps the server's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from obsdb.formats.common import FieldError
from obsdb.formats.universe import MAX_DOCUMENT
from obsdb.load.background import pipelined
from obsdb.load.digest import is_legacy
from obsdb.load.documents import already_loaded, parse_document, read_document
from obsdb.load.files import Found, Opened, open_archive
from obsdb.load.ledger import Candidate, DryRunLedger, Ledger
from obsdb.load.parse import Parsed, parse_batch
from obsdb.load.reader import Batch, StreamReader, tail_batch
from obsdb.load.report import FileReport
from obsdb.load.status import file_status
from obsdb.load.tails import Tail, Tails
from obsdb.load.writer import StreamMoved, Writer

BATCH_LINES = 50_000
BATCH_BYTES = 32 << 20
Progress = Callable[[int, int, int], None]  # (file bytes, lines, rows) done since the last call


class FileLoader:
    """Loads files through one connection; ``conn`` is None for a dry run without a database."""

    def __init__(self, conn: psycopg.Connection[Any] | None, run_id: int | None, *,
                 dry_run: bool = False, progress: Progress | None = None, tails: Tails | None = None) -> None:
        self.ledger = Ledger(conn, run_id) if conn is not None and not dry_run else DryRunLedger(conn)
        self.writer = Writer(conn, run_id) if conn is not None and not dry_run else None
        self.progress = progress or (lambda b, n, r: None)
        self._opened: list[Opened] = []  # streams opened for the current file
        self._reported = 0  # file bytes reported to ``progress`` for the current file
        #: follow mode: plain files kept open between polls (None: every file is closed after loading)
        self.tails = tails

    def load(self, found: Found) -> FileReport:
        report = FileReport(str(found.path))
        started = time.perf_counter()
        self._reported = 0
        tail = self.tails.pop(found) if self.tails is not None else None
        try:
            if found.error:
                report.status, report.error = "error", found.error
            elif tail is not None and self._continue(tail, found, report):
                pass
            elif self.ledger.unchanged_by_stat(found):
                report.status = "unchanged"
            else:
                report.__dict__.update(FileReport(str(found.path)).__dict__)
                self._load(found, report)
        except OSError as exc:
            report.status, report.error = "error", f"cannot read: {exc.strerror or exc}"
        except (EOFError, ValueError) as exc:  # e.g. a truncated gzip or a corrupt zstd frame
            if isinstance(exc, FieldError):
                raise
            report.status = "error"
            report.error = f"cannot decompress ({type(exc).__name__}: {exc}); lines before the damage were kept"
        finally:
            for opened in self._opened:
                opened.close()
            self._opened = []
        self._advance(found.size)
        report.seconds = time.perf_counter() - started
        return report

    def _open(self, found: Found, report: FileReport) -> Opened:
        opened = open_archive(found.path)
        report.compression = opened.compression
        self._opened.append(opened)
        return opened

    def _advance(self, position: int) -> None:
        """Report progress in bytes of the file (compressed bytes for a compressed file)."""
        if position > self._reported:
            self.progress(position - self._reported, 0, 0)
            self._reported = position

    def _load(self, found: Found, report: FileReport) -> None:
        while True:
            try:
                if found.is_document and found.size <= MAX_DOCUMENT:
                    document = read_document(self._open(found, report))
                    if document is not None:
                        self._document(found, report, *document)
                        return
                self._jsonl(found, self._open(found, report), report)  # JSONL (or a .json holding JSONL)
                return
            except StreamMoved:  # another loader advanced this stream meanwhile: look again
                report.__dict__.update(FileReport(str(found.path)).__dict__)

    # --- JSONL streams ----------------------------------------------------------------------------
    def _jsonl(self, found: Found, opened: Opened, report: FileReport) -> None:
        reader = StreamReader(opened.stream)
        head = reader.head()
        if head is None:
            report.status = "pending" if reader.pending else "unchanged"
            report.pending_bytes = len(reader.pending)
            report.note = "no complete line yet" if reader.pending else "empty file"
            return
        head_sha = hashlib.sha256(head).hexdigest()
        with self.ledger.stream_lock(head_sha):
            self._jsonl_locked(found, opened, reader, head_sha, report)

    def _resume_point(self, found: Found, opened: Opened, reader: StreamReader, candidates: list[Candidate],
                      report: FileReport) -> tuple[Candidate | None, StreamReader, Opened]:
        """The longest loaded prefix this stream continues, and a reader positioned at its end."""
        best = None
        if reader.offset == 0 and any(is_legacy(c.prefix_digest) for c in candidates):
            reader.hasher.also_sha256()
        for cand in candidates:  # ascending loaded_bytes: hash each prefix on the way
            if not reader.skip(cand.loaded_bytes - reader.offset):
                break
            if reader.hasher.matches(cand.prefix_digest):
                best = cand
        start = best.loaded_bytes if best else 0
        if reader.offset != start:  # hashed past the point to resume from: rewind
            opened = self._open(found, report)
            reader = StreamReader(opened.stream)
            reader.skip(start)
        return best, reader, opened

    def _jsonl_locked(self, found: Found, opened: Opened, reader: StreamReader, head_sha: str,
                      report: FileReport) -> None:
        candidates = self.ledger.candidates(head_sha)
        best, reader, opened = self._resume_point(found, opened, reader, candidates, report)
        path_id = self.ledger.path_file_id(found)
        file_id = best.file_id if best else self.ledger.new_entry(head_sha, found, opened.compression)
        if best is None and path_id is not None:
            self.ledger.supersede(file_id, path_id)
        report.file_id, report.resumed_at_line = file_id, (best.loaded_lines if best else 0) + 1
        self._read(found, opened, reader, file_id, best.loaded_bytes if best else 0, report)
        decision = file_status(matched_id=best.file_id if best else None, resumed_bytes=best.loaded_bytes if best
                               else 0, other_entries=bool(candidates), path_id=path_id, lines_read=report.lines_read)
        report.status, report.note = decision.status, decision.note
        self._keep_tail(found, opened, reader, file_id, head_sha)

    def _read(self, found: Found, opened: Opened, reader: StreamReader, file_id: int | None, start_bytes: int,
              report: FileReport) -> None:
        """Parse and write every complete line from the reader's position; remember how far it got."""
        batches: Iterator[Batch] = reader.batches(BATCH_LINES, BATCH_BYTES, report.resumed_at_line)
        pack = self.writer.packer() if self.writer is not None and file_id is not None else None
        for parsed in pipelined(parse_batch(b, file_id, pack) for b in batches):
            start_bytes = self._write(parsed, found, file_id, start_bytes, report, opened)
        if opened.compression != "none":
            tail = tail_batch(reader, reader.lines_done + 1)
            if tail is not None:
                self._write(parse_batch(tail, file_id, pack), found, file_id, start_bytes, report, opened)
        report.pending_bytes = len(reader.pending)
        self.ledger.remember_path(found, file_id, reader.offset)

    # --- follow mode: keep growing plain files open, read only what was appended -------------------
    def _keep_tail(self, found: Found, opened: Opened, reader: StreamReader, file_id: int | None,
                   head_sha: str) -> None:
        if self.tails is None or file_id is None or opened.compression != "none":
            return
        self._opened.remove(opened)  # stays open for the next poll
        try:
            self.tails.keep(Tail(found, opened, reader, file_id, head_sha))
        except OSError:
            opened.close()

    def _continue(self, tail: Tail, found: Found, report: FileReport) -> bool:
        """Read what was appended to a file kept open by follow mode; False when it must be looked at
        afresh (replaced, rewritten, or advanced by another loader)."""
        self._opened.append(tail.opened)
        if tail.unchanged(found):  # nothing written since the last poll: no read, no query
            report.status, report.compression, report.file_id = "unchanged", "none", tail.file_id
            self._opened.remove(tail.opened)
            self.tails.keep(tail)  # type: ignore[union-attr]
            return True
        if not tail.continues(found):
            return False
        report.compression, report.file_id = "none", tail.file_id
        with self.ledger.stream_lock(tail.head_sha):
            if self.ledger.loaded_bytes(tail.file_id) != tail.reader.offset:
                return False
            report.resumed_at_line = tail.reader.lines_done + 1
            self._reported = tail.reader.offset
            tail.reader.resume()
            self._read(found, tail.opened, tail.reader, tail.file_id, tail.reader.offset, report)
        report.status = "appended" if report.lines_read else "unchanged"
        self._keep_tail(found, tail.opened, tail.reader, tail.file_id, tail.head_sha)
        return True

    def _write(self, parsed: Parsed, found: Found, file_id: int | None, start_bytes: int,
               report: FileReport, opened: Opened | None) -> int:
        batch = parsed.batch
        rows = parsed.rows
        report.lines_read += len(batch.lines)
        report.skipped.update(parsed.skipped)
        report.flagged.update(parsed.flagged)
        if self.writer is None or file_id is None:  # dry run: what would be loaded
            report.loaded += rows
            report.rejected += len(parsed.rejects)
            for group in parsed.groups:
                report.rows[group.table] += len(group)
        else:
            written = self.writer.write(parsed, file_id=file_id, path=str(found.path), start_bytes=start_bytes)
            report.loaded += sum(written.inserted.values())
            report.duplicates += written.duplicates
            if written.retired:
                report.skipped["retired"] += written.retired
            report.rejected += len(parsed.rejects) + len(written.late_rejects)
            report.rows.update(written.inserted)
        self.progress(0, len(batch.lines), rows)
        if opened is not None:
            self._advance(min(opened.position(), found.size))
        return batch.end_offset

    # --- plain-JSON documents (symbol lists) ------------------------------------------------------
    def _document(self, found: Found, report: FileReport, content: bytes, doc: Any) -> None:
        head_sha = hashlib.sha256(content).hexdigest()
        with self.ledger.stream_lock(head_sha):  # one loader per document at a time, as for streams
            done = already_loaded(self.ledger, found, head_sha, len(content), report)
            if done is not None:
                self.ledger.remember_path(found, done, len(content))
                return
            candidates = self.ledger.candidates(head_sha)
            file_id = (candidates[0].file_id if candidates
                       else self.ledger.new_entry(head_sha, found, report.compression))
            report.file_id = file_id
            parsed = parse_document(content, doc, file_id)
            before = (report.loaded, report.duplicates)
            self._write(parsed, found, file_id, 0, report, None)
            # A document is one line: loaded if anything in it was new, else a duplicate.
            if not parsed.rejects:
                new = report.loaded > before[0]
                report.loaded, report.duplicates = before[0] + int(new), before[1] + int(not new)
            self.ledger.remember_path(found, file_id, len(content))


__all__ = ["FileLoader", "Progress"]
