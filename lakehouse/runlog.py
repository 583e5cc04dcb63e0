"""The run log: the Delta table ``ops.run_log``, one row per layer per run, and the ledger of
silver's and gold's batches.

Rows are written

- by a silver or gold batch as its completion (:func:`complete_batch`): the batch's row, with
  its number and the input batches it took, under the batch's mark, is the one commit that
  completes it (:mod:`lakehouse.ledger`); :func:`completed_batches` reads them back;
- by :func:`lakehouse.pipeline.run_layers` for a layer run that completed no batch (bronze,
  whose ledger is ``bronze.files``; a layer with nothing new; a failure; a reprocess);
- by the next run for a run that was killed (``interrupted``, found through the writer lock).

Read by ``lakehouse status`` and served with the gold tables.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import (
    BatchMark,
    append,
    ensure_table,
    read_table,
    table_location,
    write_once,
)
from lakehouse.ledger import Batch, refuse_pending
from lakehouse.runs import LayerResult, utc_now
from lakehouse.storage import has_delta_commits, latest_version
from lakehouse.tables import OPS_RUN_LOG, Table

log = logging.getLogger("lakehouse.runlog")

SUCCEEDED, REJECTED_INPUT, FAILED, INTERRUPTED = (
    "succeeded", "rejected_input", "failed", "interrupted",
)  # fmt: skip

ROW_COUNTS: dict[str, dict[str, str]] = {
    "bronze": {"rows_read": "lines", "rows_written": "rows", "rows_quarantined": "quarantined"},
    "silver": {"rows_read": "taken", "rows_written": "added", "rows_quarantined": "quarantined",
               "rows_duplicates": "duplicates"},
    "gold": {},
}  # fmt: skip
"""Per layer: run-log column (rows_read, rows_written, ...) -> the layer's own count name."""


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
    batch: int | None = None
    input_from: int | None = None
    input_to: int | None = None
    rebuild: bool | None = None
    host: str = socket.gethostname()
    pid: int = os.getpid()

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in OPS_RUN_LOG.column_names)


def result_entry(
    run_id: str,
    result: LayerResult,
    started_at: datetime,
    *,
    input_versions: str = "",
    output_versions: str = "",
    **batch: int | bool,
) -> RunLogEntry:
    """The row of a layer run that ended with ``result`` (``batch``: the batch it completes,
    ``batch=``, ``input_from=``, ``input_to=``, ``rebuild=``)."""
    counts = {column: result.counts.get(key) for column, key in ROW_COUNTS[result.layer].items()}
    return RunLogEntry(
        run_id, result.layer, SUCCEEDED if result.ok else REJECTED_INPUT, started_at, utc_now(),
        seconds=round(result.seconds, 3), input_versions=input_versions,
        output_versions=output_versions,
        counts=", ".join(f"{k}={v}" for k, v in result.counts.items()),
        error="; ".join(result.errors)[:2000] or None, **counts, **batch,
    )  # fmt: skip


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
    append(_frame(spark, entries), location)


def complete_batch(
    spark: SparkSession, config: LakehouseConfig, entry: RunLogEntry, mark: BatchMark
) -> bool:
    """Complete a silver or gold batch: append its row under the batch's ``mark`` (one commit,
    skipped if a killed run had already made it); return whether this call committed."""
    location = table_location(config, OPS_RUN_LOG)
    ensure_table(spark, OPS_RUN_LOG, location)
    return write_once(_frame(spark, (entry,)), location, mark)


