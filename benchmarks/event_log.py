"""Where a run's time goes, from its Spark event log: the longest SQL executions and jobs.

    lakehouse run --home H --conf spark.eventLog.enabled=true --conf spark.eventLog.dir=/tmp/ev \
        --conf spark.eventLog.compress=false
    python benchmarks/event_log.py /tmp/ev/eventlog_v2_local-1700000000000      # or: --top 30

``benchmarks/pipeline.py --event-log DIR`` writes one log per phase. Each SQL execution (a
query, a Delta MERGE or write, a count) is listed with its wall time, the Spark jobs and tasks it
ran, the summed task time and the call site in the lakehouse's code that started it, so repeated
scans and needless counts show up by name. A last line sums what every task spilled to disk and
its JVM garbage-collection time: whether the run fit in memory.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Execution:
    execution_id: int
    description: str
    start_ms: int
    end_ms: int | None = None
    jobs: int = 0
    tasks: int = 0
    task_ms: int = 0
    call_site: str = ""
    spilled_bytes: int = 0
    """Bytes the tasks spilled to disk (Spark's "Disk Bytes Spilled")."""
    gc_ms: int = 0

    @property
    def seconds(self) -> float:
        return ((self.end_ms or self.start_ms) - self.start_ms) / 1000


def event_files(path: Path) -> list[Path]:
    """The files of an event log: a file, or Spark 4's folder of rolled ``events_<n>_*`` files."""
    if path.is_file():
        return [path]
    files = sorted(path.glob("events_*"), key=lambda f: int(f.name.split("_")[1]))
    compressed = [f for f in files if f.suffix in (".zstd", ".lz4", ".snappy", ".lzf")]
    if compressed:
        raise SystemExit(
            f"{compressed[0]} is compressed: run with --conf spark.eventLog.compress=false"
        )
    return files


def _lines(path: Path) -> Iterator[str]:
    for file in event_files(path):
        with file.open() as lines:
            yield from lines


def read_events(path: Path) -> list[Execution]:
    """Parse an event log into its SQL executions, in start order."""
    executions: dict[int, Execution] = {}
    stage_to_execution: dict[int, int] = {}
    for line in _lines(path):
        event = json.loads(line)
        kind = event["Event"]
        if kind.endswith("SQLExecutionStart"):
            executions[event["executionId"]] = Execution(
                event["executionId"], event.get("description", ""), event["time"]
            )
        elif kind.endswith("SQLExecutionEnd") and event["executionId"] in executions:
            executions[event["executionId"]].end_ms = event["time"]
        elif kind == "SparkListenerJobStart":
            properties = event.get("Properties") or {}
            execution_id = properties.get("spark.sql.execution.id")
            if execution_id is None or int(execution_id) not in executions:
                continue
            execution = executions[int(execution_id)]
            execution.jobs += 1
            execution.call_site = execution.call_site or _our_call_site(properties)
            for stage in event.get("Stage IDs", []):
                stage_to_execution[stage] = execution.execution_id
        elif kind == "SparkListenerTaskEnd":
            execution_id = stage_to_execution.get(event["Stage ID"])
            if execution_id is not None:
                info, metrics = event["Task Info"], event.get("Task Metrics") or {}
                execution = executions[execution_id]
                execution.tasks += 1
                execution.task_ms += info["Finish Time"] - info["Launch Time"]
                execution.spilled_bytes += metrics.get("Disk Bytes Spilled", 0)
                execution.gc_ms += metrics.get("JVM GC Time", 0)
    return sorted(executions.values(), key=lambda e: e.start_ms)


def summary(executions: list[Execution]) -> dict:
    """Totals over a run: executions, task seconds, JVM GC seconds, MB spilled to disk."""
    return {
        "executions": len(executions),
        "task_s": round(sum(e.task_ms for e in executions) / 1000, 1),
        "gc_s": round(sum(e.gc_ms for e in executions) / 1000, 1),
        "spilled_mb": round(sum(e.spilled_bytes for e in executions) / 2**20),
        "executions_spilling": sum(1 for e in executions if e.spilled_bytes),
    }


def _our_call_site(properties: dict) -> str:
    """The first frame of the lakehouse's own code in the job's call site, if any."""
    long_form = properties.get("callSite.long") or properties.get("callSite.short") or ""
    for frame in long_form.splitlines():
        if any(part in frame for part in ("bronze/", "silver/", "gold/", "lakehouse/")):
            return frame.strip()
    return properties.get("callSite.short", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "log", type=Path, help="an event log: spark.eventLog.dir/eventlog_v2_<app> or a file"
    )
    parser.add_argument("--top", type=int, default=20, help="executions to list (20)")
    args = parser.parse_args()
    executions = read_events(args.log)
    if not executions:
        print(f"{args.log}: no SQL executions")
        return 1
    total = (max(e.end_ms or e.start_ms for e in executions) - executions[0].start_ms) / 1000
    print(f"{len(executions)} SQL executions over {total:.1f} s (first start to last end)")
    header = f"{'s':>7} {'jobs':>5} {'tasks':>6} {'task s':>7} {'spill MB':>8}"
    print(f"{header}  call site / description")
    for e in sorted(executions, key=lambda e: e.seconds, reverse=True)[: args.top]:
        where = e.call_site or e.description[:90]
        print(
            f"{e.seconds:>7.1f} {e.jobs:>5} {e.tasks:>6} {e.task_ms / 1000:>7.1f} "
            f"{e.spilled_bytes / 2**20:>8.0f}  {where}"
        )
    by_site: dict[str, list[float]] = defaultdict(list)
    for e in executions:
        by_site[e.call_site or "(no lakehouse frame)"].append(e.seconds)
    print("\nby call site (count, seconds):")
    for site, seconds in sorted(by_site.items(), key=lambda kv: -sum(kv[1]))[: args.top]:
        print(f"{len(seconds):>5} {sum(seconds):>8.1f}  {site}")
    totals = summary(executions)
    print(
        f"\nspilled to disk: {totals['spilled_mb']:,} MB in {totals['executions_spilling']} "
        f"executions; JVM GC {totals['gc_s']:,} s of {totals['task_s']:,} task s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
