"""Real servers and real clients for the serving tests: ``lakehouse serve``, PyHive, beeline."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyspark
from pyhive import hive
from TCLIService import ttypes

from lakehouse.serving.client import Endpoint, fetch
from lakehouse.serving.server import Auth, Transport
from tests.helpers import lakehouse_cmd, subprocess_env

BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A running ``lakehouse serve`` process and how to reach it."""

    port: int
    transport: str = "binary"
    auth: str = "none"
    cafile: Path | None = None
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)


@contextmanager
def running_server(
    home: str, *args: str, transport: str = "binary", auth: str = "none",
    cafile: Path | None = None, env: dict[str, str] | None = None,
) -> Iterator[Server]:  # fmt: skip
    """Start ``lakehouse serve`` on a free loopback port; stop it afterwards with SIGTERM to its
    process group, and check that it stopped cleanly (exit code 0, "server stopped")."""
    server = Server(port=free_port(), transport=transport, auth=auth, cafile=cafile)
    cmd = lakehouse_cmd(
        "serve", "--home", home, "--port", str(server.port),
        "--transport", transport, "--auth", auth, "--refresh-seconds", "1", *args,
    )  # fmt: skip
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=subprocess_env(LAKEHOUSE_DRIVER_MEMORY="2g", **(env or {})),
        start_new_session=True,  # its own process group, as under systemd or in a container
    )  # fmt: skip
    server.process = process
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line.rstrip("\n"))
            # The ready line is followed by the connection details, ending with the JDBC URL:
            # a test that reads them must find them all once the server is up.
            if line.startswith("  JDBC URL"):
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 400
    while not ready.wait(1):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("server did not start:\n" + "\n".join(server.output[-40:]))
    try:
        yield server
    finally:
        # SIGTERM to the whole group, the server's JVM included, as systemd and docker stop do.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        assert code == 0, "\n".join(server.output[-40:])
        assert any(line == "server stopped" for line in server.output)


def connect(
    server: Server, user: str = "analyst", password: str | None = None, database: str = "gold"
) -> hive.Connection:
    """A PyHive connection the way a client of this server's settings would open it."""
    return Endpoint(
        port=server.port, transport=Transport(server.transport), auth=Auth(server.auth),
        user=user, password=password, tls_ca=server.cafile, database=database,
    ).connect()  # fmt: skip


def query(connection: hive.Connection, sql: str) -> list[tuple]:
    return fetch(connection, sql)


def _metadata(connection: hive.Connection, request: Any, call: str) -> list[tuple]:
    """Run a metadata RPC (what ODBC's SQLTables/SQLColumns send) and fetch its rows."""
    response = getattr(connection.client, call)(request)
    assert response.status.statusCode == ttypes.TStatusCode.SUCCESS_STATUS, response.status
    cursor = connection.cursor()
    cursor._operationHandle = response.operationHandle
    cursor._state = cursor._STATE_RUNNING
    names = [d[0].upper() for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    cursor.close()
    return rows


def get_tables(connection: hive.Connection, schema: str) -> list[dict]:
    request = ttypes.TGetTablesReq(
        sessionHandle=connection.sessionHandle, schemaName=schema, tableName="%"
    )
    return _metadata(connection, request, "GetTables")


def get_columns(connection: hive.Connection, schema: str, table: str = "%") -> list[dict]:
    request = ttypes.TGetColumnsReq(
        sessionHandle=connection.sessionHandle, schemaName=schema, tableName=table,
        columnName="%",
    )  # fmt: skip
    return _metadata(connection, request, "GetColumns")


def beeline(url: str, script: str, user: str = "analyst", password: str = "") -> str:
    """Run a beeline script (SQL and !commands) with pyspark's hive-jdbc; return TSV output."""
    # beeline runs !commands only from a file (-f), and then echoes a stray "null" per
    # statement when it has no terminal; plain SQL goes through -e, which prints clean output.
    commands = any(line.lstrip().startswith("!") for line in script.splitlines())
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script.strip() + "\n")
    cmd = [
        str(BEELINE), "-u", url, "-n", user, "-p", password or "unused",
        "--outputformat=tsv2", "--silent=true", "--showHeader=true",
        *(["-f", handle.name] if commands else ["-e", script.strip()]),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=300, env={**os.environ}, check=False
        )
    finally:
        os.unlink(handle.name)
    if result.returncode != 0:
        raise AssertionError(f"beeline failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout
