"""Named crash points, used by tests to SIGKILL a real run at an exact step.

Set ``LAKEHOUSE_CRASH_AT=<point>`` in a run's environment and the process kills itself with
SIGKILL when it reaches that point: no cleanup, no ``finally``, like a machine that dies.
Every point is declared in :data:`CRASH_POINTS`; the crash tests kill a run at each of them.
"""

from __future__ import annotations

import os
import signal

from lakehouse.environment import environment

CRASH_POINTS: tuple[str, ...] = (
    "bronze.after_events",
    "bronze.after_quarantine",
    "pipeline.after_bronze",
    "silver.after_events",
    "silver.after_quarantine",
    "silver.after_tables",
    "pipeline.after_silver",
    "gold.after_daily",
    "pipeline.after_gold",
)
"""Every point, in the order a full run reaches them."""


def crash_point(name: str) -> None:
    """Die here, at once, if this run was asked to (``LAKEHOUSE_CRASH_AT=name``)."""
    if name not in CRASH_POINTS:
        raise ValueError(f"undeclared crash point {name!r}")
    if environment().crash_at == name:
        os.kill(os.getpid(), signal.SIGKILL)
