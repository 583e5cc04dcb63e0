"""Silver job: new bronze rows -> quality rules -> deduplicated events, products, sessions.

Incremental and crash-safe, through the plan -> write -> complete mechanism of every layer
(:mod:`lakehouse.ledger`):

1. **Plan** (in memory). The bronze batches completed since the last silver batch become one
   silver batch.
2. **Check and write**, each write marked ``lakehouse.silver/<batch>`` with the plan (the
   bronze batches it takes), and skipped if already committed. The batch's bronze rows are
   flagged with every row-level rule of ``expectations/silver_events.json``, not cached: the
   events write counts the failures and the rows to quarantine as it reads them
   (``DataFrame.observe``). Events: an append when silver has none of the batch's dates, else
   an insert-only MERGE (null-safe on the nine fields, so a row seen in any earlier file or
   run is a duplicate). Then the quarantine append (only when some row broke a drop rule).
3. **Products and sessions**, from the rows actually inserted: additive user-session MERGE
   (deletion vectors: an updated session is not a rewritten file) and latest-wins product
   MERGE (the first batch writes both tables instead: nothing to merge into).
4. **Report.** great-expectations validates the same suite on the batch, or a seeded sample of
   it above ``LAKEHOUSE_REPORT_ROWS``, with its pandas engine (Data Docs, JSON result), set-level
   rules are checked, and per-rule counts go to ``dq.rule_results``. Uniqueness is checked on
   the rows whose key the batch wrote: a MERGE on a key can only duplicate the keys of its
   source, and every earlier batch passed the same check, so the table's other keys are as
   unique as they were (a rebuild, which overwrites the tables, checks every row).
5. **Complete.** The batch's row is appended to the run log ``ops.run_log`` with its number, the
   bronze batches it took and its accounting (one commit): rows taken = rows added + rows
   quarantined + duplicates dropped. Silver's completed batches are its rows there.

A run killed after the batch's first write left it in flight: the next run finds its plan in
that write's mark and finishes it (committed writes are skipped) before planning another.

**Rebuilds.** A batch that starts at the oldest bronze batch still in the ledger (and is not the
first silver batch) rebuilds silver from all of bronze: after ``--full-refresh`` of silver, or
when bronze was rebuilt. It empties events and quarantine under the mark
``lakehouse.silver.reset/<batch>``, so a resumed rebuild never empties its own writes, it
overwrites sessions and products with a recomputation from the events, and its run-log row
says ``rebuild``. Gold sees that its next silver batch is where silver last
started over and recomputes every date.

**Reprocessing dates** (``--dates``, :func:`reprocess`) re-derives the rows of a date range from
bronze with the current rules, e.g. after a rule changed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.dates import DateRange, dates_in
from lakehouse.delta_io import (
    append_once,
    empty_once,
    ensure_tables,
    marked,
    merge_once,
    overwrite,
    read_table,
    replace_where,
    table_location,
)
from lakehouse.faults import crash_point
from lakehouse.ledger import Batch, in_flight, next_number
from lakehouse.parallel import run_all
from lakehouse.quality import (
    BrokenRule,
    GxOutcome,
    QualityFailure,
    Rule,
    Severity,
    Suite,
    any_rule,
    bounded_sample,
    duplicated_rows,
    failure_count_columns,
    failure_counts,
    flag_rules,
    load_suite,
    missing_keys,
    read_failure_counts,
    rows_with_keys,
    start_loading_gx,
    validate_with_gx,
)
from lakehouse.runlog import LayerRun, completed_batches
from lakehouse.runs import LayerResult, utc_now
from lakehouse.tables import (
    BRONZE_EVENTS,
    BRONZE_FILES,
    DQ_RULE_RESULTS,
    SILVER_EVENTS,
    SILVER_INPUTS,
    SILVER_OUTPUTS,
    SILVER_PRODUCTS,
    SILVER_QUARANTINE,
    SILVER_TABLES,
    SILVER_USER_SESSIONS,
    Table,
)
from silver.transform import (
    dedupe_events,
    event_dates,
    merge_condition,
    parse_events,
    product_updates,
    quarantine_rows,
    session_updates,
)

log = logging.getLogger("lakehouse.silver")

APP_ID = "lakehouse.silver"  # in the batch mark of each of its writes (lakehouse.delta_io)
RESET_APP_ID = "lakehouse.silver.reset"
ROW_SUITE = "silver_events"
TABLE_SUITE = "silver_tables"


@dataclass(frozen=True, kw_only=True)
class SilverBatch(Batch):
    app: str = APP_ID
    bronze_from: int
    bronze_to: int

    @property
    def writes_whole_tables(self) -> bool:
        """Sessions and products are recomputed from this batch's events and overwritten
        (safe to repeat): on a rebuild, and on the first batch, which has nothing to merge
        into."""
        return self.rebuild or self.number == 1


def run(
    spark: SparkSession,
    config: LakehouseConfig,
    run_id: str,
    full_refresh: bool = False,
    dates: DateRange | None = None,
) -> LayerResult:
    """Process every bronze batch completed since the last silver run (with ``full_refresh``:
    rebuild silver from all of bronze), then re-derive the ``dates`` asked for, if any."""
    started = time.monotonic()
    result = LayerResult(
        "silver", {"taken": 0, "added": 0, "quarantined": 0, "duplicates": 0, "warnings": 0}
    )
    if _gx_root(config) is not None:
        start_loading_gx()  # its import takes seconds of Python: let it overlap Spark's work
    ensure_tables(spark, config, (*SILVER_TABLES, DQ_RULE_RESULTS))
    bronze, batches = _ledgers(spark, config)
    left = _in_flight(spark, config, batches)
    layer_run = LayerRun.begin(spark, config, run_id, "silver", SILVER_INPUTS, SILVER_OUTPUTS)
    if left is not None and not full_refresh:  # a rebuild supersedes it
        log.info("resuming silver batch %d left in flight by run %s", left.number, left.run_id)
        _process(spark, config, left, bronze, result, layer_run)
        batches = _batches(spark, config)
    number = next_number(_completed(batches), left)
    batch = _plan(sorted(bronze), batches, number, run_id, full_refresh)
    if batch is None:
        log.info("no new bronze batches")
    else:
        _process(spark, config, batch, bronze, result, layer_run)
    if dates is not None:
        reprocess(spark, config, run_id, dates, result)
    result.seconds = time.monotonic() - started
    return result


def in_flight_batch(spark: SparkSession, config: LakehouseConfig) -> SilverBatch | None:
    """The batch a killed (or failed) run left unfinished, if any (``lakehouse status``)."""
    return _in_flight(spark, config, _batches(spark, config))


def _in_flight(spark: SparkSession, config: LakehouseConfig, batches: list) -> SilverBatch | None:
    tables = (SILVER_EVENTS, SILVER_QUARANTINE, SILVER_USER_SESSIONS, SILVER_PRODUCTS,
              DQ_RULE_RESULTS)  # fmt: skip
    locations = [table_location(config, t) for t in tables]
    return in_flight(spark, SilverBatch, APP_ID, locations, _completed(batches), (RESET_APP_ID,))


def _completed(batches: list) -> int:
    return max((b["batch"] for b in batches), default=0)


def _ledgers(spark: SparkSession, config: LakehouseConfig) -> tuple[dict[int, int], list]:
    """The completed bronze batches with their rows (bronze's ledger counts them per file), and
    silver's own batches, read side by side."""
    per_batch = (
        read_table(spark, table_location(config, BRONZE_FILES))
        .groupBy("batch_id")
        .agg(F.sum("rows").alias("rows"))
    )
    bronze, batches = run_all(
        lambda: {r["batch_id"]: r["rows"] or 0 for r in per_batch.collect()},
        lambda: _batches(spark, config),
    )
    return bronze, batches


def _batches(spark: SparkSession, config: LakehouseConfig) -> list:
    """Silver's completed batches, from their rows in the run log (``input_*``: bronze's)."""
    return completed_batches(spark, config, "silver")["silver"]


def reprocess(
    spark: SparkSession, config: LakehouseConfig, run_id: str, dates: DateRange, result: LayerResult
) -> None:
    """Re-derive the silver rows of ``dates`` from every bronze row silver has taken, with the
    rules as they are now, then recompute sessions and products from all events.

    Each step replaces its data in one commit with a recomputation (``replaceWhere`` on the
    dates; an overwrite for sessions and products), so a reprocess killed halfway is finished
    by running it again. Bronze rows are matched on their raw ``event_time`` text, the same
    way for the rows kept and the rows quarantined.
    """
    done_to = max((b["input_to"] for b in _batches(spark, config)), default=0)
    log.info("reprocessing dates %s from bronze batches up to %d", dates, done_to)
    bronze = (
        read_table(spark, table_location(config, BRONZE_EVENTS))
        .where(F.col("batch_id") <= done_to)
        .where(dates.sql_on_text("event_time"))
    )
    suite = load_suite(ROW_SUITE)
    broken = any_rule(suite.with_severity(Severity.DROP))
    stamp = F.lit(run_id).alias("run_id")
    flagged = flag_rules(bronze, list(suite.rules)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        taken = failure_counts(flagged, list(suite.rules))["rows"]
        replace_where(
            quarantine_rows(flagged, broken).select("*", stamp),
            table_location(config, SILVER_QUARANTINE),
            dates.sql_on_text("event_time"),
        )
        replace_where(
            dedupe_events(parse_events(flagged.where(~broken))).select("*", stamp),
            table_location(config, SILVER_EVENTS),
            dates.sql("event_date"),
        )
    finally:
        flagged.unpersist()
    events = read_table(spark, table_location(config, SILVER_EVENTS))
    _overwrite(session_updates(events), config, SILVER_USER_SESSIONS)
    _overwrite(product_updates(events), config, SILVER_PRODUCTS)
    added = events.where(dates.sql("event_date")).count()
    quarantined = (
        read_table(spark, table_location(config, SILVER_QUARANTINE))
        .where(dates.sql_on_text("event_time"))
        .count()
    )
    counts = {"taken": taken, "added": added, "quarantined": quarantined}
    counts["duplicates"] = taken - added - quarantined
    for key, value in counts.items():
        result.counts[key] += value
    result.notes.append(
        f"reprocessed {dates}: taken {taken:,} = kept {added:,} + quarantined {quarantined:,} "
        f"+ duplicates {counts['duplicates']:,}"
    )


def _starts_over(number: int, bronze_from: int, oldest_bronze: int) -> bool:
    """Whether a batch rebuilds silver: it is not the first, yet starts at the oldest bronze
    batch left (silver was refreshed, or bronze was rebuilt under it)."""
    return number > 1 and bronze_from <= oldest_bronze


def _plan(
    bronze: list[int], batches: list, number: int, run_id: str, full_refresh: bool = False
) -> SilverBatch | None:
    """The bronze batches completed since silver's last batch, as batch ``number`` (nothing is
    committed until its first write)."""
    oldest = min(bronze, default=0)
    done_to = max((b["input_to"] for b in batches), default=0)
    if full_refresh:
        done_to = min(done_to, oldest - 1)
    upto = max(bronze, default=0)
    if upto <= done_to:
        return None
    batch = SilverBatch(
        number=number,
        bronze_from=done_to + 1,
        bronze_to=upto,
        run_id=run_id,
        planned_at=utc_now(),
        rebuild=_starts_over(number, done_to + 1, oldest),
    )
    log.info(
        "planned silver batch %d: bronze batches %d..%d%s",
        batch.number,
        batch.bronze_from,
        batch.bronze_to,
        " (rebuilds silver)" if batch.rebuild else "",
    )
    return batch


def _process(
    spark: SparkSession,
    config: LakehouseConfig,
    batch: SilverBatch,
    bronze_ledger: dict[int, int],
    result: LayerResult,
    layer_run: LayerRun,
) -> None:
    """Check, write, report and complete ``batch`` (``bronze_ledger``: rows per bronze batch,
    which sizes the great-expectations sample)."""
    row_suite = load_suite(ROW_SUITE)
    rules = list(row_suite.rules)
    drop_rules = row_suite.with_severity(Severity.DROP)
    warn_rules = row_suite.with_severity(Severity.WARN)
    where_batch = F.col("batch_id").between(batch.bronze_from, batch.bronze_to)
    taken_batches = range(batch.bronze_from, batch.bronze_to + 1)
    bronze_rows = sum(bronze_ledger.get(b, 0) for b in taken_batches)
    bronze = read_table(spark, table_location(config, BRONZE_EVENTS)).where(where_batch)
    if batch.rebuild:
        log.info("silver batch %d rebuilds silver: emptying events and quarantine first",
                 batch.number)  # fmt: skip
        reset = batch.mark(RESET_APP_ID)
        for table in (SILVER_EVENTS, SILVER_QUARANTINE):
            empty_once(spark, table, table_location(config, table), reset)

    # 1. The batch's rows flagged with every row-level rule, not cached: a cache of the batch
    # costs more to build than reading bronze again (docs/performance.md). The events write
    # counts the failures as it reads the rows; the quarantine reads them again only when a
    # row broke a drop rule.
    flagged = flag_rules(bronze, rules)
    broken = any_rule(drop_rules)
    stamp = F.lit(batch.run_id).alias("run_id")

    def write() -> dict:
        counts = _write_events(spark, config, flagged, broken, rules, stamp, batch)
        if counts["quarantined"]:  # a clean batch adds no empty commit to the quarantine
            append_once(
                quarantine_rows(flagged, broken).select("*", stamp),
                table_location(config, SILVER_QUARANTINE),
                batch.mark(),
            )
        crash_point("silver.after_quarantine")
        return counts

    # great-expectations is mostly Python on the driver: it overlaps the writes' JVM work
    gx_outcome, spark_counts = run_all(
        lambda: _validate_with_gx(config, batch, row_suite, bronze, bronze_rows), write
    )
    taken, quarantined = spark_counts["rows"], spark_counts["quarantined"]
    log.info("silver batch %d: %d bronze rows taken", batch.number, taken)

    # 2. Products and sessions from the rows this batch actually inserted (two tables, side by
    # side), and the rows added, read back from the committed events.
    inserted = _batch_rows(spark, config, batch)
    if batch.writes_whole_tables:
        sessions = partial(_overwrite, session_updates(inserted), config, SILVER_USER_SESSIONS)
        products = partial(_overwrite, product_updates(inserted), config, SILVER_PRODUCTS)
    else:
        sessions = partial(_merge_sessions, spark, config, session_updates(inserted), batch)
        products = partial(_merge_products, spark, config, product_updates(inserted), batch)
    with marked(spark, batch.mark()):  # both MERGEs commit under it, side by side
        _, _, added = run_all(sessions, products, inserted.count)
    crash_point("silver.after_tables")

    # 3. Accounting.
    counts = {
        "taken": taken,
        "added": added,
        "quarantined": quarantined,
        "duplicates": taken - added - quarantined,
        "warnings": sum(spark_counts[r.rule_id] for r in warn_rules),
    }
    if counts["duplicates"] < 0:
        raise RuntimeError(f"silver batch {batch.number}: accounting does not add up {counts}")

    # 4. Quality report: GX on the same rows, set-level rules, per-rule counts table.
    failed_rules, report = _report(
        spark, config, batch, row_suite, gx_outcome, spark_counts, result
    )
    for key, value in counts.items():
        result.counts[key] += value
    log.info(
        "silver batch %d: taken %d = added %d + quarantined %d + duplicates %d; %d warnings",
        batch.number,
        taken,
        added,
        quarantined,
        counts["duplicates"],
        counts["warnings"],
    )
    if failed_rules:
        raise QualityFailure("silver", batch.number, failed_rules, report)
    # Complete: its run-log row, one commit (a rebuild's says so: gold sees silver start over).
    layer_run.complete(spark, config, batch, counts, (batch.bronze_from, batch.bronze_to))
    result.completed.append(batch.number)


def _batch_rows(spark: SparkSession, config: LakehouseConfig, batch: SilverBatch) -> DataFrame:
    """The silver events this batch inserted (data skipping on bronze_batch keeps it cheap)."""
    return read_table(spark, table_location(config, SILVER_EVENTS)).where(
        F.col("bronze_batch").between(batch.bronze_from, batch.bronze_to)
    )


def _write_events(
    spark: SparkSession,
    config: LakehouseConfig,
    flagged: DataFrame,
    broken: Column,
    rules: list[Rule],
    stamp: Column,
    batch: SilverBatch,
) -> dict:
    """Add the batch's deduplicated events (the ``flagged`` rows that are not ``broken``);
    return the batch's counts (:func:`~lakehouse.quality.failure_counts`, with
    ``quarantined``), observed on the rows the write reads. A write skipped as already
    committed (a resumed batch) reads nothing: the counts then take a pass of their own."""
    dates = [r[0] for r in event_dates(flagged).collect()]
    counting = Observation()
    observed = flagged.observe(counting, *failure_count_columns(rules, quarantined=broken))
    new_events = dedupe_events(parse_events(observed.where(~broken))).select("*", stamp)
    how = _add_events(spark, config, new_events, dates, batch)
    log.info("silver batch %d: events %s", batch.number, how)
    crash_point("silver.after_events")
    if how in ("appended", "merged"):
        return read_failure_counts(counting.get, rules, "quarantined")
    return failure_counts(flagged, rules, quarantined=broken)


def _add_events(
    spark: SparkSession,
    config: LakehouseConfig,
    new_events: DataFrame,
    dates: list,
    batch: SilverBatch,
) -> str:
    """Add the batch's deduplicated events; return how: ``"appended"``, ``"merged"``,
    ``"already written"`` (a killed run had) or ``"none"`` (no row with a valid date).

    ``dates`` holds every date the new events can have (perhaps one more). The event date is
    part of the event key, so when silver holds no event on any of them (a new day, a first
    run, a rebuild) no row can be a duplicate of an earlier one: a plain append, without the
    MERGE's join against the table, its rows repartitioned by date first so that each date is
    one file, as the MERGE writes it. Otherwise an insert-only MERGE on those dates skips the
    rows already in silver (any earlier file or run). Both commit under the same batch mark,
    so a replay after a crash is skipped either way.
    """
    if not dates:
        return "none"
    location = table_location(config, SILVER_EVENTS)
    if read_table(spark, location).where(dates_in(dates)).isEmpty():  # the batch's partitions
        wrote = append_once(new_events.repartition("event_date"), location, batch.mark())
        return "appended" if wrote else "already written"
    condition = f"{dates_in(dates, 't.event_date')} AND {merge_condition()}"
    merge = (
        DeltaTable.forPath(spark, location)
        .alias("t")
        .merge(new_events.alias("s"), condition)
        .whenNotMatchedInsertAll()
    )
    return "merged" if merge_once(spark, merge, location, batch.mark()) else "already written"


def _overwrite(rows: DataFrame, config: LakehouseConfig, table: Table) -> None:
    overwrite(rows.select(*table.column_names), table_location(config, table))


def _merge_sessions(
    spark: SparkSession, config: LakehouseConfig, updates: DataFrame, batch: SilverBatch
) -> None:
    """Add the batch's counts to existing sessions, insert new ones."""
    additive = {c: f"t.{c} + s.{c}" for c in ("events", "views", "carts", "removals", "purchases")}
    update = {
        "user_id": "least(t.user_id, s.user_id)",
        "session_start": "least(t.session_start, s.session_start)",
        "session_end": "greatest(t.session_end, s.session_end)",
        "purchased_value": "t.purchased_value + s.purchased_value",
        **additive,
    }
    _upsert(spark, config, SILVER_USER_SESSIONS, updates, "user_session", update, batch)


def _merge_products(
    spark: SparkSession, config: LakehouseConfig, updates: DataFrame, batch: SilverBatch
) -> None:
    """Latest event wins for attributes; first/last seen widen."""
    newer = "s.last_seen >= t.last_seen"
    attributes = ("brand", "category_id", "category_code", "main_category", "sub_category", "price")
    update = {
        **{c: f"CASE WHEN {newer} THEN s.{c} ELSE t.{c} END" for c in attributes},
        "first_seen": "least(t.first_seen, s.first_seen)",
        "last_seen": "greatest(t.last_seen, s.last_seen)",
    }
    _upsert(spark, config, SILVER_PRODUCTS, updates, "product_id", update, batch)


def _upsert(
    spark: SparkSession,
    config: LakehouseConfig,
    table: Table,
    updates: DataFrame,
    key: str,
    update: dict[str, str],
    batch: SilverBatch,
) -> None:
    """MERGE ``updates`` into ``table`` on ``key``, once per batch: a row whose key is there
    takes ``update`` (SQL over ``t``, the table, and ``s``, the update), a new key is inserted."""
    location = table_location(config, table)
    merge = (
        DeltaTable.forPath(spark, location)
        .alias("t")
        .merge(updates.alias("s"), f"t.{key} = s.{key}")
        .whenMatchedUpdate(set=update)
        .whenNotMatchedInsertAll()
    )
    merge_once(spark, merge, location, batch.mark())


def _report(
    spark: SparkSession,
    config: LakehouseConfig,
    batch: SilverBatch,
    row_suite: Suite,
    gx_outcome: GxOutcome | None,
    spark_counts: dict,
    result: LayerResult,
) -> tuple[list[BrokenRule], str]:
    """Record GX's and Spark's counts, run the set-level rules; return the ``fail`` rules that
    did not hold and where their report is (the JSON result, or dq.rule_results)."""
    checked_at = utc_now()
    rows = []

    def record(suite: str, rule: Rule, engine: str, evaluated: int, failed: int) -> None:
        ok = failed == 0 or rule.severity is not Severity.FAIL
        rows.append(
            (batch.run_id, "silver", batch.number, suite, rule.rule_id,
             rule.severity.value, rule.table or "bronze.events", rule.column,
             rule.expectation_type, engine, evaluated, failed, ok, checked_at)
        )  # fmt: skip

    for rule in row_suite.rules:
        record(row_suite.name, rule, "spark", spark_counts["rows"], spark_counts[rule.rule_id])

    gx_root = _gx_root(config)
    reports: dict[str, dict] = {}
    if gx_outcome is not None:
        rows_taken = spark_counts["rows"]
        reports[row_suite.name] = gx_outcome.result
        for rule in row_suite.rules:
            failed = gx_outcome.failures.get(rule.rule_id, 0)
            evaluated = gx_outcome.evaluated.get(rule.rule_id, rows_taken)
            record(row_suite.name, rule, "great_expectations", evaluated, failed)
        if rows_taken > config.report_rows:
            sampled = max(gx_outcome.evaluated.values(), default=0)
            result.notes.append(
                f"great-expectations report on a sample of {sampled:,} of {rows_taken:,} rows "
                "(LAKEHOUSE_REPORT_ROWS); Spark checked every row"
            )
        if gx_outcome.data_docs:
            result.notes.append(f"data docs: {gx_outcome.data_docs}")

    table_suite = load_suite(TABLE_SUITE)
    broken = []
    locations = {
        SILVER_PRODUCTS.name: table_location(config, SILVER_PRODUCTS),
        SILVER_USER_SESSIONS.name: table_location(config, SILVER_USER_SESSIONS),
    }
    inserted = _batch_rows(spark, config, batch)

    def unique(rule: Rule) -> tuple[int, int]:  # expect_column_values_to_be_unique on a table
        table = read_table(spark, locations[rule.table])
        if not batch.rebuild:  # the MERGEs touched only the batch's keys (module docstring)
            table = rows_with_keys(table, inserted, rule.column)
        return duplicated_rows(table, rule.column)

    def product_known() -> tuple[int, int]:
        products = read_table(spark, locations[SILVER_PRODUCTS.name])
        return missing_keys(inserted, products, "product_id")

    spark_checks = {"events_product_known": (product_known, "product_id(s) missing from products")}
    checks = [
        (r, partial(unique, r), f"rows share a {r.column} in {r.table}") for r in table_suite.rules
    ] + [(r, *spark_checks[r.rule_id]) for r in table_suite.spark_checks]
    # Every check only reads committed tables: they run side by side.
    outcomes = run_all(*(check for _, check, _ in checks))
    for (rule, _, what), (evaluated, failed) in zip(checks, outcomes, strict=True):
        record(table_suite.name, rule, "spark", evaluated, failed)
        if failed:
            broken.append(BrokenRule(rule.rule_id, failed, evaluated, what))

    report = f"{DQ_RULE_RESULTS.name} (layer 'silver', batch {batch.number})"
    append_once(
        spark.createDataFrame(rows, DQ_RULE_RESULTS.schema_ddl()),
        table_location(config, DQ_RULE_RESULTS),
        batch.mark(),
    )
    if gx_root is not None:
        results_file = gx_root / "results" / f"silver-{batch.number:06d}-{batch.run_id}.json"
        results_file.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "run_id": batch.run_id,
            "silver_batch": batch.number,
            "bronze_batches": [batch.bronze_from, batch.bronze_to],
            "rules": [dict(zip(DQ_RULE_RESULTS.column_names, r, strict=True)) for r in rows],
            "great_expectations": reports,
        }
        results_file.write_text(json.dumps(summary, default=str, indent=1))
        result.notes.append(f"quality result: {results_file}")
        report = f"{results_file} and {report}"
    top = sorted(
        ((spark_counts[r.rule_id], r.rule_id, r.severity.value) for r in row_suite.rules),
        reverse=True,
    )
    result.notes.append(
        "rules broken: "
        + (", ".join(f"{rule} {n:,} ({sev})" for n, rule, sev in top if n) or "none")
    )
    return broken, report


def _validate_with_gx(
    config: LakehouseConfig, batch: SilverBatch, suite: Suite, bronze: DataFrame, rows: int
) -> GxOutcome | None:
    """great-expectations on the batch's ``bronze`` rows (about ``rows`` of them, as bronze's
    ledger counts them), or on a sample of them above ``report_rows``; ``None`` for a home in
    object storage (no local Data Docs)."""
    gx_root = _gx_root(config)
    if gx_root is None:
        return None
    run_name = f"{batch.run_id}-silver-{batch.number}"
    rules = list(suite.rules)
    sample = flag_rules(bounded_sample(bronze, rows, config.report_rows, seed=batch.number), rules)
    return validate_with_gx(sample, suite, rules, gx_root, run_name)


def _gx_root(config: LakehouseConfig) -> Path | None:
    """Where Data Docs and JSON results go: ``<home>/dq`` for a local home, else nowhere."""
    if "://" in config.home:
        return None
    return Path(config.home) / "dq"
