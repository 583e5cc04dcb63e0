"""``lakehouse serve``: the Spark Thrift Server over the gold tables, as Tableau expects it.

The server is a Spark driver started from Python with the one session builder
(:mod:`lakehouse.session`): Delta, UTC, an in-memory catalog that only this process uses (so it
never competes with pipeline runs for a metastore), and one view per served table
(:mod:`lakehouse.serving.views`). HiveServer2 runs inside that driver
(``HiveThriftServer2.startWithContext``); a loop re-syncs the views every few seconds so tables
created by a later pipeline run appear without a restart, and re-caches the gold tables that
have a new version (:mod:`lakehouse.serving.cache`).

Authentication maps to Tableau's "Spark SQL" dialog:

===========  =====================  ============================================
``--auth``   HiveServer2 setting    Tableau "Authentication"
===========  =====================  ============================================
none         NOSASL (binary) /      No Authentication (binary); Username (HTTP)
             NONE (HTTP)
username     NONE                   Username (any name, no password)
password     CUSTOM (users file)    Username and Password
===========  =====================  ============================================
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from lakehouse.config import LakehouseConfig, SparkSettings
from lakehouse.environment import TLS_PASSWORD_ENV
from lakehouse.errors import UsageError

log = logging.getLogger("lakehouse.serve")

HTTP_PATH = "cliservice"
DEFAULT_PORTS = {"binary": 10000, "http": 10001}


class Transport(StrEnum):
    BINARY = "binary"
    HTTP = "http"


class Auth(StrEnum):
    NONE = "none"
    USERNAME = "username"
    PASSWORD = "password"


class ServeError(UsageError):
    """Options that cannot be served safely or at all; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    """True if every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as error:
        raise ServeError(f"cannot resolve --host {host!r}: {error}") from error
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def port_is_free(host: str, port: int) -> None:
    """Raise :class:`ServeError` unless ``host:port`` can be listened on right now."""
    if not 0 < port < 65536:
        raise ServeError(f"invalid port {port}")
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise ServeError(f"cannot resolve --host {host!r}: {error}") from error
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # IPv4 or IPv6 (::1)
        try:
            probe.bind(address)
        except OSError as error:
            raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from error


def positive_refresh(seconds: float) -> None:
    """Raise :class:`ServeError` unless ``--refresh-seconds`` is a positive interval."""
    if not seconds > 0:
        raise ServeError(f"--refresh-seconds must be more than 0, not {seconds:g}")


def default_users_file(config: LakehouseConfig) -> Path:
    return Path(config.location("serving/users"))


@dataclass(frozen=True)
class ServeOptions:
    """How the server listens and whom it lets in."""

    host: str = "127.0.0.1"
    port: int | None = None
    """``None``: 10000 for binary, 10001 for HTTP (Hive's defaults)."""
    transport: Transport = Transport.BINARY
    auth: Auth = Auth.NONE
    users_file: Path | None = None
    """Hashed users for ``--auth password`` (default ``<home>/serving/users``)."""
    tls_keystore: Path | None = None
    """PKCS12/JKS keystore with the server's certificate; TLS is on when set."""
    tls_keystore_password: str | None = field(default=None, repr=False)
    """Read from the environment; handed to the running JVM only (:meth:`secret_hadoop_conf`),
    never as a Spark conf, which PySpark would put on spark-submit's command line."""
    allow_insecure_bind: bool = False
    """Allow a non-loopback address without password authentication."""
    allow_cleartext_passwords: bool = False
    """Allow ``--auth password`` on a non-loopback address without TLS (passwords then cross
    the network readable by anyone on the path)."""
    refresh_seconds: float = 5.0
    """How often new tables and new versions of cached tables are looked for."""
    cache_gold: bool = True
    """Keep the gold tables in memory, re-cached on each new version (:mod:`.cache`)."""
    read_only: bool = True
    """Let clients run only queries over the served views, SHOW, DESCRIBE, USE and a few SETs
    (``lakehouse/serving/java/ReadOnlySql.java``); off runs whatever a client sends."""

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.transport.value]

    @property
    def connect_host(self) -> str:
        """Where a client on this machine reaches the server (wildcard -> loopback)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host

    @property
    def hive_auth(self) -> str:
        if self.auth is Auth.PASSWORD:
            return "CUSTOM"
        if self.auth is Auth.NONE and self.transport is Transport.BINARY:
            return "NOSASL"
        return "NONE"

    def validate(self, config: LakehouseConfig) -> None:
        """Refuse unsafe or impossible settings before any JVM starts."""
        positive_refresh(self.refresh_seconds)
        if not is_loopback(self.host) and self.auth is not Auth.PASSWORD:
            if not self.allow_insecure_bind:
                raise ServeError(
                    f"refusing to listen on {self.host} without password authentication: anyone "
                    "who can reach it could read every served table. Use --auth password "
                    "(and --tls-keystore), or --allow-insecure-bind if the network is trusted."
                )
            log.warning("listening on %s without password authentication", self.host)
        if self.auth is Auth.PASSWORD:
            users = self.users_file or default_users_file(config)
            if not users.exists():
                raise ServeError(
                    f"--auth password needs a users file; none at {users}. "
                    "Add a user first: lakehouse users add NAME"
                )
        if (
            self.auth is Auth.PASSWORD
            and self.tls_keystore is None
            and not is_loopback(self.host)
            and not self.allow_cleartext_passwords
        ):
            raise ServeError(
                f"refusing --auth password on {self.host} without TLS: passwords would cross "
                "the network in clear text. Add --tls-keystore, or --allow-cleartext-passwords "
                "if the network is trusted."
            )
        if self.tls_keystore is not None:
            if not self.tls_keystore.is_file():
                raise ServeError(f"TLS keystore not found: {self.tls_keystore}")
            if not self.tls_keystore_password:
                raise ServeError(f"set the keystore password in ${TLS_PASSWORD_ENV}")
        port_is_free(self.host, self.effective_port)

    def hive_conf(self) -> dict[str, str]:
        """HiveServer2 settings, as ``spark.hadoop.*`` keys the server's HiveConf picks up."""
        conf = {
            "hive.server2.thrift.bind.host": self.host,
            "hive.server2.transport.mode": self.transport.value,
            "hive.server2.authentication": self.hive_auth,
            "hive.server2.enable.doAs": "false",
        }
        if self.transport is Transport.HTTP:
            conf["hive.server2.thrift.http.port"] = str(self.effective_port)
            conf["hive.server2.thrift.http.path"] = HTTP_PATH
        else:
            conf["hive.server2.thrift.port"] = str(self.effective_port)
        if self.tls_keystore is not None:
            conf["hive.server2.use.SSL"] = "true"
            conf["hive.server2.keystore.path"] = str(self.tls_keystore.resolve())
        return {f"spark.hadoop.{key}": value for key, value in conf.items()}

    def extension_conf(self) -> dict[str, str]:
        """The session extensions: Delta's, and the read-only check unless it is off."""
        from lakehouse.serving.classpath import READ_ONLY_EXTENSION
        from lakehouse.session import DEFAULT_CONF

        extensions = DEFAULT_CONF["spark.sql.extensions"]
        if self.read_only:
            extensions += f",{READ_ONLY_EXTENSION}"
        return {"spark.sql.extensions": extensions}

    def secret_hadoop_conf(self) -> dict[str, str]:
        """Settings that must not appear in any process's arguments: set on the running
        driver's Hadoop configuration, which HiveServer2 copies into its HiveConf."""
        if self.tls_keystore is None:
            return {}
        return {"hive.server2.keystore.password": self.tls_keystore_password or ""}

    def java_properties(self, config: LakehouseConfig) -> dict[str, str]:
        """JVM system properties: Hive reads the password provider from a fresh HiveConf."""
        if self.auth is not Auth.PASSWORD:
            return {}
        from lakehouse.serving.classpath import AUTHENTICATOR_CLASS

        users = self.users_file or default_users_file(config)
        return {
            "hive.server2.custom.authentication.class": AUTHENTICATOR_CLASS,
            "lakehouse.serving.users.file": str(users.resolve()),
        }

    def jdbc_url(self, schema: str = "gold") -> str:
        """The URL for beeline / any Hive JDBC client."""
        url = f"jdbc:hive2://{self.connect_host}:{self.effective_port}/{schema}"
        if self.hive_auth == "NOSASL":
            url += ";auth=noSasl"
        if self.transport is Transport.HTTP:
            url += f";transportMode=http;httpPath={HTTP_PATH}"
        if self.tls_keystore is not None:
            url += ";ssl=true;sslTrustStore=<truststore>;trustStorePassword=<password>"
        return url

    def describe(self) -> list[str]:
        """Connection details, as printed at start-up."""
        tableau = {
            "NOSASL": 'Authentication "No Authentication"',
            "NONE": 'Authentication "Username" (any name)',
            "CUSTOM": 'Authentication "Username and Password"',
        }[self.hive_auth]
        return [
            f"  host        {self.host}",
            f"  port        {self.effective_port} ({self.transport.value} transport"
            + (f", HTTP path /{HTTP_PATH})" if self.transport is Transport.HTTP else ")"),
            f"  auth        {self.auth.value} (HiveServer2 {self.hive_auth}; Tableau: {tableau})",
            f"  TLS         {'on' if self.tls_keystore else 'off'}",
            "  SQL         "
            + (
                "read-only (queries over the served views, SHOW, DESCRIBE, USE)"
                if self.read_only
                else "ANY statement (--read-only off): clients can run code and write files"
            ),
            "  cache       "
            + (
                f"gold in memory, re-cached within {self.refresh_seconds:g} s of a new version"
                if self.cache_gold
                else "off (every query reads the Delta tables)"
            ),
            f"  JDBC URL    {self.jdbc_url()}",
        ]


