"""What the portfolio modules share: their SQL files, their error, and exact JSON values."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import LiteralString

from obsdb.errors import ObsdbError
from obsdb.krx import KST

W8 = Decimal("0.00000001")
DEFAULT_BAND = Decimal("0.05")
"""Rebalance band when the policy's ``params`` has no ``drift_band`` (docs/portfolio.md)."""


class PortfolioError(ObsdbError):
    """A portfolio question that cannot be answered (no account, no snapshot, ...): exit 1."""


@cache
def load_sql(name: str) -> LiteralString:
    """The text of ``obsdb/portfolio/sql/<name>.sql`` (our own package file, not input)."""
    text = resources.files("obsdb.portfolio").joinpath(f"sql/{name}.sql").read_text(encoding="utf-8")
    return text


def round8(x: Decimal) -> Decimal:
    """Round a weight like PostgreSQL's numeric(9, 8): half away from zero."""
    return x.quantize(W8, rounding=ROUND_HALF_UP)


def exact(value: Decimal | int | None) -> str | int | None:
    """Money and prices for JSON: integers stay integers, decimals become strings (never floats)."""
    if value is None or isinstance(value, int):
        return value
    if value == value.to_integral_value():
        return int(value)
    return str(value)


def weight(value: Decimal | None) -> float | None:
    """A weight for JSON: a number. An 8-decimal value has < 16 significant digits, so the float's
    shortest representation prints exactly those digits (no rounding visible to a reader)."""
    return float(value) if value is not None else None


def iso(value: datetime | None) -> str | None:
    """Times in JSON: ISO 8601 in KST, the market's clock, with the offset."""
    return value.astimezone(KST).isoformat() if value is not None else None
