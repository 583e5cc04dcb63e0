"""The ``lakehouse`` command line.

Exit codes (stable, for scripts):
  0  success
  1  the run failed (nothing half-done stays visible; run it again to finish)
  2  usage error (bad arguments)
  3  the run finished, but some input was rejected (e.g. a file with a wrong header); the
     rejection is recorded and not repeated by later runs

Set LAKEHOUSE_DEBUG=1 to see the full traceback of a failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from lakehouse.config import HOME_ENV, LakehouseConfig, SparkSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3
log = logging.getLogger("lakehouse")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _layers(text: str) -> list[str]:
    from lakehouse.pipeline import LAYERS

    layers = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in layers if name not in LAYERS]
    if unknown or not layers:
        raise argparse.ArgumentTypeError(
            f"unknown layer(s) {unknown}; choose from {', '.join(LAYERS)}"
        )
    return layers


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
        epilog="Exit codes: 0 ok, 1 run failed, 2 usage error, 3 finished with rejected input.",
    )
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
    gen.add_argument("--rows", type=int, default=100_000, help="total rows (default 100000)")
    gen.add_argument("--days", type=int, default=7, help="number of daily files (default 7)")
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
        help="gold: rebuild every table from silver instead of the dates that changed",
    )
    run.add_argument(
        "--min-file-age",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="skip landing files modified less than this long ago (still being written)",
    )

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="generate sample data and run every layer end to end",
        description="Make sample data in <home>/landing, run every layer, print a summary.",
    )
    _storage_args(demo)
    _spark_args(demo)
    demo.add_argument("--rows", type=int, default=200_000, help="sample rows (default 200000)")
    demo.add_argument("--days", type=int, default=7, help="daily files (default 7)")
    demo.add_argument("--seed", type=int, default=46)
    return parser


def _configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "pyspark", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not os.environ.get("LAKEHOUSE_DEBUG"):
        # pyspark logs every failed query plan as JSON; the CLI reports failures itself.
        logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.CRITICAL)


def _cmd_generate(args: argparse.Namespace) -> int:
    from lakehouse.generate import GenerateSpec, generate

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


def _run_pipeline(args: argparse.Namespace, config: LakehouseConfig, layers: list[str]) -> int:
    from lakehouse.pipeline import RunOptions, run_layers
    from lakehouse.runs import new_run_id
    from lakehouse.session import get_spark

    run_id = new_run_id()
    started = time.monotonic()
    spark = get_spark(SparkSettings(master=args.master, conf=dict(args.conf)))
    options = RunOptions(
        min_file_age_seconds=getattr(args, "min_file_age", 0.0),
        full_refresh=getattr(args, "full_refresh", False),
    )
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
    config = LakehouseConfig.create(args.home, args.landing)
    return _run_pipeline(args, config, args.layers)


def _cmd_demo(args: argparse.Namespace) -> int:
    from lakehouse.generate import GenerateSpec, generate
    from lakehouse.pipeline import LAYERS

    config = LakehouseConfig.create(args.home, args.landing)
    landing = Path(config.landing)
    if not any(landing.glob("*.csv*")):
        files = generate(GenerateSpec(rows=args.rows, days=args.days, seed=args.seed), landing)
        print(f"generated {args.rows:,} sample rows in {len(files)} daily files under {landing}")
    else:
        print(f"using the files already in {landing}")
    return _run_pipeline(args, config, list(LAYERS))


COMMANDS = {"generate": _cmd_generate, "run": _cmd_run, "demo": _cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.quiet)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to finish", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:
        if os.environ.get("LAKEHOUSE_DEBUG"):
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
