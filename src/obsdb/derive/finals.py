"""The numeric statistics of sql/stats_in_view.sql, made client-side as PostgreSQL makes them.

A fresh day's statistics (no row of the scope yet: what a load brings) are written by one binary
COPY of finished rows (derive/stats_copy.py) instead of staging the sums and letting PostgreSQL
divide, take square roots and round (about 0.4 s of server time a 40-symbol day). The results
must be the very values the view gives, so:

* a quotient ``round(a / b, 4)`` of non-negative integers is computed exactly with integers and
  rounded half away from zero, as PostgreSQL's ``round`` does;
* a standard deviation ``round(sqrt(q / m), 4)`` is computed in float64 and kept where it is
  further from a rounding tie than both float64's error and PostgreSQL's own (its division and
  square root keep at least 16 significant digits, numeric.c's select_div_scale and
  numeric_sqrt); the few that are closer are decided with exact integer arithmetic;
* where even that cannot decide (closer to a tie than PostgreSQL's rounding of its intermediate
  results), or a value is too large for these bounds, the value is marked uncertain, and
  derive/stats_copy.py leaves the day to the staged path. Values are in units of 0.0001 (numeric
  scale 4).
"""

from __future__ import annotations

from math import isqrt

import numpy as np

Ints = np.ndarray
Bools = np.ndarray

SCALE = 10_000  # numeric(.., 4)
#: the largest quotient handled: its units (x 10^4) stay in int64
_MAX_QUOTIENT = 9 * 10**14
#: the largest variance handled (a standard deviation of 1e8): numeric_sqrt keeps >= 9 decimals
_MAX_VARIANCE = 10**16


def quotient(a: Ints, b: Ints) -> tuple[Ints, Bools]:
    """``round(a / b, 4)`` in units of 0.0001 (a >= 0, b > 0, int64), and where it is certain."""
    q, r = np.divmod(a, b)
    fits = (b < 4 * 10**14) & (q < _MAX_QUOTIENT)  # 20,000 * r and q * 10^4 stay in int64
    r_scaled = np.where(fits, r, 0) * SCALE
    units = np.where(fits, q, 0) * SCALE + (2 * r_scaled + b) // (2 * b)
    # PostgreSQL divides to rscale >= 16 - 4w digits (w: the quotient's base-10000 weight), then
    # rounds to 4: the same result unless the exact quotient lies within that rounding's error of a
    # tie. An exact tie terminates within rscale digits, so it rounds the same way.
    w = np.minimum(2, np.floor(np.log10(np.maximum(q, 1).astype(np.float64)) / 4))
    error = 0.5 * 10.0 ** (4 * w - 12)  # in units of 0.0001
    off_tie = np.abs(2 * (r_scaled % b) - b)  # distance to the tie, in units of 1 / (2b) of 0.0001
    certain = fits & ((off_tie == 0) | (off_tie / (2.0 * b) > 4 * error))
    return units, certain


def root(q: Ints, m: Ints) -> tuple[Ints, Bools]:
    """``round(sqrt(q / m), 4)`` in units of 0.0001 (q > 0, m > 0, int64), and where it is certain."""
    d = q.astype(np.float64) / m
    s = np.sqrt(d) * SCALE
    units = np.floor(s + 0.5).astype(np.int64)
    # PostgreSQL's error on s: the division's rounding (rscale >= 16 - 4w, w the base-10000 weight of
    # d), carried through the root, plus the root's own (rscale >= 16 - (2w + 1)); four times over.
    w = np.maximum(0, np.floor(np.log10(np.maximum(d, 1.0)) / 4))
    pg_error = 4 * SCALE * (0.5 * 10.0 ** (4 * w - 16) / (2 * np.sqrt(np.maximum(d, 1e-300)))
                            + 0.5 * 10.0 ** (2 * w + 1 - 16))
    float_error = 1e-9 + s * 1e-13
    near = np.abs(s - np.floor(s) - 0.5) <= pg_error + float_error
    certain = d < _MAX_VARIANCE
    for i in np.flatnonzero(near & certain):  # rare: decide exactly, or give up
        units[i], certain[i] = _exact_root(int(q[i]), int(m[i]), float(pg_error[i]))
    return units, certain


def _exact_root(q: int, m: int, pg_error: float) -> tuple[int, bool]:
    """round(sqrt(q / m) * 10^4) exactly; certain unless the root is within ``pg_error`` of a tie."""
    n = 4 * SCALE * SCALE * q  # (2 * sqrt(q / m) * 10^4)^2 * m
    k = (isqrt(n // m) + 1) // 2  # floor(sqrt(q / m) * 10^4 + 0.5)
    # the ties k +- 1/2 are where n = c^2 * m (c = 2k +- 1); sqrt(n / m) - c = (n / m - c^2) /
    # (sqrt(n / m) + c), and sqrt(n / m) < c + 2 here: a lower bound of the distance, in units of 0.0001
    gaps = [abs(n - c * c * m) / (2 * m * (2 * c + 2)) for c in (2 * k + 1, 2 * k - 1) if c > 0]
    return k, min(gaps, default=1.0) > pg_error


def standard_deviation(q: Ints, m: Ints) -> tuple[Ints, Bools]:
    """The view's standard deviation: 0 where the squared sum is not positive, else :func:`root`."""
    positive = q > 0
    units, certain = root(np.where(positive, q, 1), np.where(positive, m, 1))
    return np.where(positive, units, 0), certain | ~positive
