"""Pipeline benchmark: Spark's floor, the full pipeline, one more day, the dashboard's latency.

    python benchmarks/pipeline.py                       # 10M rows over 30 daily files
    python benchmarks/pipeline.py --rows 67000000       # one month, the size of the real export
    python benchmarks/pipeline.py --rows 1000000 --json result.json

On generated data of a fixed size (``--rows`` over ``--days`` daily files, plus one more day for
the incremental run; generated once per size and seed under ``--work``), it measures, on this
machine, in one go:

0. **fixed cost**: ``lakehouse run`` over one 1,000-row file on an empty home, and the floor
   (below) for that file, each its own process with its JVM start: what a run costs when the
   data costs nothing (``--fixed-only`` measures just this);
1. **floor**: Spark reading the same CSV files with an explicit schema and writing them once
   as one Delta table (what any pipeline must at least pay);
2. **full**: ``lakehouse run`` (bronze + silver + gold) on an empty home;
3. **incremental**: ``lakehouse run`` after one more daily file lands;
4. **dashboard**: the dashboard's queries over ``lakehouse serve`` from ``--clients`` concurrent
   clients (p50 / p95, ``benchmarks/dashboard_latency.py``);
5. the peak resident memory of each phase's driver JVM (local mode: driver and executors are
   one JVM) and, per layer, rows per second per core (rows read / layer seconds / cores);
6. per run, the SQL executions and Spark jobs (from the run's Spark event log) and the Delta
   commits it made (new ``_delta_log`` versions over every table of the home).

Each phase is a process of its own, as users run it (the ``lakehouse`` CLI), so its memory is
its own. Prints a table with the targets of issue 7 and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = {
    "fixed_over_floor": 3.0,
    "full_over_floor": 2.5,
    "incremental_over_full": 0.10,
    "incremental_sql_executions": 80,
    "incremental_commits": 12,
    "dashboard_p95_s": 1.0,
}
FIXED_ROWS = 1_000
FLOOR_SCHEMA = (
    "event_time TIMESTAMP, event_type STRING, product_id BIGINT, category_id BIGINT, "
    "category_code STRING, brand STRING, price DECIMAL(10,2), user_id BIGINT, user_session STRING"
)


@dataclass
class Phase:
    name: str
    seconds: float
    peak_rss_mb: float | None
    details: dict = field(default_factory=dict)


# -- data -----------------------------------------------------------------------------------


def ensure_data(work: Path, rows: int, days: int, seed: int) -> tuple[Path, Path]:
    """Daily files for ``days`` days (``base``) and the day after (``extra``), made once."""
    from lakehouse.generate import GenerateSpec, generate

    root = work / f"data-{rows}-{days}-{seed}"
    base, extra, done = root / "base", root / "extra", root / "complete"
    if done.exists():
        return base, extra
    shutil.rmtree(root, ignore_errors=True)
    per_day, start = rows // days, date(2019, 11, 1)
    for day in range(days + 1):  # one day at a time: memory stays that of one day
        spec = GenerateSpec(rows=per_day, days=1, start=start + timedelta(day), seed=seed + day)
        generate(spec, base if day < days else extra)
        print(f"  generated day {day + 1}/{days + 1}", file=sys.stderr)
    done.write_text(json.dumps({"rows": rows, "days": days, "seed": seed}))
    return base, extra


def link_files(source: Path, landing: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.csv*")):
        target = landing / path.name
        if not target.exists():
            try:
                os.link(path, target)
            except OSError:
                shutil.copy(path, target)


# -- measuring a process --------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _peak_rss_kb(pid: int) -> int:
    """The largest peak resident size (VmHWM) among the process tree's processes."""
    peak = 0
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                peak = max(peak, int(line.split()[1]))
    return peak


