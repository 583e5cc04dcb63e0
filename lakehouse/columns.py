"""Column expressions that more than one layer derives the same way from the export's fields."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def category_segments(category_code: Column) -> tuple[Column, Column]:
    """(main_category, sub_category): first and second segment of ``a.b.c`` codes."""
    parts = F.split(category_code, r"\.")
    return parts.getItem(0), F.element_at(parts, 2)
