"""Bronze ingestion on real Delta tables: every line accounted for, each file exactly once."""

from __future__ import annotations

import gzip
import os
from datetime import date
from pathlib import Path

import pytest

from bronze import ingest
from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import ensure_table, read_table, table_location, table_version
from lakehouse.generate import GenerateSpec, generate
from lakehouse.runs import LayerResult, new_run_id
from lakehouse.schema import HEADER, SOURCE_COLUMNS
from lakehouse.tables import BRONZE_EVENTS, BRONZE_FILES, BRONZE_QUARANTINE, BRONZE_TABLES
from tests.helpers import land
from tests.oracle import expected_bronze

GOOD = (
    "2019-11-01 00:00:00 UTC,view,1003461,2053013555631882655,electronics.smartphone,xiaomi,"
    "489.07,520088904,4d3b30da-a5e4-49df-b1a8-ba5943f1dd33"
)
GOOD2 = "2019-11-01 00:00:01 UTC,purchase,5000088,2053013566100866035,,,0.00,520088905,"


def run_bronze(spark, config: LakehouseConfig):
    return ingest.run(spark, config, new_run_id())


def bronze_rows(spark, config, source_file: str | list[str] | None = None) -> list[tuple]:
    """Bronze rows (nine fields and line number), of one file or of a list of files if given."""
    df = read_table(spark, table_location(config, BRONZE_EVENTS))
    if isinstance(source_file, list):
        df = df.where(df.source_file.isin(source_file))
    elif source_file:
        df = df.where(df.source_file == source_file)
    return sorted(tuple(r) for r in df.select(*SOURCE_COLUMNS, "line_number").collect())


def quarantine(spark, config) -> dict[tuple[str, int], str]:
    df = read_table(spark, table_location(config, BRONZE_QUARANTINE))
    return {(r["source_file"], r["line_number"]): r["reason"] for r in df.collect()}


def ledger(spark, config) -> dict[str, dict]:
    df = read_table(spark, table_location(config, BRONZE_FILES))
    return {r["source_file"]: r.asDict() for r in df.collect()}


def versions(spark, config) -> dict[str, int | None]:
    return {t.name: table_version(spark, table_location(config, t)) for t in BRONZE_TABLES}


def assert_matches_oracle(spark, config, files: list[Path]) -> None:
    """Bronze, quarantine and ledger equal an independent reading of each raw file."""
    files_ledger = ledger(spark, config)
    quarantined = quarantine(spark, config)
    for path in files:
        oracle = expected_bronze(path)
        entry = files_ledger[path.name]
        assert entry["status"] == "ingested", entry
        assert (entry["lines"], entry["header_lines"], entry["rows"], entry["quarantined"]) == (
            oracle.lines,
            oracle.header_lines,
            len(oracle.rows),
            len(oracle.bad),
        )
        assert entry["lines"] == entry["header_lines"] + entry["rows"] + entry["quarantined"]
        assert bronze_rows(spark, config, path.name) == sorted(oracle.rows)
        got_bad = {n: r.split(":")[0] for (f, n), r in quarantined.items() if f == path.name}
        assert got_bad == oracle.bad


def _real_bronze_counts(real_build) -> dict[str, int]:
    totals: dict[str, int] = {}
    for results in real_build.results:
        for key, value in results["bronze"].counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_real_files_every_line_accounted_for(spark, real_build):
    config = real_build.config
    assert all(results["bronze"].ok for results in real_build.results)
    assert _real_bronze_counts(real_build) == {
        "files": 4,
        "lines": 10_001 + 683 + 17_436 + 5_020,
        "rows": 10_000 + 683 + 17_434 + 5_019,
        "quarantined": 1,
        "rejected_files": 0,
    }
    assert_matches_oracle(spark, config, list(real_build.files))
    # The one bad line: the cut-off last line of the CRLF file, kept with its reason.
    [(where, reason)] = quarantine(spark, config).items()
    assert where == ("2019-Oct-head17k-crlf-truncated.csv", 17_436)
    assert reason == "field_count: found 8 fields, expected 9"


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_only_new_files_are_ingested(spark, real_build):
    """Run 2 of the build ingests its one new file; run 1's rows stay as they were."""
    config = real_build.config
    second = real_build.results[1]["bronze"].counts
    assert second["files"] == 1 and second["rows"] == 5_019
    location = table_location(config, BRONZE_EVENTS)
    version = real_build.after_first[BRONZE_EVENTS.name]
    first_files = [p.name for p in real_build.first_run]
    then = spark.read.format("delta").option("versionAsOf", version).load(location)
    assert bronze_rows(spark, config, first_files) == sorted(
        tuple(r) for r in then.select(*SOURCE_COLUMNS, "line_number").collect()
    )
    assert len(bronze_rows(spark, config)) == 10_000 + 683 + 17_434 + 5_019
    batches = {name: e["batch_id"] for name, e in ledger(spark, config).items()}
    assert batches == {**dict.fromkeys(first_files, 1), "2019-Oct-head5k.csv": 2}


