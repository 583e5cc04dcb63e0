"""Silver job: new bronze rows -> quality rules -> deduplicated events, products, sessions.

Incremental and crash-safe, in the same plan -> write -> complete pattern as bronze:

1. **Plan.** The bronze batches completed since the last silver batch become one silver batch,
   appended to ``silver.batches`` as ``pending`` (one commit).
2. **Check.** One pass over the batch's bronze rows flags every row-level rule of
   ``expectations/silver_events.json`` and counts the failures.
3. **Write**, each write idempotent under the Delta transaction id (lakehouse.silver, batch):
   quarantine append; events MERGE (insert-only, null-safe on the nine fields, so a row seen
   in any earlier file or run is a duplicate); then, from the rows actually inserted, additive
   user-session MERGE and latest-wins product MERGE.
4. **Report.** great-expectations validates the same suite (Data Docs, JSON result), set-level
   rules are checked, and per-rule counts go to ``dq.rule_results``.
5. **Complete.** The batch row is replaced by its accounting:
   rows taken = rows added + rows quarantined + duplicates dropped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import (
    append_once,
    ensure_table,
    idempotent_dml,
    read_table,
    replace_where,
    table_location,
)
from lakehouse.faults import crash_point
from lakehouse.quality import (
    Rule,
    Severity,
    Suite,
    any_rule,
    duplicated_rows,
    failure_counts,
    flag_rules,
    load_suite,
    missing_keys,
    validate_with_gx,
)
from lakehouse.runs import LayerResult, utc_now
from lakehouse.tables import (
    BRONZE_EVENTS,
    BRONZE_FILES,
    DQ_RULE_RESULTS,
    SILVER_BATCHES,
    SILVER_EVENTS,
    SILVER_PRODUCTS,
    SILVER_QUARANTINE,
    SILVER_TABLES,
    SILVER_USER_SESSIONS,
)
from silver.transform import (
    dedupe_events,
    merge_condition,
    parse_events,
    product_updates,
    quarantine_rows,
    session_updates,
)

log = logging.getLogger("lakehouse.silver")

TXN_APP_ID = "lakehouse.silver"
ROW_SUITE = "silver_events"
TABLE_SUITE = "silver_tables"


class QualityFailure(RuntimeError):
    """A rule of severity ``fail`` did not hold; the batch stays pending."""


@dataclass(frozen=True)
class SilverBatch:
    silver_batch: int
    bronze_from: int
    bronze_to: int
    run_id: str
    planned_at: datetime


def run(spark: SparkSession, config: LakehouseConfig, run_id: str) -> LayerResult:
    """Process every bronze batch completed since the last silver run."""
    started = time.monotonic()
    result = LayerResult(
        "silver", {"taken": 0, "added": 0, "quarantined": 0, "duplicates": 0, "warnings": 0}
    )
    for table in (*SILVER_TABLES, DQ_RULE_RESULTS):
        ensure_table(spark, table, table_location(config, table))
    batches_location = table_location(config, SILVER_BATCHES)
    pending = [b for b in read_table(spark, batches_location).collect() if b["status"] == "pending"]
    if pending:
        [row] = pending
        resumed = SilverBatch(
            row["silver_batch"],
            row["bronze_batch_from"],
            row["bronze_batch_to"],
            row["run_id"],
            row["planned_at"],
        )
        log.info(
            "resuming silver batch %d left pending by run %s", row["silver_batch"], row["run_id"]
        )
        _process(spark, config, resumed, result)
    batch = _plan(spark, config, read_table(spark, batches_location).collect(), run_id)
    if batch is None:
        log.info("no new bronze batches")
    else:
        _process(spark, config, batch, result)
    result.seconds = time.monotonic() - started
    return result


def _plan(
    spark: SparkSession, config: LakehouseConfig, batches: list, run_id: str
) -> SilverBatch | None:
    done_to = max((b["bronze_batch_to"] for b in batches), default=0)
    completed = (
        read_table(spark, table_location(config, BRONZE_FILES))
        .groupBy("batch_id")
        .agg(F.max(F.col("status") == "pending").alias("open"))
        .collect()
    )
    ready = sorted(r["batch_id"] for r in completed if not r["open"] and r["batch_id"] > done_to)
    # Only a contiguous run of completed bronze batches: a pending one stops the range.
    open_ids = {r["batch_id"] for r in completed if r["open"]}
    upto = done_to
    for batch_id in ready:
        if any(done_to < o < batch_id for o in open_ids):
            break
        upto = batch_id
    if upto == done_to:
        return None
    batch = SilverBatch(
        silver_batch=max((b["silver_batch"] for b in batches), default=0) + 1,
        bronze_from=done_to + 1,
        bronze_to=upto,
        run_id=run_id,
        planned_at=utc_now(),
    )
    _batch_frame(spark, batch, "pending").write.format("delta").mode("append").save(
        table_location(config, SILVER_BATCHES)
    )
    log.info(
        "planned silver batch %d: bronze batches %d..%d",
        batch.silver_batch,
        batch.bronze_from,
        batch.bronze_to,
    )
    crash_point("silver.after_plan")
    return batch


def _batch_frame(
    spark: SparkSession, batch: SilverBatch, status: str, counts: dict | None = None
) -> DataFrame:
    counts = counts or {}
    row = (
        batch.silver_batch,
        batch.bronze_from,
        batch.bronze_to,
        status,
        counts.get("taken"),
        counts.get("added"),
        counts.get("quarantined"),
        counts.get("duplicates"),
        batch.run_id,
        batch.planned_at,
        utc_now() if status == "done" else None,
    )
    return spark.createDataFrame([row], SILVER_BATCHES.schema_ddl())


def _process(
    spark: SparkSession, config: LakehouseConfig, batch: SilverBatch, result: LayerResult
) -> None:
    row_suite = load_suite(ROW_SUITE)
    rules = list(row_suite.rules)
    drop_rules = row_suite.with_severity(Severity.DROP)
    warn_rules = row_suite.with_severity(Severity.WARN)
    where_batch = F.col("batch_id").between(batch.bronze_from, batch.bronze_to)
    bronze = read_table(spark, table_location(config, BRONZE_EVENTS)).where(where_batch)

    # 1. One pass: flag every row-level rule, count the failures.
    flagged = flag_rules(bronze, rules).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        spark_counts = failure_counts(flagged, rules)
        taken = spark_counts["rows"]
        log.info("silver batch %d: %d bronze rows taken", batch.silver_batch, taken)
        stamp = F.lit(batch.run_id).alias("run_id")
        broken = any_rule(drop_rules)

        append_once(
            quarantine_rows(flagged, broken).select("*", stamp),
            table_location(config, SILVER_QUARANTINE),
            TXN_APP_ID,
            batch.silver_batch,
        )
        crash_point("silver.after_quarantine")

        new_events = dedupe_events(parse_events(flagged.where(~broken)))
        dates = [r[0] for r in new_events.select("event_date").distinct().collect()]
        _merge_events(spark, config, new_events.select("*", stamp), dates, batch)
        crash_point("silver.after_events")
    finally:
        flagged.unpersist()

    # 2. Products and sessions from the rows this batch actually inserted.
    inserted = _batch_rows(spark, config, batch)
    _merge_sessions(spark, config, session_updates(inserted), batch)
    crash_point("silver.after_sessions")
    _merge_products(spark, config, product_updates(inserted), batch)

    # 3. Accounting, read back from the committed tables.
    added = inserted.count()
    quarantined = (
        read_table(spark, table_location(config, SILVER_QUARANTINE))
        .where(F.col("bronze_batch").between(batch.bronze_from, batch.bronze_to))
        .count()
    )
    counts = {
        "taken": taken,
        "added": added,
        "quarantined": quarantined,
        "duplicates": taken - added - quarantined,
        "warnings": sum(spark_counts[r.rule_id] for r in warn_rules),
    }
    if counts["duplicates"] < 0:
        raise RuntimeError(
            f"silver batch {batch.silver_batch}: accounting does not add up {counts}"
        )

    # 4. Quality report: GX on the same rows, set-level rules, per-rule counts table.
    failures = _report(spark, config, batch, row_suite, bronze, spark_counts, result)
    for key, value in counts.items():
        result.counts[key] += value
    log.info(
        "silver batch %d: taken %d = added %d + quarantined %d + duplicates %d; %d warnings",
        batch.silver_batch,
        taken,
        added,
        quarantined,
        counts["duplicates"],
        counts["warnings"],
    )
    if failures:
        raise QualityFailure("; ".join(failures))
    replace_where(
        _batch_frame(spark, batch, "done", counts),
        table_location(config, SILVER_BATCHES),
        f"silver_batch = {batch.silver_batch}",
    )


def _batch_rows(spark: SparkSession, config: LakehouseConfig, batch: SilverBatch) -> DataFrame:
    """The silver events this batch inserted (data skipping on bronze_batch keeps it cheap)."""
    return read_table(spark, table_location(config, SILVER_EVENTS)).where(
        F.col("bronze_batch").between(batch.bronze_from, batch.bronze_to)
    )


def _merge_events(
    spark: SparkSession,
    config: LakehouseConfig,
    new_events: DataFrame,
    dates: list,
    batch: SilverBatch,
) -> None:
    """Insert-only MERGE: rows already in silver (any earlier file or run) are skipped."""
    if not dates:
        return
    date_list = ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(dates))
    condition = f"t.event_date IN ({date_list}) AND {merge_condition()}"
    target = DeltaTable.forPath(spark, table_location(config, SILVER_EVENTS))
    with idempotent_dml(spark, TXN_APP_ID, batch.silver_batch):
        target.alias("t").merge(
            new_events.alias("s"), condition
        ).whenNotMatchedInsertAll().execute()


def _merge_sessions(
    spark: SparkSession, config: LakehouseConfig, updates: DataFrame, batch: SilverBatch
) -> None:
    """Add the batch's counts to existing sessions, insert new ones."""
    target = DeltaTable.forPath(spark, table_location(config, SILVER_USER_SESSIONS))
    additive = {c: f"t.{c} + s.{c}" for c in ("events", "views", "carts", "removals", "purchases")}
    with idempotent_dml(spark, TXN_APP_ID, batch.silver_batch):
        (
            target.alias("t")
            .merge(updates.alias("s"), "t.user_session = s.user_session")
            .whenMatchedUpdate(
                set={
                    "user_id": "least(t.user_id, s.user_id)",
                    "session_start": "least(t.session_start, s.session_start)",
                    "session_end": "greatest(t.session_end, s.session_end)",
                    "purchased_value": "t.purchased_value + s.purchased_value",
                    **additive,
                }
            )
            .whenNotMatchedInsertAll()
            .execute()
        )


