"""Independent Spark actions run side by side from driver threads.

A small write to Delta spends most of its time on the driver (planning, the commit, the
snapshot update), not in tasks; two such writes to different tables overlap well even on two
cores. Spark runs jobs from several threads of one session safely (PySpark pins each Python
thread to a JVM thread).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

MAX_THREADS = 4


def run_all(*actions: Callable[[], T]) -> list[T]:
    """Run ``actions`` concurrently and return their results in order; if any fails, wait for
    the others to end, then raise the first failure (in argument order)."""
    if len(actions) <= 1:
        return [action() for action in actions]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(actions))) as pool:
        futures = [pool.submit(action) for action in actions]
    return [future.result() for future in futures]
