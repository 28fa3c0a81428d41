"""Universe tables (005_universe.sql): dated symbol lists, i.e. which symbols were meant to be observed."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from ._types import AwareDatetime, BigInt, Count32, JsonObject, Symbol, Text
from .base import TableModel

__all__ = ["SymbolUniverse", "SymbolUniverseList"]


class SymbolUniverseList(TableModel):
    """One dated list for one market, with the count the list itself states."""

    __table__ = "symbol_universe_lists"
    __key__ = ("universe_date", "market")
    __db_filled__ = frozenset({"loaded_at"})

    universe_date: date
    market: Text
    symbol_count: Count32 | None = None
    """The list's own stated count (it may disagree with the symbols it holds)."""
    metadata: JsonObject = Field(default_factory=dict)
    src_file_id: BigInt | None = None
    loaded_at: AwareDatetime | None = None
    """None lets the database fill it (DEFAULT now())."""


class SymbolUniverse(TableModel):
    """One symbol of a dated list, at its 0-based position in the list."""

    __table__ = "symbol_universe"
    __key__ = ("symbol", "universe_date", "market")

    symbol: Symbol
    universe_date: date
    market: Text
    position: Count32
