"""Rows on their way to a table: typed groups of one table and one column layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obsdb.load.packed import Packed

Row = tuple[Any, ...]


class RowGroup:
    """Rows of ``table`` in the order of ``columns``; ``index`` holds each row's line in its batch.

    A group of production ticks may hold them ``packed`` (already binary COPY data, load/packed.py)
    instead: its rows are then decoded again only if some path asks for them, and any change to the
    rows drops the packed form, so the two never disagree.
    """

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        self.table = table
        self.columns = columns
        self._rows: list[Row] = []
        self._index: list[int] = []
        self.packed: Packed | None = None

    def _unpack(self) -> None:
        if self.packed is not None and not self._rows:
            self._rows, self._index = self.packed.rebuild()

    @property
    def rows(self) -> list[Row]:
        self._unpack()
        return self._rows

    @property
    def index(self) -> list[int]:
        self._unpack()
        return self._index

    def set(self, rows: list[Row], index: list[int]) -> None:
        self._rows, self._index, self.packed = rows, index, None

    def add(self, row: Row, i: int) -> None:
        if self.packed is not None:
            self.set(self.rows, self.index)
        self._rows.append(row)
        self._index.append(i)

    def keep(self, positions: list[int]) -> None:
        """Keep only the rows at ``positions`` (after validation refused the others)."""
        rows, index = self.rows, self.index
        self.set([rows[k] for k in positions], [index[k] for k in positions])

    def __len__(self) -> int:
        return self.packed.count if self.packed is not None else len(self._rows)


class RowGroups:
    """The groups of one batch, by (table, columns), in the order they first appeared."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, tuple[str, ...]], RowGroup] = {}

    def group(self, table: str, columns: tuple[str, ...]) -> RowGroup:
        key = (table, columns)
        found = self._groups.get(key)
        if found is None:
            found = self._groups[key] = RowGroup(table, columns)
        return found

    def __iter__(self) -> Iterator[RowGroup]:
        return iter([g for g in self._groups.values() if len(g)])

    def count(self) -> int:
        return sum(len(g) for g in self._groups.values())
