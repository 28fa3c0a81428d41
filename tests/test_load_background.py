"""The parse thread runs one batch ahead of the writer, never more (the memory limit depends on it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from obsdb.load.background import pipelined


def test_items_come_in_order_and_the_producer_is_at_most_one_ahead() -> None:
    started: list[int] = []

    def produce() -> Iterator[int]:
        for i in range(20):
            started.append(i)  # the producer has begun item i (reading and parsing a batch)
            yield i

    got = []
    for item in pipelined(produce()):
        time.sleep(0.002)  # room for the producer to run ahead as far as it may
        assert len(started) <= item + 2  # the item held here and at most one more
        got.append(item)
    assert got == list(range(20))


def test_an_error_in_the_producer_is_raised_in_the_consumer() -> None:
    def produce() -> Iterator[int]:
        yield 1
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        list(pipelined(produce()))


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    def produce() -> Iterator[int]:
        yield from range(1000)

    before = threading.active_count()
    for item in pipelined(produce()):
        if item == 3:
            break
    assert threading.active_count() == before
