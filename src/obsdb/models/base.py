"""The base of every table model: fields in column order, rows for COPY, frozen validated values.

A model is one row of one table. Its fields are declared in the table's column order, so
``columns()`` is the column list a COPY needs and ``to_row()`` the matching tuple; ``from_row()``
reads a row back (a tuple from a plain cursor or a mapping from ``dict_row``). The meta-test in
``tests/test_models.py`` compares every model with the ``CREATE TABLE`` it mirrors.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Self, Union, get_args, get_origin

from psycopg.types.json import Json, Jsonb
from pydantic import BaseModel, ConfigDict

__all__ = ["TableModel", "ohlc_violations"]


def _is_json_type(annotation: Any) -> bool:
    """True when a field's annotation is (an optional) dict: a jsonb column."""
    origin = get_origin(annotation)
    if origin is dict:
        return True
    if origin is Annotated:
        return _is_json_type(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(_is_json_type(arg) for arg in get_args(annotation))
    return False


class TableModel(BaseModel):
    """One row of ``__table__``; ``__key__`` names its primary (or natural) key columns.

    ``__db_filled__`` names the columns the database fills (``DEFAULT now()``, identity) when the
    model holds None: leave them out of a COPY with ``insert_columns()``.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        regex_engine="rust-regex",  # `$` means end of text, as in PostgreSQL (Python's re allows "\n")
        defer_build=True,
    )

    __table__: ClassVar[str]
    __key__: ClassVar[tuple[str, ...]]
    __db_filled__: ClassVar[frozenset[str]] = frozenset()
    __columns__: ClassVar[tuple[str, ...]] = ()
    __jsonb__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__columns__ = tuple(cls.model_fields)
        cls.__jsonb__ = frozenset(
            name for name, field in cls.model_fields.items() if _is_json_type(field.annotation)
        )
        if "__table__" in cls.__dict__:
            unknown = (set(cls.__key__) | cls.__db_filled__) - set(cls.__columns__)
            if unknown:
                raise TypeError(f"{cls.__name__}: {sorted(unknown)} are not columns of {cls.__table__}")

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """Every column of the table, in table order."""
        return cls.__columns__

    @classmethod
    def insert_columns(cls) -> tuple[str, ...]:
        """The columns to COPY when the database should fill ``__db_filled__`` (computed_at...)."""
        return tuple(c for c in cls.__columns__ if c not in cls.__db_filled__)

    def to_row(self, columns: Sequence[str] | None = None) -> tuple[Any, ...]:
        """The values for ``columns`` (default: all, in table order), ready for COPY or INSERT.

        jsonb values are wrapped in psycopg's ``Jsonb``, which adapts in text and binary COPY.
        """
        values = self.__dict__
        row = []
        for name in self.__columns__ if columns is None else columns:
            try:
                value = values[name]
            except KeyError:
                raise ValueError(f"{self.__table__} has no column {name!r}") from None
            row.append(Jsonb(value) if value is not None and name in self.__jsonb__ else value)
        return tuple(row)

    @classmethod
    def from_row(cls, row: Sequence[Any] | Mapping[str, Any], columns: Sequence[str] | None = None) -> Self:
        """Validate a row: a mapping of column names, or a sequence in ``columns`` (default: all)."""
        if isinstance(row, Mapping):
            data = dict(row)
        elif isinstance(row, str | bytes):
            raise TypeError(f"{cls.__table__}: a row is a sequence of values or a mapping, not text")
        else:
            names = cls.__columns__ if columns is None else tuple(columns)
            if len(row) != len(names):
                raise ValueError(f"{cls.__table__}: row has {len(row)} values for {len(names)} columns")
            data = dict(zip(names, row, strict=True))
        for name in cls.__jsonb__:
            value = data.get(name)
            if isinstance(value, Json | Jsonb):
                data[name] = value.obj
        return cls.model_validate(data)

    def key(self) -> tuple[Any, ...]:
        """The values of the primary (or natural) key, in ``__key__`` order."""
        return tuple(self.__dict__[name] for name in self.__key__)


def ohlc_violations(open_: int, high: int, low: int, close: int) -> str | None:
    """Why a bar's prices are inconsistent (naming the fields), or None: low <= open, close <= high."""
    values = {"open": open_, "high": high, "low": low, "close": close}
    pairs = (("low", "high"), ("low", "open"), ("open", "high"), ("low", "close"), ("close", "high"))
    broken = [f"{a} ({values[a]}) > {b} ({values[b]})" for a, b in pairs if values[a] > values[b]]
    if not broken:
        return None
    return "bar prices must satisfy low <= open, close <= high; " + ", ".join(broken)
