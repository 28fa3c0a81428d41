"""The KRX price-tick grid (호가가격단위) in force since 2023-01-25, one table for KOSPI and KOSDAQ.

Source: KRX market rules (유가증권시장/코스닥시장 업무규정 시행세칙), revised 2023-01-25, which unified
the KOSPI and KOSDAQ tables. A limit price must be a multiple of the tick of its price level.
"""

from __future__ import annotations

#: (upper bound exclusive, tick) in KRW; at 500,000 and above the tick is 1,000
GRID: tuple[tuple[int, int], ...] = (
    (2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500),
)
TOP_TICK = 1_000


def tick_size(price: int) -> int:
    """The tick of the price level ``price`` belongs to."""
    for bound, tick in GRID:
        if price < bound:
            return tick
    return TOP_TICK


def floor_to_grid(price: int) -> int:
    """The highest grid price not above ``price`` (a buy limit: never above the market)."""
    return price - price % tick_size(price)


def ceil_to_grid(price: int) -> int:
    """The lowest grid price not below ``price`` (a sell limit: never below the market)."""
    down = floor_to_grid(price)
    if down == price:
        return price
    up = down + tick_size(down)
    return up  # crossing into a coarser level lands on its grid: bounds are multiples of both ticks


def on_grid(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0
