"""Every environment variable the lakehouse reads or sets, in one place.

Modules take an :class:`Environment` (or a value from it) instead of reading ``os.environ``
themselves; it is read when asked for, so a test or a caller that changes the environment sees
the change. The two variables the lakehouse sets for libraries it starts are set here too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import NeedsAction

HOME_ENV = "LAKEHOUSE_HOME"
REPORT_ROWS_ENV = "LAKEHOUSE_REPORT_ROWS"
EXPECTATIONS_ENV = "LAKEHOUSE_EXPECTATIONS"
DRIVER_MEMORY_ENV = "LAKEHOUSE_DRIVER_MEMORY"
SPARK_LOG_LEVEL_ENV = "LAKEHOUSE_SPARK_LOG_LEVEL"
DEBUG_ENV = "LAKEHOUSE_DEBUG"
CRASH_ENV = "LAKEHOUSE_CRASH_AT"
PASSWORD_ENV = "LAKEHOUSE_THRIFT_PASSWORD"
TLS_PASSWORD_ENV = "LAKEHOUSE_TLS_KEYSTORE_PASSWORD"
LOCAL_IP_ENV = "SPARK_LOCAL_IP"
GATEWAY_PORT_ENV = "PYSPARK_GATEWAY_PORT"

DEFAULT_REPORT_ROWS = 100_000
DEFAULT_DRIVER_MEMORY = "4g"
DEFAULT_SPARK_LOG_LEVEL = "ERROR"


class BadEnvironment(NeedsAction):
    """A variable is set to a value the lakehouse cannot use."""


@dataclass(frozen=True)
class Environment:
    """The variables, parsed; ``None`` where a variable is unset. Reading never fails: a
    value that must be parsed is checked when it is used."""

    home: str | None = None
    """``LAKEHOUSE_HOME``: the home when no ``--home`` is given."""
    report_rows_text: str | None = None
    """``LAKEHOUSE_REPORT_ROWS`` as set (parsed by :attr:`report_rows`)."""
    expectations: Path | None = None
    """``LAKEHOUSE_EXPECTATIONS``: a folder of suites to use instead of the packaged ones."""
    driver_memory: str = DEFAULT_DRIVER_MEMORY
    """``LAKEHOUSE_DRIVER_MEMORY``: the local driver JVM's heap."""
    spark_log_level: str = DEFAULT_SPARK_LOG_LEVEL
    """``LAKEHOUSE_SPARK_LOG_LEVEL``: Spark's log level once the session is up."""
    debug: bool = False
    """``LAKEHOUSE_DEBUG``: print tracebacks and Spark's failed plans."""
    crash_at: str | None = None
    """``LAKEHOUSE_CRASH_AT``: the crash point to die at (tests, lakehouse.faults)."""
    thrift_password: str | None = None
    """``LAKEHOUSE_THRIFT_PASSWORD``: the dashboard's password for the Thrift server."""
    tls_keystore_password: str | None = None
    """``LAKEHOUSE_TLS_KEYSTORE_PASSWORD``: the server's keystore password."""
    java_home: str | None = None
    """``JAVA_HOME``: the JVM PySpark starts."""
    inside_spark_submit: bool = False
    """``PYSPARK_GATEWAY_PORT`` is set: this driver runs in a JVM spark-submit started."""
    cache_home: Path = Path.home() / ".cache"
    """``XDG_CACHE_HOME``, else ``~/.cache``: where the server keeps its resolved jars."""

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """Parse ``environ`` (default: this process's environment)."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        expectations = text(EXPECTATIONS_ENV)
        return cls(
            home=text(HOME_ENV),
            report_rows_text=text(REPORT_ROWS_ENV),
            expectations=Path(expectations) if expectations else None,
            driver_memory=text(DRIVER_MEMORY_ENV) or DEFAULT_DRIVER_MEMORY,
            spark_log_level=text(SPARK_LOG_LEVEL_ENV) or DEFAULT_SPARK_LOG_LEVEL,
            debug=bool(text(DEBUG_ENV)),
            crash_at=text(CRASH_ENV),
            thrift_password=env.get(PASSWORD_ENV),
            tls_keystore_password=env.get(TLS_PASSWORD_ENV),
            java_home=text("JAVA_HOME"),
            inside_spark_submit=GATEWAY_PORT_ENV in env,
            cache_home=Path(text("XDG_CACHE_HOME") or Path.home() / ".cache"),
        )

    @property
    def report_rows(self) -> int:
        """Rows great-expectations validates for a batch's report (default 100,000); raises
        :class:`BadEnvironment` for a value that is not a whole number >= 1."""
        return _report_rows(self.report_rows_text)


def environment() -> Environment:
    """This process's environment, as it is now."""
    return Environment.read()


def _report_rows(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_REPORT_ROWS
    if not raw.isdigit() or int(raw) < 1:
        raise BadEnvironment(f"{REPORT_ROWS_ENV} must be a whole number of rows >= 1, not {raw!r}")
    return int(raw)


def bind_local_driver_to_loopback() -> None:
    """A local driver JVM binds its RPC, block manager and Spark UI (port 4040, no
    authentication) to ``SPARK_LOCAL_IP``, and to every interface without it: make it
    loopback unless the caller chose an address."""
    os.environ.setdefault(LOCAL_IP_ENV, "127.0.0.1")


def quiet_great_expectations() -> None:
    """No usage analytics and no progress bars from great-expectations (set before its
    import, unless the caller chose otherwise)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TQDM_DISABLE", "1")
