"""Reading a content stream as complete lines, hashing exactly the bytes that were consumed.

The ledger identifies a stream by the SHA-256 of its first line and confirms a match by the
digest of the prefix loaded so far (obsdb/load/digest.py), so the reader hashes every byte up to
the end of the last complete line it hands out, and nothing beyond: an unterminated last line
stays pending.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from obsdb.load.digest import PrefixDigest
from obsdb.load.files import ByteStream

CHUNK = 1 << 20
MAX_LINE = 64 << 20
HEAD_MAX = 64 << 10  # a single line beyond this is rejected without being held whole in memory


class OversizedLine(bytes):
    """Stands in for a line longer than ``MAX_LINE``: its first bytes, and its real ``size``."""

    size: int = 0


@dataclass
class Batch:
    """Complete lines [start_offset, end_offset) of the stream, numbered from ``first_line``."""

    lines: list[bytes]
    first_line: int
    start_offset: int
    end_offset: int
    prefix_digest: str
    #: byte offset of each line, computed only when a reject needs it
    _offsets: list[int] | None = field(default=None, repr=False)

    def offset_of(self, index: int) -> int:
        if self._offsets is None:
            offsets, pos = [], self.start_offset
            for line in self.lines:
                offsets.append(pos)
                pos += (line.size if isinstance(line, OversizedLine) else len(line)) + 1
            self._offsets = offsets
        return self._offsets[index]


class StreamReader:
    """Reads complete lines from a decompressed stream, keeping a running digest of them."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.hasher = PrefixDigest()
        self.offset = 0  # bytes consumed and hashed (always at a line boundary once reading lines)
        self.lines_done = 0
        self._pending = b""
        self._clean = 0  # how many leading bytes of _pending are known to hold no newline
        self._eof = False

    def head(self) -> bytes | None:
        """What identifies the stream: its first complete line (capped at ``HEAD_MAX`` bytes, so a
        huge first line is identified by its start), without consuming it; None if not there yet."""
        while b"\n" not in self._pending[:HEAD_MAX] and not self._eof and len(self._pending) < HEAD_MAX:
            self._fill()
        cut = self._pending.find(b"\n", 0, HEAD_MAX)
        if cut >= 0:
            return self._pending[: cut + 1]
        return self._pending[:HEAD_MAX] if len(self._pending) >= HEAD_MAX else None

    def _fill(self) -> None:
        chunk = self.stream.read(CHUNK)
        if chunk:
            self._pending += chunk
        else:
            self._eof = True

    def skip(self, n: int) -> bool:
        """Hash and consume exactly ``n`` more bytes without parsing them; False at EOF first."""
        while n > 0:
            if not self._pending:
                self._fill()
                if self._eof and not self._pending:
                    return False
            take = self._pending[:n]
            self.hasher.update(take)
            self._pending = self._pending[len(take):]
            self._clean = 0
            self.offset += len(take)
            n -= len(take)
        return True

    def resume(self) -> None:
        """Read on after an end of file: the file may have grown since (follow mode)."""
        self._eof = False

    def digest(self) -> str:
        return self.hasher.hexdigest()

    def batches(self, max_lines: int, max_bytes: int, first_line: int) -> Iterator[Batch]:
        """Complete lines in batches; the trailing unterminated bytes are left in ``pending``."""
        self.lines_done = first_line - 1
        lines: list[bytes] = []
        start = self.offset
        size = 0
        while True:
            if not self._eof:
                self._fill()
            cut = self._pending.rfind(b"\n", self._clean)
            if cut < 0:
                self._clean = len(self._pending)
                if self._eof:
                    break
                if len(self._pending) > MAX_LINE:
                    lines.append(self._swallow_long_line())
                continue
            block = self._pending[: cut + 1]
            self._pending = self._pending[cut + 1:]
            self._clean = len(self._pending)
            self.hasher.update(block)
            self.offset += len(block)
            parts = block.split(b"\n")
            parts.pop()  # the empty piece after the final newline
            lines.extend(parts)
            size += len(block)
            if len(lines) >= max_lines or size >= max_bytes:
                yield self._batch(lines, start)
                lines, start, size = [], self.offset, 0
        if lines:
            yield self._batch(lines, start)

    def _swallow_long_line(self) -> bytes:
        """Consume (and hash) a line too long to hold, up to its newline; return a short stand-in."""
        sample = OversizedLine(self._pending[:200])
        total = 0
        while True:
            cut = self._pending.find(b"\n")
            take = self._pending if cut < 0 else self._pending[:cut]
            self.hasher.update(take)
            total += len(take)
            self._pending = self._pending[len(take):]
            if cut >= 0:
                self.hasher.update(b"\n")
                self._pending = self._pending[1:]
                break
            self._fill()
            if self._eof and not self._pending:
                break  # no newline at all: the bytes stay hashed and consumed; nothing is pending
        self.offset += total + (1 if cut >= 0 else 0)
        self._clean = 0
        sample.size = total
        return sample

    def _batch(self, lines: list[bytes], start: int) -> Batch:
        batch = Batch(lines, self.lines_done + 1, start, self.offset, self.digest())
        self.lines_done += len(lines)
        return batch

    @property
    def pending(self) -> bytes:
        """Bytes after the last newline: an incomplete line (or the whole tail of a finished file)."""
        return self._pending


def tail_batch(reader: StreamReader, first_line: int) -> Batch | None:
    """Consume the unterminated last line as a line of its own. Only for finished (compressed)
    archives: a plain file's last line may still be being written."""
    tail = reader.pending
    if not tail or not tail.strip():
        return None
    reader.skip(len(tail))
    return Batch([tail], first_line, reader.offset - len(tail), reader.offset, reader.digest())
