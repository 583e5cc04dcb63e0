"""Shared fixtures: one tuned SparkSession per test run, a fresh lakehouse home per test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lakehouse.config import LakehouseConfig, SparkSettings
from lakehouse.serving.classpath import resolved_delta_jars
from lakehouse.session import get_spark
from tests.clean_build import CleanBuild, build_clean, new_home
from tests.helpers import REES46

TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.sql.adaptive.coalescePartitions.initialPartitionNum": "2",
}


@pytest.fixture(scope="session")
def spark():
    session = get_spark(
        SparkSettings(master="local[2]", app_name="lakehouse-tests", conf=TEST_CONF)
    )
    yield session
    session.stop()


@pytest.fixture
def home(tmp_path: Path) -> LakehouseConfig:
    """A fresh, empty lakehouse home with its landing folder."""
    return new_home(tmp_path)


@pytest.fixture(scope="session")
def rees46() -> Path:
    return REES46


@pytest.fixture(scope="session")
def clean_build(spark, tmp_path_factory) -> CleanBuild:
    """A home built clean from real files and a bad one (all layers, one run), and its tables.
    Tests may damage and repair the home; ``tables`` and ``ledger`` are those of the build."""
    return build_clean(spark, tmp_path_factory.mktemp("clean-build"))


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the Delta jars once, before the xdist workers start Spark side by side: two
    first resolutions into an empty Ivy cache at once can corrupt it."""
    if not hasattr(config, "workerinput"):
        resolved_delta_jars()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most slow tests first (a stable sort: tests keep their order in a file).
    Under ``--dist loadfile`` the long files then start early and short ones fill the end,
    instead of a long file starting last while the other worker idles."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])
