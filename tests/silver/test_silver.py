"""Silver on real Delta tables: accounting identity, dedupe across files and runs, sessions and
products equal to an independent DuckDB computation, reruns change nothing.

(Sessions across files and runs, late and re-delivered files: the incremental sequence in
tests/gold/test_gold.py. Killed runs: the chain of kills in tests/test_reliability.py.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from bronze import ingest
from lakehouse.cli import EXIT_QUALITY, main
from lakehouse.delta_io import read_table, table_location, table_version
from lakehouse.generate import GenerateSpec, generate
from lakehouse.quality import QualityFailure
from lakehouse.runs import new_run_id
from lakehouse.schema import HEADER
from lakehouse.tables import (
    DQ_RULE_RESULTS,
    SILVER_EVENTS,
    SILVER_PRODUCTS,
    SILVER_QUARANTINE,
    SILVER_TABLES,
    SILVER_USER_SESSIONS,
)
from silver import build
from tests.builds import completed
from tests.helpers import TEST_CONF, land
from tests.oracle import duckdb_events
from tests.silver.test_quality import BREAKS, OK

EVENT_COLS = (
    "date_format(event_time, 'yyyy-MM-dd HH:mm:ss')",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "cast(price as string)",
    "user_id",
    "user_session",
)


def run_both(spark, config):
    run_id = new_run_id()
    return ingest.run(spark, config, run_id), build.run(spark, config, run_id)


def silver_events(spark, config) -> list[tuple]:
    df = read_table(spark, table_location(config, SILVER_EVENTS)).selectExpr(*EVENT_COLS)
    return _sorted(tuple(r) for r in df.collect())


def _sorted(rows) -> list[tuple]:
    return sorted(rows, key=lambda r: tuple("" if v is None else str(v) for v in r))


def oracle_events(con) -> list[tuple]:
    rows = con.execute(
        """select strftime(event_time, '%Y-%m-%d %H:%M:%S'), event_type, product_id, category_id,
                  category_code, brand, price::varchar, user_id, user_session from events"""
    ).fetchall()
    return _sorted(rows)


def sessions(spark, config) -> dict[str, tuple]:
    df = read_table(spark, table_location(config, SILVER_USER_SESSIONS)).selectExpr(
        "user_session", "user_id", "date_format(session_start, 'yyyy-MM-dd HH:mm:ss')",
        "date_format(session_end, 'yyyy-MM-dd HH:mm:ss')", "events", "views", "carts",
        "removals", "purchases", "cast(purchased_value as string)",
    )  # fmt: skip
    return {r[0]: tuple(r[1:]) for r in df.collect()}


def oracle_sessions(con) -> dict[str, tuple]:
    rows = con.execute(
        """select user_session, min(user_id), strftime(min(event_time), '%Y-%m-%d %H:%M:%S'),
                  strftime(max(event_time), '%Y-%m-%d %H:%M:%S'), count(*),
                  count(*) filter (event_type = 'view'), count(*) filter (event_type = 'cart'),
                  count(*) filter (event_type = 'remove_from_cart'),
                  count(*) filter (event_type = 'purchase'),
                  coalesce(sum(price) filter (event_type = 'purchase'), 0)::decimal(18,2)::varchar
           from events where user_session is not null group by 1"""
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def products(spark, config) -> dict[int, tuple]:
    df = read_table(spark, table_location(config, SILVER_PRODUCTS)).selectExpr(
        "product_id", "brand", "category_code", "main_category", "sub_category",
        "cast(price as string)", "date_format(first_seen, 'yyyy-MM-dd HH:mm:ss')",
        "date_format(last_seen, 'yyyy-MM-dd HH:mm:ss')",
    )  # fmt: skip
    return {r[0]: tuple(r[1:]) for r in df.collect()}


def oracle_products(con) -> dict[int, tuple]:
    """Products whose latest event_time has one set of attributes (no tie to break)."""
    rows = con.execute(
        """with last as (select product_id, max(event_time) t, min(event_time) f
                         from events group by 1),
                attrs as (select distinct e.product_id, brand, category_code, price::varchar p,
                                 strftime(l.f, '%Y-%m-%d %H:%M:%S') f,
                                 strftime(l.t, '%Y-%m-%d %H:%M:%S') t
                          from events e join last l
                          on e.product_id = l.product_id and e.event_time = l.t)
           select product_id, any_value(brand), any_value(category_code),
                  split_part(any_value(category_code), '.', 1),
                  nullif(split_part(any_value(category_code), '.', 2), ''),
                  any_value(p), any_value(f), any_value(t)
           from attrs group by 1 having count(*) = 1"""
    ).fetchall()
    return {r[0]: tuple(None if v == "" else v for v in r[1:]) for r in rows}


def versions(spark, config):
    return {t.name: table_version(spark, table_location(config, t)) for t in SILVER_TABLES}


@pytest.fixture
def real(real_build):
    """The shared build: run 1 took Oct 17k + Nov 10k + Nov 683, run 2 Oct 5k (a re-delivery)."""
    run1, run2 = (results["silver"] for results in real_build.results)
    return real_build.config, list(real_build.files), run1, run2


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_accounting_identity_on_real_rows(real):
    _, files, run1, run2 = real
    con = duckdb_events(files[:3])
    distinct = con.execute("select count(*) from events").fetchall()[0][0]
    assert run1.counts["taken"] == 17_434 + 10_000 + 683
    assert run1.counts["added"] == distinct
    assert run1.counts["quarantined"] == 0
    assert run1.counts["duplicates"] == run1.counts["taken"] - distinct
    # The Oct 5k file re-delivers rows already in silver: every row is a duplicate.
    assert run2.counts == {
        "taken": 5_019,
        "added": 0,
        "quarantined": 0,
        "duplicates": 5_019,
        "warnings": run2.counts["warnings"],
    }
    assert run2.counts["warnings"] > 0  # null brands and category codes in real data


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_tables_equal_an_independent_computation(spark, real):
    config, files, _, _ = real
    con = duckdb_events(files)
    assert silver_events(spark, config) == oracle_events(con)
    assert len(silver_events(spark, config)) == 27_429  # distinct rows of all four files
    assert sessions(spark, config) == oracle_sessions(con)
    got, expected = products(spark, config), oracle_products(con)
    assert len(got) == con.execute("select count(distinct product_id) from events").fetchall()[0][0]
    assert {k: got[k] for k in expected} == expected


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_each_event_date_is_one_file(spark, real):
    """A batch writes one file per date (the append repartitions by date), not one per task."""
    config, _, _, _ = real
    events = read_table(spark, table_location(config, SILVER_EVENTS))
    files = events.groupBy("event_date").agg(F.count_distinct("_metadata.file_path"))
    per_date = {r[0]: r[1] for r in files.collect()}
    assert len(per_date) == 2  # 2019-10-01 and 2019-11-01, from three files of one batch
    assert set(per_date.values()) == {1}


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_batches_and_quality_results_are_recorded(spark, real):
    config, _, run1, _ = real
    rows = completed(spark, config, "silver")  # the batches' rows in the run log
    assert [(r["batch"], r["status"]) for r in rows] == [(1, "succeeded"), (2, "succeeded")]
    assert [(r["input_from"], r["input_to"], r["rebuild"]) for r in rows] == [
        (1, 1, False),
        (2, 2, False),
    ]
    for r in rows:
        assert r["rows_read"] == r["rows_written"] + r["rows_quarantined"] + r["rows_duplicates"]
    dq = read_table(spark, table_location(config, DQ_RULE_RESULTS)).where("batch = 1")
    by_engine, evaluated = {}, {}
    for r in dq.collect():
        by_engine.setdefault(r["engine"], {})[r["rule_id"]] = r["failed_rows"]
        evaluated.setdefault(r["engine"], set()).add(r["rows_evaluated"])
    assert set(by_engine) == {"spark", "great_expectations"}
    # a batch under LAKEHOUSE_REPORT_ROWS: great-expectations looked at every row
    assert evaluated["great_expectations"] == {run1.counts["taken"]}
    row_rules = set(by_engine["great_expectations"])
    assert {k: by_engine["spark"][k] for k in row_rules} == by_engine["great_expectations"]
    assert by_engine["spark"]["products_unique"] == 0
    assert by_engine["spark"]["events_product_known"] == 0
    assert by_engine["spark"]["brand_present"] == run1.counts["warnings"] - sum(
        by_engine["spark"][k]
        for k in ("category_code_present", "user_session_present", "price_not_zero")
    )
    dq_dir = Path(config.home) / "dq"
    assert (dq_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()
    [result_file] = sorted((dq_dir / "results").glob("silver-000001-*.json"))
    report = json.loads(result_file.read_text())
    assert report["silver_batch"] == 1 and report["great_expectations"]["silver_events"]


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_rerun_changes_nothing(spark, real):
    config, _, _, _ = real
    before = versions(spark, config)
    _, again = run_both(spark, config)
    assert again.counts["taken"] == 0
    assert versions(spark, config) == before


def _bad_line(change: dict) -> str:
    row = {**OK, **change}
    return ",".join("" if row[c] is None else row[c] for c in OK)


@pytest.mark.slow
def test_bad_values_quarantined_with_every_rule_id_and_reported_on_a_sample(spark, home):
    """Every drop rule quarantines its row with the ids of every rule broken; above
    ``report_rows`` great-expectations validates a sample while Spark enforces every row."""
    generate(GenerateSpec(rows=2_000, days=1, seed=5), Path(home.landing))
    lines = [_bad_line(change) for change in BREAKS.values()]
    lines.append(_bad_line({"price": "-1", "product_id": "x", "event_type": "click"}))
    (Path(home.landing) / "bad.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    _, result = run_both(spark, replace(home, report_rows=500))
    c = result.counts
    assert c["taken"] == 2_000 + len(lines)
    assert c["taken"] == c["added"] + c["quarantined"] + c["duplicates"]
    q = read_table(spark, table_location(home, SILVER_QUARANTINE)).collect()
    by_line = {r["line_number"]: set(r["failed_rules"].split(",")) for r in q}
    drop_ids = [k for k in BREAKS if k not in _WARN]
    assert c["quarantined"] == len(drop_ids) + 1
    for number, rule_id in enumerate(BREAKS, start=2):  # line 1 is the header
        if rule_id in _WARN:
            assert number not in by_line
        else:
            assert rule_id in by_line[number]
    assert by_line[len(lines) + 1] >= {
        "price_non_negative",
        "product_id_integer",
        "event_type_known",
    }
    assert {r["source_file"] for r in q} == {"bad.csv"}
    assert all(r["run_id"] for r in q)

    # the report: a Bernoulli sample of about 500 rows; Spark counted every row
    assert any("sample of" in note for note in result.notes)
    dq = read_table(spark, table_location(home, DQ_RULE_RESULTS)).collect()
    gx = {r["rule_id"]: r for r in dq if r["engine"] == "great_expectations"}
    spark_rows = {r["rule_id"]: r for r in dq if r["engine"] == "spark"}
    assert gx and {r["rows_evaluated"] for r in spark_rows.values()} >= {c["taken"]}
    sampled = {r["rows_evaluated"] for r in gx.values()}
    assert len(sampled) == 1 and 300 < sampled.pop() < 700  # ~500: a Bernoulli sample
    for rule_id, row in gx.items():
        assert row["failed_rows"] <= spark_rows[rule_id]["failed_rows"]


_WARN = {"brand_present", "category_code_present", "user_session_present", "price_not_zero"}


@pytest.mark.slow
def test_uniqueness_is_checked_on_the_keys_a_batch_wrote(spark, home, tmp_path, capsys):
    """A duplicated product among a batch's keys fails the run and leaves the batch in flight;
    the uniqueness rules evaluate exactly the rows of the keys the batch wrote, so their cost
    follows the batch, not the history; once repaired, a rerun completes the batch. Through the
    command line the failure is exit code 5 and one line naming the rule, its count and the
    report, without the "run again" advice of a failure a rerun can finish."""
    files = generate(GenerateSpec(rows=3_000, days=2, seed=21), tmp_path / "gen")
    land(home, files[0])
    run_both(spark, home)
    day2 = duckdb_events([files[1]])
    day2_products = {r[0] for r in day2.execute("select product_id from events").fetchall()}
    day2_sessions = day2.execute(
        "select count(distinct user_session) from events where user_session is not null"
    ).fetchall()[0][0]
    location = table_location(home, SILVER_PRODUCTS)
    products = read_table(spark, location)
    known = sorted(r[0] for r in products.select("product_id").collect() if r[0] in day2_products)
    assert known, "the second day must revisit a product of the first"
    products.where(F.col("product_id") == known[0]).write.format("delta").mode("append").save(
        location
    )
    land(home, files[1])

    conf = [arg for key, value in TEST_CONF.items() for arg in ("--conf", f"{key}={value}")]
    command = ["run", "--home", home.home, "--layers", "bronze,silver", "--master", "local[2]"]
    assert main([*command, *conf]) == EXIT_QUALITY  # in this process: the session is reused
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("lakehouse run: silver batch 2 failed 1 fail rule(s): ")
    assert "products_unique: 2 rows share a product_id in silver.products (of " in message
    results = Path(home.home) / "dq" / "results"
    assert f"report: {results}/silver-000002-" in message
    assert "dq.rule_results (layer 'silver', batch 2)" in message
    assert "run the same command again" not in message.lower()
    with pytest.raises(QualityFailure, match="products_unique: 2 rows share a product_id"):
        run_both(spark, home)  # a rerun fails the same way

    dq = read_table(spark, table_location(home, DQ_RULE_RESULTS)).where("batch = 2").collect()
    by_rule = {r["rule_id"]: (r["rows_evaluated"], r["failed_rows"]) for r in dq}
    assert by_rule["products_unique"] == (len(day2_products) + 1, 2)
    assert by_rule["user_sessions_unique"] == (day2_sessions, 0)
    assert [r["batch"] for r in completed(spark, home, "silver")] == [1]
    assert build.in_flight_batch(spark, home).number == 2  # written, not completed

    table = DeltaTable.forPath(spark, location)
    copy = table.toDF().where(F.col("product_id") == known[0]).limit(1).collect()
    table.delete(F.col("product_id") == known[0])
    spark.createDataFrame(copy, products.schema).write.format("delta").mode("append").save(location)
    _, resumed = run_both(spark, home)
    assert resumed.counts["taken"] > 0
    assert [r["batch"] for r in completed(spark, home, "silver")] == [1, 2]
    assert build.in_flight_batch(spark, home) is None
