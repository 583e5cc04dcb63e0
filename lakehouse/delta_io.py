"""All Delta I/O of the lakehouse: create, read, append once, replace, idempotent DML.

Every function is safe to run again: creation is ``IF NOT EXISTS``; appends, overwrites and
MERGEs that must happen once per batch are marked with ``(app_id, batch)`` in the commit's
``userMetadata`` (``DESCRIBE HISTORY`` shows it), and skipped when the table's log already
holds that mark (or a later batch of the same app): a batch replayed after a crash is never
written twice. The mark is read from the newest commit files, without a Spark job; Delta's
own ``txnAppId`` would do the same but costs a reconstruction of the table's state (about a
second of Spark jobs) on every append. One writer at a time holds a home (lakehouse.lock),
so nothing can commit between the check and the write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from delta.tables import DeltaMergeBuilder, DeltaTable
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.parallel import run_all
from lakehouse.storage import commit_infos, has_delta_commits
from lakehouse.tables import Column, Table

USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


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


def batch_mark(app_id: str, batch: int) -> str:
    """The ``userMetadata`` of a commit that writes ``batch`` for ``app_id``."""
    return f"{app_id}/{batch}"


def committed(spark: SparkSession, location: str, app_id: str, batch: int) -> bool:
    """True when the table's log holds a commit marked for ``app_id`` at ``batch`` or a later
    batch. Reads the log newest first and stops at the first mark of ``app_id`` (batches of
    an app only grow): one commit file when the app wrote this table last."""
    prefix = f"{app_id}/"
    for _, info in commit_infos(spark, location):
        mark = info.get("userMetadata") or ""
        if mark.startswith(prefix) and mark[len(prefix) :].isdigit():
            return int(mark[len(prefix) :]) >= batch
    return False


def append_once(df: DataFrame, location: str, app_id: str, batch: int) -> bool:
    """Append ``df`` unless the table already holds ``batch``'s commit for ``app_id``; return
    whether this call committed (False: an earlier, killed run already had)."""
    if committed(df.sparkSession, location, app_id, batch):
        return False
    _write_marked(df, "append", location, app_id, batch)
    return True


def empty_once(spark: SparkSession, table: Table, location: str, app_id: str, batch: int) -> None:
    """Remove every row of the table, unless this (app_id, batch) already did.

    An overwrite with no rows: one commit that keeps the table's history (time travel can undo
    it until vacuumed) and carries the mark, so a rebuild resumed after a crash never empties
    the rows it has written since.
    """
    if committed(spark, location, app_id, batch):
        return
    _write_marked(
        spark.createDataFrame([], table.schema_ddl()), "overwrite", location, app_id, batch
    )


def _write_marked(df: DataFrame, mode: str, location: str, app_id: str, batch: int) -> None:
    writer = df.write.format("delta").mode(mode).option("userMetadata", batch_mark(app_id, batch))
    writer.save(location)


def merge_once(
    spark: SparkSession, merge: DeltaMergeBuilder, location: str, app_id: str, batch: int
) -> bool:
    """Execute ``merge`` (a MERGE into the table at ``location``) unless the table already
    holds ``batch``'s commit for ``app_id``; return whether this call did."""
    if committed(spark, location, app_id, batch):
        return False
    spark.conf.set(USER_METADATA_CONF, batch_mark(app_id, batch))
    try:
        merge.execute()
    finally:
        spark.conf.unset(USER_METADATA_CONF)
    return True


def replace_where(df: DataFrame, location: str, predicate: str) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df``."""
    df.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(location)
