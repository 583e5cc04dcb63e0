"""The sample-data generator: exact format, exact row count, deterministic, realistic shares."""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from lakehouse.generate import GenerateSpec, generate
from lakehouse.schema import EVENT_TYPES, HEADER

LINE = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC,(view|cart|remove_from_cart|purchase),\d+,\d+,"
    r"[a-z_.]*,[a-z0-9]*,\d+\.\d{2},\d+,([0-9a-f-]{36})?$"
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("gen")
    return generate(GenerateSpec(rows=50_000, days=5, start=date(2019, 11, 1), seed=7), out)


def test_one_file_per_day_with_header_and_exact_row_count(sample):
    assert [p.name for p in sample] == [f"events-2019-11-0{d}.csv" for d in range(1, 6)]
    total = 0
    for path in sample:
        lines = path.read_text().split("\n")
        assert lines[0] == HEADER
        assert lines[-1] == ""  # ends with a newline
        body = lines[1:-1]
        assert all(LINE.match(line) for line in body), next(
            line for line in body if not LINE.match(line)
        )
        day = path.name[len("events-") : -len(".csv")]
        assert all(line.startswith(day) for line in body)
        total += len(body)
    assert total == 50_000


def test_realistic_shares(sample):
    files = ", ".join(f"'{p}'" for p in sample)
    shares = duckdb.sql(
        f"""with rel as (select * from read_csv([{files}], all_varchar = true))
            select avg((brand is null)::int), avg((category_code is null)::int),
                   sum((price = '0.00')::int),
                   count(*) - (select count(*) from (select distinct * from rel)),
                   count(distinct event_type)
            from rel"""
    ).fetchall()[0]
    null_brand, null_category, zero_prices, duplicates, kinds = shares
    assert 0.08 < null_brand < 0.2
    assert 0.25 < null_category < 0.4
    assert zero_prices > 0
    assert 25 <= duplicates <= 100  # about 0.1% exact duplicate lines
    assert kinds == len(EVENT_TYPES)


def test_deterministic_for_a_seed_and_gzip(tmp_path):
    spec = GenerateSpec(rows=3_000, days=2, seed=3)
    a = generate(spec, tmp_path / "a")
    b = generate(spec, tmp_path / "b")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in a]
    assert digest == [hashlib.sha256(p.read_bytes()).hexdigest() for p in b]
    zipped = generate(GenerateSpec(rows=3_000, days=2, seed=3, gzip=True), tmp_path / "c")
    assert [gzip.decompress(p.read_bytes()) for p in zipped] == [p.read_bytes() for p in a]
    other = generate(GenerateSpec(rows=3_000, days=2, seed=4), tmp_path / "d")
    assert other[0].read_bytes() != a[0].read_bytes()
