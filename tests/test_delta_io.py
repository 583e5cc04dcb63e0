"""Writes that happen once per batch: the batch mark in a commit's ``userMetadata`` (with the
batch's plan) and the check that skips a replay, for appends, overwrites and MERGEs, on real
Delta tables."""

from __future__ import annotations

from delta.tables import DeltaTable

from lakehouse.delta_io import (
    USER_METADATA_CONF,
    BatchMark,
    append_once,
    batch_mark,
    committed,
    empty_once,
    marked,
    merge_once,
    newest_mark,
)
from lakehouse.storage import commit_infos, latest_version
from lakehouse.tables import Column, Table

TABLE = Table(
    name="test.marked",
    location="marked",
    description="a table for the batch-mark tests",
    columns=(Column("id", "INT", "key"), Column("value", "STRING", "payload")),
)


def _rows(spark, location: str) -> list[tuple]:
    return sorted(tuple(r) for r in spark.read.format("delta").load(location).collect())


def test_a_batch_is_written_once_whatever_commits_in_between(spark, tmp_path):
    location = str(tmp_path / "marked")
    rows = spark.createDataFrame([(1, "a"), (2, "b")], TABLE.schema_ddl())

    assert not committed(spark, location, "app", 1)  # no table yet
    assert append_once(rows, location, BatchMark("app", 1))
    assert not append_once(rows, location, BatchMark("app", 1))  # a replay: skipped
    assert _rows(spark, location) == [(1, "a"), (2, "b")]
    assert [info.get("userMetadata") for _, info in commit_infos(spark, location)] == ["app/1"]

    # commits without a mark, or another app's, do not hide this app's last mark
    unmarked = spark.createDataFrame([(3, "c")], TABLE.schema_ddl())
    unmarked.write.format("delta").mode("append").save(location)
    other = spark.createDataFrame([(9, "z")], TABLE.schema_ddl())
    assert append_once(other, location, BatchMark("other", 7, {"plan": "of another app"}))
    assert committed(spark, location, "app", 1) and not committed(spark, location, "app", 2)
    assert not committed(spark, location, "ap", 1) and not committed(spark, location, "app/", 1)

    # a later batch of the app implies the earlier ones (an app's batches only grow)
    more = spark.createDataFrame([(4, "d")], TABLE.schema_ddl())
    assert append_once(more, location, BatchMark("app", 3))
    assert committed(spark, location, "app", 2) and not committed(spark, location, "app", 4)
    assert not append_once(more, location, BatchMark("app", 2))
    assert _rows(spark, location) == [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (9, "z")]
    assert newest_mark(spark, location, ("other",)) == BatchMark("other", 7)
    assert newest_mark(spark, location, ("other",)).plan == {"plan": "of another app"}
    assert newest_mark(spark, location, ("app", "other")).batch == 3
    assert newest_mark(spark, location, ("nobody",)) is None

    history = DeltaTable.forPath(spark, location).history().select("version", "userMetadata")
    assert {r.version: r.userMetadata for r in history.collect()}[latest_version(
        spark, location
    )] == batch_mark("app", 3)  # fmt: skip


def test_merge_and_empty_run_once_per_batch(spark, tmp_path):
    location = str(tmp_path / "marked")
    spark.createDataFrame([(1, "a")], TABLE.schema_ddl()).write.format("delta").save(location)

    def merge(value: str):
        source = spark.createDataFrame([(1, value), (2, value)], TABLE.schema_ddl())
        return (
            DeltaTable.forPath(spark, location)
            .alias("t")
            .merge(source.alias("s"), "t.id = s.id")
            .whenMatchedUpdate(set={"value": "concat(t.value, s.value)"})
            .whenNotMatchedInsertAll()
        )

    assert merge_once(spark, merge("x"), location, BatchMark("app", 1))
    assert not merge_once(spark, merge("x"), location, BatchMark("app", 1))  # not applied twice
    assert _rows(spark, location) == [(1, "ax"), (2, "x")]
    assert next(commit_infos(spark, location))[1]["userMetadata"] == "app/1"
    assert spark.conf.get(USER_METADATA_CONF, None) is None

    # MERGEs of one batch side by side: an inner block never clears the mark of the outer one
    third = BatchMark("app", 3, {"plan": 3})
    with marked(spark, third):
        assert merge_once(spark, merge("y"), location, third)
        assert spark.conf.get(USER_METADATA_CONF) == third.text()
    assert spark.conf.get(USER_METADATA_CONF, None) is None
    assert next(commit_infos(spark, location))[1]["userMetadata"] == third.text()

    empty_once(spark, TABLE, location, BatchMark("reset", 2))
    assert _rows(spark, location) == []
    assert append_once(
        spark.createDataFrame([(5, "e")], TABLE.schema_ddl()), location, BatchMark("app", 4)
    )
    empty_once(spark, TABLE, location, BatchMark("reset", 2))  # resumed: never empties its own rows
    assert _rows(spark, location) == [(5, "e")]


