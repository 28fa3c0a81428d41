"""Pieces every record shape needs: aware timestamps, field errors, extras, exchange time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any

from obsdb.krx import KST


class FieldError(ValueError):
    """A line cannot become a row; ``field`` names the JSON field (dotted path) at fault."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


_fromiso = datetime.fromisoformat


def aware(value: Any, field: str) -> datetime:
    """An ISO-8601 timestamp that states its offset. A naive time is ambiguous: rejected."""
    if not isinstance(value, str):
        raise FieldError(field, f"expected an ISO-8601 timestamp string, got {type(value).__name__}")
    try:
        ts = _fromiso(value)
    except ValueError:
        raise FieldError(field, f"not an ISO-8601 timestamp: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise FieldError(field, f"timestamp has no time-zone offset (ambiguous): {value[:40]!r}")
    return ts


def aware_or_none(value: Any, field: str) -> datetime | None:
    return None if value is None else aware(value, field)


def kst_day(ts: datetime, text: str) -> date:
    """The KST date of a timestamp; a `+09:00` string already spells it, which is much cheaper."""
    if text.endswith("+09:00"):
        return ts.date()
    return ts.astimezone(KST).date()


_EXCHANGE_CACHE: dict[date, dict[str, datetime]] = {}


def exchange_time(day: date, hhmmss: Any, field: str = "execution_time") -> datetime | None:
    """KRX trade time: the KST date of the receive time plus ``HHMMSS`` (cached: a day has at most
    86,400 of them). A full ISO timestamp (an older collector wrote those) is taken as it is."""
    if hhmmss is None:
        return None
    per_day = _EXCHANGE_CACHE.get(day)
    if per_day is None:
        if len(_EXCHANGE_CACHE) > 64:
            _EXCHANGE_CACHE.clear()
        per_day = _EXCHANGE_CACHE[day] = {}
    try:
        return per_day[hhmmss]
    except (KeyError, TypeError):
        pass
    if not isinstance(hhmmss, str):
        raise FieldError(field, f"expected HHMMSS text, got {type(hhmmss).__name__}")
    if len(hhmmss) == 6 and hhmmss.isdigit():
        try:
            value = datetime.combine(day, time(int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:])), KST)
        except ValueError:
            raise FieldError(field, f"not a valid HHMMSS time: {hhmmss!r}") from None
    elif hhmmss == "":
        return None
    else:
        value = aware(hhmmss, field)
    per_day[hhmmss] = value
    return value


def extras(record: Mapping[str, Any], known: frozenset[str], prefix: str = "") -> dict[str, Any] | None:
    """Fields this version has no column for, kept verbatim for the ``extra`` jsonb column."""
    unknown = record.keys() - known
    if not unknown:
        return None
    return {prefix + k: record[k] for k in sorted(unknown)}


def merge_extras(*parts: dict[str, Any] | None) -> dict[str, Any] | None:
    merged: dict[str, Any] = {}
    for part in parts:
        if part:
            merged.update(part)
    return merged or None


def join_flags(flags: Iterable[str]) -> str:
    """'normal' or the flags, sorted and comma-separated (the format of ``quality_flag``)."""
    unique = sorted(set(flags))
    return ",".join(unique) if unique else "normal"
