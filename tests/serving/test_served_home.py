"""The Thrift server as Tableau uses it, and the dashboard on it: real ``lakehouse serve``,
real PyHive and beeline, a real ``lakehouse dashboard`` in headless chromium.

One server is started on an empty home; pipeline runs then fill it while clients query, and
``lakehouse maintain`` compacts it while they do. Every answer is compared with the same SQL
run in-process over the same Delta tables; every figure the dashboard shows is compared with
the gold tables read directly from Delta. The tests run in order, on one worker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zipfile
from decimal import Decimal
from pathlib import Path
from statistics import median

import pytest
from pyhive.exc import OperationalError
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.dashboard.login import COOKIE
from lakehouse.dashboard.queries import brands_sql, dashboard_queries
from lakehouse.delta_io import table_location
from lakehouse.schema import HEADER
from lakehouse.serving.server import default_users_file
from lakehouse.serving.users import set_user
from lakehouse.serving.views import sync_views
from lakehouse.tables import (
    DQ_RULE_RESULTS,
    GOLD_BRAND_PERFORMANCE,
    GOLD_DAILY_BRAND_SALES,
    GOLD_KPI_SUMMARY,
    GOLD_TABLES,
    OPS_RUN_LOG,
    SERVED_TABLES,
    SILVER_EVENTS,
)
from tests.dashboard_page import (
    assert_shows,
    expected_page,
    gold_table,
    open_dashboard,
    pick,
    running_dashboard,
    shown,
    wait_for,
)
from tests.helpers import REES46, lakehouse_cmd, land, subprocess_env
from tests.serving.clients import beeline, connect, get_columns, get_tables, query, running_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("served")]

FIRST_FILES = ("2019-Oct-head5k.csv", "2019-Nov-head10k.csv", "2019-Nov-head683-noheader.csv")
LATE_FILE = "2019-Oct-head17k-crlf-truncated.csv"
QUOTED_BRAND = "o'neill"
SCREENSHOT_DIR_ENV = "LAKEHOUSE_SCREENSHOT_DIR"
DASHBOARD_USER, DASHBOARD_PASSWORD = "analyst", "a dashboard password"


def _quoted_brand_delivery(config: LakehouseConfig) -> None:
    """A small delivery with a brand whose name holds a quote (the real rows have none)."""
    session = "aaaaaaaa-0000-4000-8000-00000000000{}"
    rows = [
        ("2019-11-02 10:00:00 UTC", "view", "9000001", "25.00", session.format(1)),
        ("2019-11-02 10:01:00 UTC", "cart", "9000001", "25.00", session.format(1)),
        ("2019-11-02 10:02:00 UTC", "purchase", "9000001", "25.00", session.format(1)),
        ("2019-11-02 11:00:00 UTC", "purchase", "9000002", "12.50", session.format(2)),
    ]
    lines = [
        f"{t},{kind},{product},2053013555631882655,apparel.shoes,{QUOTED_BRAND},{price},7,{s}"
        for t, kind, product, price, s in rows
    ]
    (Path(config.landing) / "quoted-brand.csv").write_text("\n".join([HEADER, *lines]) + "\n")


# What a client polls while runs commit: one aggregate per table, compared with every version.
PROBES = {
    GOLD_DAILY_BRAND_SALES: "SELECT COUNT(*), CAST(SUM(`revenue`) AS STRING) "
    "FROM `gold`.`daily_brand_sales`",
    GOLD_KPI_SUMMARY: "SELECT COUNT(*), CAST(SUM(`revenue`) AS STRING) FROM `gold`.`kpi_summary`",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    config = LakehouseConfig.create(str(tmp_path_factory.mktemp("served") / "home"))
    Path(config.landing).mkdir(parents=True)
    with running_server(config.home) as server:
        yield config, server


def _normalize(rows: list) -> list[tuple]:
    def value(v):
        if isinstance(v, Decimal):
            return str(v)
        if hasattr(v, "isoformat"):
            return v.isoformat(sep=" ") if hasattr(v, "hour") else v.isoformat()
        if isinstance(v, float):
            return round(v, 9)
        return v

    return [tuple(value(v) for v in row) for row in rows]


def _in_process(spark, config: LakehouseConfig, sql: str) -> list[tuple]:
    sync_views(spark, config, {})
    return _normalize([tuple(r) for r in spark.sql(sql).collect()])


def _versions_seen(spark, config: LakehouseConfig, table, sql: str) -> set[tuple]:
    """The probe's answer at every committed version of ``table`` (plus 'not there yet')."""
    from delta.tables import DeltaTable

    location = table_location(config, table)
    answers = {(0, None)}
    history = DeltaTable.forPath(spark, location).history().select("version").collect()
    for row in history:
        df = spark.read.format("delta").option("versionAsOf", row["version"]).load(location)
        df.createOrReplaceTempView("probe_version")
        probe_sql = sql.split(" FROM ")[0] + " FROM probe_version"
        answers.add(tuple(spark.sql(probe_sql).collect()[0]))
    return answers


