"""Independent jobs spread over a few connections of their own, one thread each.

Derive's days are independent transactions, and so are the ANALYZEs and BRIN summaries around them;
on a machine with more than one core, one connection would leave the others idle. Threads suffice:
the work is the server's, and psycopg releases the GIL while it waits for it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

J = TypeVar("J")
R = TypeVar("R")


def run_spread(conninfo: str, jobs: Sequence[J], workers: int,
               do: Callable[[psycopg.Connection[Any], J], R]) -> list[R]:
    """``do(conn, job)`` for every job, on ``workers`` autocommit connections of their own; the
    results in no particular order. The first failure stops the rest (jobs already started finish)
    and is raised here."""
    todo: queue.SimpleQueue[J] = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    results: list[R] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                while not failures:
                    try:
                        job = todo.get_nowait()
                    except queue.Empty:
                        return
                    result = do(conn, job)
                    with lock:
                        results.append(result)
        except BaseException as exc:  # handed to the caller's thread, which raises it
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=work, name=f"obsdb-derive-{i}", daemon=True)
               for i in range(min(workers, len(jobs)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return results
