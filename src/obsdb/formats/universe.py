"""Shape I: a dated symbol list (plain JSON, one document per file; docs/formats.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from obsdb.formats.common import FieldError
from obsdb.models import SymbolUniverse, SymbolUniverseList

#: A symbol list is one JSON document, read whole: larger files are read as JSONL instead.
MAX_DOCUMENT = 64 << 20


def is_symbol_list(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("symbols"), list) and isinstance(doc.get("metadata"), dict)


def _date(value: Any) -> date:
    if not isinstance(value, str):
        raise FieldError("metadata.date", f"expected a date string, got {type(value).__name__}")
    text = value.strip()
    try:
        if len(text) == 8 and text.isdigit():  # "20260131" is seen as well as "2026-01-31"
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return date.fromisoformat(text)
    except ValueError:
        raise FieldError("metadata.date", f"not a date: {text[:20]!r}") from None


def symbol_list(doc: dict[str, Any], file_id: int | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the list row, its member rows). Duplicate symbols in one list keep their first position."""
    meta = doc["metadata"]
    if "date" not in meta:
        raise FieldError("metadata.date", "missing required field")
    day = _date(meta["date"])
    market = meta.get("market") or "unknown"
    if not isinstance(market, str):
        raise FieldError("metadata.market", f"expected text, got {type(market).__name__}")
    members: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for position, symbol in enumerate(doc["symbols"]):
        if not isinstance(symbol, str):
            raise FieldError(f"symbols[{position}]", f"expected a symbol code as text, got {type(symbol).__name__}")
        if symbol in seen:
            continue
        seen.add(symbol)
        members.append({"symbol": symbol, "universe_date": day, "market": market, "position": position})
    extra = {k: v for k, v in doc.items() if k not in ("metadata", "symbols")}
    metadata = dict(meta) | ({"_extra": extra} if extra else {})
    header = {"universe_date": day, "market": market, "symbol_count": meta.get("count"),
              "metadata": metadata, "src_file_id": file_id}
    return header, members


def parse_symbol_list(doc: dict[str, Any], file_id: int | None) -> tuple[SymbolUniverseList, list[SymbolUniverse]]:
    """The list and its members as validated models; :class:`FieldError` names what is wrong."""
    header, members = symbol_list(doc, file_id)
    try:
        return SymbolUniverseList.model_validate(header), [SymbolUniverse.model_validate(m) for m in members]
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        column = str(err["loc"][0]) if err["loc"] else None
        raise FieldError(column, str(err["msg"]).splitlines()[0]) from None
