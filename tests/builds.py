"""Homes built once per test session and shared, so that tests check them instead of each
building its own from the same files.

- :func:`build_real`: the four real REES46 files delivered in two runs of every layer. Bronze,
  silver and gold tests read it (never write it); a test that must change it works on a copy
  (:func:`copy_home`).
- :func:`build_clean`: real files and a bad one in one run. Backfill and maintenance damage it
  and repair it with the feature under test; the cluster test builds the same input on a
  Spark standalone cluster and compares every table with it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import read_table, table_location
from lakehouse.pipeline import LAYERS, RunOptions, run_layers
from lakehouse.runs import LayerResult, new_run_id
from lakehouse.storage import latest_version
from lakehouse.tables import (
    BRONZE_EVENTS,
    BRONZE_FILES,
    BRONZE_QUARANTINE,
    GOLD_TABLES,
    OPS_RUN_LOG,
    SILVER_TABLES,
    Table,
)
from tests.helpers import REES46, land

FIRST = REES46 / "2019-Oct-head5k.csv"
LATE = REES46 / "2019-Nov-head683-noheader.csv"
REAL_FIRST_RUN = (
    REES46 / "2019-Oct-head17k-crlf-truncated.csv",
    REES46 / "2019-Nov-head10k.csv",
    REES46 / "2019-Nov-head683-noheader.csv",  # a prefix of Nov 10k, without header
)
REAL_SECOND_RUN = (REES46 / "2019-Oct-head5k.csv",)  # a prefix of Oct 17k: a re-delivery
RUN_COLUMNS = {"batch_id", "run_id", "ingested_at", "bronze_batch"}
"""Which batch or run wrote a row: differs between a rebuild and a clean build, by design."""

Snapshot = dict[str, list[tuple]]


@dataclass(frozen=True)
class CleanBuild:
    config: LakehouseConfig
    files: tuple[Path, ...]
    tables: Snapshot
    ledger: dict[str, tuple]


@dataclass(frozen=True)
class RealBuild:
    """Run 1: Oct 17k + Nov 10k + Nov 683; run 2: Oct 5k (a re-delivery), every layer."""

    config: LakehouseConfig
    first_run: tuple[Path, ...]
    second_run: tuple[Path, ...]
    results: tuple[dict[str, LayerResult], ...]
    """Per run, layer name -> what the layer reported."""
    after_first: dict[str, int | None]
    """Table name -> its version after run 1 (read run 1's tables back by time travel)."""

    @property
    def files(self) -> tuple[Path, ...]:
        return (*self.first_run, *self.second_run)


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
    for table in tables:
        columns = [c for c in table.column_names if c not in RUN_COLUMNS]
        rows = read_table(spark, table_location(config, table)).select(*columns).collect()
        out[table.name] = sorted((tuple(map(_exact, r)) for r in rows), key=repr)
    return out


def _exact(value: object) -> object:
    """Doubles to 12 significant digits: a sum or mean of doubles depends on the order its
    partitions are added in, which differs between a local run and a cluster."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def completed(spark: SparkSession, config: LakehouseConfig, layer: str) -> list[dict]:
    """The batches ``layer`` (silver, gold) completed, in order: their rows in the run log."""
    rows = read_table(spark, table_location(config, OPS_RUN_LOG)).where(
        f"layer = '{layer}' AND batch IS NOT NULL"
    )
    return [r.asDict() for r in rows.orderBy("batch").collect()]


def ledger(spark: SparkSession, config: LakehouseConfig) -> dict[str, tuple]:
    """The bronze file ledger: status and line counts per landing file."""
    rows = read_table(spark, table_location(config, BRONZE_FILES)).collect()
    return {r["source_file"]: (r["status"], r["lines"], r["rows"], r["quarantined"]) for r in rows}


def copy_home(config: LakehouseConfig, root: Path) -> LakehouseConfig:
    """A copy of a built home (tables, landing files, reports) to change freely."""
    shutil.copytree(config.home, root / "home")
    return LakehouseConfig.create(str(root / "home"))


def build_real(spark: SparkSession, root: Path) -> RealBuild:
    config = new_home(root)
    land(config, *REAL_FIRST_RUN)
    first = {r.layer: r for r in run(spark, config)}
    tables = (BRONZE_EVENTS, BRONZE_QUARANTINE, BRONZE_FILES, *SILVER_TABLES, *GOLD_TABLES)
    after_first = {t.name: latest_version(spark, table_location(config, t)) for t in tables}
    land(config, *REAL_SECOND_RUN)
    second = {r.layer: r for r in run(spark, config)}
    return RealBuild(config, REAL_FIRST_RUN, REAL_SECOND_RUN, (first, second), after_first)


def build_clean(spark: SparkSession, root: Path) -> CleanBuild:
    config = new_home(root)
    files = (FIRST, LATE, bad_header_file(root))
    land(config, *files)
    run(spark, config)
    return CleanBuild(config, files, snapshot(spark, config), ledger(spark, config))
