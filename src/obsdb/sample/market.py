"""One simulated market that every sample record is cut from.

Ticks, bars and snapshots in the sample are views of the same trades, so they agree with each
other the way a real archive does (a snapshot's day high is the high the ticks reached). The model
is small but keeps the invariants a loader may check: prices on the KRX tick grid inside the
+/-30% limit, open/high/low of the day so far, cumulative volume and turnover that only rise within
a day, best bid below best ask, and exchange time a little before receive time.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from obsdb.krx import KST


@dataclass(frozen=True)
class Symbol:
    """A listed stock: its code, the close before the first simulated day, its trade rate in
    sampled windows and its daily turnover in billion KRW (sets realistic share counts)."""

    code: str
    base_close: int
    rate_hz: float
    turnover_bn: int


SYMBOLS: tuple[Symbol, ...] = (
    Symbol("005930", 148_900, 2.0, 2_500),
    Symbol("000660", 742_000, 1.7, 1_500),
    Symbol("035420", 251_500, 1.0, 150),
    Symbol("051910", 318_500, 0.9, 200),
    Symbol("207940", 1_712_000, 0.8, 100),
    Symbol("068270", 188_400, 1.1, 200),
    Symbol("028260", 248_500, 0.8, 100),
    Symbol("0004V0", 12_450, 1.3, 20),
)

_TICK_STEPS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))


def tick_size(price: int) -> int:
    """KRX tick size (one table for KOSPI and KOSDAQ since 2023) for quotes at ``price``."""
    for bound, tick in _TICK_STEPS:
        if price < bound:
            return tick
    return 1_000


def step(price: int, ticks: int) -> int:
    """Move a grid price by whole ticks; crossing a band keeps it on the grid."""
    for _ in range(abs(ticks)):
        price = price + tick_size(price) if ticks > 0 else price - tick_size(price - 1)
    return price


def floor_to_grid(price: int) -> int:
    """The highest grid price not above ``price``."""
    return price - price % tick_size(price)


def kst(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    """A KST wall-clock instant (tz-aware): every time in the model is one of these."""
    return datetime.combine(day, time(hh, mm, ss), KST)


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution and the book/day state right after it, as a tick message would carry it."""

    symbol: str
    exec_at: datetime
    received_at: datetime | None  # None: the collector never saw it (not sampled, or an outage)
    price: int
    qty: int
    open: int
    high: int
    low: int
    prev_close: int
    cum_volume: int
    cum_value: int
    count: int
    bid: int
    ask: int

    @property
    def change_rate(self) -> float:
        """Percent change against the previous close, as the feed rounds it."""
        return round((self.price - self.prev_close) * 100 / self.prev_close, 2)


@dataclass(frozen=True)
class Span:
    """A half-open KST interval [start, end)."""

    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Window(Span):
    """A sampled stretch of the session: trades arrive one by one at ``rate`` times each symbol's rate."""

    rate: float = 1.0


@dataclass(frozen=True)
class DayPlan:
    """What happens on one trading day besides the random walk."""

    day: date
    windows: tuple[Window, ...] = ()
    outages: tuple[Span, ...] = ()  # whole-feed: trades happen, nothing is received
    quiet: tuple[tuple[str, Span], ...] = ()  # a symbol that does not trade for a while


@dataclass(frozen=True)
class Day:
    """Every trade of one day, per symbol in exchange-time order."""

    plan: DayPlan
    trades: Mapping[str, tuple[Trade, ...]]
    _keys: dict[str, list[datetime]] = field(default_factory=dict, repr=False)

    def state_at(self, code: str, at: datetime) -> Trade | None:
        """The last trade of ``code`` executed at or before ``at`` (what a REST poll returns)."""
        keys = self._keys.setdefault(code, [t.exec_at for t in self.trades[code]])
        i = bisect.bisect_right(keys, at)
        return self.trades[code][i - 1] if i else None

    def last(self, code: str) -> Trade:
        return self.trades[code][-1]

    def received(self, codes: Sequence[str] | None = None, span: Span | None = None) -> list[Trade]:
        """Received trades in arrival order, as the collector wrote them."""
        out = [
            t
            for code, ts in self.trades.items()
            if codes is None or code in codes
            for t in ts
            if t.received_at is not None and (span is None or span.covers(t.received_at))
        ]
        out.sort(key=lambda t: (t.received_at, t.symbol))
        return out


