"""Gold KPIs against an independent DuckDB computation over the raw rows, to the cent; an
incremental sequence (new days, a late file, a re-delivery) equals the oracle in silver and
gold, and a full refresh."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from delta.tables import DeltaTable

from bronze import ingest
from gold import build as gold
from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location, table_version
from lakehouse.generate import GenerateSpec, generate
from lakehouse.runs import new_run_id
from lakehouse.tables import (
    GOLD_BRAND_PERFORMANCE,
    GOLD_DAILY_BRAND_SALES,
    GOLD_KPI_SUMMARY,
    GOLD_ORDER_LINES,
    GOLD_ORDERS,
    GOLD_PRODUCT_PERFORMANCE,
    GOLD_TABLES,
    SILVER_EVENTS,
)
from silver import build as silver
from tests.builds import copy_home
from tests.helpers import land
from tests.oracle import duckdb_events
from tests.silver.test_silver import oracle_events, oracle_sessions, sessions, silver_events

ORDER_SESSION = "event_type = 'purchase' and user_session is not null"
REVENUE = "coalesce(sum(price) filter (event_type = 'purchase'), 0)::decimal(18,2)::varchar"


def run_all(spark, config, full_refresh=False):
    """Every layer in one run; returns silver's and gold's results."""
    run_id = new_run_id()
    ingest.run(spark, config, run_id)
    silver_result = silver.run(spark, config, run_id)
    return silver_result, gold.run(spark, config, run_id, full_refresh)


def table_rows(spark, config, table, columns: list[str]) -> list[tuple]:
    df = read_table(spark, table_location(config, table)).selectExpr(*columns)
    return _sorted(tuple(r) for r in df.collect())


def _sorted(rows) -> list[tuple]:
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


def _round(rows, *float_positions):
    return [
        tuple(round(v, 9) if i in float_positions and v is not None else v for i, v in enumerate(r))
        for r in rows
    ]


def check_against_oracle(spark, config, files: list[Path]) -> None:
    con = duckdb_events(files)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731

    [kpi] = table_rows(
        spark, config, GOLD_KPI_SUMMARY,
        ["cast(revenue as string)", "orders", "cast(aov as string)", "items_per_order",
         "purchases", "views", "carts", "sessions", "users",
         "date_format(first_event, 'yyyy-MM-dd HH:mm:ss')",
         "date_format(last_event, 'yyyy-MM-dd HH:mm:ss')"],
    )  # fmt: skip
    [expected] = q(
        f"""select {REVENUE},
                  count(distinct user_session) filter ({ORDER_SESSION}),
                  round(sum(price) filter ({ORDER_SESSION})
                        / count(distinct user_session) filter ({ORDER_SESSION}), 2
                  )::decimal(18,2)::varchar,
                  count(*) filter ({ORDER_SESSION})
                        / count(distinct user_session) filter ({ORDER_SESSION}),
                  count(*) filter (event_type = 'purchase'), count(*) filter (event_type = 'view'),
                  count(*) filter (event_type = 'cart'), count(distinct user_session),
                  count(distinct user_id), strftime(min(event_time), '%Y-%m-%d %H:%M:%S'),
                  strftime(max(event_time), '%Y-%m-%d %H:%M:%S')
           from events"""
    )
    assert kpi[:3] == expected[:3]
    assert kpi[3] == pytest.approx(expected[3], rel=1e-12)
    assert kpi[4:] == expected[4:]

    brands = table_rows(
        spark, config, GOLD_BRAND_PERFORMANCE,
        ["brand", "cast(revenue as string)", "purchases", "orders",
         "cast(order_revenue as string)", "views", "carts", "conversion_rate",
         "avg_product_conversion", "products"],
    )  # fmt: skip
    expected_brands = q(
        f"""with per_product as (
               select brand, product_id, count(*) filter (event_type = 'view') v,
                      count(*) filter (event_type = 'purchase') p
               from events group by all)
            select e.brand, {REVENUE},
                   count(*) filter (event_type = 'purchase'),
                   count(distinct user_session) filter ({ORDER_SESSION}),
                   coalesce(sum(price) filter ({ORDER_SESSION}), 0)::decimal(18,2)::varchar,
                   count(*) filter (event_type = 'view'), count(*) filter (event_type = 'cart'),
                   case when count(*) filter (event_type = 'view') > 0 then
                     (count(*) filter (event_type = 'purchase'))::double
                     / count(*) filter (event_type = 'view') end,
                   (select avg(p::double / v) from per_product pp
                    where pp.brand is not distinct from e.brand and v > 0 and p > 0),
                   count(distinct product_id)
            from events e group by e.brand"""
    )
    assert _round(brands, 7, 8) == _round(_sorted(expected_brands), 7, 8)

    daily = table_rows(
        spark, config, GOLD_DAILY_BRAND_SALES,
        ["cast(event_date as string)", "brand", "main_category", "sub_category",
         "cast(revenue as string)", "purchases", "orders", "views", "carts"],
    )  # fmt: skip
    expected_daily = q(
        f"""select event_time::date::varchar, brand, split_part(category_code, '.', 1),
                   nullif(split_part(category_code, '.', 2), ''),
                   {REVENUE},
                   count(*) filter (event_type = 'purchase'),
                   count(distinct user_session) filter ({ORDER_SESSION}),
                   count(*) filter (event_type = 'view'), count(*) filter (event_type = 'cart')
            from events group by all"""
    )
    # split_part of NULL is '' in DuckDB: compare main_category '' as NULL
    expected_daily = [(d, b, m or None, *rest) for d, b, m, *rest in expected_daily]
    assert daily == _sorted(expected_daily)

    products = table_rows(
        spark,
        config,
        GOLD_PRODUCT_PERFORMANCE,
        ["product_id", "cast(revenue as string)", "purchases", "views", "carts", "conversion_rate"],
    )
    expected_products = q(
        f"""select product_id, {REVENUE},
                  count(*) filter (event_type = 'purchase'), count(*) filter (event_type = 'view'),
                  count(*) filter (event_type = 'cart'),
                  case when count(*) filter (event_type = 'view') > 0 then
                    (count(*) filter (event_type = 'purchase'))::double
                    / count(*) filter (event_type = 'view') end
           from events group by 1"""
    )
    assert _round(products, 5) == _round(_sorted(expected_products), 5)

    orders = table_rows(
        spark, config, GOLD_ORDERS, ["user_session", "items", "cast(revenue as string)"]
    )
    expected_orders = q(
        f"""select user_session, count(*), sum(price)::decimal(18,2)::varchar
            from events where {ORDER_SESSION} group by 1"""
    )
    assert orders == _sorted(expected_orders)
    [[lines]] = q("select count(*) from events where event_type = 'purchase'")
    assert read_table(spark, table_location(config, GOLD_ORDER_LINES)).count() == lines


def snapshot(spark, config) -> dict[str, list[tuple]]:
    """Every gold table's rows, to compare two builds."""
    out = {}
    for table in GOLD_TABLES:
        df = read_table(spark, table_location(config, table))
        out[table.name] = _sorted(tuple(str(v) for v in r) for r in df.collect())
    return out


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_kpis_on_real_rows_equal_duckdb(spark, real_build):
    """The four real files in two runs (the second a re-delivery): every KPI to the cent."""
    assert all(results["gold"].ok for results in real_build.results)
    check_against_oracle(spark, real_build.config, list(real_build.files))
    assert any(line.startswith("top 10 brands") for line in real_build.results[-1]["gold"].notes)


