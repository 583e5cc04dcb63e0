"""Pure transformations of raw export lines: number them, check them, split them.

Input is a DataFrame of text lines with their file and position in the file scan (see
:func:`bronze.ingest.read_lines`); nothing here reads or writes storage.

A line ends up in exactly one of three places: the file's header (line 1 only), a bronze row
(nine fields), or the quarantine (with a reason). Reasons are ``code: explanation`` strings;
the codes are stable and listed in :data:`REASON_CODES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.schema import FIELD_SEPARATOR, HEADER, SOURCE_COLUMNS

BOM = "\ufeff"
_DATA_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}")

REASON_CODES = {
    "field_count": "the line does not split into the nine export fields",
    "undecodable": "the line holds bytes that are not valid UTF-8",
    "stray_header": "a header line in the middle of a file",
    "empty_line": "an empty line",
    "file_rejected": "the whole file was rejected (e.g. a wrong header); every line kept here",
}


class HeaderKind(StrEnum):
    HEADER = "header"
    """Line 1 is the expected header: it is not data."""
    NONE = "none"
    """Line 1 is data: the file has no header line."""
    WRONG = "wrong"
    """Line 1 is a header, but not the expected one: the file is rejected."""


@dataclass(frozen=True)
class HeaderCheck:
    kind: HeaderKind
    message: str = ""


def check_header(first_line: str | None) -> HeaderCheck:
    """Decide what line 1 of a file is.

    >>> check_header(HEADER).kind
    <HeaderKind.HEADER: 'header'>
    >>> check_header("2019-11-01 00:00:00 UTC,view,1,2,,,1.00,3,s").kind
    <HeaderKind.NONE: 'none'>
    """
    if first_line is None:
        return HeaderCheck(HeaderKind.NONE)
    line = first_line.lstrip(BOM).strip()
    if line == HEADER:
        return HeaderCheck(HeaderKind.HEADER)
    if _DATA_LINE.match(line):
        return HeaderCheck(HeaderKind.NONE)
    shown = line if len(line) <= 200 else line[:200] + "..."
    return HeaderCheck(
        HeaderKind.WRONG,
        f"wrong header: found {shown!r}, expected {HEADER!r} "
        "(the nine REES46 columns in this order, or no header line at all)",
    )


def block_stats(lines: DataFrame) -> DataFrame:
    """Per scanned block of each file: line count, row-id range and (for block 0) line 1.

    Needs columns ``file_path``, ``block_start``, ``row_id``, ``value``.
    """
    return lines.groupBy("file_path", "block_start").agg(
        F.count(F.lit(1)).alias("lines"),
        F.min("row_id").alias("min_row_id"),
        F.max("row_id").alias("max_row_id"),
        F.min_by("value", "row_id").alias("first_line"),
    )


def number_lines(lines: DataFrame, blocks: DataFrame) -> DataFrame:
    """Attach ``source_file``, ``line_number`` and ``header_kind`` to every line.

    ``blocks`` has one row per (file_path, block_start) with ``source_file``,
    ``first_line_number`` (line number of the block's first line), ``min_row_id`` and
    ``header_kind``. Within a block, row ids are consecutive in line order.
    """
    joined = lines.join(F.broadcast(blocks), ["file_path", "block_start"])
    return joined.select(
        "value",
        "source_file",
        (F.col("first_line_number") + F.col("row_id") - F.col("min_row_id")).alias("line_number"),
        "header_kind",
    )


def _reason(code: str, detail: Column | str | None = None) -> Column:
    if detail is None:
        return F.lit(f"{code}: {REASON_CODES[code]}")
    if isinstance(detail, str):
        return F.lit(f"{code}: {detail}")
    return F.concat(F.lit(f"{code}: "), detail)


def classify_lines(numbered: DataFrame, rejections: DataFrame | None = None) -> DataFrame:
    """Add ``reason`` (NULL for a data line) and ``is_header`` to numbered lines.

    ``rejections`` (source_file, message) lists files rejected as a whole: all their lines are
    quarantined with that message.
    """
    value = F.col("value")
    n_fields = F.size(F.split(value, FIELD_SEPARATOR, -1))
    is_first = F.col("line_number") == 1
    stripped = F.when(is_first, F.regexp_replace(value, f"^{BOM}", "")).otherwise(value)
    df = numbered.withColumn("value", stripped)
    if rejections is not None:
        df = df.join(
            F.broadcast(rejections.select("source_file", "message")), "source_file", "left"
        )
    else:
        df = df.withColumn("message", F.lit(None).cast("string"))
    is_header = is_first & (F.col("header_kind") == HeaderKind.HEADER.value)
    reason = (
        F.when(F.col("message").isNotNull(), _reason("file_rejected", F.col("message")))
        .when(is_header, F.lit(None))
        .when(~F.is_valid_utf8(value), _reason("undecodable"))
        .when(F.trim(value) == "", _reason("empty_line"))
        .when(F.trim(value) == HEADER, _reason("stray_header"))
        .when(
            n_fields != len(SOURCE_COLUMNS),
            _reason(
                "field_count",
                F.format_string(f"found %d fields, expected {len(SOURCE_COLUMNS)}", n_fields),
            ),
        )
    )
    return df.withColumn("is_header", is_header & F.col("message").isNull()).withColumn(
        "reason", reason
    )


def data_rows(classified: DataFrame) -> DataFrame:
    """Good lines split into the nine raw fields (empty field -> NULL) plus their position."""
    parts = F.split(F.col("value"), FIELD_SEPARATOR, -1)
    fields = [
        F.nullif(parts.getItem(i), F.lit("")).alias(name) for i, name in enumerate(SOURCE_COLUMNS)
    ]
    good = classified.where(F.col("reason").isNull() & ~F.col("is_header"))
    return good.select(*fields, "source_file", "line_number")


def quarantined_lines(classified: DataFrame) -> DataFrame:
    """Lines with a reason, their text made valid UTF-8 (bad bytes become U+FFFD)."""
    return classified.where(F.col("reason").isNotNull()).select(
        F.make_valid_utf8(F.col("value")).alias("raw_line"),
        "reason",
        "source_file",
        "line_number",
    )
