"""The suite's own layout: tests that share a built home or a server run on one worker.

If grouping silently stops (as with pytest 9.2 and xdist 3.8, pytest-dev/pytest-xdist#1386),
each worker builds the shared homes itself and the suite takes much longer without failing:
this pair fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("distribution-probe")


@pytest.fixture(scope="session")
def probe_file(tmp_path_factory) -> Path:
    # the base temp folder is shared by the workers of one run: one file for both
    return tmp_path_factory.getbasetemp().parent / "distribution-probe"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def test_first_of_a_group_records_its_worker(probe_file):
    probe_file.write_text(_worker())


def test_second_of_a_group_runs_on_the_same_worker(probe_file):
    assert probe_file.read_text() == _worker()