@pytest.mark.slow
def test_incremental_sequence_equals_oracle_and_full_refresh(spark, home, tmp_path):
    """Day 1, day 2 (sessions cross midnight), a late file for day 1, then a re-delivery of
    day 1: silver's events and sessions equal DuckDB over every file delivered, new days are
    appended and the rest merged; gold equals DuckDB and a full refresh of itself."""
    gen = tmp_path / "gen"
    day1, day2 = generate(GenerateSpec(rows=8_000, days=2, seed=11), gen / "a")
    [late_day1] = generate(GenerateSpec(rows=1_500, days=1, seed=22), gen / "b")
    seen = []
    for path, name in [
        (day1, None),
        (day2, None),
        (late_day1, "late-day1.csv"),
        (day1, "late-redelivery.csv"),
    ]:
        land(home, path, rename=name)
        seen.append(path)
        silver_result, result = run_all(spark, home)
        assert result.ok
    # the re-delivery added no silver rows: nothing for gold to redo
    assert silver_result.counts["added"] == 0
    assert silver_result.counts["duplicates"] == silver_result.counts["taken"] > 0
    assert result.counts["dates"] == 0

    con = duckdb_events(seen)
    assert sessions(spark, home) == oracle_sessions(con)
    assert silver_events(spark, home) == oracle_events(con)
    spanning = con.execute(
        """select count(*) from (select user_session from events
           group by 1 having count(distinct event_time::date) > 1)"""
    ).fetchall()[0][0]
    assert spanning > 0  # the test really covers sessions split across files
    history = DeltaTable.forPath(spark, table_location(home, SILVER_EVENTS)).history()
    writes = [
        r["operation"]
        for r in history.orderBy("version").collect()
        if r["operation"] in ("WRITE", "MERGE")
    ]
    assert writes[:3] == ["WRITE", "WRITE", "MERGE"]  # new days appended, the late file merged
    check_against_oracle(spark, home, seen)

    incremental = snapshot(spark, home)
    versions = {t.name: table_version(spark, table_location(home, t)) for t in GOLD_TABLES}
    assert gold.run(spark, home, new_run_id()).counts["dates"] == 0  # nothing new: no writes
    assert {t.name: table_version(spark, table_location(home, t)) for t in GOLD_TABLES} == versions
    refreshed = gold.run(spark, home, new_run_id(), full_refresh=True)
    assert refreshed.counts["dates"] == 2
    assert snapshot(spark, home) == incremental


