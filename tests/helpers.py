"""Helpers shared by tests: where things are, landing files, running the real CLI."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import sys
from functools import cache
from pathlib import Path

from lakehouse.config import LakehouseConfig

REPO = Path(__file__).resolve().parents[1]
REES46 = REPO / "tests" / "data" / "rees46"

TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.sql.adaptive.coalescePartitions.initialPartitionNum": "2",
}
"""Spark settings for a few thousand rows: the in-process session and every CLI run of the
tests (but the demo's, which runs as the README's quick start does)."""

SPARK_COMMANDS = ("run", "demo", "status", "maintain")
"""The CLI commands that start a Spark session of their own and take ``--conf``."""


def land(config: LakehouseConfig, *files: Path, rename: str | None = None) -> None:
    """Copy files into the landing folder (as a delivery would)."""
    for f in files:
        shutil.copy(f, Path(config.landing) / (rename or f.name))


@cache
def _test_conf_args() -> tuple[str, ...]:
    """``--conf`` arguments: the test settings, and the Delta jars already resolved by Ivy
    on ``spark.jars`` instead of an Ivy resolution at every start."""
    from lakehouse.serving.classpath import delta_jars_to_ship

    jars = ",".join(map(str, delta_jars_to_ship()))
    conf = {**TEST_CONF, "spark.jars.packages": "", "spark.jars": jars}
    return tuple(arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}"))


def lakehouse_cmd(*args: str, test_settings: bool = True) -> list[str]:
    """The installed CLI, run through this interpreter (works in a venv and in CI). Commands
    that start Spark get the test settings unless ``test_settings`` is false."""
    extra = _test_conf_args() if test_settings and args and args[0] in SPARK_COMMANDS else ()
    return [sys.executable, "-m", "lakehouse.cli", *args, *extra]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket that ``pid`` or a process under it listens on, from
    /proc (Linux): the driver JVM that PySpark starts is a child of the Python process."""
    pids, found = [pid], set()
    for parent in pids:  # grows while it is walked: the whole tree
        for task in _entries(f"/proc/{parent}/task"):
            with contextlib.suppress(OSError):  # the thread or process went away
                pids += [int(child) for child in (task / "children").read_text().split()]
    inodes = set()
    for process in pids:
        for fd in _entries(f"/proc/{process}/fd"):
            with contextlib.suppress(OSError):  # the descriptor or process went away
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.add((_address(address), int(port, 16)))
    return found


def _entries(directory: str) -> list[Path]:
    """The entries of a /proc directory, or none if its process has exited meanwhile."""
    try:
        return list(Path(directory).iterdir())
    except OSError:
        return []


def _address(hex_address: str) -> str:
    """/proc/net's hex form (little-endian 32-bit words) as a printable IPv4 or IPv6 address."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)