@dataclass
class _Book:
    """Mutable per-symbol state while a day is simulated."""

    sym: Symbol
    prev_close: int
    plan: DayPlan
    rng: random.Random
    bid: int = 0
    ask: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    cum_volume: int = 0
    cum_value: int = 0
    count: int = 0
    last_received: datetime | None = None
    trades: list[Trade] = field(default_factory=list)
    upper: int = field(init=False)  # daily price limits: +/-30% of the previous close, on the grid
    lower: int = field(init=False)
    lot: int = field(init=False)  # shares per 20 s of trading: turnover spread over the session

    def __post_init__(self) -> None:
        self.upper = floor_to_grid(self.prev_close * 13 // 10)
        lower = self.prev_close * 7 // 10
        self.lower = lower if floor_to_grid(lower) == lower else step(floor_to_grid(lower), 1)
        self.lot = max(1, self.sym.turnover_bn * 1_000_000_000 // self.prev_close // 1_170)

    def quote_around(self, price: int) -> None:
        """Put a one-tick book around ``price`` so that it is the bid or the ask."""
        price = min(max(price, self.lower), self.upper)
        at_bid = price < self.upper and (price == self.lower or self.rng.random() < 0.5)
        self.bid = price if at_bid else step(price, -1)
        self.ask = step(self.bid, 1)

    def move(self, ticks: int) -> None:
        """Shift the book, staying inside the daily price limits."""
        bid = min(max(step(self.bid, ticks), self.lower), step(self.upper, -1))
        spread = 2 if self.rng.random() < 0.1 else 1
        self.bid, self.ask = bid, min(step(bid, spread), self.upper)

    def trade(self, exec_at: datetime, price: int, qty: int, count: int, sampled: bool) -> None:
        if not self.trades:
            self.open = self.high = self.low = price
        self.high, self.low = max(self.high, price), min(self.low, price)
        self.cum_volume += qty
        self.cum_value += price * qty
        self.count += count
        received: datetime | None = None
        if sampled:
            received = exec_at + timedelta(seconds=self.rng.uniform(0.02, 0.9))
            whole = received.replace(microsecond=0) + timedelta(seconds=1)
            if self.rng.random() < 0.02 and whole - exec_at.replace(microsecond=0) <= timedelta(seconds=1.5):
                received = whole  # a whole second: isoformat drops ".000000", as the collector's did
            if self.last_received is not None and received <= self.last_received:  # keep arrival order
                received = self.last_received + timedelta(seconds=self.rng.uniform(0.0001, 0.003))
            self.last_received = received
            if any(o.covers(received) for o in self.plan.outages):
                received = None
        self.trades.append(
            Trade(
                symbol=self.sym.code,
                exec_at=exec_at,
                received_at=received,
                price=price,
                qty=qty,
                open=self.open,
                high=self.high,
                low=self.low,
                prev_close=self.prev_close,
                cum_volume=self.cum_volume,
                cum_value=self.cum_value,
                count=self.count,
                bid=self.bid,
                ask=self.ask,
            )
        )

    def trade_at_book(self, exec_at: datetime, qty: int, count: int, sampled: bool) -> None:
        price = self.ask if self.rng.random() < 0.5 else self.bid
        self.trade(exec_at, price, qty, count, sampled)


def _arrivals(book: _Book, start: datetime, end: datetime) -> list[tuple[datetime, bool]]:
    """Trade times between the open and the closing auction: one by one inside windows,
    one aggregated step every 10-30 s outside (those only move the walk and the totals)."""
    rng, windows = book.rng, sorted(book.plan.windows, key=lambda w: w.start)
    quiet = [s for code, s in book.plan.quiet if code == book.sym.code]
    out: list[tuple[datetime, bool]] = []
    t = start
    while True:
        w = next((w for w in windows if w.end > t), None)
        if w is not None and t >= w.start:
            t += timedelta(seconds=rng.expovariate(book.sym.rate_hz * w.rate))
            if t >= w.end:
                t = w.end
            elif not any(q.covers(t) for q in quiet):
                out.append((t, True))
            continue
        nxt = t + timedelta(seconds=rng.uniform(10, 30))
        if w is not None and nxt >= w.start:
            t = w.start
            continue
        if nxt >= end:
            return out
        t = nxt
        out.append((t, False))


def _simulate_symbol(sym: Symbol, plan: DayPlan, prev_close: int, rng: random.Random) -> tuple[Trade, ...]:
    book = _Book(sym, prev_close, plan, rng)
    day = plan.day
    open_at = kst(day, 9, 0) + timedelta(seconds=rng.uniform(0, 0.2))
    open_px = floor_to_grid(round(prev_close * (1 + rng.gauss(0, 0.007))))
    open_px = min(max(open_px, book.lower), book.upper)
    book.quote_around(open_px)
    sampled = any(w.covers(open_at) for w in plan.windows)
    book.trade(open_at, open_px, round(book.lot * rng.uniform(3, 15)), 1, sampled)
    sigma = 0.00035 * prev_close / tick_size(prev_close)  # ~1.2% daily volatility
    for at, fine in _arrivals(book, open_at, kst(day, 15, 20)):
        if fine:
            if rng.random() < 0.06:
                book.move(rng.choice((-1, 1)))
            qty = max(1, min(int(book.lot / 60 * rng.paretovariate(1.5)), book.lot * 2))
            book.trade_at_book(at, qty, 1, True)
        else:
            book.move(round(rng.gauss(0, sigma)))
            book.trade_at_book(
                at, max(1, round(book.lot * rng.uniform(0.3, 1.7))), rng.randint(30, 120), False
            )
    book.move(round(rng.gauss(0, 1)))
    close_at = kst(day, 15, 30) + timedelta(seconds=rng.uniform(0, 4))
    book.trade_at_book(close_at, round(book.lot * rng.uniform(5, 20)), 1, False)
    return tuple(book.trades)


def simulate(plans: Sequence[DayPlan], symbols: Sequence[Symbol], seed: int) -> list[Day]:
    """Simulate the days in order; each day's previous close is the last price of the one before."""
    closes = {s.code: s.base_close for s in symbols}
    days: list[Day] = []
    for plan in plans:
        trades = {
            s.code: _simulate_symbol(s, plan, closes[s.code], random.Random(f"{seed}:{plan.day}:{s.code}"))
            for s in symbols
        }
        closes = {code: ts[-1].price for code, ts in trades.items()}
        days.append(Day(plan, trades))
    return days