def test_kpi_definitions_on_a_tiny_frame(spark):
    """Null session purchases count in revenue, not in orders; AOV uses order revenue."""
    from gold import kpis

    events = spark.createDataFrame(
        [
            ("2019-11-01", "purchase", 1, "a", None, 10.00, "s1", 1),
            ("2019-11-01", "purchase", 2, "a", None, 5.00, "s1", 1),
            ("2019-11-01", "purchase", 1, "a", None, 7.00, None, 2),
            ("2019-11-01", "view", 1, "a", None, 0.0, "s2", 3),
            ("2019-11-02", "view", 3, None, "x.y", 1.0, "s3", 3),
        ],
        "event_date STRING, event_type STRING, product_id BIGINT, brand STRING, "
        "category_code STRING, price DOUBLE, user_session STRING, user_id BIGINT",
    ).selectExpr("cast(event_date as date) event_date", "event_type", "product_id", "brand",
                 "category_code", "cast(price as decimal(10,2)) price", "user_session", "user_id",
                 "cast(event_date as timestamp) event_time")  # fmt: skip
    daily = kpis.daily_product_sales(events)
    lines = kpis.order_lines(events)
    products = (
        events.groupBy("product_id")
        .agg({"event_time": "min"})
        .withColumnRenamed("min(event_time)", "first_seen")
        .selectExpr("*", "first_seen as last_seen")
    )
    kpi = kpis.kpi_summary(daily, kpis.orders(lines), events.select("user_session").distinct(),
                           events.select("user_id"), products).first()  # fmt: skip
    assert str(kpi["revenue"]) == "22.00"
    assert kpi["orders"] == 1
    assert str(kpi["aov"]) == "15.00"
    assert kpi["items_per_order"] == 2.0
    brand = {r["brand"]: r for r in kpis.brand_performance(daily, lines).collect()}
    assert brand["a"]["orders"] == 1 and brand["a"]["purchases"] == 3
    assert str(brand["a"]["order_revenue"]) == "15.00"  # the 7.00 without a session is no order
    assert str(brand[None]["order_revenue"]) == "0.00"
    assert brand["a"]["conversion_rate"] == 3.0  # 3 purchases / 1 view
    assert brand["a"]["avg_product_conversion"] == 2.0  # only product 1 has views and buys
    assert brand[None]["revenue"] == 0 and brand[None]["views"] == 1
    daily_brand = kpis.daily_brand_sales(events).where("brand is null").first()
    assert (daily_brand["main_category"], daily_brand["sub_category"]) == ("x", "y")