class _Poller(threading.Thread):
    """A client that keeps querying while a pipeline run commits."""

    def __init__(self, server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.seen: dict = {table: [] for table in PROBES}
        self.errors: list[str] = []
        self.output = self.progress = ""
        """The command's stdout (its summary) and stderr (its progress)."""

    def run(self) -> None:
        connection = connect(self.server)
        while not self.stop.is_set():
            for table, sql in PROBES.items():
                try:
                    self.seen[table].append(tuple(query(connection, sql)[0]))
                except Exception as error:
                    self.errors.append(f"{table.name}: {error}")
            time.sleep(0.2)
        connection.close()


def _run_pipeline_while_polling(
    spark, config: LakehouseConfig, server, command: tuple[str, ...] = ("run", "-q"),
    *args: str, exit_code: int = 0,
) -> _Poller:  # fmt: skip
    """Run ``lakehouse <command>`` while a client polls; it must end with ``exit_code``, every
    answer the client got must be the answer of a committed version, and it keeps polling
    until it has seen the final one."""
    poller = _Poller(server)
    poller.start()
    result = subprocess.run(
        lakehouse_cmd(*command, "--home", config.home, *args),
        capture_output=True, text=True, timeout=1200,
        env=subprocess_env(LAKEHOUSE_DRIVER_MEMORY="2g"),
    )  # fmt: skip
    poller.output, poller.progress = result.stdout, result.stderr
    final = {table: _in_process(spark, config, sql) for table, sql in PROBES.items()}

    def caught_up() -> bool:
        return all(
            poller.seen[table] and _normalize([poller.seen[table][-1]]) == final[table]
            for table in PROBES
        )

    deadline = time.monotonic() + 120  # the server re-caches within --refresh-seconds (1)
    while not caught_up() and not poller.errors and time.monotonic() < deadline:
        time.sleep(0.2)
    poller.stop.set()
    poller.join(timeout=120)
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert not poller.errors, poller.errors[:5]
    assert caught_up(), {t.name: poller.seen[t][-1:] for t in PROBES}
    for table, sql in PROBES.items():
        allowed = _versions_seen(spark, config, table, sql)
        seen = poller.seen[table]
        assert seen, f"no answers for {table.name}"
        assert set(seen) <= allowed, f"{table.name}: {set(seen) - allowed} not a committed state"
    return poller


@pytest.fixture(scope="module")
def dashboard(served):
    """``lakehouse dashboard`` on the module's server: its URL."""
    config, server = served
    set_user(default_users_file(config), DASHBOARD_USER, DASHBOARD_PASSWORD)
    with running_dashboard(config.home, server.port, "--login") as url:
        yield url


def test_every_table_listed_with_its_columns_before_any_run(served):
    _, server = served
    with connect(server) as connection:
        for schema in sorted({t.schema for t in SERVED_TABLES}):
            expected = {t.short_name for t in SERVED_TABLES if t.schema == schema}
            assert {r["TABLE_NAME"] for r in get_tables(connection, schema)} == expected
            columns = get_columns(connection, schema)
            for table in (t for t in SERVED_TABLES if t.schema == schema):
                got = [
                    (c["COLUMN_NAME"], c["TYPE_NAME"].strip())
                    for c in columns
                    if c["TABLE_NAME"] == table.short_name
                ]
                assert got == [(c.name, c.type) for c in table.columns], table.name
        assert query(connection, "SELECT COUNT(*) FROM kpi_summary") == [(0,)]


def test_tables_appear_during_a_run_and_queries_only_see_committed_versions(spark, served):
    config, server = served
    for name in FIRST_FILES:
        land(config, REES46 / name)
    _quoted_brand_delivery(config)
    (Path(config.landing) / "bad.csv").write_text("a,b,c\n1,2,3\n")
    # not quiet: the progress goes to stderr; a rejected file: exit 3, the rest goes in
    poller = _run_pipeline_while_polling(spark, config, server, ("run",), exit_code=3)
    assert "bronze" in poller.output and "files 5" in poller.output, poller.output
    assert "rejected: bad.csv: wrong header" in poller.output
    assert "planned batch 1: 5 new file(s)" in poller.progress
    final = _in_process(spark, config, PROBES[GOLD_KPI_SUMMARY])
    assert final[0][0] == 1
    assert _normalize([poller.seen[GOLD_KPI_SUMMARY][-1]]) == final


def test_gold_is_answered_from_the_servers_memory_after_a_run(spark, served):
    """Every gold table is cached by the server once it exists, and client sessions use it."""
    config, server = served
    plans: dict[str, str] = {}
    deadline = time.monotonic() + 180
    with connect(server) as connection:
        while time.monotonic() < deadline:
            plans = {
                t.name: query(connection, f"EXPLAIN SELECT * FROM {t.name}")[0][0]
                for t in GOLD_TABLES
            }
            if all("Scan In-memory table" in plan for plan in plans.values()):
                break
            time.sleep(1)
        uncached = [name for name, plan in plans.items() if "Scan In-memory table" not in plan]
        assert not uncached, plans[uncached[0]] if uncached else ""
        sql = PROBES[GOLD_DAILY_BRAND_SALES]
        assert _normalize(query(connection, sql)) == _in_process(spark, config, sql)


TABLEAU_SQL = [
    # LIMIT 0 probe of a custom SQL data source, wrapped as a derived table
    "SELECT * FROM (SELECT `brand`, `revenue` FROM `gold`.`brand_performance`) `Custom SQL Query`"
    " LIMIT 0",
    "SELECT `brand_performance`.`brand` AS `brand`, SUM(`brand_performance`.`revenue`) AS "
    "`sum_revenue_ok` FROM `gold`.`brand_performance` `brand_performance` GROUP BY 1 "
    "ORDER BY `sum_revenue_ok` DESC, `brand` LIMIT 10",
    "SELECT COUNT(DISTINCT `order_lines`.`user_session`) AS `ctd_user_session_ok` "
    "FROM `gold`.`order_lines` `order_lines` WHERE `order_lines`.`event_date` >= "
    "CAST('2019-11-01' AS DATE)",
    "SELECT TRUNC(`daily_brand_sales`.`event_date`, 'MM') AS `tmn_event_date_ok`, "
    "SUM(`daily_brand_sales`.`purchases`) AS `sum_purchases_ok` FROM `gold`.`daily_brand_sales` "
    "`daily_brand_sales` GROUP BY 1 ORDER BY 1",
    "SELECT DATE_ADD(`orders`.`order_date`, 0) AS `d`, COUNT(1) AS `n`, SUM(`orders`.`items`) AS "
    "`items` FROM `gold`.`orders` `orders` GROUP BY 1 ORDER BY 1",
    "SELECT `t`.`product_id`, `t`.`revenue` FROM (SELECT * FROM `gold`.`product_performance`) `t`"
    " ORDER BY `t`.`revenue` DESC, `t`.`product_id` LIMIT 5",
    "SELECT `event_date`, COUNT(*) AS `rows`, SUM(`revenue`) AS `revenue` FROM "
    "`gold`.`daily_product_sales` GROUP BY `event_date` ORDER BY `event_date`",
    "SELECT * FROM `gold`.`kpi_summary`",
    "SELECT `layer`, `status`, COUNT(`batch`) FROM `ops`.`run_log` GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT `rule_id`, SUM(`failed_rows`) AS `failed` FROM `dq`.`rule_results` "
    "WHERE `engine` = 'spark' GROUP BY `rule_id` ORDER BY `rule_id`",
]


def test_tableau_style_sql_over_pyhive_equals_in_process(spark, served):
    config, server = served
    with connect(server) as connection:
        query(connection, "SET spark.sql.shuffle.partitions=4")  # Initial SQL
        query(connection, "USE gold")
        for sql in TABLEAU_SQL:
            assert _normalize(query(connection, sql)) == _in_process(spark, config, sql), sql
        for table in GOLD_TABLES:
            sql = f"SELECT COUNT(*) FROM `{table.short_name}`"
            got = query(connection, sql)
            assert _normalize(got) == _in_process(
                spark, config, f"SELECT COUNT(*) FROM {table.name}"
            )


def test_dashboard_queries_over_thrift_equal_in_process(spark, served, record_property):
    config, server = served
    timings: list[float] = []
    with connect(server) as connection:
        brands = [row[0] for row in query(connection, brands_sql())]
        assert brands, "the sample has brands with sales"
        for brand in [None, *brands[:3]]:
            for panel, sql in dashboard_queries(brand).items():
                started = time.perf_counter()
                got = query(connection, sql)
                timings.append(time.perf_counter() - started)
                assert _normalize(got) == _in_process(spark, config, sql), (brand, panel)
    timings.sort()
    p50, p95 = median(timings), timings[int(0.95 * (len(timings) - 1))]
    record_property("dashboard_p50_s", round(p50, 3))
    record_property("dashboard_p95_s", round(p95, 3))
    print(f"dashboard queries over Thrift: n={len(timings)} p50={p50:.3f}s p95={p95:.3f}s")


def test_beeline_lists_metadata_and_runs_tableau_sql(spark, served):
    config, server = served
    url = f"jdbc:hive2://127.0.0.1:{server.port}/gold;auth=noSasl"
    sql = TABLEAU_SQL[1]
    out = beeline(
        url,
        "!tables\n!columns daily_brand_sales\nSET spark.sql.session.timeZone=UTC;\nUSE gold;\n"
        f"{sql};",
    )
    lines = [line for line in out.splitlines() if line.strip()]
    # Without a terminal beeline may glue a stray "null" to a header line: match its end.
    header = next((i for i, x in enumerate(lines) if x.endswith("brand\tsum_revenue_ok")), None)
    assert header is not None, out
    for table in SERVED_TABLES:
        assert any(f"\t{table.schema}\t{table.short_name}\tVIEW" in x for x in lines), table.name
    for column in GOLD_DAILY_BRAND_SALES.columns:
        assert any(f"\tdaily_brand_sales\t{column.name}\t" in x for x in lines), column.name
    got = [tuple(x.split("\t")) for x in lines[header + 1 : header + 11]]
    expected = [("NULL" if b is None else b, r) for b, r in _in_process(spark, config, sql)]
    assert got == expected


# Statements a client of the read-only endpoint must not get to run: each would run code in
# the server, read a file that is not served, or change the catalog, a session or a table.
REFUSED = (
    "ADD JAR {jar}",
    "ADD FILE {secret}",
    "CREATE FUNCTION f AS 'x.Y' USING JAR '{jar}'",
    "CREATE TEMPORARY FUNCTION f AS 'x.Y' USING JAR '{jar}'",
    "SELECT * FROM text.`{secret}`",
    "SELECT * FROM csv.`{csv}`",
    "SELECT * FROM parquet.`{gold}`",
    "SELECT COUNT(*) FROM delta.`{silver}`",
    "SELECT (SELECT MAX(value) FROM text.`{secret}`) AS leaked",
    "WITH s AS (SELECT * FROM json.`{secret}`) SELECT * FROM s",
    "INSERT INTO delta.`{gold}` SELECT * FROM gold.kpi_summary",
    "INSERT INTO gold.kpi_summary SELECT * FROM gold.kpi_summary",
    "INSERT OVERWRITE DIRECTORY '{out}' USING parquet SELECT * FROM gold.kpi_summary",
    "MERGE INTO delta.`{gold}` t USING gold.kpi_summary s ON false WHEN NOT MATCHED THEN INSERT *",
    "UPDATE delta.`{gold}` SET revenue = 0",
    "DELETE FROM delta.`{gold}`",
    "CREATE TABLE t (a INT)",
    "CREATE TABLE t USING delta LOCATION '{out}' AS SELECT 1 AS a",
    "CREATE VIEW gold.v AS SELECT 1 AS a",
    "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT * FROM text.`{secret}`",
    "DROP VIEW gold.kpi_summary",
    "DROP TABLE IF EXISTS gold.kpi_summary",
    "DROP FUNCTION IF EXISTS f",
    "ALTER VIEW gold.kpi_summary AS SELECT 1 AS revenue",
    "ALTER TABLE delta.`{gold}` SET TBLPROPERTIES ('x' = 'y')",
    "SET spark.sql.ansi.enabled=false",
    "SET spark.databricks.delta.retentionDurationCheck.enabled=false",
    "SET",
    "CACHE TABLE gold.kpi_summary",
    "CACHE TABLE c AS SELECT * FROM text.`{secret}`",
    "UNCACHE TABLE gold.kpi_summary",
    "REFRESH TABLE gold.kpi_summary",
    "REFRESH '{gold}'",
    "RESET",
    "SELECT reflect('java.lang.System', 'setProperty', 'lakehouse.x', 'y')",
    "SELECT java_method('java.lang.System', 'getProperty', 'user.home')",
    "SELECT TRANSFORM(revenue) USING 'cat' AS (r) FROM gold.kpi_summary",
    "EXECUTE IMMEDIATE 'DROP VIEW gold.kpi_summary'",
    "VACUUM delta.`{gold}` RETAIN 0 HOURS",
    "OPTIMIZE delta.`{gold}`",
    "DESCRIBE HISTORY delta.`{gold}`",
    "EXPLAIN SELECT * FROM text.`{secret}`",
)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def _catalog(connection) -> list[tuple]:
    rows = [
        (t["TABLE_SCHEM"], t["TABLE_NAME"], t["TABLE_TYPE"])
        for schema in ("gold", "dq", "ops", "default")
        for t in get_tables(connection, schema)
    ]
    return sorted(rows) + sorted(query(connection, "SHOW USER FUNCTIONS"))


def test_the_endpoint_is_read_only(spark, served, tmp_path):
    config, server = served
    secret = tmp_path / "secret.txt"
    secret.write_text('{"value": "not served"}\n')
    jar = tmp_path / "code.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    paths = {
        "jar": jar, "secret": secret, "csv": REES46 / FIRST_FILES[0], "out": tmp_path / "out",
        "gold": table_location(config, GOLD_KPI_SUMMARY),
        "silver": table_location(config, SILVER_EVENTS),
    }  # fmt: skip
    home_before, tmp_before = _files(Path(config.home)), _files(tmp_path)
    with connect(server) as connection:
        catalog_before = _catalog(connection)
        for template in REFUSED:
            sql = template.format(**paths)
            with pytest.raises(OperationalError) as refused:
                query(connection, sql)
            status = getattr(refused.value.args[0], "status", refused.value.args[0])
            message = status.errorMessage
            assert "lakehouse serve is read-only:" in message and "\n" not in message, sql
            assert f"(in {' '.join(sql.split()[:2])}" in message, message
        # What BI tools send still works (the dashboard, Tableau and beeline tests run the rest).
        expected = query(connection, "SELECT COUNT(*), SUM(revenue) FROM gold.kpi_summary")
        by_path = f"SELECT COUNT(*), SUM(revenue) FROM delta.`{paths['gold']}`"  # the view's own
        assert query(connection, by_path) == expected
        assert query(connection, "SET spark.sql.session.timeZone=UTC") == [
            ("spark.sql.session.timeZone", "UTC")
        ]
        assert ("gold",) in query(connection, "SHOW DATABASES")
        assert query(connection, "SHOW COLUMNS IN gold.kpi_summary")
        assert query(connection, "DESCRIBE gold.kpi_summary")
        assert _catalog(connection) == catalog_before
    assert _files(Path(config.home)) == home_before
    assert _files(tmp_path) == tmp_before