@pytest.mark.slow
@pytest.mark.xdist_group("real-build")
def test_rerun_without_new_files_changes_nothing(spark, real_build):
    config = real_build.config
    before = versions(spark, config)
    result = run_bronze(spark, config)
    assert result.counts["files"] == 0
    assert versions(spark, config) == before


def test_bad_lines_and_bad_files(spark, home):
    landing = Path(home.landing)
    messy = b"\r\n".join(
        [
            ("\ufeff" + HEADER).encode(),
            GOOD.encode(),
            GOOD.rsplit(",", 1)[0].encode(),  # 8 fields
            (GOOD + ",extra").encode(),  # 10 fields
            b"",  # empty line
            HEADER.encode(),  # stray header
            GOOD.replace("xiaomi", "xia\xffomi").encode("latin-1"),  # not UTF-8
            GOOD2.encode(),  # last line, no final newline
        ]
    )
    (landing / "messy.csv").write_bytes(messy)
    wrong = "user_id,event_time,event_type\n1,2019-11-01 00:00:00 UTC,view\n"
    (landing / "wrong-header.csv").write_text(wrong)
    (landing / "nested").mkdir()
    (landing / "nested" / "day.csv.gz").write_bytes(gzip.compress(f"{HEADER}\n{GOOD}\n".encode()))
    (landing / "empty.csv").write_bytes(b"")
    (landing / "header-only.csv").write_text(HEADER + "\n")
    (landing / "notes.txt").write_text("not an export file")
    (landing / ".partial.csv").write_text(GOOD)  # hidden: still being written

    result = run_bronze(spark, home)

    assert not result.ok
    assert len(result.errors) == 1
    assert result.errors[0].startswith("wrong-header.csv: wrong header: found 'user_id,event_time")
    files = ledger(spark, home)
    assert set(files) == {
        "messy.csv",
        "wrong-header.csv",
        "nested/day.csv.gz",
        "empty.csv",
        "header-only.csv",
    }
    assert files["wrong-header.csv"]["status"] == "rejected"
    assert "expected 'event_time,event_type" in files["wrong-header.csv"]["message"]
    reasons = {k: v.split(":")[0] for k, v in quarantine(spark, home).items()}
    assert reasons == {
        ("messy.csv", 3): "field_count",
        ("messy.csv", 4): "field_count",
        ("messy.csv", 5): "empty_line",
        ("messy.csv", 6): "stray_header",
        ("messy.csv", 7): "undecodable",
        ("wrong-header.csv", 1): "file_rejected",
        ("wrong-header.csv", 2): "file_rejected",
    }
    raw = {k: v for k, v in _raw_quarantine(spark, home).items()}
    assert "xia\ufffdomi" in raw[("messy.csv", 7)]
    assert bronze_rows(spark, home, "messy.csv") == [
        (*GOOD.split(","), 2),
        (*[v or None for v in GOOD2.split(",")], 8),
    ]
    assert bronze_rows(spark, home, "nested/day.csv.gz") == [(*GOOD.split(","), 2)]
    for name in ("empty.csv", "header-only.csv"):
        assert files[name]["status"] == "ingested"
        assert files[name]["rows"] == 0
    assert files["header-only.csv"]["lines"] == 1
    for entry in files.values():
        assert entry["lines"] == entry["header_lines"] + entry["rows"] + entry["quarantined"]
    # A rejection is recorded once, not repeated by the next run.
    assert run_bronze(spark, home).ok


