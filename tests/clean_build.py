"""One home built clean (real files and a bad one, all layers, one run) and its tables.

Shared by the tests that must end equal to it: backfill and maintenance repair a damaged copy
of it, the cluster test builds the same input on a Spark standalone cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location
from lakehouse.pipeline import LAYERS, RunOptions, run_layers
from lakehouse.runs import LayerResult, new_run_id
from lakehouse.tables import (
    BRONZE_EVENTS,
    BRONZE_FILES,
    BRONZE_QUARANTINE,
    GOLD_BATCHES,
    GOLD_TABLES,
    SILVER_BATCHES,
    SILVER_TABLES,
    Table,
)
from tests.helpers import REES46, land

FIRST = REES46 / "2019-Oct-head5k.csv"
LATE = REES46 / "2019-Nov-head683-noheader.csv"
BOOKKEEPING = {SILVER_BATCHES, GOLD_BATCHES}
RUN_COLUMNS = {"batch_id", "run_id", "ingested_at", "bronze_batch"}
"""Which batch or run wrote a row: differs between a rebuild and a clean build, by design."""

Snapshot = dict[str, list[tuple]]


@dataclass(frozen=True)
class CleanBuild:
    config: LakehouseConfig
    files: tuple[Path, ...]
    tables: Snapshot
    ledger: dict[str, tuple]


def new_home(root: Path) -> LakehouseConfig:
    config = LakehouseConfig.create(str(root / "home"))
    Path(config.landing).mkdir(parents=True)
    return config


def bad_header_file(root: Path) -> Path:
    bad = root / "bad-header.csv"
    bad.write_text("time,type,product\n2019-11-01 00:00:00 UTC,view,1\n")
    return bad


def run(
    spark: SparkSession, config: LakehouseConfig, layers=tuple(LAYERS), **options
) -> list[LayerResult]:
    return run_layers(spark, config, list(layers), new_run_id(), RunOptions(**options))


def snapshot(spark: SparkSession, config: LakehouseConfig) -> Snapshot:
    """Every data table's rows, without the columns naming the batch or run that wrote them."""
    tables: tuple[Table, ...] = (BRONZE_EVENTS, BRONZE_QUARANTINE, *SILVER_TABLES, *GOLD_TABLES)
    out = {}
    for table in (t for t in tables if t not in BOOKKEEPING):
        columns = [c for c in table.column_names if c not in RUN_COLUMNS]
        rows = read_table(spark, table_location(config, table)).select(*columns).collect()
        out[table.name] = sorted((tuple(map(_exact, r)) for r in rows), key=repr)
    return out


def _exact(value: object) -> object:
    """Doubles to 12 significant digits: a sum or mean of doubles depends on the order its
    partitions are added in, which differs between a local run and a cluster."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def ledger(spark: SparkSession, config: LakehouseConfig) -> dict[str, tuple]:
    """The bronze file ledger: status and line counts per landing file."""
    rows = read_table(spark, table_location(config, BRONZE_FILES)).collect()
    return {r["source_file"]: (r["status"], r["lines"], r["rows"], r["quarantined"]) for r in rows}


def build_clean(spark: SparkSession, root: Path) -> CleanBuild:
    config = new_home(root)
    files = (FIRST, LATE, bad_header_file(root))
    land(config, *files)
    run(spark, config)
    return CleanBuild(config, files, snapshot(spark, config), ledger(spark, config))