def run_measured(name: str, command: list[str], env: dict[str, str]) -> Phase:
    """Run ``command``; time it and sample its tree's peak memory until it ends."""
    print(f"[{name}] {' '.join(command)}", file=sys.stderr)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _peak_rss_kb(process.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode not in (0, 3):
        raise SystemExit(f"[{name}] failed with exit code {process.returncode}:\n{out[-3000:]}")
    print(f"[{name}] {seconds:.1f} s", file=sys.stderr)
    return Phase(name, round(seconds, 2), round(peak[0] / 1024, 1) or None, {"output": out})


# -- phases ---------------------------------------------------------------------------------


def floor_phase(source: str, out: str) -> None:
    """The floor itself (run in a child process): read CSV with a schema, write Delta once."""
    from lakehouse.session import get_spark

    spark = get_spark()
    (
        spark.read.schema(FLOOR_SCHEMA)
        .option("header", True)
        .option("timestampFormat", "yyyy-MM-dd HH:mm:ss 'UTC'")
        .csv(source)
        .write.format("delta")
        .mode("overwrite")
        .save(out)
    )
    spark.stop()


def layer_figures(home: str, env: dict[str, str], cores: int, runs: int = 3) -> dict:
    """Seconds and rows per second per core of the last run's layers, from ``ops.run_log``."""
    status = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "status", "--home", home, "--json", "--runs",
         str(runs)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    layers = {}
    for run in json.loads(status.stdout)["runs"]:
        seconds, rows = run["seconds"] or 0.0, run["rows_read"]
        layers[run["layer"]] = {
            "seconds": seconds,
            "rows_read": rows,
            "rows_per_s_per_core": round(rows / seconds / cores) if rows and seconds else None,
        }
    return layers


def event_log_totals(log_dir: Path) -> dict | None:
    """SQL executions, jobs, spill, GC and task time of the newest event log under ``log_dir``."""
    from benchmarks.event_log import read_events, summary

    logs = sorted(log_dir.glob("eventlog_v2_*"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return None
    executions = read_events(logs[-1])
    return {**summary(executions), "jobs": sum(e.jobs for e in executions)}


def delta_commits(home: Path) -> int:
    """Delta commits over every table under ``home``: the JSON commit files of each log."""
    return sum(1 for _ in home.glob("**/_delta_log/*.json"))


def dashboard_phase(home: str, env: dict[str, str], clients: int) -> dict:
    from benchmarks.dashboard_latency import measure, render

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "serve", "--home", home, "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("Spark Thrift Server ready"):
                break
        else:
            raise SystemExit("the Thrift server did not start")
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe empty
        summary = measure("127.0.0.1", port, clients=clients)
        print("\n".join(render(summary)), file=sys.stderr)
        return summary
    finally:
        server.terminate()
        server.wait(timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows (default 10M)")
    parser.add_argument("--days", type=int, default=30, help="daily files (default 30)")
    parser.add_argument("--seed", type=int, default=46)
    parser.add_argument("--work", type=Path, default=Path("benchmark-work"), help="scratch dir")
    parser.add_argument("--clients", type=int, default=4, help="concurrent dashboard clients")
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument("--driver-memory", default="8g", help="LAKEHOUSE_DRIVER_MEMORY (8g)")
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument(
        "--event-log", type=Path, metavar="DIR",
        help="keep the runs' Spark event logs under DIR/<phase> (default: <work>/eventlog; "
        "read them with benchmarks/event_log.py)",
    )  # fmt: skip
    parser.add_argument(
        "--fixed-only", action="store_true", help="measure only the fixed cost (a few minutes)"
    )
    parser.add_argument("--phase", choices=["floor"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "floor":
        floor_phase(args.source, args.out)
        return 0

    work = args.work.resolve()
    event_log = (args.event_log or work / "eventlog").resolve()
    cores = os.cpu_count() or 1
    env = dict(os.environ, LAKEHOUSE_DRIVER_MEMORY=args.driver_memory, PYTHONPATH=str(REPO))
    cli = [sys.executable, "-m", "lakehouse.cli"]

    def floor(name: str, source: Path) -> Phase:
        out = work / name
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, __file__, "--phase", "floor", "--source", str(source),
                   "--out", str(out)]  # fmt: skip
        return run_measured(name, command, env)

    def run(name: str, home: Path) -> Phase:
        """``lakehouse run`` as its own process, with its event log and commit count."""
        log_dir = event_log / name
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        command = [*cli, "run", "--home", str(home), "-q",
                   "--conf", "spark.eventLog.enabled=true",
                   "--conf", f"spark.eventLog.dir={log_dir}",
                   "--conf", "spark.eventLog.compress=false"]  # fmt: skip
        commits_before = delta_commits(home)
        phase = run_measured(name, command, env)
        phase.details["layers"] = layer_figures(str(home), env, cores)
        phase.details["event_log"] = event_log_totals(log_dir)
        phase.details["delta_commits"] = delta_commits(home) - commits_before
        return phase

    fixed_base, _ = ensure_data(work, FIXED_ROWS, 1, args.seed)
    fixed_home = work / "home-fixed"
    shutil.rmtree(fixed_home, ignore_errors=True)
    fixed_floor = floor("fixed_floor", fixed_base)
    link_files(fixed_base, fixed_home / "landing")
    fixed = run("fixed", fixed_home)
    phases = [fixed_floor, fixed]
    ratios: dict[str, float | int | None] = {
        "fixed_over_floor": round(fixed.seconds / fixed_floor.seconds, 2)
    }
    dashboard = None
    rows = FIXED_ROWS
    if not args.fixed_only:
        rows = args.rows
        base, extra = ensure_data(work, args.rows, args.days, args.seed)
        home = work / f"home-{args.rows}-{args.days}"
        shutil.rmtree(home, ignore_errors=True)
        full_floor = floor("floor", base)
        link_files(base, home / "landing")
        full = run("full", home)
        link_files(extra, home / "landing")
        incremental = run("incremental", home)
        phases += [full_floor, full, incremental]
        if not args.skip_dashboard:
            dashboard = dashboard_phase(str(home), env, args.clients)
        counts = incremental.details["event_log"] or {}
        ratios |= {
            "full_over_floor": round(full.seconds / full_floor.seconds, 2),
            "incremental_over_full": round(incremental.seconds / full.seconds, 3),
            "incremental_sql_executions": counts.get("executions"),
            "incremental_commits": incremental.details["delta_commits"],
            "dashboard_p95_s": dashboard["panels"]["all"]["p95"] if dashboard else None,
        }

    result = {
        "machine": {
            "host": platform.node(),
            "cpus": cores,
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "data": {"rows": rows, "days": args.days, "seed": args.seed},
        "driver_memory": args.driver_memory,
        "phases": {p.name: {k: v for k, v in asdict(p).items() if k != "details"} | {
            k: p.details.get(k) for k in ("layers", "event_log", "delta_commits")}
            for p in phases},
        "dashboard": dashboard,
        "ratios": ratios,
        "targets": TARGETS,
    }  # fmt: skip
    print(f"{'phase':<12} {'seconds':>9} {'peak MB':>9} {'SQL exec':>9} {'jobs':>6} {'commits':>8}")
    for phase in phases:
        counts = phase.details.get("event_log") or {}
        print(
            f"{phase.name:<12} {phase.seconds:>9.1f} {phase.peak_rss_mb or 0:>9.0f} "
            f"{counts.get('executions', '-')!s:>9} {counts.get('jobs', '-')!s:>6} "
            f"{phase.details.get('delta_commits', '-')!s:>8}"
        )
        for layer, figures in (phase.details.get("layers") or {}).items():
            print(
                f"  {layer:<10} {figures['seconds']:>9.1f} s  "
                f"{figures['rows_per_s_per_core'] or '-':>9} rows/s/core"
            )
    for key, value in ratios.items():
        target = TARGETS[key]
        verdict = "-" if value is None else ("met" if value <= target else "MISSED")
        print(f"{key:<28} {value!s:>8}  target <= {target}  {verdict}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
