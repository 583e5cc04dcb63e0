"""Run layers in order, each as read -> transform -> write, and collect their results."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakehouse import runlog
from lakehouse.config import LakehouseConfig
from lakehouse.dates import DateRange
from lakehouse.delta_io import table_location
from lakehouse.errors import UsageError
from lakehouse.faults import crash_point
from lakehouse.ledger import Batch
from lakehouse.runlog import RunLogEntry, append_entries, result_entry, versions
from lakehouse.runs import LayerResult, utc_now
from lakehouse.storage import has_delta_commits
from lakehouse.tables import (
    BRONZE_FILES,
    BRONZE_TABLES,
    GOLD_INPUTS,
    GOLD_TABLES,
    OPS_RUN_LOG,
    SILVER_INPUTS,
    SILVER_OUTPUTS,
    Table,
)

log = logging.getLogger("lakehouse.pipeline")


@dataclass(frozen=True)
class RunOptions:
    """Per-run choices that layers may use."""

    min_file_age_seconds: float = 0.0
    full_refresh: bool = False
    """Rebuild each layer run from its inputs (bronze: from every landing file) instead of
    adding what is new; the layers after it rebuild on their next run."""
    dates: DateRange | None = None
    """Silver and gold: after the incremental update, re-derive these event dates."""

    def validate(self, layers: Sequence[str]) -> None:
        """Raise :class:`~lakehouse.errors.UsageError` for choices that exclude each other or
        that the chosen ``layers`` cannot honour."""
        unknown = set(layers) - set(LAYERS)
        if unknown:
            raise UsageError(f"unknown layer(s) {sorted(unknown)}; choose from {list(LAYERS)}")
        if self.dates and self.full_refresh:
            raise UsageError("--dates and --full-refresh exclude each other")
        if self.dates and not {"silver", "gold"} & set(layers):
            raise UsageError("--dates needs the silver or gold layer")


LayerJob = Callable[[SparkSession, LakehouseConfig, str, RunOptions], LayerResult]
InFlight = Callable[[SparkSession, LakehouseConfig], Batch | None]


def _bronze(spark: SparkSession, config: LakehouseConfig, run_id: str, opts: RunOptions):
    from bronze import ingest

    return ingest.run(spark, config, run_id, opts.min_file_age_seconds, opts.full_refresh)


def _silver(spark: SparkSession, config: LakehouseConfig, run_id: str, opts: RunOptions):
    from silver import build

    return build.run(spark, config, run_id, opts.full_refresh, opts.dates)


def _gold(spark: SparkSession, config: LakehouseConfig, run_id: str, opts: RunOptions):
    from gold import build

    return build.run(spark, config, run_id, opts.full_refresh, opts.dates)


def _bronze_in_flight(spark: SparkSession, config: LakehouseConfig) -> Batch | None:
    from bronze import ingest

    return ingest.in_flight_batch(spark, config)


def _silver_in_flight(spark: SparkSession, config: LakehouseConfig) -> Batch | None:
    from silver import build

    return build.in_flight_batch(spark, config)


def _gold_in_flight(spark: SparkSession, config: LakehouseConfig) -> Batch | None:
    from gold import build

    return build.in_flight_batch(spark, config)


@dataclass(frozen=True)
class Layer:
    """A layer as the pipeline and its run log see it."""

    job: LayerJob
    inputs: tuple[Table, ...]
    outputs: tuple[Table, ...]
    ledger: Table
    """Where the layer's completed batches are listed (lakehouse.ledger): bronze's files in
    ``bronze.files``, silver's and gold's batches as their rows in the run log."""
    in_flight: InFlight
    """The batch a killed or failed run of the layer left unfinished, if any."""


LAYERS: dict[str, Layer] = {
    "bronze": Layer(_bronze, (), BRONZE_TABLES, BRONZE_FILES, _bronze_in_flight),
    "silver": Layer(_silver, SILVER_INPUTS, SILVER_OUTPUTS, OPS_RUN_LOG, _silver_in_flight),
    "gold": Layer(_gold, GOLD_INPUTS, GOLD_TABLES, OPS_RUN_LOG, _gold_in_flight),
}  # fmt: skip
"""Every layer, in the order a full run executes them."""


def run_layers(
    spark: SparkSession,
    config: LakehouseConfig,
    layers: Sequence[str],
    run_id: str,
    options: RunOptions | None = None,
) -> list[LayerResult]:
    """Run ``layers`` (in pipeline order) and return one result per layer."""
    options = options or RunOptions()
    options.validate(layers)
    results = []
    chosen = [n for n in LAYERS if n in layers]
    for step, name in enumerate(chosen, start=1):
        layer = LAYERS[name]
        reads = ", ".join(t.name for t in layer.inputs) or f"landing files in {config.landing}"
        writes = ", ".join(t.name for t in layer.outputs)
        log.info(
            "step %d of %d: %s (run %s): reads %s; writes %s",
            step, len(chosen), name, run_id, reads, writes,
        )  # fmt: skip
        inputs, started = versions(spark, config, layer.inputs), utc_now()
        try:
            result = layer.job(spark, config, run_id, options)
        except Exception as error:
            failed = RunLogEntry(
                run_id, name, runlog.FAILED, started, utc_now(), input_versions=inputs,
                error=f"{type(error).__name__}: {str(error).strip()[:2000]}",
            )  # fmt: skip
            try:
                append_entries(spark, config, failed)
            except Exception as log_error:  # keep the layer's own error as the one raised
                log.warning("could not write the run log: %s", log_error)
            raise
        log.info(
            "step %d of %d: %s %s in %.1f s: %s",
            step, len(chosen), name, "done" if result.ok else "done with rejected input",
            result.seconds, ", ".join(f"{k} {v:,}" for k, v in result.counts.items()),
        )  # fmt: skip
        if not result.completed or options.dates:  # else the batches' rows are the layer's
            outputs = versions(spark, config, layer.outputs)
            entry = result_entry(
                run_id, result, started, input_versions=inputs, output_versions=outputs
            )
            append_entries(spark, config, entry)
        results.append(result)
        crash_point(f"pipeline.after_{name}")
    return results


def batches_in_flight(spark: SparkSession, config: LakehouseConfig) -> dict[str, Batch]:
    """Layer name -> the batch it has in flight, for the layers that have one."""
    found = {}
    for name, layer in LAYERS.items():
        if has_delta_commits(spark, table_location(config, layer.ledger)):
            batch = layer.in_flight(spark, config)
            if batch is not None:
                found[name] = batch
    return found


def record_interrupted(spark: SparkSession, config: LakehouseConfig, run_id: str) -> None:
    """Log a run found killed (it held the writer lock and never released it)."""
    entry = RunLogEntry(
        run_id, "*", runlog.INTERRUPTED, None, utc_now(),
        error="stopped before finishing (killed or crashed); the run that found it finished it",
    )  # fmt: skip
    append_entries(spark, config, entry)
