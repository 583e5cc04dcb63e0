"""Gold job: recompute the KPI tables for what changed in silver, or everything on request.

What a run recomputes:

- ``order_lines``, ``daily_product_sales`` and ``daily_brand_sales`` for the event dates that
  received new silver events (late files for old dates included), each replaced atomically for
  exactly those dates (``replaceWhere event_date IN (...)``) from the silver events of those
  dates (partition pruning keeps it proportional to the new data's dates);
- ``product_performance``, ``brand_performance``, ``orders`` and ``kpi_summary`` from those
  small gold tables (and silver.products / user_sessions), overwritten whole.

Every write replaces data with a recomputation, so a run killed anywhere and run again ends
with the same tables. Batches go through the mechanism of every layer (:mod:`lakehouse.ledger`):
each write carries the batch's mark with its plan (the silver batches it covers, whether it
recomputes every date), and the batch is completed by its row in the run log. A run killed
midway left the batch in flight; the next run recomputes it, with any newer silver batches.
``--dates FIRST..LAST`` recomputes those dates (a reprocess, after silver re-derived them).
``--full-refresh`` recomputes every date, and so does a batch that starts at the oldest silver
batch left: the first run, or the first after silver was rebuilt (dates that silver no longer
has must go too).
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from gold import kpis
from lakehouse.config import LakehouseConfig
from lakehouse.dates import DateRange, dates_in
from lakehouse.delta_io import (
    BatchMark,
    add_columns,
    create_and_compare,
    marked,
    overwrite,
    read_table,
    replace_where,
    table_location,
)
from lakehouse.faults import crash_point
from lakehouse.ledger import Batch, in_flight, next_number
from lakehouse.parallel import run_all
from lakehouse.runlog import LayerRun, completed_batches
from lakehouse.runs import LayerResult, utc_now
from lakehouse.tables import (
    GOLD_BRAND_PERFORMANCE,
    GOLD_DAILY_BRAND_SALES,
    GOLD_DAILY_PRODUCT_SALES,
    GOLD_INPUTS,
    GOLD_KPI_SUMMARY,
    GOLD_ORDER_LINES,
    GOLD_ORDERS,
    GOLD_PRODUCT_PERFORMANCE,
    GOLD_TABLES,
    SILVER_EVENTS,
    SILVER_PRODUCTS,
    SILVER_USER_SESSIONS,
    Table,
)

log = logging.getLogger("lakehouse.gold")

APP_ID = "lakehouse.gold"  # in the batch mark of each of its writes (lakehouse.delta_io)


@dataclass(frozen=True, kw_only=True)
class GoldBatch(Batch):
    """``rebuild``: every date is recomputed (the first batch, silver rebuilt, a full refresh
    or an upgrade), else the dates the silver batches changed."""

    app: str = APP_ID
    silver_from: int
    silver_to: int


def run(
    spark: SparkSession,
    config: LakehouseConfig,
    run_id: str,
    full_refresh: bool = False,
    dates: DateRange | None = None,
) -> LayerResult:
    """Recompute gold for the silver batches completed since the last gold run, then the
    ``dates`` asked for (a reprocess) if any."""
    started = time.monotonic()
    result = LayerResult("gold", {"dates": 0})
    _update(spark, config, run_id, full_refresh, result)
    if dates is not None:
        log.info("reprocessing dates %s", dates)
        result.counts["dates"] += _process(spark, config, dates.days())
    result.notes.extend(_headlines(spark, config))
    result.seconds = time.monotonic() - started
    return result


def _update(
    spark: SparkSession,
    config: LakehouseConfig,
    run_id: str,
    full_refresh: bool,
    result: LayerResult,
) -> None:
    # Columns declared since these tables were written: every date is recomputed to fill them,
    # and they are added only once that recomputation is planned (a crash in between re-plans).
    missing = run_all(
        *(partial(create_and_compare, spark, t, table_location(config, t)) for t in GOLD_TABLES)
    )
    upgrade = {t: columns for t, columns in zip(GOLD_TABLES, missing, strict=True) if columns}
    if upgrade:
        log.info("new columns in %s: recomputing every date", ", ".join(t.name for t in upgrade))
        full_refresh = True
    ledgers = completed_batches(spark, config, "gold", "silver")
    batches, silver_batches = ledgers["gold"], ledgers["silver"]
    left = _in_flight(spark, config, batches)
    # Where silver last started over (a rebuild), else its first batch.
    oldest_silver = max(
        (r["batch"] for r in silver_batches if r["rebuild"]),
        default=min((r["batch"] for r in silver_batches), default=1),
    )
    done_to = max((b["input_to"] for b in batches), default=0)
    upto = max((r["batch"] for r in silver_batches), default=0)
    if left is not None:  # a killed run: redo it (every write is a recomputation), with newer data
        log.info("resuming gold batch %d left in flight by run %s", left.number, left.run_id)
        done_to = min(done_to, left.silver_from - 1)
    elif upto <= done_to and not full_refresh:
        log.info("gold is up to date with silver batch %d", done_to)
        return
    silver_from = 1 if full_refresh else done_to + 1
    batch = GoldBatch(
        number=left.number if left else next_number(_completed(batches), None),
        silver_from=silver_from,
        silver_to=upto,
        run_id=left.run_id if left else run_id,
        planned_at=left.planned_at if left else utc_now(),
        # From the oldest silver batch left (the first run, or silver was rebuilt): every date.
        rebuild=silver_from <= oldest_silver,
    )
    mark = batch.mark()
    # Columns declared since these tables were written: every date is recomputed to fill them.
    # Their commits carry the batch's mark, so a crash after them resumes that recomputation.
    with marked(spark, mark):
        for table, columns in upgrade.items():
            add_columns(spark, table, table_location(config, table), columns)
    if batch.rebuild:
        log.info("full refresh: recomputing every date")
        dates = None
    else:
        dates = _changed_dates(spark, config, batch, silver_batches)
        log.info("recomputing %d date(s): %s", len(dates), _span(dates))
    layer_run = LayerRun.begin(spark, config, run_id, "gold", GOLD_INPUTS, GOLD_TABLES)
    result.counts["dates"] = _process(spark, config, dates, mark)
    layer_run.complete(spark, config, batch, result.counts, (batch.silver_from, batch.silver_to))
    result.completed.append(batch.number)


def in_flight_batch(spark: SparkSession, config: LakehouseConfig) -> GoldBatch | None:
    """The batch a killed run left unfinished, if any (``lakehouse status``)."""
    return _in_flight(spark, config, _batches(spark, config))


def _in_flight(spark: SparkSession, config: LakehouseConfig, batches: list) -> GoldBatch | None:
    locations = [table_location(config, t) for t in GOLD_TABLES]
    return in_flight(spark, GoldBatch, APP_ID, locations, _completed(batches))


def _completed(batches: list) -> int:
    return max((b["batch"] for b in batches), default=0)


def _batches(spark: SparkSession, config: LakehouseConfig) -> list:
    """Gold's completed batches, from their rows in the run log (``input_*``: silver's)."""
    return completed_batches(spark, config, "gold")["gold"]


def _changed_dates(
    spark: SparkSession, config: LakehouseConfig, batch: GoldBatch, silver_batches: list
) -> list[date]:
    """Event dates that received silver rows in the batch's silver batches."""
    span = range(batch.silver_from, batch.silver_to + 1)
    covered = [b for b in silver_batches if b["batch"] in span]
    if not covered:
        return []
    first = min(b["input_from"] for b in covered)
    last = max(b["input_to"] for b in covered)
    events = read_table(spark, table_location(config, SILVER_EVENTS))
    new = events.where(F.col("bronze_batch").between(first, last))
    return sorted(r[0] for r in new.select("event_date").distinct().collect())


