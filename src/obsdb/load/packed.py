"""Production ticks turned into binary COPY data as they are decoded, a few hundred at a time.

A batch's rows as Python objects (tuples, datetimes, ints: about 800 bytes a tick) are 40 MB for
50,000 lines: built all first and encoded after, every object is written to memory the CPU's cache
no longer holds and read back from it. Encoding each chunk of rows right after it is decoded, and
dropping it, keeps the work in the cache (measured: 3.3 instead of 4.7 µs a tick for decode, rows
and encoding together, `bench/profile.py`). What the writer needs besides the bytes (the time span,
the symbols, the flags) is gathered on the way. The few paths that need the rows themselves (a
retired range, a refused row, a batch spanning days) decode them again from the lines: the same
decoder gives the same rows.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from obsdb.formats.production import DENSE_COLUMNS, decode_batch
from obsdb.load.rows import Row

#: Makes a binary COPY of DENSE_COLUMNS that writes into the given file, not to the server
#: (``Writer.packer``: a psycopg Copy with a FileWriter, the dense columns' types set).
CopyFactory = Callable[[io.BytesIO], AbstractContextManager[Any]]

#: Lines per decode-and-encode step: the rows of a few hundred lines are still in the cache.
CHUNK = 256
_SYMBOL, _TIME, _FLAG = (DENSE_COLUMNS.index(c) for c in ("symbol", "event_time", "quality_flag"))
_symbol, _time, _flag = itemgetter(_SYMBOL), itemgetter(_TIME), itemgetter(_FLAG)


@dataclass
class Packed:
    """The production ticks of one batch as a complete binary COPY stream, and what is known of them."""

    payload: bytes
    count: int
    lo: datetime
    hi: datetime
    symbols: list[str]
    lines: list[bytes]
    file_id: int | None
    first_line: int

    def rebuild(self) -> tuple[list[Row], list[int]]:
        """The rows again, and their positions in the batch, for the paths that need Python values."""
        rows: list[Row] = []
        index: list[int] = []
        for i, row in enumerate(decode_batch(self.lines, self.file_id, self.first_line)):
            if row is not None:
                rows.append(row)
                index.append(i)
        return rows, index


def pack_production(lines: list[bytes], file_id: int | None, first_line: int, copy_factory: CopyFactory,
                    flagged: Counter[str]) -> tuple[Packed | None, list[int]]:
    """Encode every production line of ``lines``; returns them packed (None if there were none) and
    the positions of the other lines, for the general path. Flags of the packed rows go to ``flagged``."""
    others: list[int] = []
    symbols: set[str] = set()
    count = 0
    lo = hi = None
    sink = io.BytesIO()
    with copy_factory(sink) as copy:
        write = copy.write_row
        for start in range(0, len(lines), CHUNK):
            rows = decode_batch(lines[start:start + CHUNK], file_id, first_line + start)
            if None in rows:
                others += [start + k for k, r in enumerate(rows) if r is None]
                rows = [r for r in rows if r is not None]
                if not rows:
                    continue
            good = cast(list[Row], rows)
            for row in good:
                write(row)
            count += len(good)
            symbols.update(map(_symbol, good))
            times = list(map(_time, good))
            a, b = min(times), max(times)
            lo, hi = (a, b) if lo is None or hi is None else (min(lo, a), max(hi, b))
            for flag in map(_flag, good):
                if flag != "normal":
                    flagged.update(flag.split(","))
    if lo is None or hi is None:
        return None, others
    return Packed(sink.getvalue(), count, lo, hi, sorted(symbols), lines, file_id, first_line), others


__all__ = ["CHUNK", "CopyFactory", "Packed", "pack_production"]
