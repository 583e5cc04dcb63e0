"""The served catalog: one view per served table, declared from :mod:`lakehouse.tables`.

Views instead of catalog tables because a Delta table registered in a metastore may carry an
empty schema (delta-io/delta#662): BI tools then see tables without fields. A view stores the
declared column list, types and comments, so GetColumns always answers them, and it reads the
Delta table by path, so every query sees the latest committed version.

A table that does not exist yet (no pipeline run so far) is served as an empty placeholder view
with the same columns; :func:`sync_views` swaps it for the real view once the table appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pyspark.sql import SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import table_location
from lakehouse.sql import sql_string
from lakehouse.storage import has_delta_commits
from lakehouse.tables import SERVED_TABLES, Table


class ViewState(Enum):
    PLACEHOLDER = "placeholder"
    LIVE = "live"


def _column_list(table: Table) -> str:
    parts = []
    for column in table.columns:
        comment = f" COMMENT {sql_string(column.comment)}" if column.comment else ""
        parts.append(f"`{column.name}`{comment}")
    return ", ".join(parts)


def view_sql(table: Table, location: str, state: ViewState) -> str:
    """``CREATE OR REPLACE VIEW`` for ``table``: live over its Delta path, or an empty stand-in."""
    if state is ViewState.LIVE:
        select = ", ".join(f"`{c.name}`" for c in table.columns)
        body = f"SELECT {select} FROM delta.`{location}`"
    else:
        select = ", ".join(f"CAST(NULL AS {c.type}) AS `{c.name}`" for c in table.columns)
        body = f"SELECT {select} WHERE false"
    return (
        f"CREATE OR REPLACE VIEW {table.quoted_name} ({_column_list(table)}) "
        f"COMMENT {sql_string(table.description)} AS {body}"
    )


def sync_views(
    spark: SparkSession,
    config: LakehouseConfig,
    current: dict[str, ViewState],
    tables: Iterable[Table] = SERVED_TABLES,
) -> list[str]:
    """Create missing schemas and views, make placeholders live once their table exists.

    ``current`` (view name -> state) is updated in place; returns the names that changed.
    A view dropped by a client is recreated on the next call.
    """
    tables = tuple(tables)
    for schema in sorted({table.schema for table in tables}):
        if not spark.catalog.databaseExists(schema):
            spark.sql(f"CREATE DATABASE `{schema}`")
    changed = []
    for table in tables:
        location = table_location(config, table)
        known = current.get(table.name)
        live = known is ViewState.LIVE or has_delta_commits(spark, location)
        wanted = ViewState.LIVE if live else ViewState.PLACEHOLDER
        if wanted is not known or not spark.catalog.tableExists(table.name):
            spark.sql(view_sql(table, location, wanted))
            current[table.name] = wanted
            changed.append(table.name)
    return changed
