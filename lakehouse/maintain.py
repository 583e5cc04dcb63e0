"""Table maintenance: compact small files, then vacuum the files no version within the retention
period still needs.

Both are safe while the Thrift server answers queries. Compaction (Delta ``OPTIMIZE``) commits a
new version with the same rows (``dataChange = false``); a query keeps reading the version it
started with. Vacuum deletes only files that stopped being part of the table more than
``retain_hours`` ago, so a query (or a time-travel read) younger than that never loses a file.
Options with a retention under :data:`MIN_RETAIN_HOURS` are refused; the default keeps Delta's week.
Maintenance holds the writer lock like a pipeline run, so no run writes files it could delete.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import table_location
from lakehouse.errors import UsageError
from lakehouse.runlog import SUCCEEDED, RunLogEntry, append_entries
from lakehouse.runs import utc_now
from lakehouse.storage import FileInfo, has_delta_commits, list_files
from lakehouse.tables import ALL_TABLES, Table

log = logging.getLogger("lakehouse.maintain")

DEFAULT_RETAIN_HOURS = 168.0
"""Delta's own default: a week of time travel."""
MIN_RETAIN_HOURS = 1.0
"""Below this a long query or a run's files not yet committed could lose files."""
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


@dataclass(frozen=True)
class MaintainOptions:
    """What ``lakehouse maintain`` does, and to which tables."""

    retain_hours: float = DEFAULT_RETAIN_HOURS
    compact: bool = True
    vacuum: bool = True
    tables: tuple[Table, ...] = ALL_TABLES

    def validate(self) -> None:
        """Refuse a retention under :data:`MIN_RETAIN_HOURS` (a usage error)."""
        if self.retain_hours < MIN_RETAIN_HOURS:
            raise UsageError(
                f"--retain-hours {self.retain_hours:g} is unsafe: files a running query or "
                f"run still reads could be deleted; use at least {MIN_RETAIN_HOURS:g}"
            )


@dataclass(frozen=True)
class TableMaintenance:
    """What maintenance did to one table."""

    table: str
    files_before: int
    """Files of the current version before compaction."""
    files_after: int
    """... and after it."""
    vacuumed_files: int
    vacuumed_bytes: int
    seconds: float

    def summary_line(self) -> str:
        return (
            f"{self.table:<28} files {self.files_before:>5} -> {self.files_after:<5} "
            f"vacuumed {self.vacuumed_files:>5} file(s), {self.vacuumed_bytes / 1e6:8.1f} MB "
            f"({self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class Maintenance:
    """One maintenance run: each table's outcome and the totals."""

    run_id: str
    tables: list[TableMaintenance]
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        return {
            "tables": len(self.tables),
            "files_before": sum(t.files_before for t in self.tables),
            "files_after": sum(t.files_after for t in self.tables),
            "vacuumed_files": sum(t.vacuumed_files for t in self.tables),
            "vacuumed_bytes": sum(t.vacuumed_bytes for t in self.tables),
        }

    def total_line(self) -> str:
        c = self.counts
        return (
            f"total   {c['tables']} tables, files {c['files_before']} -> {c['files_after']}, "
            f"vacuumed {c['vacuumed_files']} file(s) ({c['vacuumed_bytes'] / 1e6:.1f} MB) "
            f"in {self.seconds:.1f} s"
        )


def run_maintenance(
    spark: SparkSession, config: LakehouseConfig, options: MaintainOptions, run_id: str
) -> Maintenance:
    """:func:`maintain`, then one ``ops.run_log`` row (layer ``maintain``) with its totals."""
    options.validate()
    started, clock = utc_now(), time.monotonic()
    tables = maintain(spark, config, options)
    done = Maintenance(run_id, tables, time.monotonic() - clock)
    append_entries(spark, config, RunLogEntry(
        run_id, "maintain", SUCCEEDED, started, utc_now(), seconds=round(done.seconds, 3),
        counts=", ".join(f"{k}={v}" for k, v in done.counts.items()),
    ))  # fmt: skip
    return done


def maintain(
    spark: SparkSession, config: LakehouseConfig, options: MaintainOptions
) -> list[TableMaintenance]:
    """Compact and vacuum every existing table of ``options.tables``, one after the other."""
    # Our own floor (MIN_RETAIN_HOURS, MaintainOptions.validate) replaces Delta's one-week check.
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    # Vacuum lists a table with this many tasks; Spark's default (10000) makes every vacuum of
    # a small table take minutes on a small machine. A --conf given by the user wins.
    if spark.conf.get(LISTING_PARALLELISM, "10000") == "10000":
        cores = spark.sparkContext.defaultParallelism
        spark.conf.set(LISTING_PARALLELISM, str(max(8, 4 * cores)))
    done = []
    for table in options.tables:
        location = table_location(config, table)
        if not has_delta_commits(spark, location):
            continue
        done.append(_maintain_table(spark, table, location, options))
        log.info(done[-1].summary_line())
    return done


def _maintain_table(
    spark: SparkSession, table: Table, location: str, options: MaintainOptions
) -> TableMaintenance:
    started = time.monotonic()
    delta = DeltaTable.forPath(spark, location)
    before = _active_files(delta)
    if options.compact:
        delta.optimize().executeCompaction()
    after = _active_files(delta)
    vacuumed_files = vacuumed_bytes = 0
    if options.vacuum:
        on_disk = _data_files(spark, location)
        delta.vacuum(options.retain_hours)
        left = {f.relative for f in _data_files(spark, location)}
        gone = [f for f in on_disk if f.relative not in left]
        vacuumed_files, vacuumed_bytes = len(gone), sum(f.size for f in gone)
    return TableMaintenance(
        table.name, before, after, vacuumed_files, vacuumed_bytes, time.monotonic() - started
    )


def _active_files(delta: DeltaTable) -> int:
    return delta.detail().collect()[0]["numFiles"]


def _data_files(spark: SparkSession, location: str) -> list[FileInfo]:
    """Every data file under the table folder, current or not (``_delta_log`` excluded)."""
    return list_files(spark, location, (".parquet",))
