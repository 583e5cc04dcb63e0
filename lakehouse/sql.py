"""Small helpers for writing Spark SQL text."""

from __future__ import annotations


def sql_string(value: str) -> str:
    """A Spark SQL string literal for ``value`` (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