@dataclass(frozen=True)
class LayerRun:
    """A silver or gold run under way: what its batches' completion rows say about the run."""

    run_id: str
    layer: str
    outputs: tuple[Table, ...]
    input_versions: str
    started_at: datetime = field(default_factory=utc_now)
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def begin(
        cls,
        spark: SparkSession,
        config: LakehouseConfig,
        run_id: str,
        layer: str,
        inputs: tuple[Table, ...],
        outputs: tuple[Table, ...],
    ) -> LayerRun:
        return cls(run_id, layer, outputs, versions(spark, config, inputs))

    def complete(
        self,
        spark: SparkSession,
        config: LakehouseConfig,
        batch: Batch,
        counts: dict[str, int],
        inputs: tuple[int, int],
    ) -> None:
        """Complete ``batch`` with its counts and the ``inputs`` batches it took (first,
        last): its run-log row, one commit under the batch's mark."""
        result = LayerResult(self.layer, dict(counts), seconds=time.monotonic() - self.started)
        entry = result_entry(
            self.run_id, result, self.started_at,
            input_versions=self.input_versions,
            output_versions=versions(spark, config, self.outputs),
            batch=batch.number, input_from=inputs[0], input_to=inputs[1], rebuild=batch.rebuild,
        )  # fmt: skip
        complete_batch(spark, config, entry, batch.mark())


@dataclass(frozen=True)
class LegacyLedger:
    """The ledger table of a layer in releases before the run log held its batches: copied
    into the run log once, then never read again."""

    location: str
    """Relative to the home."""
    number: str
    input_from: str
    input_to: str


LEGACY_LEDGERS = {
    "silver": LegacyLedger(
        "silver/batches", "silver_batch", "bronze_batch_from", "bronze_batch_to"
    ),
    "gold": LegacyLedger("gold/batches", "gold_batch", "silver_batch_from", "silver_batch_to"),
}

BATCH_COLUMNS = ("layer", "batch", "input_from", "input_to", "rebuild", "run_id", "ended_at")


def completed_batches(
    spark: SparkSession, config: LakehouseConfig, *layers: str
) -> dict[str, list[Row]]:
    """Per layer of ``layers`` (silver, gold), its completed batches: its run-log rows with a
    batch number, with :data:`BATCH_COLUMNS`, read in one pass. A home written by an earlier
    release has them in a legacy ledger table: the first call copies them into the run log."""
    location = table_location(config, OPS_RUN_LOG)
    found: dict[str, list[Row]] = {layer: [] for layer in layers}
    if has_delta_commits(spark, location):
        log_rows = read_table(spark, location)
        if "batch" in log_rows.columns:
            chosen = F.col("layer").isin(*layers) & F.col("batch").isNotNull()
            for row in log_rows.where(chosen).select(*BATCH_COLUMNS).collect():
                found[row["layer"]].append(row)
    for layer in layers:
        if not found[layer]:
            found[layer] = _import_legacy(spark, config, layer, LEGACY_LEDGERS[layer])
    return found


def _import_legacy(
    spark: SparkSession, config: LakehouseConfig, layer: str, legacy: LegacyLedger
) -> list[Row]:
    location = config.location(legacy.location)
    if not has_delta_commits(spark, location):
        return []
    old = read_table(spark, location).collect()
    refuse_pending(layer, [r[legacy.number] for r in old if r["status"] == "pending"])
    if not old:
        return []
    # An earlier release replaced its ledger with a rebuild's row: the oldest row left is
    # where the layer last started over (or its first batch).
    oldest = min(r[legacy.number] for r in old)
    entries = [
        RunLogEntry(
            r["run_id"],
            layer,
            SUCCEEDED,
            r["planned_at"],
            r["completed_at"],
            counts=f"imported from {legacy.location}",
            batch=r[legacy.number],
            input_from=r[legacy.input_from],
            input_to=r[legacy.input_to],
            rebuild=r[legacy.number] == oldest and oldest > 1,
        )
        for r in old
    ]
    append_entries(spark, config, *entries)
    log.info("%s: %d completed batches copied from %s into %s", layer, len(entries),
             legacy.location, OPS_RUN_LOG.name)  # fmt: skip
    return [Row(**{c: getattr(e, c) for c in BATCH_COLUMNS}) for e in entries]


def _frame(spark: SparkSession, entries: tuple[RunLogEntry, ...]):
    return spark.createDataFrame([e.row() for e in entries], OPS_RUN_LOG.schema_ddl())
