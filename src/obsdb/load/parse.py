"""Lines -> validated rows, rejects and skip counts. Runs in the reader thread; touches no database.

Production ticks go through :mod:`obsdb.formats.production` (msgspec, constraints of the model
built in); every other line is parsed by orjson, recognised by content, extracted, and validated by
its table's Pydantic model, which gives the reason when a line is refused.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from psycopg.types.json import Jsonb

from obsdb.formats.common import FieldError
from obsdb.formats.production import DENSE_COLUMNS, decode_batch
from obsdb.formats.recognize import describe_unknown, recognize
from obsdb.formats.ticks import TICK_FIELDS
from obsdb.load.packed import CopyFactory, pack_production
from obsdb.load.reader import MAX_LINE, Batch, OversizedLine
from obsdb.load.rows import Row, RowGroup, RowGroups
from obsdb.load.validate import RowError, validate_model, validate_rows
from obsdb.models import ScalpTick, model_for

BOM = b"\xef\xbb\xbf"
_DENSE_FLAG = DENSE_COLUMNS.index("quality_flag")


@dataclass
class Reject:
    line_no: int
    byte_offset: int
    field: str | None
    reason: str
    raw: bytes


@dataclass
class Parsed:
    """One batch, ready to write: groups of rows by table and layout, rejects, skips and flags."""

    batch: Batch
    groups: RowGroups = field(default_factory=RowGroups)
    rejects: list[Reject] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)

    def reject(self, i: int, column: str | None, reason: str) -> None:
        b = self.batch
        raw = b.lines[i]
        if isinstance(raw, OversizedLine):
            raw = bytes(raw) + b"...(truncated)"
        self.rejects.append(Reject(b.first_line + i, b.offset_of(i), column, reason, raw))

    @property
    def rows(self) -> int:
        return self.groups.count()


def _loads_failure(raw: bytes, first: bool) -> tuple[str, Any]:
    """Classify a line orjson refused: blank (skipped), BOM-prefixed (retry) or invalid (reject)."""
    if isinstance(raw, OversizedLine):
        return "reject", f"line of {raw.size:,} bytes is longer than the {MAX_LINE >> 20} MiB limit"
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


def parse_batch(batch: Batch, file_id: int | None, pack: CopyFactory | None = None) -> Parsed:
    """Recognise, extract and validate every line of ``batch``; nothing here can raise for bad data.
    With ``pack``, the production ticks come out already encoded for COPY (load/packed.py)."""
    out = Parsed(batch)
    dense = out.groups.group("scalp_ticks", DENSE_COLUMNS)
    if pack is not None:
        dense.packed, others = pack_production(batch.lines, file_id, batch.first_line, pack, out.flagged)
    else:
        others = _production_rows(batch, file_id, dense, out.flagged)
    if others:
        _parse_general(out, others, file_id)
    return out


def _production_rows(batch: Batch, file_id: int | None, dense: RowGroup, flagged: Counter[str]) -> list[int]:
    """The production ticks of ``batch`` as rows of ``dense``; returns the positions of the other lines."""
    others: list[int] = []
    decoded = decode_batch(batch.lines, file_id, batch.first_line)
    if None not in decoded:  # the usual batch: every line production, taken whole (no per-row add)
        dense.set(cast(list[Row], decoded), list(range(len(decoded))))
    else:
        for i, row in enumerate(decoded):
            if row is None:
                others.append(i)
            else:
                dense.add(row, i)
    for row in dense.rows:
        if row[_DENSE_FLAG] != "normal":
            flagged.update(row[_DENSE_FLAG].split(","))
    return others


def _parse_general(out: Parsed, positions: list[int], file_id: int | None) -> None:
    """The lines the production path did not take: any shape, any defect, each with its reason."""
    batch = out.batch
    ticks: list[RowGroup] = []
    models: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i in positions:
        raw = batch.lines[i]
        line_no = batch.first_line + i
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError:
            kind, d = _loads_failure(raw, line_no == 1)
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
            extracted = shape.extract(d, file_id, line_no)
        except FieldError as exc:
            out.reject(i, exc.field, exc.reason)
            continue
        except Exception as exc:  # a record too malformed to name the field: still a reject, never a crash
            out.reject(i, None, f"malformed {shape.name} record: {type(exc).__name__}: {exc}")
            continue
        if shape.table == "scalp_ticks":
            layout, row = extracted
            group = out.groups.group("scalp_ticks", layout)
            if not group.rows:
                ticks.append(group)
            group.add(row, i)
        else:
            models.setdefault(str(shape.table), []).append((i, extracted))
    for group in ticks:
        _validate_ticks(out, group)
    for table, items in models.items():
        _validate_models(out, table, items)
    # Validation rejects come group by group, and which group comes first depends on which lines the
    # fast path took: in line order, the rejects are the same either way.
    out.rejects.sort(key=lambda r: r.line_no)


def _validate_ticks(out: Parsed, group: RowGroup) -> None:
    """One batched Pydantic call per layout (the model's own field types and constraints)."""
    columns = group.columns
    errors = validate_rows(ScalpTick, group.rows, columns=columns)
    shape_at, flag_at = columns.index("record_shape"), columns.index("quality_flag")
    if errors:
        bad = {e.index for e in errors}
        for e in errors:
            shape = group.rows[e.index][shape_at]
            fields = TICK_FIELDS.get(shape if isinstance(shape, str) else "A", TICK_FIELDS["A"])
            out.reject(group.index[e.index], fields.get(e.column or "", e.column), e.message)
        group.keep([k for k in range(len(group.rows)) if k not in bad])
    extra_at = columns.index("extra") if "extra" in columns else None
    rows: list[Row] = group.rows
    for k, row in enumerate(rows):
        flag = row[flag_at]
        if flag != "normal":
            out.flagged.update(flag.split(","))
        if extra_at is not None and row[extra_at] is not None:
            rows[k] = (*row[:extra_at], Jsonb(row[extra_at]), *row[extra_at + 1:])


def _validate_models(out: Parsed, table: str, items: list[tuple[int, dict[str, Any]]]) -> None:
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
        columns = tuple(c for c in model.columns()
                        if c not in model.__db_filled__ or getattr(result, c) is not None)
        out.groups.group(table, columns).add(result.to_row(columns), i)


__all__ = ["Parsed", "Reject", "parse_batch"]
