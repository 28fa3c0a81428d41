"""Follow mode's memory: growing plain files kept open between polls, with their running hash.

A file the collector appends to all day is read once: the next poll goes on from the reader's
position with the SHA-256 state it had, so the loaded prefix is never hashed again. Before going on,
the file must still be the same file (device and inode), no shorter, and the last bytes read must be
unchanged on disk (a window before the resume point); otherwise it is looked at afresh through the
ledger, as a new run would.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field

from obsdb.load.files import Found, Opened
from obsdb.load.reader import StreamReader

WINDOW = 4096
MAX_OPEN = 128


def _window(opened: Opened, end: int) -> bytes:
    start = max(0, end - WINDOW)
    return os.pread(opened.raw.fileno(), end - start, start)


@dataclass
class Tail:
    """A plain JSONL file kept open, read up to ``reader.offset`` (the ledger says the same)."""

    found: Found
    opened: Opened
    reader: StreamReader
    file_id: int
    head_sha: str
    window: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        self.window = _window(self.opened, self.reader.offset)

    def unchanged(self, now: Found) -> bool:
        old = self.found
        return (now.size, now.mtime_ns, now.inode, now.device) == (old.size, old.mtime_ns, old.inode, old.device)

    def continues(self, now: Found) -> bool:
        """Still the same file, only appended to since it was read."""
        old = self.found
        if (now.inode, now.device) != (old.inode, old.device) or now.size < old.size:
            return False
        try:
            return _window(self.opened, self.reader.offset) == self.window
        except OSError:
            return False


class Tails:
    """The open tails by path, at most ``MAX_OPEN`` (the least recently used is closed first)."""

    def __init__(self) -> None:
        self._tails: OrderedDict[str, Tail] = OrderedDict()

    def pop(self, found: Found) -> Tail | None:
        return self._tails.pop(str(found.path), None)

    def keep(self, tail: Tail) -> None:
        self._tails[str(tail.found.path)] = tail
        while len(self._tails) > MAX_OPEN:
            _, old = self._tails.popitem(last=False)
            old.opened.close()

    def behind(self) -> int:
        """Bytes written to the kept files but not loaded yet (incomplete last lines included)."""
        total = 0
        for tail in self._tails.values():
            try:
                total += max(0, os.fstat(tail.opened.raw.fileno()).st_size - tail.reader.offset)
            except OSError:
                continue
        return total

    def close(self) -> None:
        for tail in self._tails.values():
            tail.opened.close()
        self._tails.clear()
