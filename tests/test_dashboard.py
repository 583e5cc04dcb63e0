"""The dashboard in a real browser: Debian's chromium (headless, via chromedriver) on a real
``lakehouse dashboard`` that reads a real ``lakehouse serve``.

Every figure the page shows is compared with the gold tables read directly from Delta: the
default "all brands" view, then every brand picked in the dropdown. Then a pipeline run adds a
late file and the open page follows it without a restart of anything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location
from lakehouse.pipeline import run_layers
from lakehouse.runs import new_run_id
from lakehouse.tables import (
    GOLD_BRAND_PERFORMANCE,
    GOLD_DAILY_BRAND_SALES,
    GOLD_KPI_SUMMARY,
    GOLD_ORDER_LINES,
)
from tests.helpers import REES46, lakehouse_cmd, land, subprocess_env
from tests.serving.clients import free_port, running_server

pytestmark = pytest.mark.slow

FIRST_FILES = ("2019-Oct-head5k.csv", "2019-Nov-head10k.csv", "2019-Nov-head683-noheader.csv")
LATE_FILE = "2019-Oct-head17k-crlf-truncated.csv"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT_DIR_ENV = "LAKEHOUSE_SCREENSHOT_DIR"
CENT = Decimal("0.01")


# ---- the oracle: gold tables read directly -------------------------------------------------


def _gold(spark, config: LakehouseConfig, table):
    return read_table(spark, table_location(config, table))


def _expected(spark, config: LakehouseConfig) -> dict[str | None, dict]:
    """What the page must show for each brand (``None`` = all brands), from the gold tables.

    Each table is read once and grouped by brand, so checking every brand stays cheap."""
    daily = _gold(spark, config, GOLD_DAILY_BRAND_SALES)
    kpi = _gold(spark, config, GOLD_KPI_SUMMARY).first()
    cards: dict[str | None, tuple] = {None: (kpi["revenue"], kpi["orders"], kpi["aov"])}
    order_revenue = dict(
        _gold(spark, config, GOLD_ORDER_LINES)
        .where(F.col("user_session").isNotNull())
        .groupBy("brand")
        .agg(F.sum("price"))
        .collect()
    )
    for row in _gold(spark, config, GOLD_BRAND_PERFORMANCE).where("brand IS NOT NULL").collect():
        orders, revenue = row["orders"], order_revenue.get(row["brand"])
        aov = (revenue / orders).quantize(CENT, ROUND_HALF_UP) if orders else None
        cards[row["brand"]] = (row["revenue"], orders, aov)

    def per_brand(rows, key: str, value) -> dict[str | None, dict]:
        out: dict[str | None, dict] = {}
        for r in rows:
            if value(r) is not None:
                out.setdefault(r["brand"], {})[r[key]] = value(r)
        return out

    day = F.col("event_date").cast("string").alias("day")
    sub = F.coalesce(F.col("sub_category"), F.lit("unknown")).alias("sub")
    every = F.lit(None).cast("string").alias("brand")
    sums = (F.sum("revenue").alias("revenue"), F.sum("purchases").alias("purchases"))
    day_rows = [
        *daily.groupBy("brand", day).agg(*sums).collect(),
        *daily.groupBy(every, day).agg(*sums).collect(),
    ]
    sub_rows = [
        *daily.groupBy("brand", sub).agg(*sums).collect(),
        *daily.groupBy(every, sub).agg(*sums).collect(),
    ]
    days = per_brand(day_rows, "day", lambda r: _float(r["revenue"]))
    buys = per_brand(sub_rows, "sub", lambda r: r["purchases"] or None)
    sales = per_brand(sub_rows, "sub", lambda r: _float(r["revenue"]) or None)
    return {
        brand: {
            "cards": (f"{c[0]:,.2f}", f"{c[1]:,}", f"{c[2]:,.2f}" if c[2] else "n/a"),
            "daily": days.get(brand, {}),
            "purchases": buys.get(brand, {}),
            "sales": sales.get(brand, {}),
        }
        for brand, c in cards.items()
    }


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _top(values: dict, n: int = 10) -> dict:
    """The top ``n`` entries; ties at the cut may be cut either way, so keep them all."""
    ranked = sorted(values.values(), reverse=True)
    cut = ranked[n - 1] if len(ranked) >= n else None
    return {k: v for k, v in values.items() if cut is None or v >= cut}


# ---- the running pieces ---------------------------------------------------------------------


@contextmanager
def _dashboard(home: str, server_port: int) -> Iterator[str]:
    port = free_port()
    cmd = lakehouse_cmd(
        "dashboard", "--home", home, "--port", str(port), "--server-port", str(server_port),
        "--refresh-seconds", "10",
    )  # fmt: skip
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env()
    )
    output: list[str] = []
    threading.Thread(
        target=lambda: [output.append(line) for line in process.stdout], daemon=True
    ).start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError("dashboard did not start:\n" + "".join(output)) from None
            time.sleep(0.5)
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, "".join(output)
        assert any(line.startswith("Dashboard ready at") for line in output), output


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
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


@pytest.fixture(scope="module")
def site(spark, tmp_path_factory):
    """A home built from the REES46 rows, its Thrift server and the dashboard over it."""
    config = LakehouseConfig.create(str(tmp_path_factory.mktemp("dash") / "home"))
    Path(config.landing).mkdir(parents=True)
    land(config, *(REES46 / name for name in FIRST_FILES))
    run_layers(spark, config, ["bronze", "silver", "gold"], new_run_id())
    with running_server(config.home) as server, _dashboard(config.home, server.port) as url:
        yield config, url


# ---- reading the page -----------------------------------------------------------------------

CARDS = ("card-revenue", "card-orders", "card-aov")
PLOTS = ("daily", "top-purchases", "top-sales")
PLOT_DATA = """
const plot = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!plot || !plot._fullData || !plot._fullData.length) return null;
const t = plot._fullData[0];
const list = (v) => v ? Array.from(v) : [];
return {x: list(t.x), y: list(t.y), labels: list(t.labels), values: list(t.values)};
"""


def _wait(driver, condition, what: str, timeout: float = 120):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition())
    except Exception as error:
        status = driver.find_element("id", "status").text
        raise AssertionError(f"timed out waiting for {what}; status line: {status}") from error


def _shown(driver) -> dict:
    cards = tuple(driver.find_element("id", i).text for i in CARDS)
    daily = driver.execute_script(PLOT_DATA, "#daily")
    bars = driver.execute_script(PLOT_DATA, "#top-purchases")
    donut = driver.execute_script(PLOT_DATA, "#top-sales")
    return {
        "brand": driver.find_element("id", "showing").text,
        "cards": cards,
        "daily": dict(zip(daily["x"], daily["y"], strict=True)),
        "purchases": dict(zip(bars["y"], bars["x"], strict=True)),
        "sales": dict(zip(donut["labels"], donut["values"], strict=True)),
    }


def _assert_shows(driver, expected: dict, brand: str) -> None:
    _wait(driver, lambda: driver.find_element("id", "showing").text == brand, f"{brand}'s view")
    _wait(driver, lambda: _plots_ready(driver), "the charts")
    shown = _shown(driver)
    assert shown["cards"] == expected["cards"], brand
    assert shown["daily"] == pytest.approx(expected["daily"], abs=0.005), brand
    top_purchases, top_sales = _top(expected["purchases"]), _top(expected["sales"])
    assert len(shown["purchases"]) == min(10, len(expected["purchases"])), brand
    assert shown["purchases"].items() <= top_purchases.items(), brand
    assert len(shown["sales"]) == min(10, len(expected["sales"])), brand
    for name, value in shown["sales"].items():
        assert value == pytest.approx(top_sales[name], abs=0.005), (brand, name)


def _plots_ready(driver) -> bool:
    return all(driver.execute_script(PLOT_DATA, f"#{i}") is not None for i in PLOTS)


def _pick(driver, brand: str) -> None:
    """Pick ``brand`` the way a user does: open the dropdown, click the brand's option."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "brand").click()
    option = f"//*[@role='option' and normalize-space(.)={_xpath_literal(brand)}]"
    _wait(driver, lambda: driver.find_elements(By.XPATH, option), f"option {brand}", 30)
    element = driver.find_element(By.XPATH, option)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    return "concat('" + "', \"'\", '".join(text.split("'")) + "')"


