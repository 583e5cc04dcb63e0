"""A bad day, for real, on one home: a run killed with SIGKILL at every crash point the code
declares, two runs at once, a failing layer, and what the run log and ``lakehouse status`` say
about each. Real ``lakehouse`` processes throughout.

(The bad-file catalogue: tests/bronze/test_ingest.py. Absurd values: tests/silver/. Killed
rebuilds: tests/test_backfill_maintenance.py.)
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from bronze import ingest
from gold import build as gold_build
from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location
from lakehouse.faults import CRASH_POINTS
from lakehouse.lock import Holder, lock_path
from lakehouse.status import collect_status, render_status
from lakehouse.storage import latest_version
from lakehouse.tables import (
    ALL_TABLES,
    BRONZE_EVENTS,
    BRONZE_FILES,
    DQ_RULE_RESULTS,
    GOLD_KPI_SUMMARY,
    OPS_RUN_LOG,
    SILVER_QUARANTINE,
)
from silver import build as silver_build
from tests.bronze.test_ingest import assert_matches_oracle
from tests.builds import completed
from tests.gold.test_gold import check_against_oracle
from tests.helpers import REES46, REPO, lakehouse_cmd, land, subprocess_env
from tests.oracle import duckdb_events
from tests.silver.test_silver import oracle_events, oracle_sessions, sessions, silver_events

FIRST_DELIVERY = (REES46 / "2019-Oct-head5k.csv", REES46 / "2019-Nov-head683-noheader.csv")
SECOND_DELIVERY = REES46 / "2019-Nov-head10k.csv"  # its first 683 rows are already in silver

# (crash point, layers the killed run is asked for), in the order a run reaches them
FIRST_DAY_KILLS = [
    ("bronze.after_events", "bronze"),
    ("bronze.after_quarantine", "bronze"),
    ("pipeline.after_bronze", "bronze"),
    ("silver.after_events", "silver"),
    ("silver.after_quarantine", "silver"),  # resumed: the events write is skipped
    ("silver.after_tables", "silver"),
    ("pipeline.after_silver", "bronze,silver,gold"),
]
SECOND_DAY_KILLS = [("gold.after_daily", "bronze,silver,gold"), ("pipeline.after_gold", "gold")]


def _lakehouse(*args: str, crash_at: str | None = None) -> subprocess.Popen:
    env = subprocess_env(LAKEHOUSE_DRIVER_MEMORY="2g")
    if crash_at:
        env["LAKEHOUSE_CRASH_AT"] = crash_at
    return subprocess.Popen(
        lakehouse_cmd(*args), cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _finish(process: subprocess.Popen, timeout: float = 900) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _run_log(spark, config: LakehouseConfig) -> list[dict]:
    rows = read_table(spark, table_location(config, OPS_RUN_LOG)).collect()
    return sorted((r.asDict() for r in rows), key=lambda r: (r["ended_at"], r["layer"]))


def _files(spark, config: LakehouseConfig) -> list[tuple]:
    """The bronze ledger: (file, status) per landing file taken."""
    rows = read_table(spark, table_location(config, BRONZE_FILES)).collect()
    return sorted((r["source_file"], r["status"]) for r in rows)


def _completed(spark, config: LakehouseConfig, layer: str) -> list[int]:
    """The batches ``layer`` completed: its rows with a batch in the run log."""
    if latest_version(spark, table_location(config, OPS_RUN_LOG)) is None:
        return []
    return [r["batch"] for r in completed(spark, config, layer)]


def _data_versions(spark, config: LakehouseConfig) -> dict[str, int | None]:
    """Every table's version but the run log's (each run adds to it)."""
    tables = (t for t in ALL_TABLES if t is not OPS_RUN_LOG)
    return {t.name: latest_version(spark, table_location(config, t)) for t in tables}


class Chain:
    """Runs killed one after the other on one home; each next run must recover the lock."""

    def __init__(self, config: LakehouseConfig) -> None:
        self.config = config
        self.killed: list[str] = []
        self.unrecovered: str | None = None
        """The last killed run, until a later run has taken over its lock."""

    def kill(self, point: str, layers: str) -> None:
        code, _, err = _finish(
            _lakehouse("run", "--home", self.config.home, "--layers", layers, crash_at=point)
        )
        assert code == -9, f"{point}: {err[-2000:]}"
        self.recovered(err)
        holder = Holder.parse(lock_path(self.config).read_text())
        assert holder is not None, f"{point}: a killed run leaves its name in the lock file"
        self.killed.append(holder.run_id)
        self.unrecovered = holder.run_id

    def recovered(self, err: str) -> None:
        """The run that printed ``err`` found the last killed run and took over its lock."""
        if self.unrecovered is not None:
            assert f"recovered the writer lock of run {self.unrecovered}" in err, err[-2000:]
            self.unrecovered = None


@pytest.mark.slow
@pytest.mark.xdist_group("bad-day")
def test_a_bad_day_kills_at_every_crash_point_two_writers_a_failed_layer(spark, tmp_path):
    """Day one: each run is SIGKILLed at the next crash point, then a run finishes it while a
    second one is refused (exit 4) and a third waits for it; the tables equal the oracle and
    the run log and ``status`` say what happened. Day two: a layer fails (exit 1), a run is
    killed in gold's rewrite and after gold, and a plain run then has nothing left to do."""
    assert {point for point, _ in FIRST_DAY_KILLS + SECOND_DAY_KILLS} == set(CRASH_POINTS)
    config = LakehouseConfig.create(str(tmp_path / "home"))
    Path(config.landing).mkdir(parents=True)
    land(config, *FIRST_DELIVERY)
    chain = Chain(config)

    # -- day one: killed at every step, in order ------------------------------------------
    for point, layers in FIRST_DAY_KILLS:
        chain.kill(point, layers)
        if point.startswith("bronze."):  # written, not completed: in flight, not in the ledger
            assert _files(spark, config) == []
            left = ingest.in_flight_batch(spark, config)
            assert left.number == 1 and left.files == tuple(sorted(p.name for p in FIRST_DELIVERY))
        elif point.startswith("silver."):
            assert _completed(spark, config, "silver") == []
            left = silver_build.in_flight_batch(spark, config)
            assert (left.number, left.bronze_from, left.bronze_to) == (1, 1, 1)
        if point == "pipeline.after_bronze":  # exactly once, however often it was resumed
            assert_matches_oracle(spark, config, list(FIRST_DELIVERY))
            events = read_table(spark, table_location(config, BRONZE_EVENTS))
            keys = events.select("source_file", "line_number")
            assert keys.count() == keys.distinct().count() == 5_019 + 683
            assert {b for (b,) in events.select("batch_id").distinct().collect()} == {1}
        if point == "pipeline.after_silver":
            assert _completed(spark, config, "silver") == [1]
            con = duckdb_events(list(FIRST_DELIVERY))
            assert silver_events(spark, config) == oracle_events(con)
            assert sessions(spark, config) == oracle_sessions(con)
    # killed before gold started: no gold table yet, nothing of gold in flight
    assert latest_version(spark, table_location(config, GOLD_KPI_SUMMARY)) is None
    assert _completed(spark, config, "gold") == []

    # -- a run finishes day one; a second run meanwhile is refused, a third waits ----------
    first = _lakehouse("run", "--home", config.home)
    deadline = time.monotonic() + 300
    while not lock_path(config).read_text() or chain.killed[-1] in lock_path(config).read_text():
        assert first.poll() is None and time.monotonic() < deadline, "the run never locked"
        time.sleep(0.2)
    holder = Holder.parse(lock_path(config).read_text())
    code, _, err = _finish(_lakehouse("run", "--home", config.home), timeout=300)
    assert code == 4, err[-2000:]
    assert f"is being written by run {holder.run_id} (pid {first.pid}" in err
    assert "--wait" in err and "Traceback" not in err
    waiting = _lakehouse("run", "--home", config.home, "--wait", "900")
    code, _, err = _finish(first)
    assert code == 0, err[-2000:]
    chain.recovered(err)
    code, out, err = _finish(waiting)
    assert code == 0, err[-2000:]
    second = out.split("run ", 1)[1].split()[0]
    assert lock_path(config).read_text() == "", "a finished run releases the lock cleanly"

    check_against_oracle(spark, config, list(FIRST_DELIVERY))
    assert _completed(spark, config, "gold") == [1]
    log = _run_log(spark, config)
    by_run = {(r["run_id"], r["layer"]): r for r in log}
    for run_id in chain.killed:
        assert by_run[(run_id, "*")]["status"] == "interrupted", run_id
    runs = {point: run_id for (point, _), run_id in zip(FIRST_DAY_KILLS, chain.killed, strict=True)}
    bronze = by_run[(runs["pipeline.after_bronze"], "bronze")]  # the run that finished bronze
    lines = sum(len(path.read_bytes().splitlines()) for path in FIRST_DELIVERY)
    assert bronze["status"] == "succeeded" and bronze["rows_read"] == lines
    assert bronze["rows_read"] == bronze["rows_written"] + 1 + bronze["rows_quarantined"]
    between = runs["pipeline.after_silver"]  # killed between silver and gold
    silver = by_run[(between, "silver")]
    assert silver["status"] == by_run[(between, "bronze")]["status"] == "succeeded"
    assert (between, "gold") not in by_run
    assert (
        silver["rows_read"]
        == 5_019 + 683
        == (silver["rows_written"] + silver["rows_quarantined"] + silver["rows_duplicates"])
    )
    for run_id in (holder.run_id, second):
        assert all(
            by_run[(run_id, layer)]["status"] == "succeeded"
            for layer in ("bronze", "silver", "gold")
        )
    assert by_run[(second, "bronze")]["rows_read"] == by_run[(second, "silver")]["rows_read"] == 0
    silver_out = dict(p.split("=") for p in silver["output_versions"].split(", "))
    gold_in = dict(
        p.split("=") for p in by_run[(holder.run_id, "gold")]["input_versions"].split(", ")
    )
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
    # the silver batch is recorded under the run that planned it and made its first write
    assert status["quality"]["run_id"] == runs["silver.after_events"]
    assert status["quality"]["rules"] == dq.select("rule_id").distinct().count()
    failing = dq.where("failed_rows > 0").select("rule_id").distinct().collect()
    assert {f[0] for f in status["quality"]["failures"]} == {r[0] for r in failing}
    assert status["writer"] == "free" and status["in_flight"] == []
    # the text form of the same report (``lakehouse status`` without --json prints this)
    text = "\n".join(render_status(collect_status(spark, config)))
    headings = ("recent runs", "tables", "batches in flight", "data quality", "writer lock: free")
    for heading in headings:
        assert heading in text

    # -- day two: silver cannot write (exit 1, logged), then killed in and after gold ------
    land(config, SECOND_DELIVERY)
    quarantine = Path(table_location(config, SILVER_QUARANTINE))
    quarantine.rename(quarantine.with_name("moved-away"))
    quarantine.write_text("a file where a silver table must be a folder")
    code, out, err = _finish(_lakehouse("run", "--home", config.home))
    assert code == 1, err[-2000:]
    assert "lakehouse run failed:" in err and "Traceback" not in err
    failed_run = [r for r in _run_log(spark, config) if (r["run_id"], r["layer"]) not in by_run]
    assert [(r["layer"], r["status"]) for r in failed_run] == [
        ("bronze", "succeeded"), ("silver", "failed"),
    ]  # fmt: skip
    assert failed_run[1]["error"] and failed_run[1]["ended_at"] >= failed_run[1]["started_at"]
    quarantine.unlink()
    quarantine.with_name("moved-away").rename(quarantine)

    for point, layers in SECOND_DAY_KILLS:
        chain.kill(point, layers)
        if point == "gold.after_daily":
            assert _completed(spark, config, "gold") == [1]
            assert gold_build.in_flight_batch(spark, config).number == 2
            shown = "\n".join(render_status(collect_status(spark, config)))
            assert "gold    batch 2, planned by run" in shown
    assert _completed(spark, config, "gold") == [1, 2]
    assert gold_build.in_flight_batch(spark, config) is None
    before = _data_versions(spark, config)
    code, out, err = _finish(_lakehouse("run", "--home", config.home))
    assert code == 0, err[-2000:]
    chain.recovered(err)
    assert "files 0" in out and "taken 0" in out, out
    assert _data_versions(spark, config) == before

    files = [*FIRST_DELIVERY, SECOND_DELIVERY]
    assert_matches_oracle(spark, config, files)
    con = duckdb_events(files)
    assert silver_events(spark, config) == oracle_events(con)
    assert sessions(spark, config) == oracle_sessions(con)
    assert _completed(spark, config, "silver") == [1, 2]
    check_against_oracle(spark, config, files)
    log = _run_log(spark, config)
    interrupted = {r["run_id"] for r in log if r["status"] == "interrupted"}
    assert interrupted == set(chain.killed)


def test_status_of_an_empty_home(tmp_path):
    home = tmp_path / "empty"
    code, out, err = _finish(_lakehouse("status", "--home", str(home)))
    assert code == 0, err[-2000:]
    assert "none yet" in out and "not created yet" in out and "writer lock: free" in out
