"""Quality rules: each rule with a passing and a failing row; one-pass counts equal GX's."""

from __future__ import annotations

import pytest

from lakehouse.quality import (
    Severity,
    _spark_datetime_pattern,
    duplicated_rows,
    failure_counts,
    flag_rules,
    load_suite,
    missing_keys,
    validate_with_gx,
)
from lakehouse.schema import SOURCE_COLUMNS

SUITE = load_suite("silver_events")
OK = {
    "event_time": "2019-11-01 00:00:05 UTC",
    "event_type": "purchase",
    "product_id": "1003461",
    "category_id": "2053013555631882655",
    "category_code": "electronics.smartphone",
    "brand": "xiaomi",
    "price": "489.07",
    "user_id": "520088904",
    "user_session": "4d3b30da-a5e4-49df-b1a8-ba5943f1dd33",
}
# rule id -> a field change that breaks exactly that rule
BREAKS = {
    "event_time_present": {"event_time": None},
    "event_time_format": {"event_time": "2019-11-01T00:00:05Z"},
    "event_time_valid": {"event_time": "2019-02-30 00:00:05 UTC"},
    "event_time_plausible": {"event_time": "2999-01-01 00:00:05 UTC"},
    "event_type_present": {"event_type": None},
    "event_type_known": {"event_type": "click"},
    "product_id_present": {"product_id": None},
    "product_id_integer": {"product_id": "12a"},
    "category_id_integer": {"category_id": "-5"},
    "user_id_present": {"user_id": None},
    "user_id_integer": {"user_id": "1.5"},
    "price_present": {"price": None},
    "price_number": {"price": "1e12"},
    "price_non_negative": {"price": "-3.00"},
    "brand_present": {"brand": None},
    "category_code_present": {"category_code": None},
    "user_session_present": {"user_session": None},
    "price_not_zero": {"price": "0.00"},
}


def _frame(spark, rows):
    return spark.createDataFrame(
        [tuple(r[c] for c in SOURCE_COLUMNS) for r in rows],
        ", ".join(f"{c} STRING" for c in SOURCE_COLUMNS),
    )


def test_suite_declares_every_rule_once_with_a_severity():
    ids = [r.rule_id for r in SUITE.rules]
    assert sorted(ids) == sorted(BREAKS)
    assert {r.severity for r in SUITE.rules} == {Severity.DROP, Severity.WARN}
    warn = {r.rule_id for r in SUITE.with_severity(Severity.WARN)}
    assert warn == {
        "brand_present",
        "category_code_present",
        "user_session_present",
        "price_not_zero",
    }


def test_strftime_translation():
    assert _spark_datetime_pattern("%Y-%m-%d %H:%M:%S UTC") == "yyyy-MM-dd HH:mm:ss 'UTC'"


@pytest.mark.parametrize("rule_id", sorted(BREAKS))
def test_each_rule_one_passing_and_one_failing_row(spark, rule_id):
    flagged = flag_rules(_frame(spark, [OK, {**OK, **BREAKS[rule_id]}]), list(SUITE.rules))
    got = [r["failed_rules"] for r in flagged.collect()]
    assert got[0] == []
    assert rule_id in got[1]
    others = set(got[1]) - {rule_id}
    assert others <= {"event_time_valid"}  # a malformed time is also not a valid time


def test_set_level_checks_pass_and_fail(spark, tmp_path):
    """The fail-severity checks: one clean and one broken table each; uniqueness as GX counts."""
    keys = spark.createDataFrame([(1,), (2,), (3,), (None,)], "product_id BIGINT")
    dupes = spark.createDataFrame([(1,), (1,), (2,), (None,), (None,)], "product_id BIGINT")
    assert duplicated_rows(keys, "product_id") == (4, 0)
    assert duplicated_rows(dupes, "product_id") == (5, 2)
    unique = load_suite("silver_tables").rules[0]
    assert unique.rule_id == "products_unique"
    gx = validate_with_gx(dupes, load_suite("silver_tables"), [unique], tmp_path / "dq", "set")
    assert gx.failures == {"products_unique": 2}
    events = spark.createDataFrame([(1,), (1,), (3,)], "product_id BIGINT")
    assert missing_keys(events, keys, "product_id") == (2, 0)
    assert missing_keys(events, dupes, "product_id") == (2, 1)


def test_one_pass_counts_equal_great_expectations(spark, tmp_path):
    """The enforcing pass counts exactly what great-expectations reports for the same suite."""
    rows = [OK] * 3 + [{**OK, **change} for change in BREAKS.values()]
    rows += [{**OK, "price": "0", "brand": None, "event_type": "view"}]
    rows += [{c: None for c in SOURCE_COLUMNS}]
    frame = _frame(spark, rows)
    rules = list(SUITE.rules)
    ours = failure_counts(flag_rules(frame, rules), rules)
    gx = validate_with_gx(frame, SUITE, rules, tmp_path / "dq", "parity")
    assert ours["rows"] == len(rows)
    assert {r.rule_id: ours[r.rule_id] for r in rules} == gx.failures
    assert gx.evaluated == {r.rule_id: len(rows) for r in rules}
    assert all(count > 0 for count in gx.failures.values())
    assert gx.data_docs and gx.data_docs.endswith("index.html")
