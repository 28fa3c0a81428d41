"""derive/finals.py against PostgreSQL: every value it calls certain is the one the server computes
(sql/stats_in_view.sql's expressions), including values a hair from a rounding tie."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from obsdb.derive.finals import quotient, standard_deviation

pytestmark = pytest.mark.db

Ints = np.ndarray

_QUOTIENTS = ("SELECT round(a::numeric / b, 4)::text "
              "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY u (a, b, i) ORDER BY i")
_ROOTS = ("SELECT (CASE WHEN q <= 0 THEN 0 ELSE round(sqrt(q::numeric / m::numeric), 4) END)::text "
          "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY u (q, m, i) ORDER BY i")


def _server(conn: psycopg.Connection[Any], query: str, x: list[int], y: list[int]) -> list[Decimal]:
    return [Decimal(v) for (v,) in conn.execute(query, (x, y)).fetchall()]


def _near_quotient_tie(b: int, k: int, nudge: int) -> tuple[int, int]:
    """a with a / b within a few 1/b of k + 0.00005 (a rounding tie at 4 decimals)."""
    return max(0, b * (2 * k + 1) // 20_000 + nudge), b


def _near_root_tie(n: int, k: int, nudge: int) -> tuple[int, int]:
    """q, m = n (n - 1) with sqrt(q / m) within a few units of q of (k + 0.5) / 10^4."""
    m = n * (n - 1)
    return max(0, m * (2 * k + 1) ** 2 // (4 * 10**8) + nudge), m


pairs = st.one_of(
    st.tuples(st.integers(0, 10**15), st.integers(1, 240)),
    st.tuples(st.integers(0, 10**18), st.integers(1, 10**12)),
    st.builds(_near_quotient_tie, st.integers(1, 10**12), st.integers(0, 10**9), st.integers(-2, 2)))
roots = st.one_of(
    st.tuples(st.integers(-10, 10**18), st.integers(2, 240).map(lambda n: n * (n - 1))),
    st.builds(_near_root_tie, st.integers(2, 240), st.integers(0, 10**9), st.integers(-3, 3)))


def _check(conn: psycopg.Connection[Any], made: Callable[[Ints, Ints], tuple[Ints, Ints]], query: str,
           rows: list[tuple[int, int]]) -> None:
    """Every value ``made`` calls certain is the server's."""
    x, y = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    units, certain = made(x, y)
    want = _server(conn, query, x.tolist(), y.tolist())
    for i in np.flatnonzero(certain):
        assert Decimal(int(units[i])) / 10_000 == want[i], (int(x[i]), int(y[i]))


def test_property_quotients_are_postgresql_s_where_certain(db: str) -> None:
    with psycopg.connect(db) as conn:

        @settings(max_examples=40, deadline=None)
        @given(st.lists(pairs, min_size=1, max_size=300))
        @example([(5, 2 * 10_000), (15, 2 * 10_000), (1, 3), (2, 3), (123_456_789, 240)])  # exact ties, thirds
        def check(rows: list[tuple[int, int]]) -> None:
            _check(conn, quotient, _QUOTIENTS, rows)

        check()


def test_property_standard_deviations_are_postgresql_s_where_certain(db: str) -> None:
    with psycopg.connect(db) as conn:

        @settings(max_examples=40, deadline=None)
        @given(st.lists(roots, min_size=1, max_size=300))
        @example([(0, 2), (-5, 2), (1, 2), (2, 2), (10**16, 57_360)])
        def check(rows: list[tuple[int, int]]) -> None:
            _check(conn, standard_deviation, _ROOTS, rows)

        check()


def test_everyday_values_are_all_certain() -> None:
    """Prices and volumes of KRX bars are decided here, not sent back to the staged path."""
    rng = np.random.default_rng(3)
    n = rng.integers(1, 241, 10_000)
    closes = rng.integers(100, 3_000_000, 10_000) * n
    assert quotient(closes, n)[1].all()
    squares = rng.integers(0, 10**15, 10_000)
    assert standard_deviation(squares, np.maximum(n * (n - 1), 2))[1].all()


def test_a_quotient_within_postgresql_s_rounding_error_of_a_tie_is_left_to_the_server() -> None:
    # a / b = 12345.00005 - 1e-12: closer to the tie than 4 x 0.5e-12, the rounding error this
    # module allows PostgreSQL's division of a quotient past 1e4 (at least 12 decimals)
    b = 10**12
    a, _ = _near_quotient_tie(b, 123_450_000, -1)
    assert not quotient(np.array([a, 10 * a]), np.array([b, 10 * b]))[1].any()
