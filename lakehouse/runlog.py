"""The run log: one row per layer per run in the Delta table ``ops.run_log``.

Written by :func:`lakehouse.pipeline.run_layers` after each layer (succeeded, rejected_input or
failed) and by the next run for a run that was killed (``interrupted``, found through the
writer lock). Read by ``lakehouse status`` and served with the gold tables.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import append, ensure_table, table_location
from lakehouse.storage import latest_version
from lakehouse.tables import OPS_RUN_LOG, Table

SUCCEEDED, REJECTED_INPUT, FAILED, INTERRUPTED = (
    "succeeded", "rejected_input", "failed", "interrupted",
)  # fmt: skip


@dataclass(frozen=True)
class RunLogEntry:
    run_id: str
    layer: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    seconds: float | None = None
    input_versions: str = ""
    output_versions: str = ""
    rows_read: int | None = None
    rows_written: int | None = None
    rows_quarantined: int | None = None
    rows_duplicates: int | None = None
    counts: str = ""
    error: str | None = None
    host: str = socket.gethostname()
    pid: int = os.getpid()

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in OPS_RUN_LOG.column_names)


def versions(spark: SparkSession, config: LakehouseConfig, tables: tuple[Table, ...]) -> str:
    """``name=version`` of each table (``-`` where it does not exist yet)."""
    parts = []
    for table in tables:
        version = latest_version(spark, table_location(config, table))
        parts.append(f"{table.name}={'-' if version is None else version}")
    return ", ".join(parts)


def append_entries(spark: SparkSession, config: LakehouseConfig, *entries: RunLogEntry) -> None:
    location = table_location(config, OPS_RUN_LOG)
    ensure_table(spark, OPS_RUN_LOG, location)
    frame = spark.createDataFrame([e.row() for e in entries], OPS_RUN_LOG.schema_ddl())
    append(frame, location)
