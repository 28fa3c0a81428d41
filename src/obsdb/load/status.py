"""What happened to one file, decided from what the ledger knew and what was read: a pure function.

``new``: content never seen; ``appended``: a known stream, read from where it stopped;
``unchanged``: nothing new at this path; ``copy``: the same content was already loaded from
another path (or a compressed copy); ``changed``: not an append (the middle changed, or the path now
holds other content), so it was read again from the start and deduplicated by key. ``pending`` and
``error`` are set where they happen (no complete line yet; unreadable).
"""

from __future__ import annotations

from dataclasses import dataclass

CHANGED_CONTENT = "content changed (not an append): read again from the start, deduplicated by key"
OTHER_CONTENT = "this path now holds other content; loaded it as well"


@dataclass(frozen=True)
class Decision:
    status: str
    note: str | None = None


def file_status(*, matched_id: int | None, resumed_bytes: int, other_entries: bool, path_id: int | None,
                lines_read: int) -> Decision:
    """``matched_id``: the ledger entry whose loaded prefix this file continues (None: no match, a new
    entry was made); ``resumed_bytes``: where reading started; ``other_entries``: entries with the same
    first line exist; ``path_id``: the entry this path held last time; ``lines_read``: new lines read."""
    if matched_id is None:
        if other_entries or path_id is not None:
            return Decision("changed", CHANGED_CONTENT)
        return Decision("new")
    if path_id is not None and path_id != matched_id:
        return Decision("changed", OTHER_CONTENT)
    if lines_read == 0:
        return Decision("unchanged" if path_id == matched_id else "copy")
    return Decision("appended" if resumed_bytes else "new")