# ---- the tests ------------------------------------------------------------------------------


def test_default_view_equals_gold_and_screenshot(site, spark, browser, tmp_path):
    config, url = site
    browser.get(url)
    _assert_shows(browser, _expected(spark, config)[None], "All brands")
    quality = browser.find_element("id", "quality-table").text
    assert "rows checked" in quality and "great_expectations" in quality
    docs = browser.find_element("link text", "Open the Data Docs").get_attribute("href")
    with urllib.request.urlopen(docs, timeout=30) as page:
        assert page.status == 200 and b"Data Docs" in page.read()
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get(SCREENSHOT_DIR_ENV):
        shutil.copy(shot, Path(os.environ[SCREENSHOT_DIR_ENV]) / "dashboard.png")


def test_picking_each_brand_shows_its_gold_figures(site, spark, browser):
    config, url = site
    brands = [
        r["brand"]
        for r in _gold(spark, config, GOLD_BRAND_PERFORMANCE)
        .where("brand IS NOT NULL AND revenue > 0")
        .collect()
    ]
    assert len(brands) > 20
    expected = _expected(spark, config)
    browser.get(url)
    _assert_shows(browser, expected[None], "All brands")
    for brand in brands:
        _pick(browser, brand)
        _assert_shows(browser, expected[brand], brand)


def test_page_follows_a_pipeline_run_without_restart(site, spark, browser):
    config, url = site
    browser.get(url)
    before = _expected(spark, config)[None]
    _assert_shows(browser, before, "All brands")
    land(config, REES46 / LATE_FILE)
    run_layers(spark, config, ["bronze", "silver", "gold"], new_run_id())
    after = _expected(spark, config)[None]
    assert after["cards"] != before["cards"]
    # the open page re-queries on its refresh tick (10 s here): no reload, no restart
    _wait(browser, lambda: _shown(browser)["cards"] == after["cards"], "the new figures")
    _assert_shows(browser, after, "All brands")


def test_unreachable_server_is_reported_on_the_page(browser, tmp_path):
    with _dashboard(str(tmp_path / "home"), free_port()) as url:
        browser.get(url)
        status = lambda: browser.find_element("id", "status").text  # noqa: E731
        _wait(browser, lambda: status().startswith("Cannot read from the Thrift server"), "error")
        assert "127.0.0.1" in status()
        assert "No data-quality results" not in browser.find_element("id", "quality").text


def test_refused_options_exit_2_with_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            ("--port", str(port)): "cannot listen on 127.0.0.1",
            ("--host", "0.0.0.0"): "refusing to listen on 0.0.0.0",
            ("--auth", "password"): "LAKEHOUSE_THRIFT_PASSWORD",
            ("--tls-ca", str(tmp_path / "missing.pem")): "--tls-ca file not found",
        }
        for args, message in cases.items():
            result = subprocess.run(
                lakehouse_cmd("dashboard", "--home", str(tmp_path), *args),
                capture_output=True, text=True, timeout=60, env=subprocess_env(),
            )  # fmt: skip
            assert result.returncode == 2, (args, result.stderr)
            assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