def test_unreadable_binary_and_huge_files_never_stop_the_good_ones(spark, home):
    """The rest of the bad-input catalogue: each file gets a reason, the good file goes in."""
    landing = Path(home.landing)
    day = f"{HEADER}\n{GOOD}\n{GOOD2}\n".encode()
    (landing / "good.csv").write_bytes(day)
    whole = gzip.compress(day * 200)
    (landing / "truncated.csv.gz").write_bytes(whole[: len(whole) // 2])
    (landing / "not-gzip.csv.gz").write_bytes(b"this was never gzipped\n" * 10)
    binary = bytes(range(256)) * 64  # a binary file with a .csv name: no header, no text
    (landing / "image.csv").write_bytes(binary)
    long_line = GOOD.replace("xiaomi", "x" * 5_000_000)  # one 5 MB line
    (landing / "long-line.csv").write_text(f"{HEADER}\n{long_line}\n{GOOD}\n")
    no_access = landing / "no-access.csv"
    no_access.write_bytes(day)
    no_access.chmod(0)
    # root (as in CI) reads it anyway; anyone else cannot: both outcomes are checked
    denied = not os.access(no_access, os.R_OK)

    result = run_bronze(spark, home)

    files = ledger(spark, home)
    assert {name: f["status"] for name, f in files.items()} == {
        "good.csv": "ingested",
        "truncated.csv.gz": "rejected",
        "not-gzip.csv.gz": "rejected",
        "image.csv": "rejected",
        "long-line.csv": "ingested",
        "no-access.csv": "rejected" if denied else "ingested",
    }
    errors = dict(e.split(": ", 1) for e in result.errors)
    unreadable = {"truncated.csv.gz", "not-gzip.csv.gz"} | ({"no-access.csv"} if denied else set())
    assert set(errors) == {*unreadable, "image.csv"}
    for name in unreadable:
        assert errors[name].startswith("cannot be read ("), errors[name]
        assert files[name]["lines"] == files[name]["rows"] == 0
        assert "nothing was ingested" in files[name]["message"]
    assert errors["image.csv"].startswith("wrong header"), errors["image.csv"]
    assert bronze_rows(spark, home, "good.csv") == [
        (*GOOD.split(","), 2),
        (*[v or None for v in GOOD2.split(",")], 3),
    ]
    # the 5 MB line is kept whole (it is a well-formed row; silver's rules judge its values)
    long_rows = bronze_rows(spark, home, "long-line.csv")
    assert {r[-1]: r[5] for r in long_rows} == {2: "x" * 5_000_000, 3: "xiaomi"}
    reasons = {k: v.split(":")[0] for k, v in quarantine(spark, home).items()}
    image_lines = files["image.csv"]["lines"]
    assert image_lines > 0
    assert {n for (f, n) in reasons if f == "image.csv"} == set(range(1, image_lines + 1))
    assert {r for (f, _), r in reasons.items() if f == "image.csv"} == {"file_rejected"}
    for entry in files.values():
        assert entry["lines"] == entry["header_lines"] + entry["rows"] + entry["quarantined"]
    # a rejection is final: the next run neither re-reads nor re-reports these files
    assert run_bronze(spark, home).ok


def test_a_file_that_vanishes_between_plan_and_read_is_reported(spark, home):
    """Listed when its batch was planned, deleted before its lines were read."""
    landing = Path(home.landing)
    (landing / "kept.csv").write_text(f"{HEADER}\n{GOOD}\n")
    (landing / "gone.csv").write_text(f"{HEADER}\n{GOOD2}\n")
    for table in BRONZE_TABLES:
        ensure_table(spark, table, table_location(home, table))
    planned = ingest._plan_batch(spark, home, [], 1, new_run_id(), 0.0)
    assert planned is not None and planned.files == ("gone.csv", "kept.csv")
    (landing / "gone.csv").unlink()

    result = LayerResult("bronze", dict.fromkeys(ingest.COUNTS, 0))
    ingest._ingest_batch(spark, home, planned, result)

    assert result.errors == [
        "gone.csv: file disappeared from the landing folder before it was ingested"
    ]
    files = ledger(spark, home)
    assert {n: (f["status"], f["lines"], f["rows"]) for n, f in files.items()} == {
        "gone.csv": ("rejected", 0, 0),
        "kept.csv": ("ingested", 2, 1),
    }
    assert bronze_rows(spark, home) == [(*GOOD.split(","), 2)]
    assert run_bronze(spark, home).counts["files"] == 0  # the batch is complete


def _raw_quarantine(spark, config):
    df = read_table(spark, table_location(config, BRONZE_QUARANTINE))
    return {(r["source_file"], r["line_number"]): r["raw_line"] for r in df.collect()}


def test_generated_files_plain_and_gzip(spark, home, tmp_path):
    generate(GenerateSpec(rows=20_000, days=2, seed=1), Path(home.landing))
    generate(
        GenerateSpec(rows=6_000, days=1, seed=2, gzip=True, start=date(2019, 11, 10)),
        Path(home.landing),
    )
    result = run_bronze(spark, home)
    assert result.counts == {
        "files": 3,
        "lines": 26_003,
        "rows": 26_000,
        "quarantined": 0,
        "rejected_files": 0,
    }
    # counted as written: the ledger holds the committed rows, and a batch without a bad line
    # adds no commit to the quarantine (version 0 is its creation)
    assert sum(f["rows"] for f in ledger(spark, home).values()) == 26_000
    assert read_table(spark, table_location(home, BRONZE_EVENTS)).count() == 26_000
    assert versions(spark, home)[BRONZE_QUARANTINE.name] == 0


def test_files_younger_than_min_file_age_wait_for_a_later_run(spark, home, rees46):
    land(home, rees46 / "2019-Nov-head683-noheader.csv")  # modified just now
    waiting = ingest.run(spark, home, new_run_id(), min_file_age_seconds=3600)
    assert waiting.counts["files"] == 0
    assert ingest.run(spark, home, new_run_id()).counts["rows"] == 683
