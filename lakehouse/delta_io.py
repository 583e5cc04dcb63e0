"""All Delta I/O of the lakehouse: create, read, append once, replace, idempotent DML.

Every function is safe to run again: creation is ``IF NOT EXISTS``; appends, overwrites and
MERGEs that must happen once per batch carry the batch's :class:`BatchMark` in the commit's
``userMetadata`` (``<app>/<batch>`` and the batch's plan; ``DESCRIBE HISTORY`` shows it), and
are skipped when the table's log already holds that mark (or a later batch of the same app): a
batch replayed after a crash is never written twice. The mark is read from the newest commit
files, without a Spark job; Delta's own ``txnAppId`` would do the same but costs a
reconstruction of the table's state (about a second of Spark jobs) on every append. One writer
at a time holds a home (lakehouse.lock), so nothing can commit between the check and the write."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

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
    declared columns and properties that an existing table (written by an earlier release)
    lacks. Old rows read NULL in an added column."""
    add_columns(spark, table, location, create_and_compare(spark, table, location))


def create_and_compare(spark: SparkSession, table: Table, location: str) -> list[Column]:
    """Create the table from its declaration unless it exists, else set the declared
    properties it lacks; return the declared columns it lacks (a table written by an earlier
    release; none when this call created it). Columns are the caller's to add: a new column
    may need its rows recomputed first."""
    if create_table(spark, table, location):
        return []
    set_properties(spark, location, missing_properties(spark, table, location))
    return missing_columns(spark, table, location)


def ensure_tables(spark: SparkSession, config: LakehouseConfig, tables: Sequence[Table]) -> None:
    """:func:`ensure_table` for each of ``tables``, side by side (a first run creates them all;
    each creation is a small commit that costs driver time, not tasks)."""
    run_all(*(partial(ensure_table, spark, t, table_location(config, t)) for t in tables))


def create_table(spark: SparkSession, table: Table, location: str) -> bool:
    """``CREATE TABLE IF NOT EXISTS`` from the declaration (columns, comments, partitioning,
    properties), only when ``location`` holds no Delta commit yet: a warm run runs no DDL at
    all. Returns whether it created the table."""
    if has_delta_commits(spark, location):
        return False
    partitioning = (
        f" PARTITIONED BY ({', '.join(f'`{c}`' for c in table.partition_by)})"
        if table.partition_by
        else ""
    )
    properties = (
        f" TBLPROPERTIES ({_properties_sql(dict(table.properties))})" if table.properties else ""
    )
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS delta.`{location}` ({table.ddl()}) USING delta"
        f"{partitioning} COMMENT '{table.description.replace(chr(39), '')}'{properties}"
    )
    if not has_delta_commits(spark, location):  # e.g. a file where the table's folder must be
        raise RuntimeError(f"{table.name}: no Delta table at {location} after CREATE TABLE")
    return True


def _properties_sql(properties: dict[str, str]) -> str:
    return ", ".join(f"'{key}' = '{value}'" for key, value in properties.items())


def missing_properties(spark: SparkSession, table: Table, location: str) -> dict[str, str]:
    """Declared properties of ``table`` that the Delta table at ``location`` lacks or holds
    with another value (none declared: no read at all)."""
    if not table.properties:
        return {}
    current = DeltaTable.forPath(spark, location).detail().select("properties").first()[0]
    return {key: value for key, value in table.properties if current.get(key) != value}


def set_properties(spark: SparkSession, location: str, properties: dict[str, str]) -> None:
    """Set ``properties`` in one commit (e.g. deletion vectors on a table of an earlier
    release; enabling them upgrades the table's protocol); none: nothing."""
    if properties:
        settings = _properties_sql(properties)
        spark.sql(f"ALTER TABLE delta.`{location}` SET TBLPROPERTIES ({settings})")


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


@dataclass(frozen=True)
class BatchMark:
    """What a commit made for a batch carries in its ``userMetadata``: ``<app>/<batch>``, then
    the batch's plan as JSON (``DESCRIBE HISTORY`` shows both). The plan rides in every commit
    of the batch, so it is durable from the batch's first commit on (lakehouse.ledger)."""

    app: str
    batch: int
    plan: dict[str, Any] = field(default_factory=dict, compare=False)

    def text(self) -> str:
        head = f"{self.app}/{self.batch}"
        return f"{head} {json.dumps(self.plan, sort_keys=True)}" if self.plan else head

    @classmethod
    def parse(cls, text: str | None) -> BatchMark | None:
        """The mark in ``text``, or None for a commit without one (``<app>/<batch>`` alone is
        the form written before plans rode in the marks)."""
        head, _, plan = (text or "").partition(" ")
        app, sep, batch = head.rpartition("/")
        if not sep or not app or not batch.isdigit():
            return None
        try:
            return cls(app, int(batch), json.loads(plan) if plan else {})
        except ValueError:
            return None