def test_empty_gold_before_any_data(spark, tmp_path):
    config = LakehouseConfig.create(str(tmp_path / "empty"))
    Path(config.landing).mkdir(parents=True)
    _, result = run_all(spark, config)
    assert result.ok and result.counts["dates"] == 0


def _brand_performance_before_order_revenue():
    """``gold.brand_performance`` as declared by the releases before ``order_revenue``."""
    columns = tuple(c for c in GOLD_BRAND_PERFORMANCE.columns if c.name != "order_revenue")
    return replace(GOLD_BRAND_PERFORMANCE, columns=columns)


def test_a_table_from_an_earlier_release_gets_the_new_columns(spark, home):
    """``brand_performance`` written before ``order_revenue`` existed: the next run's
    ``ensure_table`` adds the column, its rows read NULL there, and gold's overwrite works."""
    from lakehouse.delta_io import ensure_table

    location = table_location(home, GOLD_BRAND_PERFORMANCE)
    earlier = _brand_performance_before_order_revenue()
    ensure_table(spark, earlier, location)
    spark.sql(f"INSERT INTO delta.`{location}` (brand, orders) VALUES ('a', 2)")

    ensure_table(spark, GOLD_BRAND_PERFORMANCE, location)
    fields = {f.name: f for f in read_table(spark, location).schema.fields}
    assert set(fields) == {c.name for c in GOLD_BRAND_PERFORMANCE.columns}
    assert fields["order_revenue"].dataType.simpleString() == "decimal(18,2)"
    assert "AOV" in fields["order_revenue"].metadata["comment"]
    assert read_table(spark, location).select("brand", "order_revenue").collect() == [("a", None)]

    columns = [f"CAST(NULL AS {c.type}) AS `{c.name}`" for c in GOLD_BRAND_PERFORMANCE.columns]
    spark.sql(f"SELECT {', '.join(columns)}").write.format("delta").mode("overwrite").save(location)
    ensure_table(spark, GOLD_BRAND_PERFORMANCE, location)  # nothing missing: no change
    assert table_version(spark, location) == 3


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_gold_from_an_earlier_release_is_recomputed_to_fill_a_new_column(
    spark, real_build, tmp_path
):
    """A home whose ``brand_performance`` predates ``order_revenue``: the next gold run, with no
    new data, adds the column and recomputes every date, so no brand is left with NULL."""
    from lakehouse.delta_io import ensure_table

    home = copy_home(real_build.config, tmp_path)
    location = table_location(home, GOLD_BRAND_PERFORMANCE)
    declared = [f"`{c.name}`" for c in GOLD_BRAND_PERFORMANCE.columns]
    expected = table_rows(spark, home, GOLD_BRAND_PERFORMANCE, declared)
    earlier = _brand_performance_before_order_revenue()
    old_rows = read_table(spark, location).drop("order_revenue").collect()
    shutil.rmtree(location)
    ensure_table(spark, earlier, location)
    spark.createDataFrame(old_rows, earlier.schema_ddl()).write.format("delta").mode("append").save(
        location
    )

    result = gold.run(spark, home, new_run_id())
    assert result.ok and result.counts["dates"] > 0
    assert table_rows(spark, home, GOLD_BRAND_PERFORMANCE, declared) == expected
    order_revenue = dict(
        read_table(spark, table_location(home, GOLD_ORDER_LINES))
        .where("user_session IS NOT NULL")
        .groupBy("brand")
        .agg({"price": "sum"})
        .collect()
    )
    for row in read_table(spark, location).collect():
        assert row["order_revenue"] == order_revenue.get(row["brand"], 0), row["brand"]
    assert gold.run(spark, home, new_run_id()).counts["dates"] == 0  # upgraded once
