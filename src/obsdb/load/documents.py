"""Plain-JSON documents (shape I symbol lists): one document per file, loaded whole, exactly once."""

from __future__ import annotations

from typing import Any

import orjson

from obsdb.formats.common import FieldError
from obsdb.formats.universe import MAX_DOCUMENT, is_symbol_list, parse_symbol_list
from obsdb.load.digest import digest_of
from obsdb.load.files import Found, Opened
from obsdb.load.ledger import Ledger
from obsdb.load.parse import Parsed
from obsdb.load.reader import Batch
from obsdb.load.report import FileReport
from obsdb.models import SymbolUniverse, SymbolUniverseList


def read_document(opened: Opened) -> tuple[bytes, Any] | None:
    """The file's bytes and its JSON value when it is one symbol-list document, else None."""
    content = opened.stream.read(MAX_DOCUMENT + 1)
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return (content, doc) if is_symbol_list(doc) else None


def parse_document(content: bytes, doc: Any, file_id: int | None) -> Parsed:
    """The document as a one-line batch: the list row and its members, or one reject."""
    parsed = Parsed(Batch([content], 1, 0, len(content), digest_of(content)))
    try:
        header, members = parse_symbol_list(doc, file_id)
    except FieldError as exc:
        parsed.reject(0, exc.field, exc.reason)
        return parsed
    lists = SymbolUniverseList.insert_columns()
    parsed.groups.group(SymbolUniverseList.__table__, lists).add(header.to_row(lists), 0)
    group = parsed.groups.group(SymbolUniverse.__table__, SymbolUniverse.insert_columns())
    for m in members:
        group.add(m.to_row(group.columns), 0)
    return parsed


def already_loaded(ledger: Ledger, found: Found, head_sha: str, size: int, report: FileReport) -> int | None:
    """The ledger entry that holds this whole document, if any (then the file is unchanged or a copy)."""
    done = next((c for c in ledger.candidates(head_sha) if c.loaded_bytes == size), None)
    if done is None:
        return None
    report.status = "unchanged" if ledger.path_file_id(found) == done.file_id else "copy"
    return done.file_id
