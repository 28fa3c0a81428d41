"""Lines -> validated rows, rejects and skip counts. Runs in the reader thread; touches no database."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg.types.json import Jsonb

from obsdb.formats.common import FieldError
from obsdb.formats.recognize import describe_unknown, recognize
from obsdb.formats.ticks import TICK_FIELDS
from obsdb.load.reader import Batch, OversizedLine
from obsdb.load.validate import RowError, validate_model, validate_rows
from obsdb.models import ScalpTick, model_for

BOM = b"\xef\xbb\xbf"
_TICK_SHAPE = ScalpTick.columns().index("record_shape")
_TICK_FLAG = ScalpTick.columns().index("quality_flag")
_TICK_EXTRA = ScalpTick.columns().index("extra")


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
    ticks: list[tuple[Any, ...]] = []
    tick_index: list[int] = []
    nul_rows: list[int] = []  # rows whose line holds a \u0000 escape: checked by the full model too
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
            if b"\\u0000" in raw:
                nul_rows.append(len(ticks))
            ticks.append(row)
            tick_index.append(i)
        else:
            values.setdefault(str(shape.table), []).append((i, row))
    if ticks:
        _finish_ticks(out, ticks, tick_index, nul_rows)
    for table, items in values.items():
        _finish_models(out, table, items)
    return out


def _finish_ticks(out: Parsed, rows: list[tuple[Any, ...]], index: list[int], nul_rows: list[int]) -> None:
    errors = validate_rows(ScalpTick, rows, nul_free=True)
    if nul_rows:  # the few lines that could carry a NUL get the NUL check as well
        seen = {e.index for e in errors}
        careful = [rows[k] for k in nul_rows]
        errors += [RowError(nul_rows[e.index], e.column, e.message)
                   for e in validate_rows(ScalpTick, careful) if nul_rows[e.index] not in seen]
    if errors:
        bad = {e.index for e in errors}
        for e in errors:
            fields = TICK_FIELDS.get(rows[e.index][_TICK_SHAPE], TICK_FIELDS["A"]) if isinstance(
                rows[e.index][_TICK_SHAPE], str) else TICK_FIELDS["A"]
            name = fields.get(e.column or "", e.column)
            out.reject(index[e.index], name, e.message)
        keep = [k for k in range(len(rows)) if k not in bad]
        rows = [rows[k] for k in keep]
        index = [index[k] for k in keep]
    flagged = out.flagged
    for k, row in enumerate(rows):
        flag = row[_TICK_FLAG]
        if flag != "normal":
            flagged.update(flag.split(","))
        if row[_TICK_EXTRA] is not None:
            rows[k] = (*row[:_TICK_EXTRA], Jsonb(row[_TICK_EXTRA]), *row[_TICK_EXTRA + 1:])
    out.rows["scalp_ticks"] = rows
    out.index["scalp_ticks"] = index


def _finish_models(out: Parsed, table: str, items: list[tuple[int, dict[str, Any]]]) -> None:
    model = model_for(table)
    columns = model.insert_columns()
    rows: list[tuple[Any, ...]] = []
    index: list[int] = []
    for i, values in items:
        result = validate_model(model, values)
        if isinstance(result, RowError):
            out.reject(i, result.column, result.message)
            continue
        flag = getattr(result, "quality_flag", "normal")
        if flag != "normal":
            out.flagged.update(flag.split(","))
        rows.append(result.to_row(columns))
        index.append(i)
    if rows:
        out.rows[table] = rows
        out.index[table] = index


__all__ = ["Parsed", "Reject", "parse_batch"]
