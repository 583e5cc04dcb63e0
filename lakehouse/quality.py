"""Data-quality rules: declared once as great-expectations suites, enforced in one Spark pass.

The suites live in ``expectations/*.json`` (GX suite format; the ``expectations`` package ships
them). Each expectation carries a ``meta.rule_id`` and a ``meta.severity``:

- ``drop``: a row that breaks the rule is quarantined with the ids of every rule it broke;
- ``warn``: the row is kept and the failure counted;
- ``fail``: a set-level check on a written table; a failure fails the run.

Row-level rules are translated to Spark predicates (:func:`rule_broken`) and evaluated in a
single pass (:func:`flag_rules`); great-expectations itself validates the same suite for the
report and Data Docs (:func:`validate_with_gx`). A test proves both count the same failures.
Null handling follows GX: a value rule (regex, set, format) ignores NULLs; NULLs are counted
by the ``not_null`` rules.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.resources
import json
import threading
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from functools import reduce
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

import expectations
from lakehouse.environment import environment, quiet_great_expectations
from lakehouse.errors import NeedsAction


class Severity(StrEnum):
    DROP = "drop"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: Severity
    expectation_type: str
    kwargs: dict[str, Any]
    table: str | None = None
    notes: str = ""

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


@dataclass(frozen=True)
class Suite:
    name: str
    rules: tuple[Rule, ...]
    raw: dict[str, Any] = field(repr=False)
    spark_checks: tuple[Rule, ...] = ()

    def with_severity(self, *severities: Severity) -> list[Rule]:
        return [r for r in self.rules if r.severity in severities]


@dataclass(frozen=True)
class BrokenRule:
    """A ``fail`` rule that did not hold for a batch: its id, what failed, and out of what."""

    rule_id: str
    failed: int
    evaluated: int
    what: str
    """What the failures are, e.g. ``rows share a product_id in silver.products``."""

    def describe(self) -> str:
        return f"{self.rule_id}: {self.failed:,} {self.what} (of {self.evaluated:,} checked)"


class QualityFailure(NeedsAction):
    """A rule of severity ``fail`` did not hold: the batch stays in flight, not completed. A
    rerun fails the same way until the data is repaired, so the CLI gives it an exit code of
    its own and this message: the rules, their counts, and where the report is."""

    exit_code = 5  # lakehouse.cli.EXIT_QUALITY

    def __init__(self, layer: str, batch: int, broken: list[BrokenRule], report: str) -> None:
        self.layer, self.batch, self.broken, self.report = layer, batch, broken, report
        rules = "; ".join(b.describe() for b in broken)
        super().__init__(
            f"{layer} batch {batch} failed {len(broken)} fail rule(s): {rules}. The batch stays "
            f"in flight; report: {report}. Repair the data, then run again"
        )


def suites_folder() -> Path:
    """Where the suites are: ``$LAKEHOUSE_EXPECTATIONS``, else the ``expectations`` package's
    own folder (in a checkout, and in an installed wheel, which ships the suites)."""
    return environment().expectations or Path(str(importlib.resources.files(expectations)))


def load_suite(name: str, folder: Path | None = None) -> Suite:
    """Read ``<name>.json`` from ``folder`` (default :func:`suites_folder`); every rule must
    have a unique id and a severity."""
    raw = json.loads(((folder or suites_folder()) / f"{name}.json").read_text())
    rules = tuple(
        Rule(
            rule_id=e["meta"]["rule_id"],
            severity=Severity(e["meta"]["severity"]),
            expectation_type=e["type"],
            kwargs=e["kwargs"],
            table=e["meta"].get("table"),
            notes=e["meta"].get("notes", ""),
        )
        for e in raw["expectations"]
    )
    checks = tuple(
        Rule(
            c["rule_id"],
            Severity(c["severity"]),
            "spark_check",
            {},
            c.get("table"),
            c.get("description", ""),
        )
        for c in raw.get("spark_checks", [])
    )
    ids = [r.rule_id for r in rules + checks]
    if len(ids) != len(set(ids)):
        raise ValueError(f"suite {name}: rule ids must be unique, got {ids}")
    return Suite(raw["name"], rules, raw, checks)


_STRFTIME_TO_SPARK = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss"}


def _spark_datetime_pattern(strftime_format: str) -> str:
    """``%Y-%m-%d %H:%M:%S UTC`` -> ``yyyy-MM-dd HH:mm:ss 'UTC'`` (the directives used here)."""
    out, literal, i = [], [], 0
    while i < len(strftime_format):
        token = strftime_format[i : i + 2]
        if token in _STRFTIME_TO_SPARK:
            if literal:
                out.append("'" + "".join(literal) + "'")
                literal = []
            out.append(_STRFTIME_TO_SPARK[token])
            i += 2
        elif token.startswith("%"):
            raise ValueError(f"unsupported strftime directive {token!r} in {strftime_format!r}")
        else:
            char = strftime_format[i]
            if char.isalpha():
                literal.append(char)
            else:
                if literal:
                    out.append("'" + "".join(literal) + "'")
                    literal = []
                out.append(char)
            i += 1
    if literal:
        out.append("'" + "".join(literal) + "'")
    return "".join(out)


def rule_broken(rule: Rule) -> Column:
    """A boolean column: True where the row breaks ``rule`` (never NULL)."""
    col = F.col(rule.column)
    kind, kw = rule.expectation_type, rule.kwargs
    if kind == "expect_column_values_to_not_be_null":
        broken = col.isNull()
    elif kind == "expect_column_values_to_match_regex":
        broken = col.isNotNull() & ~col.rlike(kw["regex"])
    elif kind == "expect_column_values_to_not_match_regex":
        broken = col.isNotNull() & col.rlike(kw["regex"])
    elif kind == "expect_column_values_to_be_in_set":
        broken = col.isNotNull() & ~col.isin(list(kw["value_set"]))
    elif kind == "expect_column_values_to_match_strftime_format":
        pattern = _spark_datetime_pattern(kw["strftime_format"])
        broken = col.isNotNull() & F.try_to_timestamp(col, F.lit(pattern)).isNull()
    else:
        raise ValueError(f"rule {rule.rule_id}: {kind} is not a row-level rule")
    return F.coalesce(broken, F.lit(False))


def flag_rules(df: DataFrame, rules: list[Rule], column: str = "failed_rules") -> DataFrame:
    """Add ``column``: the ids of the rules each row breaks (an empty array if none).

    A ``concat`` of one-element arrays rather than ``filter`` with a lambda: Spark evaluates
    higher-order functions row by row without code generation, which made this pass the
    slowest step of silver (docs/performance.md).
    """
    none = F.array().cast("array<string>")
    ids = [F.when(rule_broken(r), F.array(F.lit(r.rule_id))).otherwise(none) for r in rules]
    return df.withColumn(column, F.concat(*ids) if ids else none)


def failure_counts(
    flagged: DataFrame, rules: list[Rule], column: str = "failed_rules", **rows_where: Column
) -> dict:
    """Rows evaluated and per-rule failure counts, in one aggregate over a flagged frame;
    each keyword adds the count of rows where its condition holds (e.g. ``quarantined=...``)."""
    row = flagged.agg(*failure_count_columns(rules, column, **rows_where)).collect()[0]
    return read_failure_counts(row.asDict(), rules, *rows_where)


def failure_count_columns(
    rules: list[Rule], column: str = "failed_rules", **rows_where: Column
) -> list[Column]:
    """The aggregate columns of :func:`failure_counts`, also for ``DataFrame.observe``: the
    counts of a frame that a write reads anyway, without a pass of their own."""
    aggs = [F.count(F.lit(1)).alias("__rows")]
    aggs += [F.count_if(F.array_contains(column, r.rule_id)).alias(r.rule_id) for r in rules]
    aggs += [F.count_if(condition).alias(f"__{name}") for name, condition in rows_where.items()]
    return aggs


def read_failure_counts(values: dict[str, Any], rules: list[Rule], *names: str) -> dict:
    """:func:`failure_counts`' result from the values of :func:`failure_count_columns`."""
    return {
        "rows": values["__rows"],
        **{r.rule_id: values[r.rule_id] or 0 for r in rules},
        **{name: values[f"__{name}"] or 0 for name in names},
    }