def server_settings(
    options: ServeOptions, config: LakehouseConfig, base: SparkSettings, scratch: Path
) -> SparkSettings:
    """Spark settings for the server driver: Delta jars on the system class path, Hive conf."""
    from lakehouse.serving.classpath import server_classpath
    from lakehouse.session import LOCAL_CONF

    jars = server_classpath(with_serving_jar=options.auth is Auth.PASSWORD or options.read_only)
    java_options = (
        LOCAL_CONF["spark.driver.extraJavaOptions"]
        if (base.master or "local").startswith("local")
        else "-Duser.timezone=UTC"
    )
    properties = {"derby.stream.error.file": str(scratch / "derby.log")}
    properties.update(options.java_properties(config))
    java_options += "".join(f' "-D{key}={value}"' for key, value in properties.items())
    conf = {
        "spark.app.name": "lakehouse-thrift-server",
        # The jars are on the class path already; skip the Ivy resolution at each start.
        "spark.jars.packages": "",
        "spark.driver.extraClassPath": os.pathsep.join(str(j) for j in jars),
        "spark.driver.extraJavaOptions": java_options,
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.hadoop.hive.exec.scratchdir": str(scratch / "hive-scratch"),
        "spark.hadoop.hive.exec.local.scratchdir": str(scratch / "hive-local"),
        "spark.hadoop.hive.server2.logging.operation.log.location": str(scratch / "operation"),
        "spark.sql.hive.thriftServer.singleSession": "false",
        "spark.ui.enabled": "false",
        **options.extension_conf(),
        **options.hive_conf(),
        **base.conf,
    }
    return SparkSettings(master=base.master, app_name="lakehouse-thrift-server", conf=conf)