def test_dashboard_default_view_equals_gold_and_screenshot(
    spark, served, dashboard, browser, tmp_path
):
    config, _ = served
    open_dashboard(browser, dashboard, DASHBOARD_USER, DASHBOARD_PASSWORD)
    assert_shows(browser, expected_page(spark, config)[None], "All brands")
    quality = browser.find_element("id", "quality-table").text
    assert "rows checked" in quality and "great_expectations" in quality
    docs = browser.find_element("link text", "Open the Data Docs").get_attribute("href")
    session = browser.get_cookie(COOKIE)["value"]
    signed_in = urllib.request.Request(docs, headers={"Cookie": f"{COOKIE}={session}"})
    with urllib.request.urlopen(signed_in, timeout=30) as page:
        assert page.status == 200 and b"Data Docs" in page.read()
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(docs, timeout=30)  # not signed in
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get(SCREENSHOT_DIR_ENV):
        shutil.copy(shot, Path(os.environ[SCREENSHOT_DIR_ENV]) / "dashboard.png")


def test_dashboard_shows_each_kind_of_brand_with_its_gold_figures(
    spark, served, dashboard, browser
):
    """The top and the bottom seller, one between, and a brand with a quote in its name, picked
    in the dropdown (the picker offers brands with sales; sales without a brand are part of
    "All brands")."""
    config, _ = served
    brands = [
        r["brand"]
        for r in gold_table(spark, config, GOLD_BRAND_PERFORMANCE)
        .where("brand IS NOT NULL AND revenue > 0")
        .orderBy(F.desc("revenue"), "brand")
        .collect()
    ]
    assert len(brands) > 20 and QUOTED_BRAND in brands
    # "All brands" (checked figure by figure) includes the sales without a brand
    unbranded = gold_table(spark, config, GOLD_BRAND_PERFORMANCE).where("brand IS NULL").first()
    assert unbranded is not None and unbranded["revenue"] > 0
    expected = expected_page(spark, config)
    open_dashboard(browser, dashboard, DASHBOARD_USER, DASHBOARD_PASSWORD)
    assert_shows(browser, expected[None], "All brands")
    for brand in dict.fromkeys([brands[0], brands[len(brands) // 2], brands[-1], QUOTED_BRAND]):
        pick(browser, brand)
        assert_shows(browser, expected[brand], brand)


def test_a_later_run_is_seen_without_restart_and_never_half_written(
    spark, served, dashboard, browser
):
    """A late file: clients see only committed versions, then the new figures, and the open
    dashboard page follows on its refresh tick (10 s here), without a reload or a restart."""
    config, server = served
    before = _in_process(spark, config, PROBES[GOLD_KPI_SUMMARY])
    page_before = expected_page(spark, config)[None]
    open_dashboard(browser, dashboard, DASHBOARD_USER, DASHBOARD_PASSWORD)
    assert_shows(browser, page_before, "All brands")
    land(config, REES46 / LATE_FILE)
    poller = _run_pipeline_while_polling(spark, config, server)
    # the file rejected by the first run is recorded once, not reported again (exit 0)
    assert "files 1," in poller.output and "rejected:" not in poller.output, poller.output
    after = _in_process(spark, config, PROBES[GOLD_KPI_SUMMARY])
    assert after != before
    assert _normalize([poller.seen[GOLD_KPI_SUMMARY][-1]]) == after
    page_after = expected_page(spark, config)[None]
    assert page_after["cards"] != page_before["cards"]
    wait_for(browser, lambda: shown(browser)["cards"] == page_after["cards"], "the new figures")
    assert_shows(browser, page_after, "All brands")


def test_maintenance_while_a_client_polls(spark, served):
    """``lakehouse maintain`` compacts and vacuums (default retention) every served table while a
    client keeps querying: no query fails, every answer is a committed state, no row changes."""
    config, server = served
    files = {t: _active_files(spark, config, t) for t in SERVED_TABLES}
    before = {t: _all_rows(spark, config, t) for t in GOLD_TABLES}
    served_tables = ",".join(t.name for t in SERVED_TABLES)  # what the client reads
    poller = _run_pipeline_while_polling(
        spark, config, server, ("maintain", "-q"), "--tables", served_tables
    )
    assert "vacuumed" in poller.output and "retention 168 h" in poller.output
    assert {t: _all_rows(spark, config, t) for t in GOLD_TABLES} == before
    after = {t: _active_files(spark, config, t) for t in SERVED_TABLES if t != OPS_RUN_LOG}
    assert all(after[t] <= files[t] for t in after)
    assert after[DQ_RULE_RESULTS] == 1 < files[DQ_RULE_RESULTS]  # appended once per batch
    answers = query(connect(server), PROBES[GOLD_KPI_SUMMARY])
    assert _normalize(answers) == _in_process(spark, config, PROBES[GOLD_KPI_SUMMARY])


def _all_rows(spark, config: LakehouseConfig, table) -> list[tuple]:
    return sorted(_in_process(spark, config, f"SELECT * FROM {table.name}"), key=repr)


def _active_files(spark, config: LakehouseConfig, table) -> int:
    from delta.tables import DeltaTable

    location = table_location(config, table)
    return DeltaTable.forPath(spark, location).detail().collect()[0]["numFiles"]
