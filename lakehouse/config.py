"""Typed configuration: where the lakehouse lives and how Spark is started.

Config objects are built once at the edge (the CLI or a ``spark-submit`` entry script) and
passed down; everything below them takes plain values.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.environment import DEFAULT_REPORT_ROWS, Environment, environment
from lakehouse.errors import NeedsAction

DEFAULT_HOME = "lakehouse-home"


class JavaNotFound(NeedsAction):
    """No ``java`` to start Spark's JVM with."""


def require_java(env: Environment | None = None) -> None:
    """Stop with one line, before Spark tries to start, if no JVM can be launched: PySpark
    starts ``$JAVA_HOME/bin/java`` (or ``java`` on the PATH) unless it runs inside one already
    (``spark-submit``)."""
    env = env or environment()
    if env.inside_spark_submit:
        return
    if env.java_home:
        if not (Path(env.java_home) / "bin" / "java").is_file():
            raise JavaNotFound(
                f"JAVA_HOME={env.java_home} has no bin/java: point it at a Java 17 or later install"
            )
    elif shutil.which("java") is None:
        raise JavaNotFound(
            "Spark needs Java 17 or later and no java was found: install a JDK (e.g. "
            "openjdk-17-jdk-headless) or set JAVA_HOME"
        )


def _is_uri(path: str) -> bool:
    return "://" in path or path.startswith("file:")


def normalize_location(path: str) -> str:
    """Return ``path`` as an absolute local path, or unchanged if it is a URI (s3a://...)."""
    if _is_uri(path):
        return path.rstrip("/")
    return str(Path(path).expanduser().resolve())


def join_location(base: str, *parts: str) -> str:
    """Join location parts with ``/`` (works for local paths and object-storage URIs)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


@dataclass(frozen=True)
class SparkSettings:
    """How to start Spark. ``master=None`` means: whatever spark-submit chose, else local[*]."""

    master: str | None = None
    app_name: str = "lakehouse"
    conf: dict[str, str] = field(default_factory=dict)
    """Extra Spark settings (``--conf key=value``); they win over every default."""


@dataclass(frozen=True)
class LakehouseConfig:
    """Where the tables and the raw files live.

    All tables are Delta tables under ``home`` (see :mod:`lakehouse.tables` for the layout);
    raw export files arrive in ``landing`` (default ``<home>/landing``).
    """

    home: str
    landing: str
    report_rows: int = DEFAULT_REPORT_ROWS
    """great-expectations validates at most about this many rows of a silver batch for the
    report (a seeded sample above it); Spark enforces every rule on every row regardless."""

    @classmethod
    def create(
        cls, home: str | None = None, landing: str | None = None, env: Environment | None = None
    ) -> LakehouseConfig:
        """Resolve ``home`` (argument, else ``$LAKEHOUSE_HOME``, else ./lakehouse-home) and
        ``report_rows`` (``$LAKEHOUSE_REPORT_ROWS``, else 100,000)."""
        env = env or environment()
        resolved_home = normalize_location(home or env.home or DEFAULT_HOME)
        resolved_landing = (
            normalize_location(landing) if landing else join_location(resolved_home, "landing")
        )
        return cls(home=resolved_home, landing=resolved_landing, report_rows=env.report_rows)

    def location(self, relative: str) -> str:
        """Absolute location of something stored under home, e.g. ``bronze/events``."""
        return join_location(self.home, relative)
