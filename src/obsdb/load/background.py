"""Running a producer one item ahead of its consumer, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")


def pipelined(produce: Iterator[T], ahead: int = 1) -> Iterator[T]:
    """Run ``produce`` in a thread, at most ``ahead`` items ahead of the one the consumer holds;
    errors re-raise here.

    The loader parses batch n+1 while batch n is COPYed, so the client's work overlaps the server's.
    The bound counts the item being produced too (a slot is taken before it is started and given back
    when the consumer asks for the next one), so a loader holds at most two batches: the memory limit
    of docs/performance.md depends on it.
    """
    items: SimpleQueue[tuple[str, Any]] = SimpleQueue()
    slots = threading.Semaphore(ahead + 1)
    stop = threading.Event()

    def run() -> None:
        try:
            while True:
                slots.acquire()
                if stop.is_set():
                    return
                item = next(produce, items)  # ``items`` stands for the end: never an item itself
                if item is items:
                    items.put(("done", None))
                    return
                items.put(("item", item))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put(("error", exc))

    worker = threading.Thread(target=run, name="obsdb-parse", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
            del value  # the consumer is done with it: its slot may go to the next item
            slots.release()
    finally:
        stop.set()
        slots.release()  # a producer waiting for a slot sees ``stop`` and ends
        worker.join()
