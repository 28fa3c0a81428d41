"""Every row passes its table's Pydantic model before it is written.

Ticks are millions a day, so their rows are validated a batch at a time by one Rust call: a strict
``list[tuple[...]]`` adapter built from the model's own field types and constraints. Other tables
are small; each row goes through the whole model, model validators (OHLC order...) included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from obsdb.models import TableModel


@dataclass(frozen=True)
class RowError:
    """Why row ``index`` of a batch failed: the column, and the model's message."""

    index: int
    column: str | None
    message: str


@cache
def _batch_adapter(model: type[TableModel], columns: tuple[str, ...] | None) -> TypeAdapter[list[tuple[Any, ...]]]:
    """The model's column types and constraints as one strict tuple type."""
    if model.__pydantic_decorators__.model_validators:
        raise TypeError(f"{model.__name__} has model validators: validate whole models instead")
    types = []
    for name in columns or model.columns():
        f = model.model_fields[name]
        types.append(Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation)
    row_type = tuple[tuple(types)]  # type: ignore[misc,valid-type]
    return TypeAdapter(list[row_type], config=ConfigDict(strict=True, regex_engine="rust-regex"))  # type: ignore[valid-type]


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else message


def validate_rows(model: type[TableModel], rows: Sequence[tuple[Any, ...]], *,
                  columns: tuple[str, ...] | None = None) -> list[RowError]:
    """Check tuples of ``columns`` (default: all, in table order) in one call; return the failures.
    Columns left out must be ones the model lets be None (the database stores NULL there)."""
    try:
        _batch_adapter(model, columns).validate_python(rows)
    except ValidationError as exc:
        columns = columns or model.columns()
        failures: dict[int, RowError] = {}
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            if not loc or not isinstance(loc[0], int):
                raise
            index = loc[0]
            column = columns[loc[1]] if len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(columns) else None
            failures.setdefault(index, RowError(index, column, _first_line(str(err["msg"]))))
        return sorted(failures.values(), key=lambda e: e.index)
    return []


def validate_model(model: type[TableModel], values: dict[str, Any]) -> TableModel | RowError:
    """One row through the whole model; the first error names its column."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        column = str(err["loc"][0]) if err["loc"] else None
        return RowError(0, column, _first_line(str(err["msg"])))
