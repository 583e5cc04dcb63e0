"""The layers' spark-submit jobs on a real Spark standalone cluster equal the local run.

A master and two workers (one core each) are started on loopback from the installed pyspark;
``bronze/job.py``, ``silver/job.py`` and ``gold/job.py`` are submitted to it in order, as on a
cluster (executors in their own JVMs, the Delta jars Ivy resolved once shipped to them with
``--jars``, Python UDFs in the executors' Python workers). Every table must equal the in-process
local build of the same files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
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


def test_jobs_on_a_standalone_cluster_equal_the_local_run(spark, clean_build, cluster, tmp_path):
    url, ui_port = cluster
    config = new_home(tmp_path)
    land(config, *clean_build.files)
    env = subprocess_env(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    # the Delta jars Ivy resolved once (pytest_configure), those Spark does not ship itself
    jars = ",".join(map(str, delta_jars_to_ship()))
    # bronze rejects the bad-header file (exit 3, as in the local build); the others are clean
    for layer, exit_code, status in (("bronze", 3, "1 error(s)"), ("silver", 0, "ok"),
                                     ("gold", 0, "ok")):  # fmt: skip
        done = subprocess.run(
            [str(SPARK_BIN / "spark-submit"), "--master", url, "--jars", jars,
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
             f"{layer}/job.py", "--home", config.home, "-q"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == exit_code, done.stdout[-2000:] + done.stderr[-3000:]
        assert f"{layer:<7} {status}" in done.stdout
    apps = _master_state(ui_port)["completedapps"]
    assert len(apps) == 3 and all(app["cores"] == WORKERS for app in apps)  # ran on both workers
    assert ledger(spark, config) == clean_build.ledger
    assert snapshot(spark, config) == clean_build.tables
