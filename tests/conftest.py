"""Shared fixtures: one tuned SparkSession per worker, a fresh home per test, homes built once
per session from the real files, one headless browser; and the order work is handed out in."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.config import LakehouseConfig, SparkSettings
from lakehouse.serving.classpath import resolved_delta_jars
from lakehouse.session import get_spark
from tests.builds import CleanBuild, RealBuild, build_clean, build_real, new_home
from tests.helpers import REES46, TEST_CONF

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

GROUP_SECONDS = {
    "bad-day": 860,
    "clean-build": 710,
    "served": 580,
    "real-build": 135,
    "auth": 125,
}
"""Seconds each xdist group took in the last measured run (``pytest --durations=0``, summed per
group). ``--dist loadgroup`` runs a group on one worker; the longest go out first, and the
ungrouped tests, one unit each, fill the gaps. Update these when a group's time changes much."""


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
def real_build(spark, tmp_path_factory) -> RealBuild:
    """The four real REES46 files in two runs of every layer, built once; read it only (a
    test that changes a home copies it with ``tests.builds.copy_home``)."""
    return build_real(spark, tmp_path_factory.mktemp("real-build"))


@pytest.fixture(scope="session")
def clean_build(spark, tmp_path_factory) -> CleanBuild:
    """A home built clean from real files and a bad one (all layers, one run), and its tables.
    Tests may damage and repair the home; ``tables`` and ``ledger`` are those of the build."""
    return build_clean(spark, tmp_path_factory.mktemp("clean-build"))


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's chromium, headless, driven through chromedriver (``.ci/run`` installs both)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "Debian's chromium and chromium-driver are needed (.ci/run installs them)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1280,1500",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the Delta jars once, before the xdist workers start Spark side by side: two
    first resolutions into an empty Ivy cache at once can corrupt it."""
    if not hasattr(config, "workerinput"):
        resolved_delta_jars()


def _group(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return None
    return marker.args[0] if marker.args else marker.kwargs.get("name")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups by measured time, longest first; then the other slow tests; then the rest (a
    stable sort: tests keep their order within a group and a file). Under ``--dist loadgroup
    --no-loadscope-reorder`` the long units start first and short ones fill the end, instead
    of a long one starting last while the other worker idles."""

    def weight(item: pytest.Item) -> tuple[int, int]:
        group = _group(item)
        if group is not None:
            return (0, -GROUP_SECONDS.get(group, 0))
        return (1, 0 if item.get_closest_marker("slow") else 1)

    items.sort(key=weight)
