"""Pure bronze transformations on tiny frames."""

from __future__ import annotations

import pytest

from bronze.parse import (
    HeaderKind,
    check_header,
    classify_lines,
    data_rows,
    number_lines,
    quarantined_lines,
)
from lakehouse.schema import HEADER

GOOD = (
    "2019-11-01 00:00:00 UTC,view,1003461,2053013555631882655,electronics.smartphone,xiaomi,"
    "489.07,520088904,4d3b30da-a5e4-49df-b1a8-ba5943f1dd33"
)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (HEADER, HeaderKind.HEADER),
        ("\ufeff" + HEADER + " ", HeaderKind.HEADER),
        (GOOD, HeaderKind.NONE),
        (None, HeaderKind.NONE),
        ("event_time,event_type,product_id", HeaderKind.WRONG),
        (
            "user_id,event_time,event_type,product_id,category_id,category_code,brand,price,user_session",
            HeaderKind.WRONG,
        ),
    ],
)
def test_check_header(line, kind):
    check = check_header(line)
    assert check.kind is kind
    assert bool(check.message) == (kind is HeaderKind.WRONG)
    if check.message:
        assert HEADER in check.message


def _numbered(spark, lines, header_kind="header", start=1):
    rows = [(v, "f.csv", i, header_kind) for i, v in enumerate(lines, start=start)]
    return spark.createDataFrame(
        rows, "value STRING, source_file STRING, line_number BIGINT, header_kind STRING"
    )


def test_classify_each_kind_of_line(spark):
    lines = [HEADER, GOOD, GOOD.rsplit(",", 1)[0], GOOD + ",x", "", HEADER, "  "]
    classified = classify_lines(_numbered(spark, lines))
    reasons = {r["line_number"]: (r["reason"] or "").split(":")[0] for r in classified.collect()}
    assert reasons == {
        1: "",  # the header
        2: "",
        3: "field_count",
        4: "field_count",
        5: "empty_line",
        6: "stray_header",
        7: "empty_line",
    }
    assert [r["line_number"] for r in classified.where("is_header").collect()] == [1]
    assert data_rows(classified).count() == 1
    assert quarantined_lines(classified).count() == 5
    message = classified.where("line_number = 3").first()["reason"]
    assert message == "field_count: found 8 fields, expected 9"


def test_headerless_file_line_one_is_data(spark):
    classified = classify_lines(_numbered(spark, ["\ufeff" + GOOD, GOOD], header_kind="none"))
    rows = data_rows(classified).orderBy("line_number").collect()
    assert [r["line_number"] for r in rows] == [1, 2]
    assert rows[0]["event_time"] == "2019-11-01 00:00:00 UTC"  # BOM stripped


def test_rejected_file_quarantines_every_line(spark):
    rejections = spark.createDataFrame(
        [("f.csv", "wrong header: ...")], "source_file STRING, message STRING"
    )
    classified = classify_lines(_numbered(spark, ["a,b", GOOD], header_kind="wrong"), rejections)
    assert data_rows(classified).count() == 0
    reasons = [r["reason"] for r in quarantined_lines(classified).collect()]
    assert reasons == ["file_rejected: wrong header: ..."] * 2


def test_data_rows_split_fields_and_nulls(spark):
    line = "2019-11-01 00:00:05 UTC,purchase,1,2,,,0.00,3,"
    row = data_rows(classify_lines(_numbered(spark, [line], "none"))).first()
    assert row.asDict() == {
        "event_time": "2019-11-01 00:00:05 UTC",
        "event_type": "purchase",
        "product_id": "1",
        "category_id": "2",
        "category_code": None,
        "brand": None,
        "price": "0.00",
        "user_id": "3",
        "user_session": None,
        "source_file": "f.csv",
        "line_number": 1,
    }


def test_number_lines_across_blocks(spark):
    lines = spark.createDataFrame(
        [("a", "p", 0, 10), ("b", "p", 0, 11), ("c", "p", 100, 50), ("d", "p", 100, 51)],
        "value STRING, file_path STRING, block_start BIGINT, row_id BIGINT",
    )
    blocks = spark.createDataFrame(
        [("p", 0, "f.csv", 1, 10, "none"), ("p", 100, "f.csv", 3, 50, "none")],
        "file_path STRING, block_start BIGINT, source_file STRING, first_line_number BIGINT, "
        "min_row_id BIGINT, header_kind STRING",
    )
    got = {r["value"]: r["line_number"] for r in number_lines(lines, blocks).collect()}
    assert got == {"a": 1, "b": 2, "c": 3, "d": 4}
