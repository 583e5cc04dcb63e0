"""File listing through Hadoop's FileSystem API, so local paths and object storage both work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class FileInfo:
    path: str
    """Fully qualified path as Hadoop reports it (``file:/...``, ``s3a://...``)."""
    relative: str
    """Path relative to the listed folder."""
    size: int
    modified_at: datetime


def normalize_path(path: str) -> str:
    """Canonical form for comparing paths from Hadoop listings and Spark's ``_metadata``."""
    path = unquote(path)
    if path.startswith("file:///"):
        path = "file:/" + path[len("file:///") :]
    return path


def list_files(spark: SparkSession, folder: str, suffixes: tuple[str, ...] = ()) -> list[FileInfo]:
    """All files below ``folder`` (recursively) whose names end with one of ``suffixes``.

    Hidden and temporary files (names starting with ``.`` or ``_``) are skipped, as Spark does.
    A missing folder yields an empty list.
    """
    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(folder)
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(root):
        return []
    root_str = normalize_path(fs.makeQualified(root).toString()).rstrip("/") + "/"
    found: list[FileInfo] = []
    iterator = fs.listFiles(root, True)
    while iterator.hasNext():
        status = iterator.next()
        full = normalize_path(status.getPath().toString())
        relative = (
            full[len(root_str) :] if full.startswith(root_str) else status.getPath().getName()
        )
        if any(part.startswith((".", "_")) for part in relative.split("/")):
            continue
        if suffixes and not relative.lower().endswith(suffixes):
            continue
        found.append(
            FileInfo(
                path=full,
                relative=relative,
                size=status.getLen(),
                modified_at=datetime.fromtimestamp(status.getModificationTime() / 1000, tz=UTC),
            )
        )
    return sorted(found, key=lambda f: f.relative)


def has_delta_commits(spark: SparkSession, location: str) -> bool:
    """True once ``location`` holds a committed Delta table, looking at the files themselves.

    Unlike ``DeltaTable.isDeltaTable``, this does not go through the session's cached
    ``DeltaLog``, which keeps answering "no table" for a path first seen before another
    process created the table there.
    """
    return latest_commit(spark, location) is not None


def _log_files(spark: SparkSession, location: str) -> tuple[Any, list[tuple[int, str, Any]]]:
    """The Hadoop FileSystem of the table's ``_delta_log`` and its commit and checkpoint
    files as ``(version, name, status)``; no files if there is no log."""
    jvm = spark.sparkContext._jvm
    log = jvm.org.apache.hadoop.fs.Path(location.rstrip("/") + "/_delta_log")
    fs = log.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(log):
        return fs, []
    return fs, [
        (int(name.split(".", 1)[0]), name, status)
        for status in fs.listStatus(log)
        for name in [status.getPath().getName()]
        if name.endswith((".json", ".checkpoint.parquet")) and name.split(".", 1)[0].isdigit()
    ]


def latest_commit(spark: SparkSession, location: str) -> tuple[int, datetime] | None:
    """The table's latest committed version and when it was written, from the file names in
    ``_delta_log`` (one listing, no Spark job); ``None`` if there is no table yet."""
    _, files = _log_files(spark, location)
    if not files:
        return None
    version, _, status = max(files, key=lambda f: (f[0], f[2].getModificationTime()))
    return version, datetime.fromtimestamp(status.getModificationTime() / 1000, tz=UTC)


def commit_infos(spark: SparkSession, location: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The ``commitInfo`` of each commit still in the table's log, newest first, read from
    the commit files themselves (no Spark job; a caller that stops early reads one file)."""
    fs, files = _log_files(spark, location)
    jvm = spark.sparkContext._jvm
    commits = (f for f in files if f[1] == f"{f[0]:020d}.json")  # commits, not checkpoints
    for version, _, status in sorted(commits, key=lambda f: f[0], reverse=True):
        reader = jvm.java.io.BufferedReader(
            jvm.java.io.InputStreamReader(fs.open(status.getPath()), "UTF-8")
        )
        try:
            line = reader.readLine()
            while line is not None and not line.startswith('{"commitInfo"'):
                line = reader.readLine()
        finally:
            reader.close()
        if line is not None:
            yield version, json.loads(line)["commitInfo"]


def latest_version(spark: SparkSession, location: str) -> int | None:
    commit = latest_commit(spark, location)
    return None if commit is None else commit[0]
