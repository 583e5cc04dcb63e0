"""The command line: help, usage errors, and the quick-start demo end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lakehouse import cli
from lakehouse.cli import EXIT_FAILED, EXIT_USAGE, build_parser, main
from lakehouse.config import LakehouseConfig
from lakehouse.environment import LOCAL_IP_ENV
from lakehouse.ledger import refuse_pending
from tests.helpers import REPO, lakehouse_cmd, listening_sockets
from tests.serving.clients import Server, connect, free_port, query


def test_help_explains_commands_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for word in ("generate", "run", "demo", "status", "serve", "users", "tableau", "dashboard"):
        assert word in out
    assert "Exit codes" in out and "4 another run is writing" in out
    assert "5 a data-quality rule of severity" in out
    run_help = build_parser().parse_args(["run", "--conf", "a=b", "--layers", "bronze"])
    assert run_help.conf == [("a", "b")] and run_help.layers == ["bronze"]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--layers", "platinum"],
        ["run", "--conf", "novalue"],
        ["explode"],
        ["generate", "--out", "sample", "--rows", "0"],
        ["generate", "--out", "sample", "--days", "many"],
        ["demo", "--rows", "-5"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"lakehouse {declared}"


def test_generate_into_a_folder_it_cannot_create_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["generate", "--out", str(blocker / "sample"), "--rows", "10"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == f"lakehouse generate: cannot write to --out {blocker / 'sample'}: Not a directory"


@pytest.mark.parametrize("java_home", [None, "/nonexistent/jdk"])
def test_no_java_is_one_line_before_spark_starts(tmp_path, java_home):
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PYSPARK_GATEWAY_PORT")}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's tools, no java
    if java_home:
        env["JAVA_HOME"] = java_home
    result = subprocess.run(
        lakehouse_cmd("run", "--home", str(tmp_path / "home")),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == EXIT_FAILED, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("lakehouse run: ") and "Java 17 or later" in line
    assert "again" not in line


def test_a_usage_error_ends_the_real_process_with_2_before_spark_starts():
    usage = subprocess.run(
        lakehouse_cmd("run", "--layers", "platinum"), capture_output=True, text=True, timeout=120
    )
    assert usage.returncode == EXIT_USAGE
    assert "unknown layer" in usage.stderr and "Traceback" not in usage.stderr


def test_a_batch_an_earlier_release_left_pending_is_one_line(monkeypatch, capsys):
    def run_over_an_old_home(args) -> int:
        refuse_pending("gold", [7])  # what each layer does on reading a ledger with such a row
        return 0

    monkeypatch.setitem(cli.COMMANDS, "run", run_over_an_old_home)
    assert main(["run"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        "lakehouse run: gold batch 7 was left pending by an earlier release of the lakehouse "
        "(a run stopped before finishing it): finish it with that release (lakehouse run), "
        "then run this one"
    ]


def test_generate_command(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--rows", "1000", "--days", "2"]) == 0
    assert "generated 1,000 rows in 2 file(s)" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events-2019-11-01.csv",
        "events-2019-11-02.csv",
    ]


def test_report_rows_setting(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_REPORT_ROWS", "250")
    assert LakehouseConfig.create(str(tmp_path)).report_rows == 250
    monkeypatch.setenv("LAKEHOUSE_REPORT_ROWS", "many")
    assert main(["status", "--home", str(tmp_path)]) == EXIT_FAILED
    assert "LAKEHOUSE_REPORT_ROWS must be a whole number of rows >= 1, not 'many'" in (
        capsys.readouterr().err
    )


@pytest.mark.slow
def test_demo_runs_end_to_end_and_rerun_is_a_no_op(tmp_path):
    # the README's quick start as it runs on a user's machine: production defaults
    cmd = lakehouse_cmd(
        "demo", "--home", str(tmp_path / "home"), "--rows", "5000", "--days", "2",
        test_settings=False,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != LOCAL_IP_ENV}  # as on a user's shell
    with (
        subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as running,
        ThreadPoolExecutor(1) as reader,
    ):
        listening: set[tuple[str, int]] = set()
        output = reader.submit(running.communicate, timeout=900)
        while not output.done():  # what the run's process tree listens on, while it runs
            listening |= listening_sockets(running.pid)
            time.sleep(0.5)
        stdout, stderr = output.result()
    first = subprocess.CompletedProcess(cmd, running.returncode, stdout, stderr)
    assert first.returncode == 0, first.stderr[-3000:]
    # The driver's RPC, block manager and Spark UI (4040 or the next free port) on loopback.
    assert any(4040 <= port <= 4060 for _, port in listening), listening
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening
    assert "generated 5,000 sample rows in 2 daily files" in first.stdout
    assert "bronze  ok          files 2, lines 5,002, rows 5,000, quarantined 0" in first.stdout
    assert "silver  ok          taken 5,000, added " in first.stdout
    assert "data docs: " in first.stdout and "rules broken: " in first.stdout
    assert "Calculating Metrics" not in first.stderr  # no GX progress bars in the job's log
    # dbt-style progress: each step, what it reads and writes, how long it took, its counts
    assert "step 1 of 3: bronze (run " in first.stderr
    assert "reads landing files in " in first.stderr and "writes bronze.events" in first.stderr
    assert "step 2 of 3: silver done in " in first.stderr
    assert ": taken 5,000, added " in first.stderr
    assert "step 3 of 3: gold done in " in first.stderr
    assert "gold    ok          dates 2" in first.stdout
    assert "top 10 brands by revenue:" in first.stdout
    assert "top 10 products by revenue:" in first.stdout

    # Again, leaving the server running: nothing new is ingested, gold is served.
    port = free_port()
    serving = subprocess.Popen(
        [*cmd, "--serve", "--port", str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    lines = []
    assert serving.stdout is not None
    for line in serving.stdout:
        lines.append(line)
        if line.startswith("Spark Thrift Server ready"):
            break
    output = "".join(lines)
    assert "using the files already in" in output and "files 0" in output, output
    try:
        server = Server(port=port)
        with connect(server) as connection:
            assert query(connection, "SELECT COUNT(*), MIN(orders) > 0 FROM kpi_summary") == [
                (1, True)
            ]
    finally:
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(timeout=120) == 0