def test_marks_carry_the_plan_and_read_back_as_written():
    mark = BatchMark("lakehouse.silver", 12, {"bronze_from": 3, "files": ["a b.csv"]})
    assert mark.text() == 'lakehouse.silver/12 {"bronze_from": 3, "files": ["a b.csv"]}'
    assert BatchMark.parse(mark.text()) == mark and BatchMark.parse(mark.text()).plan == mark.plan
    assert BatchMark.parse("lakehouse.bronze/3") == BatchMark("lakehouse.bronze", 3)  # older form
    for text in (None, "", "no mark", "app/", "/3", "app/x", "app/3 {not json"):
        assert BatchMark.parse(text) is None, text


def test_tables_updated_in_place_get_deletion_vectors_and_merges_use_them(spark, tmp_path):
    """``silver.user_sessions`` declares deletion vectors: a table written by an earlier
    release (without them) gets them on the next ``ensure_table``, once; then a MERGE that
    updates one row marks the old row deleted instead of rewriting the file that holds it."""
    from dataclasses import replace

    from lakehouse.delta_io import ensure_table, missing_properties
    from lakehouse.tables import SILVER_USER_SESSIONS

    location = str(tmp_path / "user_sessions")
    earlier = replace(SILVER_USER_SESSIONS, properties=())
    ensure_table(spark, earlier, location)
    assert missing_properties(spark, SILVER_USER_SESSIONS, location) == {
        "delta.enableDeletionVectors": "true"
    }
    at = "TIMESTAMP'2019-11-01 00:00:00'"
    rows = spark.range(1000).selectExpr(
        "CAST(id AS STRING) AS user_session", "id AS user_id", f"{at} AS session_start",
        f"{at} AS session_end", "1L AS events", "1L AS views", "0L AS carts", "0L AS removals",
        "0L AS purchases", "CAST(0 AS DECIMAL(18,2)) AS purchased_value",
    )  # fmt: skip
    rows.coalesce(1).write.format("delta").mode("append").save(location)

    ensure_table(spark, SILVER_USER_SESSIONS, location)
    upgraded = latest_version(spark, location)
    ensure_table(spark, SILVER_USER_SESSIONS, location)  # nothing missing now: no commit
    assert latest_version(spark, location) == upgraded
    assert missing_properties(spark, SILVER_USER_SESSIONS, location) == {}

    update = rows.where("user_session = '7'").selectExpr("user_session", "2L AS events")
    (
        DeltaTable.forPath(spark, location).alias("t")
        .merge(update.alias("s"), "t.user_session = s.user_session")
        .whenMatchedUpdate(set={"events": "t.events + s.events"})
        .execute()
    )  # fmt: skip
    metrics = DeltaTable.forPath(spark, location).history(1).first()["operationMetrics"]
    assert metrics["numTargetRowsUpdated"] == "1"
    assert metrics["numTargetDeletionVectorsAdded"] == "1"
    assert metrics["numTargetFilesRemoved"] == "0"  # the 1,000-row file is not rewritten
    table = spark.read.format("delta").load(location)
    assert table.count() == 1000
    assert table.where("events = 3").select("user_session").collect() == [("7",)]
