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
def _batch_adapter(model: type[TableModel]) -> TypeAdapter[list[tuple[Any, ...]]]:
    if model.__pydantic_decorators__.model_validators:
        raise TypeError(f"{model.__name__} has model validators: validate whole models instead")
    types = tuple(Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
                  for f in model.model_fields.values())
    return TypeAdapter(list[tuple[types]], config=ConfigDict(strict=True, regex_engine="rust-regex"))  # type: ignore[valid-type]


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else message


def validate_rows(model: type[TableModel], rows: Sequence[tuple[Any, ...]]) -> list[RowError]:
    """Check tuples in ``model.columns()`` order in one call; return the failures (usually none)."""
    try:
        _batch_adapter(model).validate_python(rows)
    except ValidationError as exc:
        columns = model.columns()
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
