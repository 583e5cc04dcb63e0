"""A bad day, for real: runs killed with SIGKILL, two runs at once, a failing layer, and what
the run log and ``lakehouse status`` say about each. Real ``lakehouse`` processes throughout.

(Killed bronze and silver runs: tests/bronze/test_ingest.py, tests/silver/test_silver.py. The
bad-file catalogue: tests/bronze/test_ingest.py. Absurd values: tests/silver/test_quality.py.)
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location
from lakehouse.lock import Holder, lock_path
from lakehouse.storage import latest_version
from lakehouse.tables import ALL_TABLES, DQ_RULE_RESULTS, OPS_RUN_LOG, SILVER_EVENTS
from tests.gold.test_gold import check_against_oracle
from tests.helpers import REES46, REPO, lakehouse_cmd, land, subprocess_env

pytestmark = pytest.mark.slow

FILES = ("2019-Oct-head5k.csv", "2019-Nov-head683-noheader.csv")


def _home(tmp_path: Path) -> LakehouseConfig:
    config = LakehouseConfig.create(str(tmp_path / "home"))
    Path(config.landing).mkdir(parents=True)
    land(config, *(REES46 / name for name in FILES))
    return config


def _lakehouse(*args: str, crash_at: str | None = None, **popen) -> subprocess.Popen:
    env = subprocess_env(LAKEHOUSE_DRIVER_MEMORY="2g")
    if crash_at:
        env["LAKEHOUSE_CRASH_AT"] = crash_at
    return subprocess.Popen(
        lakehouse_cmd(*args), cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
    )  # fmt: skip


def _finish(process: subprocess.Popen, timeout: float = 900) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _run_log(spark, config: LakehouseConfig) -> list[dict]:
    rows = read_table(spark, table_location(config, OPS_RUN_LOG)).collect()
    return sorted((r.asDict() for r in rows), key=lambda r: (r["ended_at"], r["layer"]))


@pytest.mark.parametrize("point", ["pipeline.after_silver", "gold.after_daily"])
def test_killed_run_then_rerun_equals_clean_build_and_is_logged(spark, tmp_path, point):
    """Killed between layers / while gold rewrites its tables; the next run recovers the lock,
    logs the killed run as interrupted and ends with the tables of a run that never crashed."""
    config = _home(tmp_path)
    code, _, err = _finish(_lakehouse("run", "--home", config.home, crash_at=point))
    assert code == -9, err[-2000:]
    killed = Holder.parse(lock_path(config).read_text())
    assert killed is not None, "a killed run leaves its name in the lock file"

    code, out, err = _finish(_lakehouse("run", "--home", config.home))
    assert code == 0, err[-3000:]
    assert f"recovered the writer lock of run {killed.run_id}" in err

    check_against_oracle(spark, config, [REES46 / name for name in FILES])
    log = _run_log(spark, config)
    by_run = {(r["run_id"], r["layer"]): r["status"] for r in log}
    assert by_run[(killed.run_id, "*")] == "interrupted"
    assert by_run[(killed.run_id, "bronze")] == by_run[(killed.run_id, "silver")] == "succeeded"
    assert (killed.run_id, "gold") not in by_run
    rerun = out.split("run ", 1)[1].split()[0]
    assert [by_run[(rerun, layer)] for layer in ("bronze", "silver", "gold")] == ["succeeded"] * 3
    assert lock_path(config).read_text() == "", "a finished run releases the lock cleanly"


def test_two_runs_at_once_one_writer(spark, tmp_path):
    """The second run stops at once (exit 4) naming the holder, or waits with --wait; the
    tables end exactly as one run makes them, and the run log shows both runs."""
    config = _home(tmp_path)
    first = _lakehouse("run", "--home", config.home)
    deadline = time.monotonic() + 300
    while not lock_path(config).exists() or not lock_path(config).read_text():
        assert first.poll() is None and time.monotonic() < deadline, "first run never locked"
        time.sleep(0.2)
    holder = Holder.parse(lock_path(config).read_text())

    code, _, err = _finish(_lakehouse("run", "--home", config.home), timeout=300)
    assert code == 4, err[-2000:]
    assert f"is being written by run {holder.run_id} (pid {first.pid}" in err
    assert "--wait" in err and "Traceback" not in err

    waiting = _lakehouse("run", "--home", config.home, "--wait", "900")
    assert _finish(first)[0] == 0
    code, out, err = _finish(waiting)
    assert code == 0, err[-2000:]

    check_against_oracle(spark, config, [REES46 / name for name in FILES])
    log = _run_log(spark, config)
    second = out.split("run ", 1)[1].split()[0]
    assert [(r["run_id"], r["layer"]) for r in log] == [
        (holder.run_id, "bronze"), (holder.run_id, "silver"), (holder.run_id, "gold"),
        (second, "bronze"), (second, "silver"), (second, "gold"),
    ]  # fmt: skip
    first_bronze, second_bronze = log[0], log[3]
    lines = sum(len((REES46 / name).read_bytes().splitlines()) for name in FILES)
    assert first_bronze["rows_read"] == lines
    assert (
        first_bronze["rows_read"]
        == first_bronze["rows_written"] + 1 + (first_bronze["rows_quarantined"])
    )  # one header line
    assert second_bronze["rows_read"] == 0 and log[4]["rows_read"] == 0
    silver = log[1]
    assert silver["rows_read"] == (
        silver["rows_written"] + silver["rows_quarantined"] + silver["rows_duplicates"]
    )
    silver_out = dict(p.split("=") for p in silver["output_versions"].split(", "))
    gold_in = dict(p.split("=") for p in log[2]["input_versions"].split(", "))
    assert gold_in["silver.events"] == silver_out["silver.events"] != "-"

    # lakehouse status: the same runs, every table's version and rows, the last DQ result
    code, out, err = _finish(_lakehouse("status", "--home", config.home, "--json"))
    assert code == 0, err[-2000:]
    status = json.loads(out)
    assert [(r["run_id"], r["layer"]) for r in status["runs"]][:3] == [
        (second, "gold"), (second, "silver"), (second, "bronze"),
    ]  # fmt: skip
    tables = {t["name"]: t for t in status["tables"]}
    assert set(tables) == {t.name for t in ALL_TABLES}
    for table in ALL_TABLES:
        location = table_location(config, table)
        assert tables[table.name]["version"] == latest_version(spark, location), table.name
        assert tables[table.name]["rows"] == read_table(spark, location).count(), table.name
    dq = read_table(spark, table_location(config, DQ_RULE_RESULTS)).where("engine = 'spark'")
    assert status["quality"]["run_id"] == holder.run_id  # the second run had nothing to check
    assert status["quality"]["rules"] == dq.select("rule_id").distinct().count()
    failing = dq.where("failed_rows > 0").select("rule_id").distinct().collect()
    assert {f[0] for f in status["quality"]["failures"]} == {r[0] for r in failing}
    assert status["writer"] == "free"
    text = _finish(_lakehouse("status", "--home", config.home))[1]
    for heading in ("recent runs", "tables", "data quality", "writer lock: free"):
        assert heading in text


def test_failed_layer_is_logged_and_the_next_run_finishes(spark, tmp_path):
    config = _home(tmp_path)
    events = Path(table_location(config, SILVER_EVENTS))
    events.parent.mkdir(parents=True)
    events.write_text("a file where silver.events must be a folder")  # silver cannot write
    code, _, err = _finish(_lakehouse("run", "--home", config.home))
    assert code == 1, err[-2000:]
    assert "lakehouse run failed:" in err and "Traceback" not in err
    log = _run_log(spark, config)
    statuses = [(r["layer"], r["status"]) for r in log]
    assert statuses == [("bronze", "succeeded"), ("silver", "failed")]
    assert log[1]["error"] and log[1]["ended_at"] >= log[1]["started_at"]

    events.unlink()
    code, _, err = _finish(_lakehouse("run", "--home", config.home))
    assert code == 0, err[-2000:]
    check_against_oracle(spark, config, [REES46 / name for name in FILES])
    statuses = [(r["layer"], r["status"]) for r in _run_log(spark, config)]
    assert statuses[2:] == [("bronze", "succeeded"), ("silver", "succeeded"), ("gold", "succeeded")]


def test_status_of_an_empty_home(tmp_path):
    home = tmp_path / "empty"
    code, out, err = _finish(_lakehouse("status", "--home", str(home)))
    assert code == 0, err[-2000:]
    assert "none yet" in out and "not created yet" in out and "writer lock: free" in out
