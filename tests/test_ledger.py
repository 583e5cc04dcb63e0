"""The one plan -> write -> complete mechanism of every layer: a batch's plan rides in its
marks, and the batch a killed run left is found from the newest commits, on real Delta tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from lakehouse.delta_io import append_once, batch_mark, read_table, table_location
from lakehouse.ledger import (
    Batch,
    PendingFromEarlierRelease,
    in_flight,
    next_number,
    refuse_pending,
)
from lakehouse.tables import OPS_RUN_LOG
from tests.builds import FIRST, completed, copy_home, run, snapshot
from tests.helpers import land

APP = "test.layer"
PLANNED = datetime(2019, 11, 1, 12, 30, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class FilesBatch(Batch):
    app: str = APP
    files: tuple[str, ...]
    first: int = 0


def _batch(number: int, *files: str, rebuild: bool = False) -> FilesBatch:
    return FilesBatch(
        number=number, run_id=f"run-{number}", planned_at=PLANNED, rebuild=rebuild, files=files
    )


def test_a_batch_reads_back_from_its_mark_with_every_field_typed():
    batch = _batch(4, "day 1.csv", "nested/day2.csv.gz", rebuild=True)
    mark = batch.mark()
    assert (mark.app, mark.batch) == (APP, 4)
    assert FilesBatch.from_mark(mark, APP) == batch
    reset = batch.mark(f"{APP}.reset")  # another app of the layer, the same plan
    assert reset.app == f"{APP}.reset" and FilesBatch.from_mark(reset, APP) == batch


def test_the_batch_left_in_flight_is_the_newest_marked_one_past_the_ledger(spark, tmp_path):
    data, other = str(tmp_path / "data"), str(tmp_path / "other")
    rows = spark.createDataFrame([(1,)], "id INT")
    assert in_flight(spark, FilesBatch, APP, [data, other], completed=0) is None  # no tables

    append_once(rows, data, _batch(1, "a.csv").mark())
    append_once(rows, other, _batch(2, "b.csv").mark(f"{APP}.reset"))
    assert in_flight(spark, FilesBatch, APP, [data, other], completed=2) is None  # all done
    assert in_flight(spark, FilesBatch, APP, [data, other], completed=1) is None  # not its app
    left = in_flight(spark, FilesBatch, APP, [data, other], completed=1, apps=(f"{APP}.reset",))
    assert left == _batch(2, "b.csv")

    # a mark without a plan (written by an earlier release) is never taken for a plan
    rows.write.format("delta").mode("append").option("userMetadata", batch_mark(APP, 3)).save(data)
    assert in_flight(spark, FilesBatch, APP, [data], completed=1) is None
    assert next_number(2, None) == 3
    assert next_number(2, _batch(5, "superseded.csv")) == 6


def test_a_pending_row_of_an_earlier_release_stops_with_what_to_do():
    refuse_pending("silver", [])
    with pytest.raises(PendingFromEarlierRelease, match="silver batch 3 was left pending"):
        refuse_pending("silver", [4, 3, 3])


_LEGACY_DDL = {
    "silver": "silver_batch BIGINT, bronze_batch_from BIGINT, bronze_batch_to BIGINT, "
    "status STRING, rows_taken BIGINT, rows_added BIGINT, rows_quarantined BIGINT, "
    "duplicates_dropped BIGINT, run_id STRING, planned_at TIMESTAMP, completed_at TIMESTAMP",
    "gold": "gold_batch BIGINT, silver_batch_from BIGINT, silver_batch_to BIGINT, status STRING, "
    "dates BIGINT, run_id STRING, planned_at TIMESTAMP, completed_at TIMESTAMP",
}


def _legacy_row(layer: str, r: dict) -> tuple:
    head = (r["batch"], r["input_from"], r["input_to"], "done")
    counts = (r["rows_read"], r["rows_written"], r["rows_quarantined"], r["rows_duplicates"])
    tail = (r["run_id"], r["started_at"], r["ended_at"])
    return (*head, *counts, *tail) if layer == "silver" else (*head, 0, *tail)


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_a_home_of_an_earlier_release_carries_on_from_its_ledger_tables(
    spark, real_build, tmp_path
):
    """Before the run log held silver's and gold's batches, each had a ledger table of its own
    (silver.batches, gold.batches): the next run copies them into the run log once and carries
    on from them, neither redoing a batch nor rebuilding."""
    config = copy_home(real_build.config, tmp_path)
    before = {layer: completed(spark, config, layer) for layer in ("silver", "gold")}
    for layer, rows in before.items():  # the earlier release's ledger tables...
        legacy = spark.createDataFrame([_legacy_row(layer, r) for r in rows], _LEGACY_DDL[layer])
        legacy.write.format("delta").save(config.location(f"{layer}/batches"))
    location = table_location(config, OPS_RUN_LOG)  # ...and its run log, without batches
    new = ("batch", "input_from", "input_to", "rebuild")
    old_log = read_table(spark, location).drop(*new)
    old_rows, old_schema = old_log.collect(), old_log.schema
    spark.createDataFrame(old_rows, old_schema).write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true"
    ).save(location)

    def silver_and_gold() -> dict:
        return {k: v for k, v in snapshot(spark, config).items() if not k.startswith("bronze.")}

    tables = silver_and_gold()

    land(config, FIRST, rename="redelivered.csv")  # a new file, every row a duplicate
    results = {r.layer: r for r in run(spark, config)}
    assert results["silver"].counts["taken"] > 0 == results["silver"].counts["added"]
    assert silver_and_gold() == tables

    def spans(layer: str) -> list[tuple]:
        rows = completed(spark, config, layer)
        return [(r["batch"], r["input_from"], r["input_to"]) for r in rows]

    for layer, rows in before.items():
        expected = [(r["batch"], r["input_from"], r["input_to"]) for r in rows]
        assert spans(layer) == [*expected, (3, 3, 3)], layer  # copied once, then carried on
        imported = completed(spark, config, layer)[:-1]
        assert {r["counts"] for r in imported} == {f"imported from {layer}/batches"}
        assert completed(spark, config, layer)[-1]["rebuild"] is False
    run(spark, config)  # nothing new: nothing copied again, no batch
    assert spans("silver")[-1] == (3, 3, 3) and len(spans("gold")) == 3
