"""The one plan -> write -> complete mechanism of every layer: a batch's plan rides in its
marks, and the batch a killed run left is found from the newest commits, on real Delta tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from lakehouse.delta_io import append_once, batch_mark
from lakehouse.ledger import (
    Batch,
    PendingFromEarlierRelease,
    in_flight,
    next_number,
    refuse_pending,
)

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
