"""Run layers in order, each as read -> transform -> write, and collect their results."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.runs import LayerResult

log = logging.getLogger("lakehouse.pipeline")


@dataclass(frozen=True)
class RunOptions:
    """Per-run choices that layers may use."""

    min_file_age_seconds: float = 0.0
    full_refresh: bool = False
    """Gold: recompute every date instead of the dates that changed."""


LayerJob = Callable[[SparkSession, LakehouseConfig, str, RunOptions], LayerResult]


def _bronze(spark: SparkSession, config: LakehouseConfig, run_id: str, opts: RunOptions):
    from bronze import ingest

    return ingest.run(spark, config, run_id, opts.min_file_age_seconds)


def _silver(spark: SparkSession, config: LakehouseConfig, run_id: str, opts: RunOptions):
    from silver import build

    return build.run(spark, config, run_id)


def _gold(spark: SparkSession, config: LakehouseConfig, run_id: str, opts: RunOptions):
    from gold import build

    return build.run(spark, config, run_id, opts.full_refresh)


LAYERS: dict[str, LayerJob] = {"bronze": _bronze, "silver": _silver, "gold": _gold}
"""Every layer, in the order a full run executes them."""


def run_layers(
    spark: SparkSession,
    config: LakehouseConfig,
    layers: Sequence[str],
    run_id: str,
    options: RunOptions | None = None,
) -> list[LayerResult]:
    """Run ``layers`` (in pipeline order) and return one result per layer."""
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown layer(s) {sorted(unknown)}; choose from {list(LAYERS)}")
    options = options or RunOptions()
    results = []
    for name in (n for n in LAYERS if n in layers):
        log.info("%s: starting (run %s)", name, run_id)
        result = LAYERS[name](spark, config, run_id, options)
        log.info("%s: done in %.1f s", name, result.seconds)
        results.append(result)
    return results
