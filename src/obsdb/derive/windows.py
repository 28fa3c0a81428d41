"""The rolling statistics' window sums, computed client-side with numpy (docs/derive-stats.md).

PostgreSQL answers a day's bars once; every window of every length is summed here, and
``sql/stats_rolling.sql`` turns the sums into the statistics (the numeric means, standard deviations
and VWAP exactly as PostgreSQL rounds them). Two kinds of sums:

* integer quantities (counts; sums of closes, true ranges, volumes, typical price x volume; the
  variance numerators n*sum(x^2) - sum(x)^2): exact, as differences of running sums. In int64 when
  every window's result fits (int64 arithmetic wraps modulo 2**64, so a result that fits is exact
  even where a running sum wrapped), else in Python integers, so no size of price or volume
  overflows;
* the log-return moments: float64, two-pass (each window's mean first, then the sums of the
  deviations' second, third and fourth powers), added bar by bar oldest first. A window's figures
  depend only on its own bars, never on which other rows are computed with it: an increment gives
  a rebuild's bits.

The rows go out as columns (numpy arrays) for a binary COPY (``derive.pgbinary``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import log, log1p
from typing import Any

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Sums = npt.NDArray[Any]  # int64, or Python integers (object) where int64 could overflow

#: a symbol's bars are keyed symbol * _SPAN + microseconds, so frames never cross symbols
_SPAN = 10**12
_MICROS_PER_MINUTE = 60_000_000
_BIG = np.iinfo(np.int64).max
#: the exact sums that are columns (numeric in sql/stats_in_create.sql)
SUMS = ("sx", "q_x", "s_tr", "sv", "q_v", "pv3")


@dataclass(frozen=True)
class DayBars:
    """One source's bars of a KST day, sorted by symbol, then bar_time."""

    symbol: Ints  # the symbol's 1-based index in the statement's symbols
    times: Ints  # bar_time, binary timestamptz microseconds
    key: Ints
    high: Ints
    low: Ints
    close: Ints
    volume: Ints  # 0 where the bar has none
    has_volume: Bools
    first: Bools  # the symbol's first bar of the day: no return, its true range is high - low

    @classmethod
    def of(cls, arrays: Mapping[str, Ints], lo: int) -> DayBars:
        """From ``sql/stats_bars.sql``'s arrays (in no order; volume -1: none); ``lo``: the day's start."""
        order = np.lexsort((arrays["t"], arrays["s"]))
        symbol, times = arrays["s"][order], arrays["t"][order]
        volume = arrays["volume"][order]
        first = np.ones(symbol.size, np.bool_)
        first[1:] = symbol[1:] != symbol[:-1]
        return cls(symbol=symbol, times=times, key=symbol * _SPAN + (times - lo), high=arrays["high"][order],
                   low=arrays["low"][order], close=arrays["close"][order], volume=np.maximum(volume, 0),
                   has_volume=volume >= 0, first=first)


@dataclass(frozen=True)
class _Steps:
    """Per bar: its log return r (where defined) and true range, against the previous bar."""

    r: Floats
    has_r: Bools
    tr: Ints

    @classmethod
    def of(cls, bars: DayBars) -> _Steps:
        close, prev = bars.close, np.roll(bars.close, 1)
        has_r = ~bars.first & (prev > 0) & (close > 0)
        r = np.zeros(close.size, dtype=np.float64)
        r[has_r] = _log_returns(close[has_r].tolist(), prev[has_r].tolist())
        spread = bars.high - bars.low
        gaps = np.maximum(spread, np.maximum(np.abs(bars.high - prev), np.abs(bars.low - prev)))
        return cls(r=r, has_r=has_r, tr=np.where(bars.first, spread, gaps))


def _log_returns(close: list[int], prev: list[int]) -> list[float]:
    """ln(close / prev) of each pair, by the C library's log1p and log, not numpy's: numpy picks its
    log by the CPU (AVX-512 or not), and the two differ in the last bit, so the statistics would
    depend on the machine; the C library's are the same code on every machine.

    log1p of the exact change where log(c / p) would lose the digits of a small return; log(c / p)
    for a fall below half, where log1p's argument nears -1.
    """
    return [log1p((c - p) / p) if c >= p / 2 else log(c / p) for c, p in zip(close, prev, strict=True)]


