"""Independent readings of raw export files, in plain Python, to check the pipeline against."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from lakehouse.schema import HEADER, SOURCE_COLUMNS


@dataclass
class FileOracle:
    lines: int
    header_lines: int
    rows: list[tuple]
    """(nine fields with '' -> None..., line_number) for every good data line."""
    bad: dict[int, str]
    """line_number -> reason code for every quarantined line."""


def read_raw_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    lines = re.split(rb"\r\n|\r|\n", data)
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def expected_bronze(path: Path) -> FileOracle:
    lines = read_raw_lines(path)
    first = lines[0].decode("utf-8", "replace").lstrip("\ufeff").strip() if lines else ""
    has_header = first == HEADER
    rows, bad = [], {}
    for number, raw in enumerate(lines, start=1):
        if number == 1 and has_header:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad[number] = "undecodable"
            continue
        if number == 1:
            text = text.lstrip("\ufeff")
        if text.strip() == "":
            bad[number] = "empty_line"
        elif text.strip() == HEADER:
            bad[number] = "stray_header"
        elif len(text.split(",")) != len(SOURCE_COLUMNS):
            bad[number] = "field_count"
        else:
            rows.append((*[v if v != "" else None for v in text.split(",")], number))
    return FileOracle(len(lines), int(has_header), rows, bad)


def duckdb_events(paths: list[Path]):
    """A DuckDB connection with table ``raw``: the good data lines of ``paths`` as strings
    (read by :func:`expected_bronze`), and view ``events``: distinct parsed events."""
    import duckdb
    import pandas as pd

    rows = [r[:-1] for p in paths for r in expected_bronze(p).rows]
    frame = pd.DataFrame(rows, columns=list(SOURCE_COLUMNS), dtype="string")  # noqa: F841
    con = duckdb.connect()
    con.execute("create table raw as select * from frame")
    con.execute(
        """create view events as
           select distinct strptime(event_time, '%Y-%m-%d %H:%M:%S UTC') as event_time,
                  event_type, product_id::bigint as product_id, category_id::bigint as category_id,
                  category_code, brand, price::decimal(10,2) as price, user_id::bigint as user_id,
                  user_session
           from raw"""
    )
    return con