def _write(df: DataFrame, location: str, dates: list[date] | None) -> None:
    """Replace the given dates (or the whole table when ``dates`` is None)."""
    if dates is None:
        overwrite(df, location)
    else:
        replace_where(df, location, dates_in(dates))


def _process(
    spark: SparkSession,
    config: LakehouseConfig,
    dates: list[date] | None,
    mark: BatchMark | None = None,
) -> int:
    """Recompute ``dates`` (every date if None) and the tables built from the daily ones,
    every commit marked with ``mark`` if given; return how many dates were recomputed."""
    with marked(spark, mark) if mark else nullcontext():
        return _recompute(spark, config, dates)


def _recompute(spark: SparkSession, config: LakehouseConfig, dates: list[date] | None) -> int:

    def loc(table: Table) -> str:
        return table_location(config, table)

    events = read_table(spark, loc(SILVER_EVENTS))
    if dates is not None:
        if not dates:
            return 0
        events = events.where(dates_in(dates))

    # Each group's writes go to different tables and are recomputations: run side by side.
    run_all(
        lambda: _write(kpis.order_lines(events), loc(GOLD_ORDER_LINES), dates),
        lambda: _write(kpis.daily_product_sales(events), loc(GOLD_DAILY_PRODUCT_SALES), dates),
        lambda: _write(kpis.daily_brand_sales(events), loc(GOLD_DAILY_BRAND_SALES), dates),
    )
    crash_point("gold.after_daily")

    daily_products = read_table(spark, loc(GOLD_DAILY_PRODUCT_SALES))
    lines = read_table(spark, loc(GOLD_ORDER_LINES))
    products = read_table(spark, loc(SILVER_PRODUCTS))
    sessions = read_table(spark, loc(SILVER_USER_SESSIONS))
    users = read_table(spark, loc(SILVER_EVENTS)).select("user_id")
    orders = kpis.orders(lines)
    summary = kpis.kpi_summary(daily_products, orders, sessions, users, products)
    run_all(
        lambda: _write(
            kpis.product_performance(daily_products, products), loc(GOLD_PRODUCT_PERFORMANCE), None
        ),
        lambda: _write(
            kpis.brand_performance(daily_products, lines), loc(GOLD_BRAND_PERFORMANCE), None
        ),
        lambda: _write(orders, loc(GOLD_ORDERS), None),
        lambda: _write(summary, loc(GOLD_KPI_SUMMARY), None),
    )
    return (
        len(dates) if dates is not None else daily_products.select("event_date").distinct().count()
    )


