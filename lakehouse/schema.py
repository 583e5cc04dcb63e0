"""The REES46 export format: column order, header line, event types, timestamp layout."""

from __future__ import annotations

SOURCE_COLUMNS: tuple[str, ...] = (
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
)
HEADER = ",".join(SOURCE_COLUMNS)
FIELD_SEPARATOR = ","
EVENT_TYPES: tuple[str, ...] = ("view", "cart", "remove_from_cart", "purchase")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
"""Layout of event_time in the export, e.g. ``2019-11-01 00:00:00 UTC``."""
RAW_FILE_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz")
