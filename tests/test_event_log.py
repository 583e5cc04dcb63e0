"""benchmarks/event_log.py on a small hand-written Spark event log (no Spark needed)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.event_log import read_events, summary

MB = 2**20


def _task_end(stage: int, launch: int, finish: int, spilled: int = 0, gc: int = 0) -> dict:
    return {
        "Event": "SparkListenerTaskEnd",
        "Stage ID": stage,
        "Task Info": {"Launch Time": launch, "Finish Time": finish},
        "Task Metrics": {"Disk Bytes Spilled": spilled, "JVM GC Time": gc},
    }


def _write_log(folder: Path) -> Path:
    """Two SQL executions in Spark 4's rolled layout: a MERGE that spills, a small collect."""
    sql = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecution"
    merge_site = "execute at /repo/silver/build.py:401\nrun at pyspark/sql/session.py:12"
    events = [
        {"Event": f"{sql}Start", "executionId": 7, "description": "MERGE", "time": 1_000},
        {"Event": "SparkListenerJobStart", "Stage IDs": [3, 4],
         "Properties": {"spark.sql.execution.id": "7", "callSite.long": merge_site}},
        _task_end(3, 1_000, 3_000, spilled=5 * MB, gc=200),
        _task_end(4, 3_000, 4_000, spilled=3 * MB),
        {"Event": f"{sql}End", "executionId": 7, "time": 5_500},
        {"Event": f"{sql}Start", "executionId": 8, "description": "collect", "time": 6_000},
        {"Event": "SparkListenerJobStart", "Stage IDs": [5],
         "Properties": {"spark.sql.execution.id": "8", "callSite.short": "collect at x.py:1"}},
        _task_end(5, 6_000, 6_500, gc=100),
        _task_end(99, 0, 10_000, spilled=MB),  # a stage of no SQL execution: not counted
        {"Event": f"{sql}End", "executionId": 8, "time": 6_600},
    ]  # fmt: skip
    log = folder / "eventlog_v2_local-1"
    log.mkdir()
    (log / "events_1_local-1").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return log


def test_executions_tasks_spill_and_call_sites(tmp_path: Path) -> None:
    merge, collect = read_events(_write_log(tmp_path))

    assert (merge.execution_id, merge.seconds, merge.jobs, merge.tasks) == (7, 4.5, 1, 2)
    assert (merge.task_ms, merge.spilled_bytes, merge.gc_ms) == (3_000, 8 * MB, 200)
    assert merge.call_site == "execute at /repo/silver/build.py:401"
    assert (collect.tasks, collect.spilled_bytes, collect.call_site) == (
        1,
        0,
        "collect at x.py:1",
    )
    assert summary([merge, collect]) == {
        "executions": 2,
        "task_s": 3.5,
        "gc_s": 0.3,
        "spilled_mb": 8,
        "executions_spilling": 1,
    }
