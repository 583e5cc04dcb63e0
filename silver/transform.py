"""Pure silver transformations: typed events, within-batch dedupe, product and session updates.

Every function takes and returns DataFrames (and plain values); none reads or writes storage.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.columns import category_segments
from lakehouse.schema import SOURCE_COLUMNS
from lakehouse.tables import SILVER_EVENTS

EVENT_TIME_PATTERN = "yyyy-MM-dd HH:mm:ss 'UTC'"
EVENT_KEY = SILVER_EVENTS.keys
"""Two rows are the same event when these nine parsed fields are all equal (NULL = NULL)."""


def parse_events(valid: DataFrame) -> DataFrame:
    """Bronze rows that passed every drop rule -> typed silver event columns plus lineage.

    | event_time (str)        | price  |  ->  | event_time (ts)     | event_date | price (dec) |
    | 2019-11-01 00:00:05 UTC | 489.07 |      | 2019-11-01 00:00:05 | 2019-11-01 | 489.07      |
    """
    event_time = F.to_timestamp("event_time", EVENT_TIME_PATTERN)
    return valid.select(
        event_time.alias("event_time"),
        F.to_date(event_time).alias("event_date"),
        "event_type",
        F.col("product_id").cast("bigint").alias("product_id"),
        F.col("category_id").cast("bigint").alias("category_id"),
        "category_code",
        "brand",
        F.col("price").cast("decimal(10,2)").alias("price"),
        F.col("user_id").cast("bigint").alias("user_id"),
        "user_session",
        "source_file",
        "line_number",
        F.col("batch_id").alias("bronze_batch"),
    )


def event_dates(bronze: DataFrame) -> DataFrame:
    """Every date that an event parsed from these bronze rows can have (and perhaps the date of
    a row that another drop rule removes): the distinct first ten characters of ``event_time``
    that read as a date. A valid ``event_time`` starts with its date, so only the few distinct
    prefixes are parsed, not every row; the one column is read."""
    prefixes = bronze.select(F.substring("event_time", 1, 10).alias("prefix")).distinct()
    parsed = F.try_to_timestamp(F.col("prefix"), F.lit("yyyy-MM-dd"))
    return prefixes.select(F.to_date(parsed).alias("event_date")).dropna()


def dedupe_events(events: DataFrame) -> DataFrame:
    """One row per distinct event; lineage of the first occurrence (file, line) is kept."""
    first = F.min(F.struct("bronze_batch", "source_file", "line_number")).alias("first")
    return (
        events.groupBy(*EVENT_KEY, "event_date")
        .agg(first)
        .select(
            *EVENT_KEY, "event_date", "first.source_file", "first.line_number", "first.bronze_batch"
        )
    )


def merge_condition(target: str = "t", source: str = "s") -> str:
    """Null-safe equality on the nine event fields (and the partition column)."""
    parts = [f"{target}.event_date = {source}.event_date"]
    parts += [f"{target}.`{c}` <=> {source}.`{c}`" for c in EVENT_KEY]
    return " AND ".join(parts)


def product_updates(events: DataFrame) -> DataFrame:
    """Per product in ``events``: attributes of its latest event, first and last seen.

    Ties on event_time go to the row read later (higher batch, file, line).
    """
    order = F.struct("event_time", "bronze_batch", "source_file", "line_number")
    latest = F.max_by(F.struct("brand", "category_id", "category_code", "price"), order)
    grouped = events.groupBy("product_id").agg(
        latest.alias("latest"),
        F.min("event_time").alias("first_seen"),
        F.max("event_time").alias("last_seen"),
    )
    main, sub = category_segments(F.col("latest.category_code"))
    return grouped.select(
        "product_id",
        "latest.brand",
        "latest.category_id",
        "latest.category_code",
        main.alias("main_category"),
        sub.alias("sub_category"),
        "latest.price",
        "first_seen",
        "last_seen",
    )


def session_updates(events: DataFrame) -> DataFrame:
    """Per non-null user_session in ``events``: time span and counts by event type."""

    def count_of(kind: str) -> Column:
        return F.count_if(F.col("event_type") == kind).cast("bigint")

    purchased = F.sum(F.when(F.col("event_type") == "purchase", F.col("price")))
    return (
        events.where(F.col("user_session").isNotNull())
        .groupBy("user_session")
        .agg(
            F.min("user_id").alias("user_id"),
            F.min("event_time").alias("session_start"),
            F.max("event_time").alias("session_end"),
            F.count(F.lit(1)).alias("events"),
            count_of("view").alias("views"),
            count_of("cart").alias("carts"),
            count_of("remove_from_cart").alias("removals"),
            count_of("purchase").alias("purchases"),
            F.coalesce(purchased, F.lit(0)).cast("decimal(18,2)").alias("purchased_value"),
        )
    )


def quarantine_rows(flagged: DataFrame, broken: Column) -> DataFrame:
    """Rows that broke a drop rule, raw values kept, with the ids of every rule broken."""
    return flagged.where(broken).select(
        *SOURCE_COLUMNS,
        F.array_join("failed_rules", ",").alias("failed_rules"),
        "source_file",
        "line_number",
        F.col("batch_id").alias("bronze_batch"),
    )
