"""The layers' entry scripts run under a real spark-submit (as on a cluster), in order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

from lakehouse.delta_io import read_table, table_location
from lakehouse.session import DELTA_PACKAGE
from lakehouse.tables import BRONZE_EVENTS, GOLD_KPI_SUMMARY, SILVER_EVENTS
from tests.helpers import REPO, land, subprocess_env

SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"


@pytest.mark.slow
def test_bronze_silver_gold_jobs_under_spark_submit(spark, home, rees46):
    land(home, rees46 / "2019-Nov-head683-noheader.csv")
    env = subprocess_env(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    for layer in ("bronze", "silver", "gold"):
        done = subprocess.run(
            [str(SPARK_SUBMIT), "--master", "local[2]", "--packages", DELTA_PACKAGE,
             "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.ui.enabled=false",
             f"{layer}/job.py", "--home", home.home, "-q"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"{layer:<7} ok" in done.stdout
    assert read_table(spark, table_location(home, BRONZE_EVENTS)).count() == 683
    assert read_table(spark, table_location(home, SILVER_EVENTS)).count() == 683
    [kpi] = read_table(spark, table_location(home, GOLD_KPI_SUMMARY)).collect()
    assert kpi["views"] + kpi["purchases"] + kpi["carts"] == 683