def _span(dates: list[date]) -> str:
    return f"{dates[0]} .. {dates[-1]}" if dates else "none"


def _headlines(spark: SparkSession, config: LakehouseConfig, top: int = 10) -> list[str]:
    """The headline KPIs and the top brands and products by revenue, for the run summary."""

    def read(table: Table):
        return read_table(spark, table_location(config, table))

    rows, brands, products = run_all(
        lambda: read(GOLD_KPI_SUMMARY).collect(),
        lambda: (
            read(GOLD_BRAND_PERFORMANCE)
            .orderBy(F.desc("revenue"), F.asc_nulls_first("brand"))
            .limit(top)
            .collect()
        ),
        lambda: (
            read(GOLD_PRODUCT_PERFORMANCE)
            .orderBy(F.desc("revenue"), "product_id")
            .limit(top)
            .collect()
        ),
    )
    if not rows:
        return []
    k = rows[0]
    lines = [
        f"revenue {k['revenue']:,}  orders {k['orders']:,}  AOV {k['aov']}  "
        f"items/order {k['items_per_order'] or 0:.4f}  purchases {k['purchases']:,}  "
        f"views {k['views']:,}  sessions {k['sessions']:,}  users {k['users']:,}"
    ]
    lines.append(f"top {top} brands by revenue:")
    lines += [
        f"  {b['brand'] or '(no brand)':<16} {b['revenue']:>16,}  "
        f"conversion {b['conversion_rate'] or 0:.4f}"
        for b in brands
    ]
    lines.append(f"top {top} products by revenue:")
    lines += [
        f"  {p['product_id']:<12} {p['brand'] or '(no brand)':<16} {p['revenue']:>16,}"
        for p in products
    ]
    return lines
