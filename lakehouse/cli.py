"""The ``lakehouse`` command line.

Exit codes (stable, for scripts):
  0  success
  1  the run failed (nothing half-done stays visible; run it again to finish)
  2  usage error (bad arguments)
  3  the run finished, but some input was rejected (e.g. a file with a wrong header); the
     rejection is recorded and not repeated by later runs
  4  another run is writing to the same home (nothing was done; see --wait)
  5  a data-quality rule of severity ``fail`` did not hold: the message names each rule, its
     failing count and the report; the batch stays in flight, and a rerun fails the same way
     until the data is repaired

Set LAKEHOUSE_DEBUG=1 to see the full traceback of a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.config import LakehouseConfig, NeedsAction, SparkSettings
from lakehouse.dates import DateRange
from lakehouse.environment import HOME_ENV, PASSWORD_ENV, TLS_PASSWORD_ENV, environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.pipeline import RunOptions
    from lakehouse.serving.server import ServeOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTED, EXIT_BUSY, EXIT_QUALITY = 0, 1, 2, 3, 4, 5
log = logging.getLogger("lakehouse")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clickstream-lakehouse")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _layers(text: str) -> list[str]:
    from lakehouse.pipeline import LAYERS

    layers = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in layers if name not in LAYERS]
    if unknown or not layers:
        raise argparse.ArgumentTypeError(
            f"unknown layer(s) {unknown}; choose from {', '.join(LAYERS)}"
        )
    return layers


def _table_names(text: str) -> list[str]:
    from lakehouse.tables import ALL_TABLES

    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {t.name for t in ALL_TABLES}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown table(s) {unknown}; choose from {', '.join(sorted(known))}"
        )
    return names


def _date_range(text: str) -> DateRange:
    try:
        return DateRange.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected FIRST..LAST in YYYY-MM-DD, or one date ({error})"
        ) from None


def _storage_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where the lakehouse lives")
    group.add_argument(
        "--home",
        help=f"root folder or URI of all tables (default: ${HOME_ENV}, else ./lakehouse-home)",
    )
    group.add_argument("--landing", help="folder where raw export files arrive (<home>/landing)")


def _spark_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("spark")
    group.add_argument("--master", help="Spark master URL (default: spark-submit's, else local[*])")
    group.add_argument(
        "--conf",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting, repeatable; wins over every default",
    )


def build_parser() -> argparse.ArgumentParser:
    from lakehouse.pipeline import LAYERS

    parser = argparse.ArgumentParser(
        prog="lakehouse",
        description="Delta Lake medallion lakehouse for REES46-format clickstream exports.",
        epilog="Exit codes: 0 ok, 1 run failed, 2 usage error, 3 finished with rejected input, "
        "4 another run is writing to the same home, 5 a data-quality rule of severity 'fail' "
        "did not hold (repair the data, then run again).",
    )
    parser.add_argument("--version", action="version", version=f"lakehouse {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="only print the summary")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser(
        "generate",
        parents=[common],
        help="write sample daily export files",
        description="Write daily files in the exact REES46 export format (header, "
        "'YYYY-MM-DD HH:MM:SS UTC', no quoting, empty fields for nulls). Deterministic.",
    )
    gen.add_argument("--out", required=True, type=Path, help="folder to write the files to")
    gen.add_argument(
        "--rows", type=_positive_int, default=100_000, help="total rows (default 100000)"
    )
    gen.add_argument(
        "--days", type=_positive_int, default=7, help="number of daily files (default 7)"
    )
    gen.add_argument(
        "--start", type=date.fromisoformat, default=date(2019, 11, 1), help="first day"
    )
    gen.add_argument("--seed", type=int, default=46, help="random seed (default 46)")
    gen.add_argument("--gzip", action="store_true", help="write .csv.gz files")

    run = sub.add_parser(
        "run",
        parents=[common],
        help="run the pipeline (all layers or some)",
        description="Ingest new landing files and update the tables, incrementally. Safe to "
        "re-run at any time; a run killed midway is completed by the next one.",
    )
    _storage_args(run)
    _spark_args(run)
    run.add_argument(
        "--layers",
        type=_layers,
        default=list(LAYERS),
        help=f"comma-separated layers to run (default: all: {','.join(LAYERS)})",
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the layers run from their inputs instead of adding what is new "
        "(bronze: from every landing file; silver: from all of bronze; gold: every date); "
        "layers after a rebuilt one rebuild on their next run",
    )
    run.add_argument(
        "--dates",
        type=_date_range,
        metavar="FIRST..LAST",
        help="reprocess these event dates (e.g. 2019-11-01..2019-11-03, or one date): silver "
        "re-derives them from bronze with the current rules, gold recomputes them",
    )
    run.add_argument(
        "--min-file-age",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="skip landing files modified less than this long ago (still being written)",
    )
    _wait_arg(run)

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="generate sample data and run every layer end to end",
        description="Make sample data in <home>/landing, run every layer, print a summary.",
    )
    _storage_args(demo)
    _spark_args(demo)
    demo.add_argument(
        "--rows", type=_positive_int, default=200_000, help="sample rows (default 200000)"
    )
    demo.add_argument("--days", type=_positive_int, default=7, help="daily files (default 7)")
    demo.add_argument("--seed", type=int, default=46)
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep serving the tables over the Thrift server (defaults of 'serve')",
    )
    demo.add_argument("--port", type=int, help="with --serve: the server's port (10000)")
    _wait_arg(demo)

    status = sub.add_parser(
        "status",
        parents=[common],
        help="recent runs, each table's version, rows and freshness, the last data-quality result",
        description="Read the run log (ops.run_log), every table's latest Delta commit and row "
        "count, and the latest data-quality results; also says whether a run holds the writer "
        "lock. Reads only; safe while a run or the server is active.",
    )
    _storage_args(status)
    _spark_args(status)
    status.add_argument("--runs", type=int, default=10, help="how many run-log rows (10)")
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")

    maintain = sub.add_parser(
        "maintain",
        parents=[common],
        help="compact small files and vacuum old ones, safely while the server serves",
        description="For every table: compact small files into larger ones (Delta OPTIMIZE; "
        "same rows, new version), then delete the files that no version younger than the "
        "retention period needs (VACUUM). Queries running on the Thrift server keep working: "
        "they read versions younger than the retention. Holds the writer lock like a run and "
        "logs itself in ops.run_log.",
    )
    _storage_args(maintain)
    _spark_args(maintain)
    maintain.add_argument(
        "--retain-hours",
        type=float,
        default=168.0,
        metavar="HOURS",
        help="keep every file a version younger than this needs (default 168: a week of "
        "time travel; at least 1)",
    )
    maintain.add_argument(
        "--tables",
        type=_table_names,
        help="comma-separated table names, e.g. silver.events,gold.orders (default: all)",
    )
    maintain.add_argument("--no-compact", action="store_true", help="only vacuum")
    maintain.add_argument("--no-vacuum", action="store_true", help="only compact")
    _wait_arg(maintain)

    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="serve gold (and dq, ops) over the Spark Thrift Server for Tableau / JDBC / ODBC",
        description="Start a Spark Thrift Server (HiveServer2 protocol) with schemas 'gold', "
        "'dq' and 'ops' holding every served table. Gold is kept in memory and re-cached within "
        "--refresh-seconds of each new version (--no-cache: read the Delta tables on every "
        "query); dq and ops are read at their latest version on every query. Tables created by "
        "later pipeline runs appear without a restart. Listens on loopback unless told "
        "otherwise. Stops cleanly on Ctrl-C or SIGTERM.",
    )
    _storage_args(serve)
    _spark_args(serve)
    _serve_args(serve)

    users = sub.add_parser(
        "users",
        parents=[common],
        help="manage the users of 'serve --auth password'",
        description="Users are kept in <home>/serving/users as PBKDF2-SHA256 hashes; a running "
        "server picks up changes without a restart.",
    )
    _storage_args(users)
    users.add_argument("action", choices=["add", "remove", "list"])
    users.add_argument("name", nargs="?", help="user name (add, remove)")
    users.add_argument("--users-file", type=Path, help="default: <home>/serving/users")
    users.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )

    tableau = sub.add_parser(
        "tableau",
        parents=[common],
        help="write Tableau data sources (.tds) for the served tables",
        description="Write one .tds per served table, pointing at a server started with the "
        "same --host/--port/--transport/--auth/--tls-keystore options.",
    )
    tableau.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    tableau.add_argument("--username", default="", help="user name to pre-fill")
    _serve_args(tableau, for_server=False)

    dashboard = sub.add_parser(
        "dashboard",
        parents=[common],
        help="the sales dashboard in a browser, reading gold through a running 'lakehouse serve'",
        description="Serve the sales performance dashboard (brand picker; revenue, orders and "
        "AOV cards; daily line with a measure switch; top sub-categories by purchases and by "
        "sales; the latest data-quality results with a link to the Data Docs) on a local web "
        "port. Every figure is queried through the Thrift server, like Tableau; pages follow "
        "pipeline runs without a restart. Start the server first: lakehouse serve.",
    )
    _storage_args(dashboard)
    page = dashboard.add_argument_group("web page")
    page.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    page.add_argument("--port", type=int, default=8050, help="web port (default 8050)")
    page.add_argument(
        "--refresh-seconds", type=float, default=60.0,
        help="how often an open page re-queries the server (default 60)",
    )  # fmt: skip
    page.add_argument(
        "--login", action="store_true",
        help="ask for a login (users of 'lakehouse users add') even on loopback; on any other "
        "address the login is always on",
    )  # fmt: skip
    page.add_argument("--users-file", type=Path, help="default: <home>/serving/users")
    page.add_argument(
        "--threads", type=int, default=4,
        help="requests served at once, and so Thrift sessions held at most (default 4)",
    )  # fmt: skip
    _endpoint_args(dashboard)
    return parser


def _wait_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS",
        help="if another run is writing to the same home, wait up to this long for it to end "
        "(default 0: stop at once with exit code 4)",
    )  # fmt: skip


def _endpoint_args(parser: argparse.ArgumentParser) -> None:
    from lakehouse.serving.server import DEFAULT_PORTS, Auth, Transport

    group = parser.add_argument_group("Thrift server to read from")
    group.add_argument("--server-host", default="127.0.0.1", help="its address (127.0.0.1)")
    group.add_argument(
        "--server-port", type=int,
        help=f"its port (default {DEFAULT_PORTS['binary']} binary, {DEFAULT_PORTS['http']} http)",
    )  # fmt: skip
    group.add_argument(
        "--transport", type=Transport, choices=list(Transport), default=Transport.BINARY,
        help="as the server was started with (binary)",
    )  # fmt: skip
    group.add_argument(
        "--auth", type=Auth, choices=list(Auth), default=Auth.NONE,
        help=f"as the server was started with (none); the password is read from ${PASSWORD_ENV}",
    )  # fmt: skip
    group.add_argument("--user", default="dashboard", help="user name to log in as (dashboard)")
    group.add_argument(
        "--tls-ca", type=Path, help="PEM certificate to trust: turns TLS on (server with keystore)"
    )


def _serve_args(parser: argparse.ArgumentParser, *, for_server: bool = True) -> None:
    from lakehouse.serving.server import DEFAULT_PORTS, Auth, Transport

    group = parser.add_argument_group("server")
    group.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    group.add_argument(
        "--port",
        type=int,
        help=f"port (default {DEFAULT_PORTS['binary']} binary, {DEFAULT_PORTS['http']} http)",
    )
    group.add_argument(
        "--transport", type=Transport, choices=list(Transport), default=Transport.BINARY,
        help="binary (Thrift over TCP) or http (Thrift over HTTP, path /cliservice)",
    )  # fmt: skip
    group.add_argument(
        "--auth", type=Auth, choices=list(Auth), default=Auth.NONE,
        help="none (loopback only), username (any name, no password), or password "
        "(users added with 'lakehouse users add')",
    )  # fmt: skip
    group.add_argument(
        "--tls-keystore",
        type=Path,
        help=f"PKCS12/JKS keystore: turns TLS on (password in ${TLS_PASSWORD_ENV})",
    )
    if not for_server:
        return
    group.add_argument("--users-file", type=Path, help="default: <home>/serving/users")
    group.add_argument(
        "--allow-insecure-bind",
        action="store_true",
        help="listen on a non-loopback address without password authentication",
    )
    group.add_argument(
        "--allow-cleartext-passwords",
        action="store_true",
        help="accept --auth password on a non-loopback address without --tls-keystore "
        "(passwords cross the network unencrypted)",
    )
    group.add_argument(
        "--read-only",
        choices=["on", "off"],
        default="on",
        help="on (default): clients may only query the served views, SHOW, DESCRIBE, "
        "EXPLAIN, USE and SET a few session settings; every other statement is refused. "
        "off: any SQL the "
        "server process may run (ADD JAR, SQL on files, INSERT ...), for a trusted admin only",
    )
    group.add_argument(
        "--refresh-seconds",
        type=float,
        default=5.0,
        help="how often to look for new tables and new versions of gold (default 5)",
    )
    group.add_argument(
        "--no-cache",
        dest="cache_gold",
        action="store_false",
        help="read the Delta tables on every query instead of keeping gold in memory "
        "(gold is re-cached within --refresh-seconds of each pipeline run)",
    )


def _configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "pyspark", "great_expectations", "pyhive"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not environment().debug:
        # pyspark logs every failed query plan as JSON; the CLI reports failures itself.
        logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.CRITICAL)


def _cmd_generate(args: argparse.Namespace) -> int:
    from lakehouse.generate import GenerateSpec, generate, prepare_output

    prepare_output(args.out)
    started = time.monotonic()
    spec = GenerateSpec(
        rows=args.rows, days=args.days, start=args.start, seed=args.seed, gzip=args.gzip
    )
    files = generate(spec, args.out)
    print(
        f"generated {args.rows:,} rows in {len(files)} file(s) under {args.out} "
        f"({time.monotonic() - started:.1f} s)"
    )
    return EXIT_OK


@contextlib.contextmanager
def _writing(
    args: argparse.Namespace, config: LakehouseConfig, run_id: str
) -> Iterator[SparkSession]:
    """Hold the home's writer lock (waiting up to ``--wait``) and give the Spark session; a run
    found killed (it never released the lock) is logged as interrupted first.

    Raises ``HomeBusy`` (exit code 4, reported by :func:`main`) if another run keeps the lock.
    """
    from lakehouse.lock import writer_lock
    from lakehouse.pipeline import record_interrupted
    from lakehouse.session import get_spark

    with writer_lock(config, run_id, args.wait) as killed:
        spark = get_spark(SparkSettings(master=args.master, conf=dict(args.conf)))
        if killed is not None:
            record_interrupted(spark, config, killed.run_id)
        yield spark


def _run_pipeline(
    args: argparse.Namespace, config: LakehouseConfig, layers: list[str], options: RunOptions
) -> int:
    from lakehouse.pipeline import run_layers
    from lakehouse.runs import new_run_id

    run_id = new_run_id()
    started = time.monotonic()
    with _writing(args, config, run_id) as spark:
        results = run_layers(spark, config, layers, run_id, options)
    print(f"run {run_id}  home {config.home}")
    for result in results:
        print("  " + result.summary_line())
        for error in result.errors:
            print(f"    rejected: {error}")
        for note in result.notes:
            print(f"    {note}")
    print(f"  total   {time.monotonic() - started:.1f} s")
    return EXIT_OK if all(r.ok for r in results) else EXIT_REJECTED


def _cmd_run(args: argparse.Namespace) -> int:
    from lakehouse.pipeline import RunOptions

    options = RunOptions(
        min_file_age_seconds=args.min_file_age, full_refresh=args.full_refresh, dates=args.dates
    )
    options.validate(args.layers)
    config = LakehouseConfig.create(args.home, args.landing)
    return _run_pipeline(args, config, args.layers, options)


def _cmd_demo(args: argparse.Namespace) -> int:
    from lakehouse.generate import GenerateSpec, generate
    from lakehouse.pipeline import LAYERS, RunOptions

    config = LakehouseConfig.create(args.home, args.landing)
    landing = Path(config.landing)
    if not any(landing.glob("*.csv*")):
        files = generate(GenerateSpec(rows=args.rows, days=args.days, seed=args.seed), landing)
        print(f"generated {args.rows:,} sample rows in {len(files)} daily files under {landing}")
    else:
        print(f"using the files already in {landing}")
    code = _run_pipeline(args, config, list(LAYERS), RunOptions())
    if not args.serve or code not in (EXIT_OK, EXIT_REJECTED):
        return code
    # The server needs a JVM of its own (Delta jars on the system class path): stop this one
    # and become `lakehouse serve`, so Ctrl-C and SIGTERM reach the server directly.
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    gateway = SparkContext._gateway
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    process = getattr(gateway, "proc", None)
    if process is not None:
        process.terminate()
        process.wait(timeout=60)
    command = [sys.executable, "-m", "lakehouse.cli", "serve", "--home", config.home]
    command += ["--landing", config.landing]
    if args.port is not None:
        command += ["--port", str(args.port)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def _serve_options(args: argparse.Namespace) -> ServeOptions:
    from lakehouse.serving.server import ServeOptions

    return ServeOptions(
        host=args.host,
        port=args.port,
        transport=args.transport,
        auth=args.auth,
        users_file=getattr(args, "users_file", None),
        tls_keystore=args.tls_keystore,
        tls_keystore_password=environment().tls_keystore_password,
        allow_insecure_bind=getattr(args, "allow_insecure_bind", False),
        allow_cleartext_passwords=getattr(args, "allow_cleartext_passwords", False),
        refresh_seconds=getattr(args, "refresh_seconds", 5.0),
        cache_gold=getattr(args, "cache_gold", True),
        read_only=getattr(args, "read_only", "on") == "on",
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    from lakehouse.serving.server import serve
    from lakehouse.tables import SERVED_TABLES

    config = LakehouseConfig.create(args.home, args.landing)
    options = _serve_options(args)

    def ready() -> None:
        schemas = sorted({t.schema for t in SERVED_TABLES})
        print(f"Spark Thrift Server ready, serving {config.home}", flush=True)
        for line in options.describe():
            print(line)
        for schema in schemas:
            names = ", ".join(t.short_name for t in SERVED_TABLES if t.schema == schema)
            print(f"  {schema:<11} {names}")
        print("Stop with Ctrl-C (or SIGTERM).", flush=True)

    serve(options, config, SparkSettings(master=args.master, conf=dict(args.conf)), ready)
    print("server stopped", flush=True)
    return EXIT_OK


def _cmd_users(args: argparse.Namespace) -> int:
    import getpass

    from lakehouse.serving.server import default_users_file
    from lakehouse.serving.users import UsersFileError, read_users, remove_user, set_user

    config = LakehouseConfig.create(args.home, args.landing)
    path = args.users_file or default_users_file(config)
    if args.action == "list":
        for name in sorted(read_users(path)):
            print(name)
        return EXIT_OK
    if not args.name:
        print(f"lakehouse users {args.action}: a user name is required", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "remove":
        if not remove_user(path, args.name):
            print(f"no user {args.name!r} in {path}", file=sys.stderr)
            return EXIT_USAGE
        print(f"removed {args.name} from {path}")
        return EXIT_OK
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            print("the passwords differ; nothing changed", file=sys.stderr)
            return EXIT_USAGE
    try:
        is_new = set_user(path, args.name, password)
    except UsersFileError as error:
        print(f"lakehouse users: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{'added' if is_new else 'changed the password of'} {args.name} in {path}")
    return EXIT_OK


def _cmd_tableau(args: argparse.Namespace) -> int:
    from lakehouse.serving.tableau import write_datasources

    files = write_datasources(args.out, _serve_options(args), args.username)
    print(f"wrote {len(files)} Tableau data sources to {args.out}")
    for path in files:
        print(f"  {path.name}")
    return EXIT_OK


class MissingExtra(NeedsAction):
    """A command needs an optional part of the package that is not installed."""


def _require_extra(command: str, extra: str, *modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(
            f"{command} needs the {extra} extra ({', '.join(missing)} not installed): "
            f"pip install 'clickstream-lakehouse[{extra}]'"
        )


def _cmd_dashboard(args: argparse.Namespace) -> int:
    import signal

    from lakehouse.dashboard.options import DashboardOptions
    from lakehouse.serving.client import Endpoint
    from lakehouse.serving.server import default_users_file

    config = LakehouseConfig.create(args.home, args.landing)
    options = DashboardOptions(
        endpoint=Endpoint(
            host=args.server_host, port=args.server_port, transport=args.transport,
            auth=args.auth, user=args.user, password=environment().thrift_password,
            tls_ca=args.tls_ca,
        ),
        host=args.host, port=args.port, refresh_seconds=args.refresh_seconds,
        users_file=args.users_file or default_users_file(config), login=args.login,
        threads=args.threads,
    )  # fmt: skip
    options.validate()
    _require_extra(
        "lakehouse dashboard", "dashboard", "dash", "flask", "plotly", "pyhive", "waitress"
    )
    from lakehouse.dashboard.app import create_app, data_docs_folder, serve_app
    from lakehouse.dashboard.data import ThriftReader

    app = create_app(
        ThriftReader(options.endpoint), data_docs_folder(config.home), options.refresh_seconds
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_OK))
    login = f", login as a user of {options.users_file}" if options.needs_login else ""
    print(
        f"Dashboard ready at {options.url} (reading {options.endpoint.describe()}{login})",
        flush=True,
    )
    print("Stop with Ctrl-C (or SIGTERM).", flush=True)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        serve_app(app, options)
    print("dashboard stopped", flush=True)
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    import json

    from lakehouse.session import get_spark
    from lakehouse.status import collect_status, render_status

    config = LakehouseConfig.create(args.home, args.landing)
    spark = get_spark(SparkSettings(master=args.master, conf=dict(args.conf)))
    report = collect_status(spark, config, args.runs)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(render_status(report)))
    return EXIT_OK


def _cmd_maintain(args: argparse.Namespace) -> int:
    from lakehouse.maintain import MaintainOptions, run_maintenance
    from lakehouse.runs import new_run_id
    from lakehouse.tables import ALL_TABLES

    options = MaintainOptions(
        retain_hours=args.retain_hours,
        compact=not args.no_compact,
        vacuum=not args.no_vacuum,
        tables=tuple(t for t in ALL_TABLES if args.tables is None or t.name in args.tables),
    )
    options.validate()  # before the lock and Spark
    config = LakehouseConfig.create(args.home, args.landing)
    run_id = new_run_id()
    with _writing(args, config, run_id) as spark:
        done = run_maintenance(spark, config, options, run_id)
    print(f"maintain {run_id}  home {config.home}  retention {args.retain_hours:g} h")
    for table in done.tables:
        print("  " + table.summary_line())
    print("  " + done.total_line())
    return EXIT_OK


COMMANDS = {
    "generate": _cmd_generate,
    "run": _cmd_run,
    "demo": _cmd_demo,
    "serve": _cmd_serve,
    "users": _cmd_users,
    "tableau": _cmd_tableau,
    "dashboard": _cmd_dashboard,
    "status": _cmd_status,
    "maintain": _cmd_maintain,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.quiet)
    from lakehouse.lock import HomeBusy

    try:
        return COMMANDS[args.command](args)
    except HomeBusy as busy:
        print(f"lakehouse {args.command}: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except NeedsAction as error:  # a rerun would fail the same way: say what to do instead
        print(f"lakehouse {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted; run the same command again to finish", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:
        if environment().debug:
            traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0][:500]
        print(
            f"lakehouse {args.command} failed: {type(error).__name__}: {first_line}",
            file=sys.stderr,
        )
        print(
            "Run the same command again to finish; completed steps are not repeated.",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
