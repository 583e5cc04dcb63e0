"""Latency of the dashboard's queries over a running Thrift server (``lakehouse serve``).

Usage (needs the dev extra for PyHive)::

    lakehouse serve --home H &            # binary transport, --auth none, port 10000
    python benchmarks/dashboard_latency.py --port 10000 --clients 4 --brands 5 --rounds 3

Each client opens its own session and sends every dashboard query
(``lakehouse/dashboard/queries.py``) for "all brands" and for the top ``--brands`` brands,
``--rounds`` times, after one warm-up round.
Prints p50 / p95 / max per panel and overall, and writes them as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path

from pyhive import hive

from lakehouse.dashboard.queries import brands_sql, dashboard_queries


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _client(host: str, port: int, views: list, rounds: int, out: dict, errors: list) -> None:
    try:
        connection = hive.connect(host, port, auth="NOSASL", database="gold")
        cursor = connection.cursor()
        for round_ in range(rounds + 1):
            for brand in views:
                for panel, sql in dashboard_queries(brand).items():
                    started = time.perf_counter()
                    cursor.execute(sql)
                    cursor.fetchall()
                    if round_:  # round 0 warms up
                        out.setdefault(panel, []).append(time.perf_counter() - started)
        connection.close()
    except Exception as error:  # reported in the summary, not a traceback per thread
        errors.append(repr(error))


def measure(host: str, port: int, clients: int = 4, brands: int = 5, rounds: int = 3) -> dict:
    """Run the clients at once; return p50 / p95 / max per panel and overall, and errors."""
    with hive.connect(host, port, auth="NOSASL", database="gold") as connection:
        cursor = connection.cursor()
        cursor.execute(brands_sql())
        top = [row[0] for row in cursor.fetchall()][:brands]
    views = [None, *top]
    results: list[dict] = [{} for _ in range(clients)]
    errors: list[str] = []
    threads = [
        threading.Thread(target=_client, args=(host, port, views, rounds, results[i], errors))
        for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    panels: dict[str, list[float]] = {}
    for result in results:
        for panel, values in result.items():
            panels.setdefault(panel, []).extend(values)
    everything = [v for values in panels.values() for v in values]
    return {
        "machine": f"{platform.node()} {platform.machine()} cpus={os.cpu_count()}",
        "clients": clients,
        "views": len(views),
        "rounds": rounds,
        "wall_seconds": round(wall, 2),
        "errors": errors,
        "panels": {
            panel: {
                "n": len(values),
                "p50": round(statistics.median(values), 3),
                "p95": round(_percentile(values, 0.95), 3),
                "max": round(max(values), 3),
            }
            for panel, values in {**panels, "all": everything}.items()
            if values
        },
    }


def render(summary: dict) -> list[str]:
    lines = [f"{'panel':<18} {'n':>5} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"]
    for panel, figures in summary["panels"].items():
        lines.append(
            f"{panel:<18} {figures['n']:>5} {figures['p50']:>7.3f} {figures['p95']:>7.3f} "
            f"{figures['max']:>7.3f}"
        )
    if summary["errors"]:
        lines.append(f"{len(summary['errors'])} client error(s): {summary['errors'][0]}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--brands", type=int, default=5, help="top brands to pick (plus 'all')")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    summary = measure(args.host, args.port, args.clients, args.brands, args.rounds)
    print("\n".join(render(summary)))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
