"""Every table of the lakehouse, declared once: name, location, columns, keys, partitioning.

Jobs, tests, docs and the server all read these declarations. Locations are relative to the
lakehouse home; every table is a Delta table that any Delta reader can open by path.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.schema import SOURCE_COLUMNS


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""


@dataclass(frozen=True)
class Table:
    """A declared Delta table."""

    name: str
    """Qualified name, ``<layer>.<table>``, as the server exposes it."""
    location: str
    """Location relative to the lakehouse home."""
    columns: tuple[Column, ...]
    description: str
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self) -> str:
        """Column list in Spark DDL, e.g. ``a STRING COMMENT '...', b BIGINT``."""
        parts = []
        for c in self.columns:
            comment = c.comment.replace("'", "\\'")
            parts.append(f"`{c.name}` {c.type}" + (f" COMMENT '{comment}'" if comment else ""))
        return ", ".join(parts)


_RAW_FIELDS = tuple(
    Column(name, "STRING", "raw field value as exported; empty field -> NULL")
    for name in SOURCE_COLUMNS
)
_LINEAGE = (
    Column("source_file", "STRING", "file path relative to the landing folder"),
    Column("line_number", "BIGINT", "1-based line number in the source file (header = line 1)"),
    Column("batch_id", "BIGINT", "bronze ingestion batch (see bronze.files)"),
    Column("run_id", "STRING", "id of the run that planned the batch"),
    Column("ingested_at", "TIMESTAMP", "when the batch was planned (UTC)"),
)

BRONZE_EVENTS = Table(
    name="bronze.events",
    location="bronze/events",
    columns=_RAW_FIELDS + _LINEAGE,
    keys=("source_file", "line_number"),
    description="One row per data line of every ingested file, raw string values.",
)

BRONZE_QUARANTINE = Table(
    name="quarantine.bronze_events",
    location="quarantine/bronze_events",
    columns=(
        Column("raw_line", "STRING", "the line as read (undecodable bytes shown as U+FFFD)"),
        Column("reason", "STRING", "why the line could not become a bronze row"),
        *_LINEAGE,
    ),
    keys=("source_file", "line_number"),
    description="Lines that could not be split into the nine export fields, with a reason.",
)

BRONZE_FILES = Table(
    name="bronze.files",
    location="bronze/files",
    columns=(
        Column("source_file", "STRING", "file path relative to the landing folder"),
        Column("batch_id", "BIGINT", "batch that ingests the file"),
        Column("status", "STRING", "pending | ingested | rejected"),
        Column("size_bytes", "BIGINT"),
        Column("modified_at", "TIMESTAMP", "file modification time when planned"),
        Column("lines", "BIGINT", "lines read from the file"),
        Column("header_lines", "BIGINT", "1 if the file starts with the export header"),
        Column("rows", "BIGINT", "rows written to bronze.events"),
        Column("quarantined", "BIGINT", "lines written to quarantine.bronze_events"),
        Column("message", "STRING", "why a file was rejected"),
        Column("run_id", "STRING", "run that planned the batch"),
        Column("planned_at", "TIMESTAMP"),
        Column("completed_at", "TIMESTAMP"),
    ),
    keys=("source_file",),
    description="Ledger of landing files: each file is planned once, then ingested or rejected.",
)

BRONZE_TABLES = (BRONZE_EVENTS, BRONZE_QUARANTINE, BRONZE_FILES)
ALL_TABLES: tuple[Table, ...] = BRONZE_TABLES