def _int64_exact(bars: DayBars, steps: _Steps, longest: int) -> bool:
    """Whether every window's integer result fits in int64 (bounded by its longest frame's)."""
    if not bars.close.size:
        return True
    price, volume = int(bars.high.max()), int(bars.volume.max())  # high >= close, low >= 0
    bounds = (longest * longest * price * price, longest * longest * volume * volume,
              longest * 3 * price * volume, longest * int(steps.tr.max()))
    return max(bounds) <= _BIG


@dataclass(frozen=True)
class _Running:
    """Running sums with a leading 0: a frame's sum is a difference of two."""

    close: Sums
    close2: Sums
    tr: Sums
    n_v: Ints
    volume: Sums
    volume2: Sums
    pv3: Sums

    @classmethod
    def of(cls, bars: DayBars, steps: _Steps, exact: type) -> _Running:
        close: Sums = bars.close.astype(exact)
        volume: Sums = bars.volume.astype(exact)
        typical: Sums = bars.high.astype(exact) + bars.low.astype(exact) + close
        return cls(close=_running(close), close2=_running(close * close), tr=_running(steps.tr.astype(exact)),
                   n_v=_running(bars.has_volume.astype(np.int64)), volume=_running(volume),
                   volume2=_running(volume * volume), pv3=_running(typical * volume))


def _running(values: Sums) -> Sums:
    out = np.zeros(values.size + 1, dtype=values.dtype)
    out[1:] = np.cumsum(values)
    return out


