"""The layers' spark-submit jobs, from an installed wheel, on a real Spark standalone cluster
equal the local run.

The project is built as a wheel and installed, without ``-e`` and with its core dependencies
only, into a venv of its own outside the checkout, as a cluster user installs it. A master and
two workers (one core each) are started on loopback from the installed pyspark; the entry
scripts that the wheel installed (``python -m lakehouse.jobs``) are submitted to it in order with
that venv's ``spark-submit`` and Python, from a folder outside the checkout (executors in their
own JVMs, the Delta jars Ivy resolved once shipped to them with ``--jars``, Python UDFs in the
executors' Python workers). Every table must equal the in-process local build of the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pyspark
import pytest

from lakehouse.serving.classpath import delta_jars_to_ship
from tests.builds import ledger, new_home, snapshot
from tests.helpers import REPO, land, subprocess_env
from tests.serving.clients import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("clean-build")]

SPARK_BIN = Path(pyspark.__file__).parent / "bin"
WORKERS = 2
SHORT_JOBS_JVM = "-Duser.timezone=UTC -XX:TieredStopAtLevel=1"


def _master_state(ui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return json.load(response)


def _daemon(stack: ExitStack, log: Path, *args: str) -> None:
    """Start a Spark daemon in the foreground; the stack stops it."""
    out = stack.enter_context(log.open("w"))
    env = subprocess_env(SPARK_LOCAL_IP="127.0.0.1", SPARK_DAEMON_MEMORY="512m")
    process = subprocess.Popen(
        [str(SPARK_BIN / "spark-class"), *args], stdout=out, stderr=subprocess.STDOUT, env=env
    )
    stack.callback(process.wait, 60)
    stack.callback(process.terminate)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """``(master URL, master web UI port)`` of a master and two workers on loopback."""
    root = tmp_path_factory.mktemp("cluster")
    port, ui_port = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    with ExitStack() as stack:
        master = ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port)]
        _daemon(stack, root / "master.log", "org.apache.spark.deploy.master.Master", *master)
        for n in range(WORKERS):
            work_dir, worker_ui = str(root / f"work-{n}"), str(free_port())
            worker = [url, "--host", "127.0.0.1", "--cores", "1", "--memory", "2g",
                      "--webui-port", worker_ui, "--work-dir", work_dir]  # fmt: skip
            _daemon(
                stack, root / f"worker-{n}.log", "org.apache.spark.deploy.worker.Worker", *worker
            )
        deadline = time.monotonic() + 300
        while True:
            try:
                if _master_state(ui_port)["aliveworkers"] == WORKERS:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (root / "master.log").read_text()[-3000:]
            time.sleep(2)
        yield url, ui_port


SOURCES = ("pyproject.toml", "README.md", "lakehouse", "bronze", "silver", "gold", "expectations")
"""What a wheel is built from (the rest of the checkout is not part of the package)."""


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv outside the checkout with the project's wheel and core dependencies installed
    (pip's cache makes the dependencies quick after the suite's own install)."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"  # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(REPO / name, source / name)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", source,
         cwd=root)  # fmt: skip
    (wheel,) = (root / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in ("expectations/silver_events.json", "expectations/silver_tables.json",
                     "lakehouse/jobs/bronze_job.py",
                     "lakehouse/serving/java/LakehouseUsersAuthenticator.java",
                     "lakehouse/serving/java/ReadOnlySql.java"):  # fmt: skip
        assert packaged in names, packaged
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=root)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=root)
    return venv


def test_the_core_install_has_the_jobs_and_suites_but_not_the_dashboard(installed):
    python = installed / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run(python, "-c", "import lakehouse, expectations; print(lakehouse.__file__); "
                 "from lakehouse.quality import suites_folder; print(suites_folder())",
                 cwd=installed, env=env).split()  # fmt: skip
    assert all(str(installed) in path and str(REPO) not in path for path in where), where
    done = subprocess.run(
        [installed / "bin" / "lakehouse", "dashboard"], cwd=installed, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "pip install 'clickstream-lakehouse[dashboard]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_jobs_on_a_standalone_cluster_equal_the_local_run(
    spark, clean_build, cluster, installed, tmp_path
):
    url, ui_port = cluster
    config = new_home(tmp_path)
    land(config, *clean_build.files)
    python = installed / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYSPARK_PYTHON=str(python), PYSPARK_DRIVER_PYTHON=str(python))
    scripts = dict(zip(("bronze", "silver", "gold"),
                       _run(python, "-m", "lakehouse.jobs", cwd=tmp_path, env=env).split(),
                       strict=True))  # fmt: skip
    assert all(p.startswith(str(installed)) for p in scripts.values()), scripts
    # the Delta jars Ivy resolved once (pytest_configure), those Spark does not ship itself
    jars = ",".join(map(str, delta_jars_to_ship()))
    # bronze rejects the bad-header file (exit 3, as in the local build); the others are clean
    for layer, exit_code, status in (("bronze", 3, "1 error(s)"), ("silver", 0, "ok"),
                                     ("gold", 0, "ok")):  # fmt: skip
        done = subprocess.run(
            [str(installed / "bin" / "spark-submit"), "--master", url, "--jars", jars,
             "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.executor.cores=1",
             "--conf", "spark.executor.memory=1g", "--conf", f"spark.cores.max={WORKERS}",
             # sized for a few thousand rows: Delta's 50 snapshot partitions and Spark's 200
             # shuffle partitions would make every small query hundreds of executor tasks
             "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.default.parallelism=2",
             "--conf", "spark.databricks.delta.snapshotPartitions=2",
             "--conf", "spark.ui.enabled=false",
             # short jobs on a cold JVM: C1 alone compiles sooner (as the local defaults do)
             "--conf", f"spark.driver.extraJavaOptions={SHORT_JOBS_JVM}",
             "--conf", f"spark.executor.extraJavaOptions={SHORT_JOBS_JVM}",
             scripts[layer], "--home", config.home, "-q"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == exit_code, done.stdout[-2000:] + done.stderr[-3000:]
        assert f"{layer:<7} {status}" in done.stdout
    apps = _master_state(ui_port)["completedapps"]
    assert len(apps) == 3 and all(app["cores"] == WORKERS for app in apps)  # ran on both workers
    assert ledger(spark, config) == clean_build.ledger
    assert snapshot(spark, config) == clean_build.tables
