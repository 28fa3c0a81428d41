"""Lines -> validated rows, rejects and skip counts. Runs in the reader thread; touches no database."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg.types.json import Jsonb

from obsdb.formats.common import FieldError
from obsdb.formats.recognize import describe_unknown, recognize
from obsdb.formats.ticks import DENSE_COLUMNS, TICK_FIELDS
from obsdb.load.reader import Batch, OversizedLine
from obsdb.load.validate import RowError, validate_model, validate_rows
from obsdb.models import ScalpTick, model_for

BOM = b"\xef\xbb\xbf"
DENSE_SIZE = len(DENSE_COLUMNS)


@dataclass
class Reject:
    line_no: int
    byte_offset: int
    field: str | None
    reason: str
    raw: bytes


@dataclass
class Parsed:
    """One batch, ready to write: rows per table (in insert-column order) with their batch indexes."""

    batch: Batch
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    index: dict[str, list[int]] = field(default_factory=dict)
    #: the columns of ``rows[key]`` when not the table's insert columns ("<table>.<layout>" keys)
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)

    def reject(self, i: int, column: str | None, reason: str) -> None:
        b = self.batch
        raw = b.lines[i]
        if isinstance(raw, OversizedLine):
            raw = bytes(raw) + b"...(truncated)"
        self.rejects.append(Reject(b.first_line + i, b.offset_of(i), column, reason, raw))


def _loads_failure(raw: bytes, first: bool) -> tuple[str, Any]:
    """Classify a line orjson refused: blank (skipped), BOM-prefixed (retry) or invalid (reject)."""
    if isinstance(raw, OversizedLine):
        return "reject", f"line of {raw.size:,} bytes is longer than the {64} MiB limit"
    if not raw.strip():
        return "blank", None
    if first and raw.startswith(BOM):
        try:
            return "ok", orjson.loads(raw[len(BOM):])
        except orjson.JSONDecodeError as exc:
            return "reject", f"invalid JSON: {exc}"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return "reject", f"invalid UTF-8 at byte {exc.start}"
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return "reject", f"invalid JSON: {exc}"
    return "reject", "invalid JSON"


def parse_batch(batch: Batch, file_id: int | None) -> Parsed:
    """Recognise, extract and validate every line of ``batch``; nothing here can raise for bad data."""
    out = Parsed(batch)
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    full = _TickGroup("scalp_ticks", ScalpTick.columns())
    dense = _TickGroup("scalp_ticks.dense", DENSE_COLUMNS)
    values: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    first = batch.first_line
    for i, raw in enumerate(batch.lines):
        try:
            d = loads(raw)
        except decode_error:
            kind, d = _loads_failure(raw, first + i == 1)
            if kind == "blank":
                out.skipped["blank"] += 1
                continue
            if kind == "reject":
                out.reject(i, None, d)
                continue
        if type(d) is not dict:
            out.reject(i, None, f"expected a JSON object, got {type(d).__name__}")
            continue
        shape = recognize(d)
        if shape is None:
            out.reject(i, None, describe_unknown(d))
            continue
        if shape.extract is None:
            out.skipped[shape.name] += 1
            continue
        try:
            row = shape.extract(d, file_id, first + i)
        except FieldError as exc:
            out.reject(i, exc.field, exc.reason)
            continue
        except Exception as exc:  # a record too malformed to name the field: still a reject, never a crash
            out.reject(i, None, f"malformed {shape.name} record: {type(exc).__name__}: {exc}")
            continue
        if shape.table == "scalp_ticks":
            (dense if len(row) == DENSE_SIZE else full).add(row, i, raw)
        else:
            values.setdefault(str(shape.table), []).append((i, row))
    full.finish(out)
    dense.finish(out)
    for table, items in values.items():
        _finish_models(out, table, items)
    return out


class _TickGroup:
    """Tick rows of one layout (all columns, or the production tick's dense columns)."""

    def __init__(self, key: str, columns: tuple[str, ...]) -> None:
        self.key, self.columns = key, columns
        self.rows: list[tuple[Any, ...]] = []
        self.index: list[int] = []
        self.nul_rows: list[int] = []  # rows whose line holds a \u0000 escape: get the NUL check too
        self.shape_at = columns.index("record_shape")
        self.flag_at = columns.index("quality_flag")
        self.extra_at = columns.index("extra") if "extra" in columns else None

    def add(self, row: tuple[Any, ...], i: int, raw: bytes) -> None:
        if b"\\u0000" in raw:
            self.nul_rows.append(len(self.rows))
        self.rows.append(row)
        self.index.append(i)

    def finish(self, out: Parsed) -> None:
        rows, index = self.rows, self.index
        errors = validate_rows(ScalpTick, rows, nul_free=True, columns=self.columns)
        if self.nul_rows:
            seen = {e.index for e in errors}
            careful = [rows[k] for k in self.nul_rows]
            errors += [RowError(self.nul_rows[e.index], e.column, e.message)
                       for e in validate_rows(ScalpTick, careful, columns=self.columns)
                       if self.nul_rows[e.index] not in seen]
        if errors:
            bad = {e.index for e in errors}
            for e in errors:
                shape = rows[e.index][self.shape_at]
                fields = TICK_FIELDS.get(shape if isinstance(shape, str) else "A", TICK_FIELDS["A"])
                out.reject(index[e.index], fields.get(e.column or "", e.column), e.message)
            keep = [k for k in range(len(rows)) if k not in bad]
            rows = [rows[k] for k in keep]
            index = [index[k] for k in keep]
        flagged, flag_at, extra_at = out.flagged, self.flag_at, self.extra_at
        for k, row in enumerate(rows):
            flag = row[flag_at]
            if flag != "normal":
                flagged.update(flag.split(","))
            if extra_at is not None and row[extra_at] is not None:
                rows[k] = (*row[:extra_at], Jsonb(row[extra_at]), *row[extra_at + 1:])
        if rows:
            out.rows[self.key], out.index[self.key], out.columns[self.key] = rows, index, self.columns


def _finish_models(out: Parsed, table: str, items: list[tuple[int, dict[str, Any]]]) -> None:
    """Whole-model validation. Columns the database fills (created_at...) are written only when the
    record gives them, so a stated value is kept and a missing one takes the default."""
    model = model_for(table)
    for i, values in items:
        result = validate_model(model, values)
        if isinstance(result, RowError):
            out.reject(i, result.column, result.message)
            continue
        flag = getattr(result, "quality_flag", "normal")
        if flag != "normal":
            out.flagged.update(flag.split(","))
        given = tuple(c for c in model.columns() if c in model.__db_filled__ and getattr(result, c) is not None)
        columns = tuple(c for c in model.columns() if c not in model.__db_filled__ or c in given)
        key = table if not given else f"{table}.{'+'.join(given)}"
        out.rows.setdefault(key, []).append(result.to_row(columns))
        out.index.setdefault(key, []).append(i)
        if given:
            out.columns[key] = columns


__all__ = ["Parsed", "Reject", "parse_batch"]
