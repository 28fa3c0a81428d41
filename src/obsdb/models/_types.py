"""Column types shared by the table models: each mirrors one PostgreSQL column type and its CHECK.

A value a model accepts must load into the table unchanged, and a row read back from the table must
validate to an equal model. So integers are strict (no bools, no floats, no numeric strings) and
range-checked like bigint/integer/smallint; ``numeric(p, s)`` values are rounded to the column's
scale exactly as PostgreSQL does on insert (half away from zero) and rejected when they overflow;
text cannot hold NUL; jsonb holds only JSON values. Prices are integer KRW, never float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, GetCoreSchemaHandler, StringConstraints
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "DEFAULT_QUALITY_FLAG",
    "KRW",
    "QUALITY_FLAG_PATTERN",
    "AwareDatetime",
    "BigInt",
    "Count",
    "Count32",
    "Coverage",
    "Fraction01",
    "JsonObject",
    "Money",
    "MoneyNonNeg",
    "NonEmptyText",
    "NonNegFloat",
    "Number",
    "PgNumeric",
    "PositiveInt32",
    "PositiveKRW",
    "PositiveQuantity",
    "Price4",
    "QualityFlag",
    "Seconds",
    "SmallInt",
    "StatFloat",
    "Symbol",
    "Text",
    "UnitFloat",
    "Volume4",
    "Weight",
]

INT16_MAX = 2**15 - 1
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

DEFAULT_QUALITY_FLAG = "normal"
QUALITY_FLAG_PATTERN = r"^[a-z_]+(,[a-z_]+)*$"  # the same regex as the SQL CHECK

_WIDE = Context(prec=60)  # large enough to quantize any numeric(p <= 28, s) without a signal


@dataclass(frozen=True, slots=True)
class PgNumeric:
    """Marks a Decimal as ``numeric(precision, scale)``: round like PostgreSQL, reject overflow.

    Rounding here (rather than rejecting extra digits) keeps the model equal to what the database
    stores, so a model read back with ``from_row`` equals the one that was written.
    """

    precision: int
    scale: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.fit, handler(source))

    def fit(self, value: Decimal) -> Decimal:
        int_digits = self.precision - self.scale
        limit = Decimal(10) ** int_digits
        if value.adjusted() < int_digits:  # cheap pre-check keeps quantize inside _WIDE
            rounded = value.quantize(Decimal(1).scaleb(-self.scale), ROUND_HALF_UP, _WIDE)
            if abs(rounded) < limit:
                return rounded
        raise ValueError(
            f"numeric({self.precision}, {self.scale}) overflow: absolute value must be below {limit}"
        )


def reject_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text cannot contain NUL (\\x00): PostgreSQL rejects it")
    return value


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"jsonb cannot hold {value} (at {path})")
    elif isinstance(value, str):
        reject_nul(value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"jsonb object keys must be str, got {type(key).__name__} (at {path})")
            reject_nul(key)
            _check_json(item, f"{path}.{key}")
    else:
        raise ValueError(f"jsonb holds JSON values only, not {type(value).__name__} (at {path})")


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    _check_json(value, "$")
    return value


# --- integers: strict (JSON ints and Python ints only), ranged like the SQL type -------------------
BigInt = Annotated[int, Field(strict=True, ge=-INT64_MAX - 1, le=INT64_MAX)]
SmallInt = Annotated[int, Field(strict=True, ge=-INT16_MAX - 1, le=INT16_MAX)]
KRW = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
"""Integer KRW in a bigint column: exact, never negative; 152300.5, True and "152300" are refused."""
PositiveKRW = Annotated[int, Field(strict=True, gt=0, le=INT64_MAX)]
"""Integer KRW that must be above zero (``CHECK (x > 0)``): limit and execution prices."""
Count = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
"""A bigint count or quantity that cannot be negative (volumes, sizes, share counts)."""
PositiveQuantity = Annotated[int, Field(strict=True, gt=0, le=INT64_MAX)]
Count32 = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(strict=True, gt=0, le=INT32_MAX)]

# --- text ------------------------------------------------------------------------------------------
Text = Annotated[str, AfterValidator(reject_nul)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1), AfterValidator(reject_nul)]
Symbol = NonEmptyText
"""A symbol code: any non-empty text. The 6-character KRX rule is the loader's to apply and flag."""
QualityFlag = Annotated[str, StringConstraints(pattern=QUALITY_FLAG_PATTERN)]
"""``normal`` or a comma-separated list of lower-case flags; models default it to ``normal``."""

# --- numeric(p, s): exact Decimals, rounded to the column's scale ----------------------------------
Fraction01 = Annotated[Decimal, Field(ge=0, le=1)]
Coverage = Annotated[Decimal, PgNumeric(5, 4), Field(ge=0, le=1)]
"""numeric(5, 4) in [0, 1]: the share of expected observations a bar actually saw."""
Weight = Annotated[Decimal, PgNumeric(9, 8), Field(ge=0, le=1)]
"""numeric(9, 8) in [0, 1]: portfolio weights, weight caps and turnover."""
Seconds = Annotated[Decimal, PgNumeric(12, 3), Field(ge=0)]
Money = Annotated[Decimal, PgNumeric(20, 2)]
MoneyNonNeg = Annotated[Decimal, PgNumeric(20, 2), Field(ge=0)]
Price4 = Annotated[Decimal, PgNumeric(20, 4), Field(ge=0)]
"""numeric(20, 4) >= 0: averaged prices (avg_price, means, ATR, VWAP) that need decimals."""
Volume4 = Annotated[Decimal, PgNumeric(24, 4), Field(ge=0)]
Number = Annotated[Decimal, PgNumeric(24, 8)]
"""numeric(24, 8): signal values and thresholds (signed)."""
Return8 = Annotated[Decimal, PgNumeric(12, 8)]
"""numeric(12, 8): a signed return (0.01 is +1%), e.g. signal outcomes."""

# --- double precision: estimates, not money; finite only (JSON has no NaN) ------------------------
StatFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
UnitFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1)]

# --- others ----------------------------------------------------------------------------------------
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
"""A jsonb object: str keys, JSON values only (no NaN, no NUL), so it stores and round-trips."""
