"""Backfill, reprocess and maintenance on one home, built clean (all files, one run): each
test damages the tables the way a bug would, repairs them with the feature under test, and
compares every data table with the tables of that clean build.

- ``run --full-refresh`` (every layer), killed while bronze writes, then a plain run;
- ``run --layers silver --full-refresh``, killed while silver writes, then a plain run: gold
  rebuilds because silver did;
- ``run --dates D``: silver and gold re-derive one date;
- ``lakehouse maintain``: compaction and vacuum change no row.
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.dates import DateRange
from lakehouse.delta_io import read_table, table_location
from lakehouse.maintain import MaintainOptions, maintain
from lakehouse.tables import (
    BRONZE_EVENTS,
    GOLD_DAILY_BRAND_SALES,
    OPS_RUN_LOG,
    SILVER_EVENTS,
    Table,
)
from tests.builds import FIRST, LATE, ledger, run, snapshot
from tests.gold.test_gold import check_against_oracle
from tests.helpers import REPO, lakehouse_cmd, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("clean-build")]

DAY = date(2019, 10, 1)


def _delete(spark, config: LakehouseConfig, table: Table, condition) -> None:
    DeltaTable.forPath(spark, table_location(config, table)).delete(condition)


def _stray_gold_row(spark, config: LakehouseConfig) -> None:
    """A gold row for a date with no events: only a recomputation of every date removes it."""
    location = table_location(config, GOLD_DAILY_BRAND_SALES)
    stray = read_table(spark, location).limit(1).withColumn("event_date", F.lit(date(2000, 1, 1)))
    stray.write.format("delta").mode("append").save(location)


def _killed_run(config: LakehouseConfig, point: str, *args: str) -> None:
    killed = subprocess.run(
        lakehouse_cmd("run", "--home", config.home, "-q", *args),
        env=subprocess_env(LAKEHOUSE_CRASH_AT=point, LAKEHOUSE_DRIVER_MEMORY="2g"),
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-2000:]


def test_full_refresh_killed_then_a_plain_run_equals_a_clean_build(spark, clean_build):
    """Damage in every layer; ``run --full-refresh`` is SIGKILLed after bronze wrote its rows;
    the next plain run finishes the rebuild without emptying what it wrote, and silver and gold
    rebuild because bronze did."""
    config, expected = clean_build.config, clean_build.tables
    for table in (BRONZE_EVENTS, SILVER_EVENTS):
        _delete(spark, config, table, F.col("source_file") == FIRST.name)
    _stray_gold_row(spark, config)
    assert snapshot(spark, config) != expected
    _killed_run(config, "bronze.after_events", "--full-refresh")
    run(spark, config)
    assert snapshot(spark, config) == expected
    assert ledger(spark, config) == clean_build.ledger  # every file once, with the same counts
    check_against_oracle(spark, config, [FIRST, LATE])


def test_silver_full_refresh_killed_then_gold_rebuilds_too(spark, clean_build):
    config, expected = clean_build.config, clean_build.tables
    _delete(spark, config, SILVER_EVENTS, F.col("source_file") == LATE.name)
    _stray_gold_row(spark, config)
    _killed_run(config, "silver.after_events", "--layers", "silver", "--full-refresh")
    run(spark, config, ["silver"])  # finishes the rebuild
    assert snapshot(spark, config)[SILVER_EVENTS.name] == expected[SILVER_EVENTS.name]
    run(spark, config, ["gold"])  # a plain gold run: silver started over, so does gold
    assert snapshot(spark, config) == expected


def test_reprocessing_a_date_re_derives_it_in_silver_and_gold(spark, clean_build):
    config, expected = clean_build.config, clean_build.tables
    _delete(spark, config, SILVER_EVENTS, F.col("event_date") == DAY)
    _delete(spark, config, GOLD_DAILY_BRAND_SALES, F.col("event_date") == DAY)
    assert snapshot(spark, config) != expected
    [silver, gold] = run(spark, config, ["silver", "gold"], dates=DateRange(DAY, DAY))
    assert (
        silver.counts["taken"]
        == silver.counts["added"] + silver.counts["quarantined"] + (silver.counts["duplicates"])
    )
    assert gold.counts["dates"] == 1
    assert snapshot(spark, config) == expected


def test_full_refresh_refuses_to_drop_rows_of_files_gone_from_landing(spark, clean_build):
    config, expected = clean_build.config, clean_build.tables
    moved = Path(config.landing) / LATE.name
    moved.rename(moved.with_suffix(".away"))
    try:
        with pytest.raises(RuntimeError, match=f"no longer in .*{LATE.name}"):
            run(spark, config, ["bronze"], full_refresh=True)
    finally:
        moved.with_suffix(".away").rename(moved)
    assert snapshot(spark, config) == expected


def test_maintain_compacts_and_vacuums_without_changing_a_row(spark, clean_build):
    config, expected = clean_build.config, clean_build.tables
    report = {t.table: t for t in maintain(spark, config, MaintainOptions(retain_hours=0.0))}
    run_log = report[OPS_RUN_LOG.name]  # one small file per layer per run
    assert run_log.files_after == 1 < run_log.files_before
    # files replaced by earlier commits (a batch ledger's pending row, a rebuild) are gone
    assert sum(t.vacuumed_files for t in report.values()) > 0
    assert snapshot(spark, config) == expected


def test_maintain_refuses_an_unsafe_retention(tmp_path):
    refused = subprocess.run(
        lakehouse_cmd("maintain", "--home", str(tmp_path), "--retain-hours", "0.5"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "unsafe" in refused.stderr and "Traceback" not in refused.stderr
