"""All Delta I/O of the lakehouse: create, read, append once, replace, idempotent DML.

Every function is safe to run again: creation is ``IF NOT EXISTS``; appends, and DML run inside
:func:`idempotent_dml`, carry a Delta transaction id (``txnAppId``/``txnVersion``), so a batch
replayed after a crash is skipped by Delta itself instead of being written twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.parallel import run_all
from lakehouse.storage import has_delta_commits, latest_version
from lakehouse.tables import Column, Table


def table_location(config: LakehouseConfig, table: Table) -> str:
    return config.location(table.location)


def ensure_table(spark: SparkSession, table: Table, location: str) -> None:
    """Create the Delta table at ``location`` from its declaration unless it exists; add the
    declared columns that an existing table (written by an earlier release) lacks. Old rows
    read NULL in an added column."""
    add_columns(spark, table, location, create_and_compare(spark, table, location))


def create_and_compare(spark: SparkSession, table: Table, location: str) -> list[Column]:
    """Create the table from its declaration unless it exists; return the declared columns it
    lacks (a table written by an earlier release)."""
    create_table(spark, table, location)
    return missing_columns(spark, table, location)


def ensure_tables(spark: SparkSession, config: LakehouseConfig, tables: Sequence[Table]) -> None:
    """:func:`ensure_table` for each of ``tables``, side by side (a first run creates them all;
    each creation is a small commit that costs driver time, not tasks)."""
    run_all(*(partial(ensure_table, spark, t, table_location(config, t)) for t in tables))


def create_table(spark: SparkSession, table: Table, location: str) -> None:
    """``CREATE TABLE IF NOT EXISTS`` from the declaration (columns, comments, partitioning),
    only when ``location`` holds no Delta commit yet: a warm run runs no DDL at all."""
    if has_delta_commits(spark, location):
        return
    partitioning = (
        f" PARTITIONED BY ({', '.join(f'`{c}`' for c in table.partition_by)})"
        if table.partition_by
        else ""
    )
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS delta.`{location}` ({table.ddl()}) USING delta"
        f"{partitioning} COMMENT '{table.description.replace(chr(39), '')}'"
    )


def missing_columns(spark: SparkSession, table: Table, location: str) -> list[Column]:
    """Declared columns of ``table`` that the Delta table at ``location`` does not have."""
    existing = {name.lower() for name in read_table(spark, location).columns}
    return [c for c in table.columns if c.name.lower() not in existing]


def add_columns(spark: SparkSession, table: Table, location: str, columns: list[Column]) -> None:
    """Add ``columns`` (declared ones, with their comments) in one commit; none: nothing."""
    if columns:
        added = replace(table, columns=tuple(columns))
        spark.sql(f"ALTER TABLE delta.`{location}` ADD COLUMNS ({added.ddl()})")


def read_table(spark: SparkSession, location: str) -> DataFrame:
    return spark.read.format("delta").load(location)


def table_exists(spark: SparkSession, location: str) -> bool:
    return DeltaTable.isDeltaTable(spark, location)


def table_version(spark: SparkSession, location: str) -> int | None:
    """Latest committed version of the table, or None if there is no table."""
    if not table_exists(spark, location):
        return None
    return DeltaTable.forPath(spark, location).history(1).collect()[0]["version"]


def append_once(df: DataFrame, location: str, app_id: str, version: int) -> bool:
    """Append ``df`` unless a commit with this (app_id, version) is already in the table;
    return whether this call committed (False: an earlier run already had).

    Delta records the pair in the commit that writes the data, atomically; replaying the same
    append after a crash is therefore a no-op. The answer compares the table's version before
    and after, which is exact because one writer at a time holds the home (lakehouse.lock).
    """
    before = latest_version(df.sparkSession, location)
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", version)
        .save(location)
    )
    return latest_version(df.sparkSession, location) != before


def empty_once(spark: SparkSession, table: Table, location: str, app_id: str, version: int) -> None:
    """Remove every row of the table, unless this (app_id, version) already did.

    An overwrite with no rows: one commit that keeps the table's history (time travel can undo
    it until vacuumed) and records the transaction id, so a rebuild resumed after a crash never
    empties the rows it has written since.
    """
    empty = spark.createDataFrame([], table.schema_ddl())
    (
        empty.write.format("delta")
        .mode("overwrite")
        .option("txnAppId", app_id)
        .option("txnVersion", version)
        .save(location)
    )


@contextmanager
def idempotent_dml(spark: SparkSession, app_id: str, version: int) -> Iterator[None]:
    """Make the Delta DML (MERGE/UPDATE/DELETE) inside the block run at most once per
    (app_id, version) and table: a replay after a crash is skipped by Delta."""
    spark.conf.set("spark.databricks.delta.write.txnAppId", app_id)
    spark.conf.set("spark.databricks.delta.write.txnVersion", str(version))
    try:
        yield
    finally:
        spark.conf.unset("spark.databricks.delta.write.txnAppId")
        spark.conf.unset("spark.databricks.delta.write.txnVersion")


def replace_where(df: DataFrame, location: str, predicate: str) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df``."""
    df.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(location)