def _merge_products(
    spark: SparkSession, config: LakehouseConfig, updates: DataFrame, batch: SilverBatch
) -> None:
    """Latest event wins for attributes; first/last seen widen."""
    target = DeltaTable.forPath(spark, table_location(config, SILVER_PRODUCTS))
    newer = "s.last_seen >= t.last_seen"
    attributes = ("brand", "category_id", "category_code", "main_category", "sub_category", "price")
    with idempotent_dml(spark, TXN_APP_ID, batch.silver_batch):
        (
            target.alias("t")
            .merge(updates.alias("s"), "t.product_id = s.product_id")
            .whenMatchedUpdate(
                set={
                    **{c: f"CASE WHEN {newer} THEN s.{c} ELSE t.{c} END" for c in attributes},
                    "first_seen": "least(t.first_seen, s.first_seen)",
                    "last_seen": "greatest(t.last_seen, s.last_seen)",
                }
            )
            .whenNotMatchedInsertAll()
            .execute()
        )


def _report(
    spark: SparkSession,
    config: LakehouseConfig,
    batch: SilverBatch,
    row_suite: Suite,
    bronze: DataFrame,
    spark_counts: dict,
    result: LayerResult,
) -> list[str]:
    """Run GX and the set-level rules; record every count; return failed ``fail`` rules."""
    checked_at = utc_now()
    rows = []

    def record(suite: str, rule: Rule, engine: str, evaluated: int, failed: int) -> None:
        ok = failed == 0 or rule.severity is not Severity.FAIL
        rows.append(
            (batch.run_id, "silver", batch.silver_batch, suite, rule.rule_id,
             rule.severity.value, rule.table or "bronze.events", rule.column,
             rule.expectation_type, engine, evaluated, failed, ok, checked_at)
        )  # fmt: skip

    for rule in row_suite.rules:
        record(row_suite.name, rule, "spark", spark_counts["rows"], spark_counts[rule.rule_id])

    gx_root = _gx_root(config)
    reports: dict[str, dict] = {}
    if gx_root is not None:
        run_name = f"{batch.run_id}-silver-{batch.silver_batch}"
        outcome = validate_with_gx(bronze, row_suite, list(row_suite.rules), gx_root, run_name)
        reports[row_suite.name] = outcome.result
        for rule in row_suite.rules:
            failed = outcome.failures.get(rule.rule_id, 0)
            record(row_suite.name, rule, "great_expectations", spark_counts["rows"], failed)
        if outcome.data_docs:
            result.notes.append(f"data docs: {outcome.data_docs}")

    table_suite = load_suite(TABLE_SUITE)
    failures = []
    locations = {
        SILVER_PRODUCTS.name: table_location(config, SILVER_PRODUCTS),
        SILVER_USER_SESSIONS.name: table_location(config, SILVER_USER_SESSIONS),
    }
    for rule in table_suite.rules:  # expect_column_values_to_be_unique on a silver table
        total, failed = duplicated_rows(read_table(spark, locations[rule.table]), rule.column)
        record(table_suite.name, rule, "spark", total, failed)
        if failed:
            failures.append(f"{rule.rule_id}: {failed} rows share a {rule.column} in {rule.table}")
    for rule in table_suite.spark_checks:  # events_product_known
        products = read_table(spark, locations[SILVER_PRODUCTS.name])
        checked, missing = missing_keys(_batch_rows(spark, config, batch), products, "product_id")
        record(table_suite.name, rule, "spark", checked, missing)
        if missing:
            failures.append(f"{rule.rule_id}: {missing} product_id(s) missing from products")

    append_once(
        spark.createDataFrame(rows, DQ_RULE_RESULTS.schema_ddl()),
        table_location(config, DQ_RULE_RESULTS),
        TXN_APP_ID,
        batch.silver_batch,
    )
    if gx_root is not None:
        results_file = gx_root / "results" / f"silver-{batch.silver_batch:06d}-{batch.run_id}.json"
        results_file.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "run_id": batch.run_id,
            "silver_batch": batch.silver_batch,
            "bronze_batches": [batch.bronze_from, batch.bronze_to],
            "rules": [dict(zip(DQ_RULE_RESULTS.column_names, r, strict=True)) for r in rows],
            "great_expectations": reports,
        }
        results_file.write_text(json.dumps(summary, default=str, indent=1))
        result.notes.append(f"quality result: {results_file}")
    top = sorted(
        ((spark_counts[r.rule_id], r.rule_id, r.severity.value) for r in row_suite.rules),
        reverse=True,
    )
    result.notes.append(
        "rules broken: "
        + (", ".join(f"{rule} {n:,} ({sev})" for n, rule, sev in top if n) or "none")
    )
    return failures


def _gx_root(config: LakehouseConfig) -> Path | None:
    """Where Data Docs and JSON results go: ``<home>/dq`` for a local home, else nowhere."""
    if "://" in config.home:
        return None
    return Path(config.home) / "dq"
