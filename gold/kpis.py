"""Every KPI of the lakehouse, defined once, as pure DataFrame -> DataFrame functions.

Definitions (docs/gold.md explains them and how they differ from the original analysis):

- revenue = sum of ``price`` over purchase events (price at the time of the event), exact
  DECIMAL;
- order = a distinct non-null ``user_session`` with at least one purchase; purchases without a
  session count toward revenue and purchases, not toward orders;
- AOV = revenue of orders / orders; items per order = purchases in orders / orders;
- conversion_rate = purchases / views (events), volume-weighted for a brand;
  avg_product_conversion = the original definition: the mean over the brand's products with at
  least one view and one purchase of purchases / views;
- brand and category of a sale are those exported with the event; main_category /
  sub_category are the first / second segment of category_code; dates are UTC.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.columns import category_segments

MONEY = "decimal(18,2)"


def _is(kind: str) -> Column:
    return F.col("event_type") == kind


def _count(kind: str) -> Column:
    return F.count_if(_is(kind)).cast("bigint").alias(f"{kind}s")


def _revenue() -> Column:
    return F.coalesce(F.sum(F.when(_is("purchase"), F.col("price"))), F.lit(0)).cast(MONEY)


def _ratio(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator)).cast("double")


def with_categories(df: DataFrame) -> DataFrame:
    main, sub = category_segments(F.col("category_code"))
    return df.withColumn("main_category", main).withColumn("sub_category", sub)


def order_lines(events: DataFrame) -> DataFrame:
    """One row per purchase event of silver.events."""
    return with_categories(events.where(_is("purchase"))).select(
        "event_time", "event_date", "user_session", "user_id", "product_id", "brand",
        "category_code", "main_category", "sub_category", "price",
    )  # fmt: skip


def daily_product_sales(events: DataFrame) -> DataFrame:
    """Per date, product and the event's brand / category_code: revenue and event counts."""
    grouped = events.groupBy("event_date", "product_id", "brand", "category_code").agg(
        _revenue().alias("revenue"), _count("purchase"), _count("view"), _count("cart")
    )
    return with_categories(grouped).select(
        "event_date", "product_id", "category_code", "brand", "main_category", "sub_category",
        "revenue", "purchases", "views", "carts",
    )  # fmt: skip


def daily_brand_sales(events: DataFrame) -> DataFrame:
    """Per date, brand, main and sub category: revenue, purchases, orders, views, carts."""
    order = F.when(_is("purchase"), F.col("user_session"))  # NULL session: not an order
    return (
        with_categories(events)
        .groupBy("event_date", "brand", "main_category", "sub_category")
        .agg(
            _revenue().alias("revenue"),
            _count("purchase"),
            F.count_distinct(order).cast("bigint").alias("orders"),
            _count("view"),
            _count("cart"),
        )
    )


def product_performance(daily_products: DataFrame, products: DataFrame) -> DataFrame:
    """Totals per product, with the product's current attributes from silver.products."""
    totals = daily_products.groupBy("product_id").agg(
        F.sum("revenue").cast(MONEY).alias("revenue"),
        *[F.sum(c).cast("bigint").alias(c) for c in ("purchases", "views", "carts")],
    )
    attributes = products.select(
        "product_id", "brand", "category_code", "main_category", "sub_category"
    )
    return totals.join(attributes, "product_id", "left").select(
        "product_id", "brand", "category_code", "main_category", "sub_category",
        "revenue", "purchases", "views", "carts",
        _ratio("purchases", "views").alias("conversion_rate"),
    )  # fmt: skip


def brand_performance(daily_products: DataFrame, lines: DataFrame) -> DataFrame:
    """Totals per brand (NULL brand kept as its own row), both conversion definitions, and the
    brand's orders and their revenue (its AOV, as the dashboard's brand cards show it)."""
    per_product = daily_products.groupBy("brand", "product_id").agg(
        F.sum("revenue").alias("revenue"),
        *[F.sum(c).alias(c) for c in ("purchases", "views", "carts")],
    )
    converting = (F.col("views") > 0) & (F.col("purchases") > 0)
    per_brand = per_product.groupBy("brand").agg(
        F.sum("revenue").cast(MONEY).alias("revenue"),
        *[F.sum(c).cast("bigint").alias(c) for c in ("purchases", "views", "carts")],
        F.avg(F.when(converting, F.col("purchases") / F.col("views"))).alias(
            "avg_product_conversion"
        ),
        F.count(F.lit(1)).cast("bigint").alias("products"),
    )
    orders = (
        lines.where(F.col("user_session").isNotNull())
        .groupBy("brand")
        .agg(
            F.count_distinct("user_session").cast("bigint").alias("orders"),
            F.sum("price").cast(MONEY).alias("order_revenue"),
        )
    )
    joined = per_brand.join(orders, per_brand["brand"].eqNullSafe(orders["brand"]), "left")
    return joined.select(
        per_brand["brand"],
        "revenue",
        "purchases",
        F.coalesce(orders["orders"], F.lit(0)).cast("bigint").alias("orders"),
        F.coalesce(orders["order_revenue"], F.lit(0)).cast(MONEY).alias("order_revenue"),
        "views",
        "carts",
        _ratio("purchases", "views").alias("conversion_rate"),
        F.col("avg_product_conversion").cast("double"),
        "products",
    )


def orders(lines: DataFrame) -> DataFrame:
    """One row per order (distinct non-null session with a purchase)."""
    return (
        lines.where(F.col("user_session").isNotNull())
        .groupBy("user_session")
        .agg(
            F.min("user_id").alias("user_id"),
            F.min("event_date").alias("order_date"),
            F.count(F.lit(1)).cast("bigint").alias("items"),
            F.sum("price").cast(MONEY).alias("revenue"),
        )
    )


def kpi_summary(
    daily_products: DataFrame,
    order_table: DataFrame,
    sessions: DataFrame,
    users: DataFrame,
    products: DataFrame,
) -> DataFrame:
    """The one-row headline table. ``users`` has one column ``user_id`` (any duplicates)."""
    totals = daily_products.agg(
        F.coalesce(F.sum("revenue"), F.lit(0)).cast(MONEY).alias("revenue"),
        *[
            F.coalesce(F.sum(c), F.lit(0)).cast("bigint").alias(c)
            for c in ("purchases", "views", "carts")
        ],
    )
    order_totals = order_table.agg(
        F.count(F.lit(1)).cast("bigint").alias("orders"),
        F.coalesce(F.sum("revenue"), F.lit(0)).alias("order_revenue"),
        F.coalesce(F.sum("items"), F.lit(0)).alias("order_items"),
    )
    span = products.agg(
        F.min("first_seen").alias("first_event"), F.max("last_seen").alias("last_event")
    )
    counts = sessions.agg(F.count(F.lit(1)).cast("bigint").alias("sessions")).crossJoin(
        users.agg(F.count_distinct("user_id").cast("bigint").alias("users"))
    )
    return (
        totals.crossJoin(order_totals)
        .crossJoin(counts)
        .crossJoin(span)
        .select(
            "revenue",
            "orders",
            F.when(F.col("orders") > 0, F.col("order_revenue") / F.col("orders"))
            .cast(MONEY)
            .alias("aov"),
            _ratio("order_items", "orders").alias("items_per_order"),
            "purchases",
            "views",
            "carts",
            "sessions",
            "users",
            "first_event",
            "last_event",
        )
    )