def batch_mark(app_id: str, batch: int) -> str:
    """The ``userMetadata`` head of a commit that writes ``batch`` for ``app_id``."""
    return BatchMark(app_id, batch).text()


def newest_mark(spark: SparkSession, location: str, apps: Collection[str]) -> BatchMark | None:
    """The newest mark of one of ``apps`` in the table's log (None: none, or no table). An
    app's batches only grow, so this is its highest batch in the table."""
    for _, info in commit_infos(spark, location):
        mark = BatchMark.parse(info.get("userMetadata"))
        if mark is not None and mark.app in apps:
            return mark
    return None


def committed(spark: SparkSession, location: str, app_id: str, batch: int) -> bool:
    """True when the table's log holds a commit marked for ``app_id`` at ``batch`` or a later
    batch. Reads the log newest first and stops at the first mark of ``app_id`` (batches of
    an app only grow): one commit file when the app wrote this table last."""
    mark = newest_mark(spark, location, (app_id,))
    return mark is not None and mark.batch >= batch


def append_once(df: DataFrame, location: str, mark: BatchMark) -> bool:
    """Append ``df`` unless the table already holds ``mark``'s commit; return whether this call
    committed (False: an earlier, killed run already had)."""
    return write_once(df, location, mark, "append")


def write_once(df: DataFrame, location: str, mark: BatchMark, mode: str = "append") -> bool:
    """Write ``df`` (``append`` or ``overwrite``) under ``mark`` unless the table already holds
    that mark's commit (or a later batch of its app); return whether this call committed."""
    if committed(df.sparkSession, location, mark.app, mark.batch):
        return False
    _save(df, location, mode, mark)
    return True


def empty_once(spark: SparkSession, table: Table, location: str, mark: BatchMark) -> None:
    """Remove every row of the table, unless this mark already did.

    An overwrite with no rows: one commit that keeps the table's history (time travel can undo
    it until vacuumed) and carries the mark, so a rebuild resumed after a crash never empties
    the rows it has written since.
    """
    write_once(spark.createDataFrame([], table.schema_ddl()), location, mark, "overwrite")


def merge_once(
    spark: SparkSession, merge: DeltaMergeBuilder, location: str, mark: BatchMark
) -> bool:
    """Execute ``merge`` (a MERGE into the table at ``location``) unless the table already
    holds ``mark``'s commit; return whether this call did."""
    if committed(spark, location, mark.app, mark.batch):
        return False
    with marked(spark, mark):
        merge.execute()
    return True


@contextmanager
def marked(spark: SparkSession, mark: BatchMark) -> Iterator[None]:
    """Every Delta commit of the session inside the block carries ``mark`` (SQL statements and
    MERGEs take it from the session conf, which all threads share). Nested for the same mark,
    only the outermost block sets and clears it: wrap writes of one batch that run side by
    side in it, so that none clears the mark while another still commits."""
    text = mark.text()
    if spark.conf.get(USER_METADATA_CONF, None) == text:
        yield
        return
    spark.conf.set(USER_METADATA_CONF, text)
    try:
        yield
    finally:
        spark.conf.unset(USER_METADATA_CONF)


def append(df: DataFrame, location: str) -> None:
    """Append ``df`` (a write that needs no once-per-batch guard, e.g. the run log)."""
    _save(df, location, "append")


def overwrite(df: DataFrame, location: str, mark: BatchMark | None = None) -> None:
    """Replace the table's rows with ``df`` (a recomputation: safe to repeat)."""
    _save(df, location, "overwrite", mark)


def _save(df: DataFrame, location: str, mode: str, mark: BatchMark | None = None) -> None:
    writer = df.write.format("delta").mode(mode)
    if mark is not None:
        writer = writer.option("userMetadata", mark.text())
    writer.save(location)


def replace_where(
    df: DataFrame, location: str, predicate: str, mark: BatchMark | None = None
) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df``."""
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if mark is not None:
        writer = writer.option("userMetadata", mark.text())
    writer.save(location)
