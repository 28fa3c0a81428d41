"""The log-return moments of derive/windows.py, bit for bit against one frame at a time.

windows.py sums every frame at once (frames sorted longest first, so a step back is a prefix); the
promise is that each frame's sums are its own terms added oldest first, one by one, so an increment
gives a rebuild's bits. The reference here is that promise written plainly, frame by frame.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from obsdb.derive import windows as w

_MINUTE = 60_000_000
PRICES = st.sampled_from([0, 1, 99, 100, 100, 101, 50, 10**6, 123_457])


@st.composite
def day_bars(draw: st.DrawFn) -> tuple[w.DayBars, int]:
    """Bars of up to three symbols at random minutes of a day, with repeated, zero and halved prices."""
    keys = draw(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 400)), min_size=1, max_size=90, unique=True))
    closes = draw(st.lists(PRICES, min_size=len(keys), max_size=len(keys)))
    bar_minutes = draw(st.sampled_from([1, 10]))
    arrays = {"s": np.array([k[0] for k in keys], np.int64),
              "t": np.array([k[1] * _MINUTE * bar_minutes for k in keys], np.int64),
              "close": np.array(closes, np.int64)}
    arrays["high"], arrays["low"] = arrays["close"] + 3, np.maximum(arrays["close"] - 2, 0)
    arrays["volume"] = np.full(len(keys), 7, np.int64)
    return w.DayBars.of(arrays, 0), bar_minutes


def reference(bars: w.DayBars, steps: w._Steps, row: int, first: int) -> tuple[int, int, int, float, float, bool]:
    """One frame (bars first .. row): price range, return count, mean and second central sum."""
    returns = [float(steps.r[i]) for i in range(first + 1, row + 1) if steps.has_r[i]]
    s1 = 0.0
    for r in returns:
        s1 += r
    mean = s1 / max(len(returns), 1)
    c2 = 0.0
    for r in returns:
        c2 += (r - mean) * (r - mean)
    spread = len(set(returns)) > 1
    return (int(bars.low[first:row + 1].min()), int(bars.high[first:row + 1].max()), len(returns), mean,
            c2 if spread else 0.0, spread)


@given(day_bars(), st.sampled_from([10, 30, 60, 240]))
def test_every_frame_is_summed_as_if_alone(drawn: tuple[w.DayBars, int], window: int) -> None:
    bars, bar_minutes = drawn
    steps = w._Steps.of(bars)
    rows = np.arange(bars.symbol.size)
    start = np.searchsorted(bars.key, bars.key - (window - bar_minutes) * _MINUTE, side="left")
    got = w._Moments.of(bars, steps, rows, start)
    for i in range(rows.size):
        want = reference(bars, steps, i, int(start[i]))
        have = (int(got.low[i]), int(got.high[i]), int(got.n[i]), float(got.mean[i]), float(got.c2[i]),
                bool(got.spread[i]))
        assert have == want, (i, int(start[i]))
