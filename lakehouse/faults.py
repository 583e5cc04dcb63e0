"""Named crash points, used by tests to SIGKILL a real run at an exact step.

Set ``LAKEHOUSE_CRASH_AT=<point>`` in a run's environment and the process kills itself with
SIGKILL when it reaches that point: no cleanup, no ``finally``, like a machine that dies.
Points: ``bronze.after_plan|after_events|after_quarantine``, ``silver.after_plan|
after_quarantine|after_events|after_sessions``, ``gold.after_plan|after_daily`` and, between
layers, ``pipeline.after_bronze|after_silver|after_gold``.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "LAKEHOUSE_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