def any_rule(rules: list[Rule], column: str = "failed_rules") -> Column:
    """True where the row broke at least one of ``rules``."""
    return reduce(
        lambda a, b: a | b,
        [F.array_contains(column, r.rule_id) for r in rules],
        F.lit(False),
    )


def duplicated_rows(df: DataFrame, column: str) -> tuple[int, int]:
    """(rows, rows whose non-null ``column`` value occurs more than once), in one aggregate.

    Counts like GX's ``expect_column_values_to_be_unique``: every copy is unexpected.
    """
    per_key = df.groupBy(column).agg(F.count(F.lit(1)).alias("n"))
    duplicated = F.when(F.col(column).isNotNull() & (F.col("n") > 1), F.col("n"))
    row = per_key.agg(F.sum("n"), F.sum(duplicated)).collect()[0]
    return int(row[0] or 0), int(row[1] or 0)


def rows_with_keys(df: DataFrame, keys: DataFrame, column: str) -> DataFrame:
    """The rows of ``df`` whose ``column`` value occurs in ``keys``: what a keyed MERGE of
    ``keys`` can have touched, so a set-level rule checked on them follows the batch, not the
    table's history."""
    return df.join(keys.select(column).distinct(), column, "left_semi")


def missing_keys(keys: DataFrame, reference: DataFrame, column: str) -> tuple[int, int]:
    """(distinct keys, distinct keys absent from ``reference``)."""
    distinct = keys.select(column).distinct()
    absent = distinct.join(reference.select(column), column, "left_anti")
    return distinct.count(), absent.count()


