"""``lakehouse status``: what ran, what each table holds, and the last data-quality result.

Reads only: the run log, each table's latest Delta commit (from ``_delta_log``), row counts,
the batches left in flight (from the batch marks of the newest commits), ``dq.rule_results``
and the writer lock file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location
from lakehouse.lock import describe_writer
from lakehouse.pipeline import batches_in_flight
from lakehouse.runs import utc_now
from lakehouse.storage import has_delta_commits, latest_commit
from lakehouse.tables import ALL_TABLES, DQ_RULE_RESULTS, OPS_RUN_LOG


@dataclass(frozen=True)
class TableStatus:
    name: str
    version: int | None
    rows: int | None
    last_commit: datetime | None


@dataclass(frozen=True)
class QualityStatus:
    run_id: str
    checked_at: datetime
    rules: int
    failures: list[tuple[str, str, int]]
    """(rule_id, severity, failed rows) of the rules that failed any row (Spark pass)."""


@dataclass(frozen=True)
class InFlight:
    """A batch written in part by a run that stopped (killed, or a failed quality rule); the
    next run of its layer finishes it first."""

    layer: str
    batch: int
    run_id: str
    planned_at: datetime


@dataclass(frozen=True)
class StatusReport:
    home: str
    at: datetime
    runs: list[dict[str, Any]]
    tables: list[TableStatus]
    in_flight: list[InFlight]
    quality: QualityStatus | None
    writer: str
    """'free', or who holds the writer lock."""

    def to_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return plain(asdict(self))


def collect_status(spark: SparkSession, config: LakehouseConfig, runs: int = 10) -> StatusReport:
    tables = []
    for table in ALL_TABLES:
        location = table_location(config, table)
        commit = latest_commit(spark, location)
        if commit is None:
            tables.append(TableStatus(table.name, None, None, None))
            continue
        version, committed_at = commit
        rows = read_table(spark, location).count()
        tables.append(TableStatus(table.name, version, rows, committed_at))
    return StatusReport(
        home=config.home,
        at=utc_now(),
        runs=_recent_runs(spark, config, runs),
        tables=tables,
        in_flight=[
            InFlight(layer, b.number, b.run_id, b.planned_at)
            for layer, b in batches_in_flight(spark, config).items()
        ],
        quality=_latest_quality(spark, config),
        writer=describe_writer(config),
    )


def _recent_runs(spark: SparkSession, config: LakehouseConfig, limit: int) -> list[dict]:
    location = table_location(config, OPS_RUN_LOG)
    if not has_delta_commits(spark, location):
        return []
    rows = read_table(spark, location).orderBy(F.col("ended_at").desc()).limit(limit).collect()
    return [row.asDict() for row in rows]


def _latest_quality(spark: SparkSession, config: LakehouseConfig) -> QualityStatus | None:
    location = table_location(config, DQ_RULE_RESULTS)
    if not has_delta_commits(spark, location):
        return None
    results = read_table(spark, location).where(F.col("engine") == "spark")
    latest = results.agg(F.max("run_id")).first()[0]
    if latest is None:
        return None
    per_rule = (
        results.where(F.col("run_id") == latest)
        .groupBy("rule_id", "severity")
        .agg(F.sum("failed_rows").alias("failed"), F.max("checked_at").alias("at"))
        .orderBy(F.col("failed").desc(), "rule_id")
        .collect()
    )
    return QualityStatus(
        run_id=latest,
        checked_at=max(r["at"] for r in per_rule),
        rules=len(per_rule),
        failures=[(r["rule_id"], r["severity"], r["failed"]) for r in per_rule if r["failed"]],
    )


def _age(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render_status(report: StatusReport) -> list[str]:
    """The report as the text ``lakehouse status`` prints."""
    out = [f"lakehouse status  home {report.home}  at {report.at:%Y-%m-%d %H:%M:%S} UTC", ""]
    out.append("recent runs (newest first)")
    if not report.runs:
        out.append("  none yet")
    else:
        out.append(
            f"  {'run':<27} {'layer':<8} {'status':<15} {'ended':<9} {'s':>7} "
            f"{'read':>11} {'written':>11} {'quarant.':>9} {'dups':>8}"
        )
        for run in report.runs:
            ended = run["ended_at"]
            seconds = "-" if run["seconds"] is None else f"{run['seconds']:.1f}"
            out.append(
                f"  {run['run_id']:<27} {run['layer']:<8} {run['status']:<15} "
                f"{(f'{ended:%H:%M:%S}' if ended else '-'):<9} {seconds:>7} "
                f"{_n(run['rows_read']):>11} {_n(run['rows_written']):>11} "
                f"{_n(run['rows_quarantined']):>9} {_n(run['rows_duplicates']):>8}"
            )
            if run["error"]:
                out.append(f"      {run['error'][:150]}")
    out += ["", "tables", f"  {'table':<28} {'version':>7} {'rows':>13}  last commit"]
    for table in report.tables:
        version = "-" if table.version is None else str(table.version)
        commit = "not created yet"
        if table.last_commit:
            commit = f"{table.last_commit:%Y-%m-%d %H:%M:%S} ({_age(report.at, table.last_commit)})"
        out.append(f"  {table.name:<28} {version:>7} {_n(table.rows):>13}  {commit}")
    out += ["", "batches in flight (finished by the next run of their layer)"]
    if not report.in_flight:
        out.append("  none")
    for batch in report.in_flight:
        out.append(
            f"  {batch.layer:<7} batch {batch.batch}, planned by run {batch.run_id} at "
            f"{batch.planned_at:%Y-%m-%d %H:%M:%S}"
        )
    out += ["", "data quality"]
    quality = report.quality
    if quality is None:
        out.append("  no results yet (run silver)")
    else:
        out.append(
            f"  run {quality.run_id}, checked {quality.checked_at:%Y-%m-%d %H:%M:%S}: "
            f"{quality.rules} rules, {len(quality.failures)} with failing rows"
        )
        for rule, severity, failed in quality.failures:
            out.append(f"    {rule:<28} {severity:<5} {failed:>11,} rows")
    out += ["", f"writer lock: {report.writer}"]
    return out