def _trust_only(spark, config: LakehouseConfig) -> None:
    """Tell the read-only check which session is the server's own (the one trusted to create
    views and cache gold) and what clients may read: the served schemas and Delta paths."""
    from lakehouse.delta_io import table_location
    from lakehouse.tables import SERVED_TABLES

    schemas = sorted({table.schema for table in SERVED_TABLES})
    locations = [table_location(config, table) for table in SERVED_TABLES]
    spark.sparkContext._jvm.lakehouse.serving.ReadOnlySql.serve(
        spark._jsparkSession, "\n".join(schemas), "\n".join(locations)
    )


def _wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not open {host}:{port}") from None
            time.sleep(0.2)


def serve(
    options: ServeOptions,
    config: LakehouseConfig,
    base: SparkSettings,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run the server until SIGTERM or Ctrl-C."""
    from lakehouse.serving.cache import GoldCache
    from lakehouse.serving.views import sync_views
    from lakehouse.session import get_spark

    options.validate(config)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="lakehouse-serve-") as tmp:
        scratch = Path(tmp)
        spark = get_spark(server_settings(options, config, base, scratch))
        try:
            if options.read_only:
                _trust_only(spark, config)
            states: dict = {}
            cache = GoldCache() if options.cache_gold else None
            sync_views(spark, config, states)
            if cache:
                cache.refresh(spark, config, states)
            hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
            for key, value in options.secret_hadoop_conf().items():
                hadoop_conf.set(key, value)
            jvm = spark.sparkContext._jvm
            server = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
                spark._jsparkSession.sqlContext()
            )
            _wait_for_port(options.connect_host, options.effective_port, timeout=120)
            if on_ready:
                on_ready()
            with _jvm_may_be_gone(stop), contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(options.refresh_seconds):
                    changed = sync_views(spark, config, states)
                    for name in changed:
                        log.info("now serving %s (%s)", name, states[name].value)
                    if cache:
                        cache.forget(changed)
                        cache.refresh(spark, config, states)
            log.info("stopping the server")
            with _jvm_may_be_gone(stop):
                server.stop()
        finally:
            with _jvm_may_be_gone(stop):
                spark.stop()
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _jvm_may_be_gone(stop: threading.Event) -> Iterator[None]:
    """Ignore a failed call into the JVM once SIGTERM was received: when the signal went to the
    whole process group (systemd, a container stop), the JVM is going down on its own, which
    is the stop that was asked for."""
    try:
        yield
    except Exception:
        if not stop.is_set():
            raise
        log.info("the JVM had already stopped (SIGTERM to the process group)")
