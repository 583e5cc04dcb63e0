"""Actions run side by side: results in order, every action ends before a failure is raised."""

from __future__ import annotations

import threading
import time

import pytest

from lakehouse.parallel import run_all


def test_results_in_argument_order_and_run_concurrently():
    started = threading.Barrier(3, timeout=10)  # only passes if all three run at once

    def action(value: int):
        def run() -> int:
            started.wait()
            return value

        return run

    assert run_all(action(1), action(2), action(3)) == [1, 2, 3]
    assert run_all() == []
    assert run_all(lambda: "one") == ["one"]


def test_the_first_failure_is_raised_after_every_action_ended():
    ended = []

    def slow() -> None:
        time.sleep(0.2)
        ended.append("slow")

    def fails(message: str):
        def run() -> None:
            ended.append(message)
            raise ValueError(message)

        return run

    with pytest.raises(ValueError, match="first"):
        run_all(fails("first"), slow, fails("second"))
    assert sorted(ended) == ["first", "second", "slow"]
