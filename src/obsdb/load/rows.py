"""Rows on their way to a table: typed groups of one table and one column layout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Row = tuple[Any, ...]


@dataclass
class RowGroup:
    """Rows of ``table`` in the order of ``columns``; ``index`` holds each row's line in its batch."""

    table: str
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    index: list[int] = field(default_factory=list)

    def add(self, row: Row, i: int) -> None:
        self.rows.append(row)
        self.index.append(i)

    def keep(self, positions: list[int]) -> None:
        """Keep only the rows at ``positions`` (after validation refused the others)."""
        self.rows = [self.rows[k] for k in positions]
        self.index = [self.index[k] for k in positions]

    def __len__(self) -> int:
        return len(self.rows)


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
        return iter([g for g in self._groups.values() if g.rows])

    def count(self) -> int:
        return sum(len(g) for g in self._groups.values())