def bounded_sample(df: DataFrame, rows: int, limit: int, seed: int) -> DataFrame:
    """``df`` itself when it has at most ``limit`` of its ``rows``, else a seeded Bernoulli
    sample of about ``limit`` rows (drawn from every file and date, not just the first)."""
    if rows <= limit:
        return df
    return df.sample(fraction=limit / rows, seed=seed)


def start_loading_gx() -> None:
    """Import great-expectations on a background thread (about 4 s of Python on 2 cores), so
    that :func:`validate_with_gx` finds it loaded; a failure surfaces there, not here."""

    def load() -> None:
        quiet_great_expectations()
        with contextlib.suppress(Exception):
            importlib.import_module("great_expectations")

    threading.Thread(target=load, name="load-great-expectations", daemon=True).start()


@dataclass(frozen=True)
class GxOutcome:
    success: bool
    failures: dict[str, int]
    """unexpected_count per rule id, as great-expectations reports it."""
    evaluated: dict[str, int]
    """element_count per rule id: the rows great-expectations looked at."""
    result: dict[str, Any]
    """The full validation result (JSON-serialisable)."""
    data_docs: str | None


def validate_with_gx(
    df: DataFrame, suite: Suite, rules: list[Rule], gx_root: Path, run_name: str
) -> GxOutcome:
    """Validate ``df`` with great-expectations (BASIC results), update Data Docs under
    ``gx_root``, and return the per-rule failure counts.

    The rows are collected once (Arrow) and validated by GX's pandas engine: GX's Spark engine
    runs a Spark job per metric, dozens per suite. Callers bound ``df`` (:func:`bounded_sample`);
    Spark's own pass enforces every row."""
    quiet_great_expectations()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    gx_root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_root))
    # GX 1.24 ignores TQDM_DISABLE: its "Calculating Metrics" bars would reach stderr
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_or_update_pandas(name="lakehouse")
    name = suite.name
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        batch = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        batch = asset.add_batch_definition_whole_dataframe("whole")
    expectations = [
        ExpectationConfiguration(
            type=r.expectation_type,
            kwargs=r.kwargs,
            meta={"rule_id": r.rule_id, "severity": r.severity.value},
        ).to_domain_obj()
        for r in rules
    ]
    gx_suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=name, expectations=expectations, meta=suite.raw.get("meta"))
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=gx_suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"checkpoint_{name}",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format={"result_format": "BASIC"},
        )
    )
    columns = sorted({r.column for r in rules if r.column})
    rows = df.select(*columns).toPandas()
    with warnings.catch_warnings():  # pandas on the suite's regexes with groups: expected
        warnings.filterwarnings("ignore", "This pattern is interpreted as a regular expression")
        outcome = checkpoint.run(
            batch_parameters={"dataframe": rows}, run_id=RunIdentifier(run_name=run_name)
        )
    [validation] = outcome.run_results.values()
    failures = {
        r.expectation_config.meta["rule_id"]: int(r.result.get("unexpected_count") or 0)
        for r in validation.results
    }
    evaluated = {
        r.expectation_config.meta["rule_id"]: int(r.result.get("element_count") or 0)
        for r in validation.results
    }
    docs = gx_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    return GxOutcome(
        success=bool(validation.success),
        failures=failures,
        evaluated=evaluated,
        result=validation.to_json_dict(),
        data_docs=str(docs) if docs.exists() else None,
    )
