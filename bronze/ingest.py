"""Bronze job: ingest every new landing file into Delta, exactly once, losing no line.

Each batch of new files goes through the one plan -> write -> complete mechanism of
:mod:`lakehouse.ledger`:

1. **Plan** (in memory). The landing files not yet in ``bronze.files`` become the next batch.
2. **Write.** The batch's lines go to ``bronze.events`` and, when some line is neither a row
   nor a header, to ``quarantine.bronze_events``, each as one append whose commit carries the
   batch's mark (``lakehouse.bronze/<batch>`` and the plan, its file list): the data and the
   mark are committed atomically, and an append whose mark the table's log already holds is
   skipped.
3. **Complete.** Per-file counts come from the appends themselves (observed as the rows are
   written; read back from the committed rows when a killed run had already made the append),
   must add up to the lines read, and the files are appended to the ledger ``bronze.files`` as
   ``ingested`` (or ``rejected``) with those counts: one commit.

A run killed after an append left its batch in flight; the next run finds the plan in that
append's mark and finishes the batch (the committed appends are skipped) before planning the
files that arrived since. Killed before the first append, it left nothing: the files are
planned again.

**Full refresh** (``--full-refresh``) plans every landing file as one batch that rebuilds
bronze: it first empties ``bronze.events`` and the quarantine, each under the mark
``lakehouse.bronze.reset/<batch>`` (so a rebuild resumed after a crash never empties what it
has already written since), ingests as usual, and completes by replacing the whole ledger with
its files. Silver notices on its next run (its next bronze batch is the oldest one left) and
rebuilds too.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, Observation, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from bronze.parse import (
    HeaderCheck,
    HeaderKind,
    block_stats,
    check_header,
    classify_lines,
    data_rows,
    number_lines,
    quarantined_lines,
)
from lakehouse.config import LakehouseConfig, join_location
from lakehouse.delta_io import (
    append_once,
    empty_once,
    ensure_tables,
    read_table,
    table_location,
    write_once,
)
from lakehouse.faults import crash_point
from lakehouse.ledger import Batch, in_flight, next_number, refuse_pending
from lakehouse.runs import LayerResult, utc_now
from lakehouse.schema import RAW_FILE_SUFFIXES
from lakehouse.storage import FileInfo, list_files, normalize_path
from lakehouse.tables import (
    BRONZE_EVENTS,
    BRONZE_FILES,
    BRONZE_QUARANTINE,
    BRONZE_TABLES,
    Table,
)

log = logging.getLogger("lakehouse.bronze")

APP_ID = "lakehouse.bronze"  # in the batch mark of each of its writes (lakehouse.delta_io)
RESET_APP_ID = "lakehouse.bronze.reset"
COUNTS = ("files", "lines", "rows", "quarantined", "rejected_files")
"""What a bronze run reports, in the order of its summary line."""


class IngestionIntegrityError(RuntimeError):
    """Counts read back from the tables do not add up to the lines read: never expected."""


class RefreshRefused(RuntimeError):
    """A full refresh would drop rows whose files are no longer in the landing folder."""


@dataclass(frozen=True, kw_only=True)
class BronzeBatch(Batch):
    app: str = APP_ID
    files: tuple[str, ...]
    """Paths relative to the landing folder."""


def run(
    spark: SparkSession,
    config: LakehouseConfig,
    run_id: str,
    min_file_age_seconds: float = 0.0,
    full_refresh: bool = False,
) -> LayerResult:
    """Finish a batch a killed run left in flight, then ingest the files new in the landing
    folder (with ``full_refresh``: rebuild bronze from every file in the landing folder)."""
    started = time.monotonic()
    result = LayerResult("bronze", dict.fromkeys(COUNTS, 0))
    ensure_tables(spark, config, BRONZE_TABLES)

    ledger = _ledger_rows(spark, config)
    left = _in_flight(spark, config, ledger)
    if left is not None and not full_refresh:  # a rebuild supersedes it
        log.info("resuming batch %d left in flight by run %s", left.number, left.run_id)
        _ingest_batch(spark, config, left, result)
        ledger = _ledger_rows(spark, config)

    number = next_number(_completed(ledger), left)
    if full_refresh:
        batch = _plan_rebuild(spark, config, ledger, number, run_id, min_file_age_seconds)
    else:
        batch = _plan_batch(spark, config, ledger, number, run_id, min_file_age_seconds)
    if batch is None:
        log.info("no new files in %s", config.landing)
    else:
        _ingest_batch(spark, config, batch, result)
    result.seconds = time.monotonic() - started
    return result


def in_flight_batch(spark: SparkSession, config: LakehouseConfig) -> BronzeBatch | None:
    """The batch a killed run left unfinished, if any (``lakehouse status``)."""
    return _in_flight(spark, config, _ledger_rows(spark, config))


def _in_flight(
    spark: SparkSession, config: LakehouseConfig, ledger: list[Row]
) -> BronzeBatch | None:
    locations = [table_location(config, t) for t in (BRONZE_EVENTS, BRONZE_QUARANTINE)]
    return in_flight(spark, BronzeBatch, APP_ID, locations, _completed(ledger), (RESET_APP_ID,))


def _completed(ledger: list[Row]) -> int:
    return max((r["batch_id"] for r in ledger), default=0)


def _ledger_rows(spark: SparkSession, config: LakehouseConfig) -> list[Row]:
    """The ledger is small (one row per landing file): read it once per run."""
    rows = (
        read_table(spark, table_location(config, BRONZE_FILES))
        .select("source_file", "batch_id", "status", "rows", "quarantined")
        .collect()
    )
    refuse_pending("bronze", [r["batch_id"] for r in rows if r["status"] == "pending"])
    return rows


def _plan_batch(
    spark: SparkSession,
    config: LakehouseConfig,
    ledger: list[Row],
    number: int,
    run_id: str,
    min_file_age_seconds: float,
) -> BronzeBatch | None:
    known = {r["source_file"] for r in ledger}
    new = [
        f for f in list_files(spark, config.landing, RAW_FILE_SUFFIXES) if f.relative not in known
    ]
    return _plan(number, run_id, _old_enough(new, min_file_age_seconds))


def _plan_rebuild(
    spark: SparkSession,
    config: LakehouseConfig,
    ledger: list[Row],
    number: int,
    run_id: str,
    min_file_age_seconds: float,
) -> BronzeBatch | None:
    """Every landing file as one batch that rebuilds bronze and replaces the whole ledger."""
    files = _old_enough(list_files(spark, config.landing, RAW_FILE_SUFFIXES), min_file_age_seconds)
    present = {f.relative for f in files}
    kept = {r["source_file"] for r in ledger if (r["rows"] or 0) + (r["quarantined"] or 0) > 0}
    gone = sorted(kept - present)
    if gone:
        raise RefreshRefused(
            f"full refresh refused: {len(gone)} ingested file(s) are no longer in "
            f"{config.landing} (first: {gone[0]}); a rebuild would drop their rows. Put them "
            "back, or run without --full-refresh for bronze"
        )
    log.info("full refresh: rebuilding bronze from %d landing file(s)", len(files))
    return _plan(number, run_id, files, rebuild=True)


def _old_enough(files: list[FileInfo], min_age_seconds: float) -> list[FileInfo]:
    """Files not modified during the last ``min_age_seconds`` (others may still be written)."""
    if min_age_seconds <= 0:
        return files
    now = datetime.now(UTC)  # not rounded: a file written this second is 0.x s old, not < 0
    old = [f for f in files if (now - f.modified_at).total_seconds() >= min_age_seconds]
    for f in files:
        if f not in old:
            log.info("skipping %s: modified less than %.0f s ago", f.relative, min_age_seconds)
    return old


def _plan(
    number: int, run_id: str, files: list[FileInfo], rebuild: bool = False
) -> BronzeBatch | None:
    """``files`` as batch ``number`` (nothing is committed until its first write)."""
    if not files:
        return None
    batch = BronzeBatch(
        number=number,
        run_id=run_id,
        planned_at=utc_now(),
        rebuild=rebuild,
        files=tuple(f.relative for f in files),
    )
    log.info(
        "planned batch %d: %d %s file(s), %.1f MB",
        batch.number,
        len(files),
        "landing" if rebuild else "new",
        sum(f.size for f in files) / 1e6,
    )
    return batch


def _ledger_row(
    batch: BronzeBatch,
    name: str,
    status: str,
    file: FileInfo | None,
    counts: tuple[int, int, int, int] | None = None,
    message: str | None = None,
    completed_at: datetime | None = None,
) -> tuple:
    lines, headers, rows, quarantined = counts or (None, None, None, None)
    return (
        name,
        batch.number,
        status,
        file.size if file else None,
        file.modified_at if file else None,
        lines,
        headers,
        rows,
        quarantined,
        message,
        batch.run_id,
        batch.planned_at,
        completed_at,
    )


def _ledger_frame(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, BRONZE_FILES.schema_ddl())


def read_lines(spark: SparkSession, paths: list[str]) -> DataFrame:
    """Lines of the files with their scanned block and a row id that is consecutive per block."""
    return spark.read.text(paths).select(
        "value",
        F.col("_metadata.file_path").alias("file_path"),
        F.col("_metadata.file_block_start").alias("block_start"),
        F.monotonically_increasing_id().alias("row_id"),
    )


def _readable_stats(
    spark: SparkSession, config: LakehouseConfig, files: list[FileInfo]
) -> tuple[list[FileInfo], list[Row], dict[str, str]]:
    """Per-block line statistics of ``files``; files that cannot be read at all (a truncated
    or corrupt .gz, an unreadable file) are set apart with the reason, so they never stop the
    others. Each file is probed on its own only when reading them together failed."""

    def stats(some: list[FileInfo]) -> list[Row]:
        lines = read_lines(spark, [join_location(config.landing, f.relative) for f in some])
        rows = block_stats(lines).collect()
        return sorted(rows, key=lambda r: (r["file_path"], r["block_start"]))

    try:
        return files, stats(files), {}
    except Exception as error:  # Spark stops at the first file it cannot read
        log.warning("a file could not be read (%s); checking each file", _cause(error))
        batch_error = error
    unreadable: dict[str, str] = {}
    for f in files:
        try:
            stats([f])
        except Exception as error:
            unreadable[f.relative] = (
                f"cannot be read ({_cause(error)}): truncated, corrupt or unreadable file; "
                "nothing was ingested from it"
            )
    if not unreadable:  # not a problem of one file: fail the run as it failed
        raise batch_error
    readable = [f for f in files if f.relative not in unreadable]
    return readable, stats(readable) if readable else [], unreadable


def _cause(error: Exception) -> str:
    """The innermost Java exception of a Spark failure, on one line."""
    text = str(error)
    causes = [line.strip() for line in text.splitlines() if line.strip().startswith("Caused by:")]
    line = causes[-1].removeprefix("Caused by:").strip() if causes else text.strip().splitlines()[0]
    return line[:200]


_BLOCKS_SCHEMA = T.StructType(
    [
        T.StructField("file_path", T.StringType()),
        T.StructField("block_start", T.LongType()),
        T.StructField("source_file", T.StringType()),
        T.StructField("first_line_number", T.LongType()),
        T.StructField("min_row_id", T.LongType()),
        T.StructField("header_kind", T.StringType()),
    ]
)


def _ingest_batch(
    spark: SparkSession, config: LakehouseConfig, batch: BronzeBatch, result: LayerResult
) -> None:
    started = time.monotonic()
    if batch.rebuild:
        log.info("batch %d rebuilds bronze: emptying the bronze tables first", batch.number)
        reset = batch.mark(RESET_APP_ID)
        for table in (BRONZE_EVENTS, BRONZE_QUARANTINE):
            empty_once(spark, table, table_location(config, table), reset)
    on_disk = {f.relative: f for f in list_files(spark, config.landing, RAW_FILE_SUFFIXES)}
    present: list[FileInfo] = [on_disk[name] for name in batch.files if name in on_disk]
    vanished = [name for name in batch.files if name not in on_disk]
    by_path = {normalize_path(f.path): f.relative for f in present}

    lines_per_file: dict[str, int] = dict.fromkeys(batch.files, 0)
    header_kind: dict[str, HeaderCheck] = {}
    blocks_rows: list[tuple] = []
    lines = None
    unreadable: dict[str, str] = {}
    if present:
        log.info("batch %d: counting lines of %d file(s)", batch.number, len(present))
        present, stats, unreadable = _readable_stats(spark, config, present)
        if present:
            lines = read_lines(spark, [join_location(config.landing, f.relative) for f in present])
        for row in stats:
            name = by_path[normalize_path(row["file_path"])]
            if name not in header_kind:  # blocks are sorted: this is the file's first block
                header_kind[name] = check_header(row["first_line"])
            blocks_rows.append(
                (
                    row["file_path"],
                    row["block_start"],
                    name,
                    lines_per_file[name] + 1,
                    row["min_row_id"],
                    header_kind[name].kind.value,
                )
            )
            lines_per_file[name] += row["lines"]

    rejected = {name: check.message for name, check in header_kind.items() if check.message}
    rejected.update(unreadable)
    for name in vanished:
        rejected[name] = "file disappeared from the landing folder before it was ingested"
    for name, message in sorted(rejected.items()):
        log.error("%s: %s", name, message)
        result.errors.append(f"{name}: {message}")

    stamp = [
        F.lit(batch.number).cast("bigint").alias("batch_id"),
        F.lit(batch.run_id).alias("run_id"),
        F.lit(batch.planned_at).cast("timestamp").alias("ingested_at"),
    ]

    def headers(name: str) -> int:
        check = header_kind.get(name)
        return 1 if check is not None and check.kind is HeaderKind.HEADER else 0

    rows_per_file: dict[str, int] = {}
    quarantined_per_file: dict[str, int] = {}
    if lines is not None:
        blocks = spark.createDataFrame(blocks_rows, _BLOCKS_SCHEMA)
        rejections = spark.createDataFrame(
            list(rejected.items()) or [("", "")], "source_file STRING, message STRING"
        ).where(F.col("source_file") != "")
        classified = classify_lines(number_lines(lines, blocks), rejections)
        names = [f.relative for f in present]
        log.info("batch %d: writing bronze rows", batch.number)
        rows_per_file = _append_counted(
            spark, config, BRONZE_EVENTS, data_rows(classified).select("*", *stamp), batch, names
        )
        crash_point("bronze.after_events")
        # The lines that are neither a header nor a row: most batches have none, and then the
        # quarantine is not written at all (no second classification of every line).
        if any(lines_per_file[n] - headers(n) - rows_per_file[n] for n in names):
            log.info("batch %d: writing quarantined lines", batch.number)
            quarantined_per_file = _append_counted(
                spark, config, BRONZE_QUARANTINE,
                quarantined_lines(classified).select("*", *stamp), batch, names,
            )  # fmt: skip
        crash_point("bronze.after_quarantine")

    completed_at = utc_now()
    updates = []
    for name in batch.files:
        rows, quarantined = rows_per_file.get(name, 0), quarantined_per_file.get(name, 0)
        if lines_per_file[name] != headers(name) + rows + quarantined:
            raise IngestionIntegrityError(
                f"{name}: {lines_per_file[name]} lines read but {headers(name)} header + "
                f"{rows} rows + {quarantined} quarantined written"
            )
        status = "rejected" if name in rejected else "ingested"
        file_counts = (lines_per_file[name], headers(name), rows, quarantined)
        updates.append(
            _ledger_row(
                batch,
                name,
                status,
                on_disk.get(name),
                file_counts,
                rejected.get(name),
                completed_at,
            )
        )
        result.counts["files"] += 1
        result.counts["lines"] += lines_per_file[name]
        result.counts["rows"] += rows
        result.counts["quarantined"] += quarantined
        result.counts["rejected_files"] += status == "rejected"
        log.info(
            "  %s: %s, %d lines = %d header + %d rows + %d quarantined",
            name,
            status,
            *file_counts,
        )
    # Complete: the batch's files with their outcome, in one commit (a rebuild replaces the
    # ledger: the files of the batches it rebuilt are in it again).
    write_once(
        _ledger_frame(spark, updates),
        table_location(config, BRONZE_FILES),
        batch.mark(),
        "overwrite" if batch.rebuild else "append",
    )
    log.info(
        "batch %d: %d file(s) done in %.1f s",
        batch.number,
        len(batch.files),
        time.monotonic() - started,
    )


def _append_counted(
    spark: SparkSession,
    config: LakehouseConfig,
    table: Table,
    frame: DataFrame,
    batch: BronzeBatch,
    names: list[str],
) -> dict[str, int]:
    """Append the batch's ``frame`` to ``table`` once; return its rows per source file.

    The counts come from the write itself (an observation on the appended rows, so no second
    read); when an earlier, killed run already committed the append, they are read back from
    the committed rows of the batch: the truth either way, not an estimate.
    """
    observation = Observation(f"{table.name}-{batch.number}-{uuid.uuid4().hex[:8]}")
    per_file = [F.count_if(F.col("source_file") == n).alias(f"f{i}") for i, n in enumerate(names)]
    location = table_location(config, table)
    if append_once(frame.observe(observation, *per_file), location, batch.mark()):
        metrics = observation.get
        return {n: metrics[f"f{i}"] for i, n in enumerate(names)}
    committed = read_table(spark, location).where(F.col("batch_id") == batch.number)
    found = {r[0]: r[1] for r in committed.groupBy("source_file").count().collect()}
    return {n: found.get(n, 0) for n in names}