def window_rows(bars: DayBars, scope: Bools, windows: Sequence[int], bar_minutes: int,
                bars_per_year: float) -> dict[str, np.ndarray]:
    """One row per (window length, bar of ``scope``), as the columns of ``sql/stats_in_create.sql``.

    The window of length W ending with bar t holds the same symbol's bars with bar_time in
    [t - W + L, t]; its returns are those of its bars but the first (whose previous bar is outside).
    """
    rows = np.flatnonzero(scope)
    if rows.size == 0 or not windows:
        return {}
    steps = _Steps.of(bars)
    exact = np.int64 if _int64_exact(bars, steps, max(windows) // bar_minutes) else np.object_
    running = _Running.of(bars, steps, exact)
    parts = []
    for window in windows:
        reach = (window - bar_minutes) * _MICROS_PER_MINUTE
        start = np.searchsorted(bars.key, bars.key[rows] - reach, side="left")
        parts.append(_frames(bars, steps, running, rows, start, window, bar_minutes, bars_per_year))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _frames(bars: DayBars, steps: _Steps, running: _Running, rows: Ints, start: Ints, window: int,
            bar_minutes: int, bars_per_year: float) -> dict[str, np.ndarray]:
    """The rows of one window length: the frame of row i is bars start[i] .. rows[i]."""
    end = rows + 1
    n_bars = end - start

    def summed(run: Sums) -> Sums:
        return run[end] - run[start]

    sx, sv, n_v = summed(running.close), summed(running.volume), summed(running.n_v)
    moments = _Moments.of(bars, steps, rows, start)
    ratios = _Ratios.of(moments, bars_per_year)
    return {"s": bars.symbol[rows], "window_minutes": np.full(rows.size, window), "bar_time": bars.times[rows],
            "bar_count": n_bars, "coverage": np.minimum(1.0, (n_bars * bar_minutes).astype(np.float64) / window),
            "sx": sx, "q_x": n_bars.astype(sx.dtype) * summed(running.close2) - sx * sx, "s_tr": summed(running.tr),
            "n_v": n_v, "sv": sv, "q_v": n_v.astype(sv.dtype) * summed(running.volume2) - sv * sv,
            "pv3": summed(running.pv3), "price_min": moments.low, "price_max": moments.high, "n_r": moments.n,
            "spread": moments.spread, "logret_mean": moments.mean, "logret_stddev": ratios.stddev,
            "logret_skew": ratios.skew, "logret_kurtosis": ratios.kurtosis, "annualized_vol": ratios.annualized}


@dataclass(frozen=True)
class _Ratios:
    """The log-return statistics of docs/derive-stats.md, as computed: where one is undefined (too
    few returns, or all equal) its value is meaningless, and the view (sql/stats_in_view.sql) makes
    it NULL from the frame's return count and spread.

    Only +, -, *, / and sqrt, each correctly rounded in IEEE 754 wherever numpy runs, so the bits
    do not depend on the machine (no pow, whose last bit differs between libraries).
    """

    stddev: Floats
    skew: Floats
    kurtosis: Floats
    annualized: Floats

    @classmethod
    def of(cls, m: _Moments, bars_per_year: float) -> _Ratios:
        n = m.n.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            stddev = np.sqrt(m.c2 / (n - 1))
            skew = np.sqrt(n * (n - 1)) / (n - 2) * (np.sqrt(n) * m.c3 / (m.c2 * np.sqrt(m.c2)))
            g = (n - 2) * (n - 3)
            kurtosis = (n + 1) * (n - 1) / g * (n * m.c4 / (m.c2 * m.c2)) - 3 * (n - 1) * (n - 1) / g
            annualized = stddev * np.sqrt(bars_per_year)
        return cls(stddev=stddev, skew=skew, kurtosis=kurtosis, annualized=annualized)


@dataclass(frozen=True)
class _Moments:
    """Per frame: the price range, the number of returns, their mean and central power sums."""

    low: Ints
    high: Ints
    n: Ints
    mean: Floats
    c2: Floats
    c3: Floats
    c4: Floats
    spread: Bools  # not all returns equal (else the central sums are exactly 0)

    @classmethod
    def of(cls, bars: DayBars, steps: _Steps, rows: Ints, start: Ints) -> _Moments:
        """Frames taken longest first (a stable sort), so the frames a step ``back`` bars before
        their last bar still reaches are a prefix: each step is a few slices and gathers, with no
        mask over every frame. Each sum still adds its frame's terms oldest first, one by one
        (numpy's own sums are pairwise, in another order), so its bits are a frame's alone."""
        order = np.argsort(start - rows, kind="stable")  # n_bars = rows - start + 1, descending
        last, first = rows[order], start[order]
        n_bars = last - first + 1
        #: frames at least k bars long, for k = 0 .. longest + 1: prefix lengths of a descending array
        reach = np.searchsorted(-n_bars, -np.arange(int(n_bars[0]) + 2), side="right")
        r0 = np.where(steps.has_r, steps.r, 0.0)  # adds nothing where a bar has no return
        m = rows.size
        low, high = np.full(m, _BIG, dtype=np.int64), np.full(m, -_BIG, dtype=np.int64)
        s1 = np.zeros(m)
        for back in range(int(n_bars[0]) - 1, -1, -1):  # oldest bar of the longest frame first
            at = last[:reach[back + 1]] - back  # frames with a bar `back` bars before their last
            k = reach[back + 2]  # ... whose return is in the frame too (it is not the frame's first)
            np.minimum(low[:at.size], bars.low[at], out=low[:at.size])
            np.maximum(high[:at.size], bars.high[at], out=high[:at.size])
            s1[:k] += r0[at[:k]]
        n = _counted(steps.has_r, first, last)
        mean = s1 / np.maximum(n, 1)
        c2, c3, c4 = np.zeros(m), np.zeros(m), np.zeros(m)
        for back in range(int(n_bars[0]) - 2, -1, -1):  # second pass, same order
            at = last[:reach[back + 2]] - back
            d = np.where(steps.has_r[at], steps.r[at] - mean[:at.size], 0.0)
            d2 = d * d
            c2[:at.size] += d2
            c3[:at.size] += d2 * d
            c4[:at.size] += d2 * d2
        spread = _spread(steps.r, steps.has_r, first, last)
        zero = ~spread
        c2[zero], c3[zero], c4[zero] = 0.0, 0.0, 0.0
        unsort = np.empty(m, np.int64)
        unsort[order] = np.arange(m)
        return cls(low=low[unsort], high=high[unsort], n=n[unsort], mean=mean[unsort],
                   c2=c2[unsort], c3=c3[unsort], c4=c4[unsort], spread=spread[unsort])


def _counted(flags: Bools, first: Ints, last: Ints) -> Ints:
    """How many of ``flags[first + 1 .. last]`` are set, per frame: the frame's returns."""
    running = np.zeros(flags.size + 1, np.int64)
    np.cumsum(flags, out=running[1:])
    return running[last + 1] - running[first + 1]


def _spread(r: Floats, has_r: Bools, first: Ints, last: Ints) -> Bools:
    """Whether a frame's returns (of bars first + 1 .. last) are not all equal: exact, as min and max
    are in any order. ``reduceat`` over (first + 1, last + 1) pairs; an empty frame gets a value, not
    an extreme, but has no return, so it is no spread either way."""
    lows = np.append(np.where(has_r, r, np.inf), np.inf)
    highs = np.append(np.where(has_r, r, -np.inf), -np.inf)
    pairs = np.column_stack((first + 1, last + 1)).ravel()
    return (last > first) & (np.maximum.reduceat(highs, pairs)[::2] > np.minimum.reduceat(lows, pairs)[::2])
