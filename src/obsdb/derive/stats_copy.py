"""A fresh day's statistics: finished rows, written by one binary COPY into the table.

When the scope (the symbols, the source, the KST day) has no statistics row yet, which is every
day a load brings, there is nothing to compare, update or delete: the rows sql/stats_rolling.sql
would insert are made here (derive/finals.py makes the numeric columns exactly as
sql/stats_in_view.sql does) and copied straight in. That skips the staging table, the view and
the INSERT .. SELECT over them. Where finals.py cannot be certain of a value, :func:`write`
answers None and the caller takes the staged path. Derive holds the day's lock, so no one adds
rows to the scope between the check and the COPY.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from obsdb.derive import finals, pgbinary
from obsdb.derive.common import load_sql

#: the table's columns in sql/stats_copy.sql's order, with their binary types ("numeric": scale 4)
_COLUMNS = (("symbol", "text"), ("source_table", "text"), ("window_minutes", "int4"), ("bar_time", "timestamptz"),
            ("bar_count", "int4"), ("coverage", "float8"), ("price_mean", "numeric"),
            ("price_stddev", "numeric"), ("price_min", "int8"), ("price_max", "int8"),
            ("logret_mean", "float8"), ("logret_stddev", "float8"), ("logret_skew", "float8"),
            ("logret_kurtosis", "float8"), ("atr", "numeric"), ("annualized_vol", "float8"),
            ("hl_range", "int8"), ("volume_mean", "numeric"), ("volume_stddev", "numeric"), ("vwap", "numeric"),
            ("computed_at", "timestamptz"))


def is_fresh(conn: psycopg.Connection[Any], params: dict[str, Any]) -> bool:
    """Whether the scope of ``params`` (symbols, source_table, lo, hi) has no statistics row."""
    row = conn.execute(load_sql("stats_fresh"), params).fetchone()
    return bool(row and row[0])


def write(conn: psycopg.Connection[Any], sums: dict[str, np.ndarray], params: dict[str, Any]) -> int | None:
    """COPY the finished rows of ``sums`` (derive/windows.py's columns); None, writing nothing,
    where a value is not certain (the caller stages the sums instead)."""
    made = _finished(sums)
    if made is None:
        return None
    values, nulls = made
    values["computed_at"] = np.full(sums["s"].size, pgbinary.micros(params["now"]), np.int64)
    text = _Text([s.encode() for s in params["symbols"]], sums["s"] - 1, params["source_table"].encode())
    with conn.cursor() as cur, cur.copy(load_sql("stats_copy")) as copy:
        pgbinary.write_parts(copy.write, _groups(values, nulls, text))
    return int(sums["s"].size)


def _finished(sums: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """The view's columns (numeric ones in units of 0.0001) and where each is NULL; None if unsure."""
    if any(sums[name].dtype == np.object_ for name in ("sx", "q_x", "s_tr", "sv", "q_v", "pv3")):
        return None  # sums past int64: rare, and staged as numeric
    n, n_v, n_r, sv = sums["bar_count"].astype(np.int64), sums["n_v"], sums["n_r"], sums["sv"]
    one = np.ones_like(n)
    price_mean, ok1 = finals.quotient(sums["sx"], n)
    atr, ok2 = finals.quotient(sums["s_tr"], n)
    price_sd, ok3 = finals.standard_deviation(sums["q_x"], np.where(n >= 2, n * (n - 1), one))
    volume_mean, ok4 = finals.quotient(sv, np.where(n_v >= 1, n_v, one))
    volume_sd, ok5 = finals.standard_deviation(sums["q_v"], np.where(n_v >= 2, n_v * (n_v - 1), one))
    vwap, ok6 = finals.quotient(sums["pv3"], np.where(sv > 0, 3 * sv, one))
    nulls = {"price_stddev": n < 2, "volume_mean": n_v < 1, "volume_stddev": n_v < 2, "vwap": sv <= 0,
             "logret_mean": n_r < 1, "logret_stddev": n_r < 2, "annualized_vol": n_r < 2,
             "logret_skew": (n_r < 3) | ~sums["spread"], "logret_kurtosis": (n_r < 4) | ~sums["spread"]}
    certain = ok1 & ok2 & (ok3 | nulls["price_stddev"]) & (ok4 | nulls["volume_mean"]) \
        & (ok5 | nulls["volume_stddev"]) & (ok6 | nulls["vwap"])
    if not certain.all() or any((sums[name] < 0).any() for name in ("sx", "s_tr", "sv", "pv3")):
        return None
    values = {name: sums[name] for name in ("window_minutes", "bar_time", "bar_count", "coverage", "price_min",
                                            "price_max", "logret_mean", "logret_stddev", "logret_skew",
                                            "logret_kurtosis", "annualized_vol")}
    values.update(price_mean=price_mean, atr=atr, price_stddev=price_sd, volume_mean=volume_mean,
                  volume_stddev=volume_sd, vwap=vwap, hl_range=sums["price_max"] - sums["price_min"])
    return values, nulls


class _Text:
    """The rows' two text columns: each symbol by its index into ``symbols``, and the one source."""

    def __init__(self, symbols: list[bytes], index: np.ndarray, source: bytes) -> None:
        self.symbols, self.index, self.source = symbols, index, source
        self.lengths = np.array([len(s) for s in symbols], np.int64)[index]

    def column(self, name: str, rows: np.ndarray, length: int) -> np.ndarray:
        if name == "source_table":
            return np.full(rows.size, self.source, f"S{len(self.source)}")
        picked: np.ndarray = np.array(self.symbols, f"S{length}")[self.index[rows]]
        return picked


def _groups(values: dict[str, np.ndarray], nulls: dict[str, np.ndarray], text: _Text
            ) -> list[tuple[dict[str, np.ndarray], np.dtype[np.void]]]:
    """The rows split by which columns are NULL and by symbol length (a text field's width is its
    length), each group with its layout."""
    key = text.lengths << len(nulls)
    for bit, flags in enumerate(nulls.values()):
        key |= flags.astype(np.int64) << bit
    digits = {name: _numeric_digits(values[name]) for name, kind in _COLUMNS if kind == "numeric"}
    parts = []
    for pattern in np.unique(key).tolist():
        rows = np.flatnonzero(key == pattern)
        null = {name for bit, name in enumerate(nulls) if pattern >> bit & 1}
        width = {"symbol": pattern >> len(nulls), "source_table": len(text.source)}
        layout = [(name, np.dtype(f"S{width[name]}") if kind == "text" else
                   pgbinary.numeric_type(digits[name]) if kind == "numeric" else kind) for name, kind in _COLUMNS]
        columns = {name: text.column(name, rows, width[name]) if kind == "text" else
                   _laid_out(values[name][rows], digits.get(name)) for name, kind in _COLUMNS}
        parts.append((columns, pgbinary.null_row_type(layout, null)))
    return parts


def _numeric_digits(units: np.ndarray) -> int:
    """Base-10000 digits for values in units of 0.0001: the integer part's, plus one fractional."""
    largest = int(units.max()) if units.size else 0
    return 1 + max(1, (len(str(largest // finals.SCALE)) + 3) // 4)


def _laid_out(values: np.ndarray, digits: int | None) -> np.ndarray:
    """A column of one group as COPY lays it out: numerics (``digits``) as numeric_recv reads them."""
    if digits is None:
        return values
    out = pgbinary.numerics(np.maximum(values, 0), digits)
    out["weight"], out["dscale"] = digits - 2, 4  # the last digit is the fraction: units of 0.0001
    return out
