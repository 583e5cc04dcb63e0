"""The dashboard as a user sees it, for the browser tests: a real ``lakehouse dashboard``
process, what its page shows (read from the page in headless chromium), and what it must show
(the gold tables read directly from Delta)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location
from lakehouse.tables import (
    GOLD_BRAND_PERFORMANCE,
    GOLD_DAILY_BRAND_SALES,
    GOLD_KPI_SUMMARY,
    GOLD_ORDER_LINES,
)
from tests.helpers import lakehouse_cmd, subprocess_env
from tests.serving.clients import free_port

CENT = Decimal("0.01")


# ---- the oracle: gold tables read directly -------------------------------------------------


def gold_table(spark, config: LakehouseConfig, table):
    return read_table(spark, table_location(config, table))


def expected_page(spark, config: LakehouseConfig) -> dict[str | None, dict]:
    """What the page must show for each brand (``None`` = all brands), from the gold tables.

    Each table is read once and grouped by brand, so checking every brand stays cheap."""
    daily = gold_table(spark, config, GOLD_DAILY_BRAND_SALES)
    kpi = gold_table(spark, config, GOLD_KPI_SUMMARY).first()
    cards: dict[str | None, tuple] = {None: (kpi["revenue"], kpi["orders"], kpi["aov"])}
    order_revenue = dict(
        gold_table(spark, config, GOLD_ORDER_LINES)
        .where(F.col("user_session").isNotNull())
        .groupBy("brand")
        .agg(F.sum("price"))
        .collect()
    )
    brands = gold_table(spark, config, GOLD_BRAND_PERFORMANCE).where("brand IS NOT NULL")
    for row in brands.collect():
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


def top_n(values: dict, n: int = 10) -> dict:
    """The top ``n`` entries; ties at the cut may be cut either way, so keep them all."""
    ranked = sorted(values.values(), reverse=True)
    cut = ranked[n - 1] if len(ranked) >= n else None
    return {k: v for k, v in values.items() if cut is None or v >= cut}


# ---- the running pieces ---------------------------------------------------------------------


@contextmanager
def running_dashboard(
    home: str, server_port: int, *args: str, host: str = "127.0.0.1"
) -> Iterator[str]:
    """A ``lakehouse dashboard`` on a free port of ``host``, reading the server on
    ``server_port``; yields its URL once it answers, stops it with SIGTERM after (it must exit
    0)."""
    port = free_port()
    cmd = lakehouse_cmd(
        "dashboard", "--home", home, "--host", host, "--port", str(port),
        "--server-port", str(server_port), "--refresh-seconds", "10", *args,
    )  # fmt: skip
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env()
    )
    output: list[str] = []
    threading.Thread(
        target=lambda: [output.append(line) for line in process.stdout], daemon=True
    ).start()
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
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


def open_dashboard(driver, url: str, user: str, password: str) -> None:
    """Open the page, signing in on the login form first if the page asks for it (another
    dashboard of the same browser may have replaced this one's session cookie)."""
    driver.get(url)
    if "/login" in driver.current_url:
        driver.find_element("id", "user").send_keys(user)
        driver.find_element("id", "password").send_keys(password)
        driver.find_element("id", "sign-in").click()
        wait_for(driver, lambda: "/login" not in driver.current_url, "signed in")


def wait_for(driver, condition, what: str, timeout: float = 120):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition())
    except Exception as error:
        status = driver.find_element("id", "status").text
        raise AssertionError(f"timed out waiting for {what}; status line: {status}") from error


def shown(driver) -> dict:
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


def assert_shows(driver, expected: dict, brand: str) -> None:
    wait_for(driver, lambda: driver.find_element("id", "showing").text == brand, f"{brand}'s view")
    wait_for(driver, lambda: plots_ready(driver), "the charts")
    page = shown(driver)
    assert page["cards"] == expected["cards"], brand
    assert page["daily"] == pytest.approx(expected["daily"], abs=0.005), brand
    top_purchases, top_sales = top_n(expected["purchases"]), top_n(expected["sales"])
    assert len(page["purchases"]) == min(10, len(expected["purchases"])), brand
    assert page["purchases"].items() <= top_purchases.items(), brand
    assert len(page["sales"]) == min(10, len(expected["sales"])), brand
    for name, value in page["sales"].items():
        assert value == pytest.approx(top_sales[name], abs=0.005), (brand, name)


def plots_ready(driver) -> bool:
    return all(driver.execute_script(PLOT_DATA, f"#{i}") is not None for i in PLOTS)


def pick(driver, brand: str) -> None:
    """Pick ``brand`` the way a user does: open the dropdown, click the brand's option."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "brand").click()
    option = f"//*[@role='option' and normalize-space(.)={_xpath_literal(brand)}]"
    wait_for(driver, lambda: driver.find_elements(By.XPATH, option), f"option {brand}", 30)
    element = driver.find_element(By.XPATH, option)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    return "concat('" + "', \"'\", '".join(text.split("'")) + "')"
