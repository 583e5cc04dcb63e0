"""Gold held in the server's memory, rebuilt whenever a pipeline run commits a new version.

A dashboard query over a served view costs about 0.4-0.8 s on two cores even when the gold
table is a few megabytes: planning the Delta scan and reading Parquet, per query. Gold is small
(at 10M events its tables hold under 50 MB of Parquet), so the server caches it (``CACHE
TABLE``) and queries read columnar data from memory instead (docs/performance.md).

A cached Delta table does not follow new versions by itself: Spark matches the cached plan by
path, not by version, so queries would keep the version that was cached (delta-io/delta#6936).
:class:`GoldCache` therefore remembers which version each cache holds and, on every refresh of
the server, re-caches the tables whose ``_delta_log`` shows a newer commit. Until a refresh
notices a new version (at most one interval) clients read the previous one: every answer is a
committed state, a few seconds late at most.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from lakehouse.config import LakehouseConfig
from lakehouse.delta_io import table_location
from lakehouse.serving.views import ViewState
from lakehouse.storage import latest_version
from lakehouse.tables import GOLD_TABLES, Table

log = logging.getLogger("lakehouse.serve")


@dataclass
class GoldCache:
    """Which version of each served table is cached; :meth:`refresh` brings them up to date."""

    tables: tuple[Table, ...] = GOLD_TABLES
    cached: dict[str, int] = field(default_factory=dict)
    """Table name -> the version listed just before its ``CACHE TABLE`` (the cache holds that
    version or a later one, never an earlier one)."""

    def forget(self, names: Iterable[str]) -> None:
        """Views that were (re)created: replacing a view drops its cache, so cache it again."""
        for name in names:
            self.cached.pop(name, None)

    def refresh(
        self, spark: SparkSession, config: LakehouseConfig, views: dict[str, ViewState]
    ) -> list[str]:
        """Cache every live view whose table has a version not cached yet; return their names.

        Every outdated cache is dropped first, so that while the new versions are cached one by
        one, queries read the latest version from the Delta tables rather than an old cache.
        Placeholder views (no table yet) are not cached. A table that fails to cache is logged
        and tried again on the next refresh; meanwhile its queries read the Delta table itself.
        """
        outdated = []
        for table in self.tables:
            if views.get(table.name) is not ViewState.LIVE:
                continue
            version = latest_version(spark, table_location(config, table))
            if version is not None and self.cached.get(table.name) != version:
                outdated.append((table, version))
        for table, _ in outdated:
            if self.cached.pop(table.name, None) is not None:
                spark.sql(f"UNCACHE TABLE IF EXISTS {table.quoted_name}")
        refreshed = []
        for table, version in outdated:
            started = time.perf_counter()
            try:
                spark.sql(f"CACHE TABLE {table.quoted_name}")
            except Exception as error:  # the server keeps serving; the next refresh retries
                log.warning("could not cache %s version %d: %s", table.name, version, error)
                continue
            self.cached[table.name] = version
            refreshed.append(table.name)
            log.info(
                "cached %s version %d in %.1f s", table.name, version, time.perf_counter() - started
            )
        return refreshed
