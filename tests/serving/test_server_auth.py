"""Transports, authentication and TLS of ``lakehouse serve``, with real clients.

Each server runs on an empty home (placeholder views), which is all a login needs.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pyhive.exc import OperationalError

from lakehouse.config import LakehouseConfig
from lakehouse.serving.server import default_users_file
from lakehouse.serving.users import set_user
from tests.helpers import lakehouse_cmd
from tests.serving.clients import beeline, connect, query, running_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("auth")]

STOREPASS = "keystore-secret"


def _add_user(config: LakehouseConfig, name: str, password: str) -> None:
    subprocess.run(
        lakehouse_cmd("users", "add", name, "--home", config.home, "--password-stdin"),
        input=password + "\n", text=True, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> dict[str, Path]:
    """A self-signed certificate for 127.0.0.1: server keystore, PEM and client truststore."""
    folder = tmp_path_factory.mktemp("tls")
    keystore, pem, truststore = folder / "server.p12", folder / "server.pem", folder / "trust.p12"
    keytool = ["keytool", "-noprompt", "-storepass", STOREPASS]
    subprocess.run(
        [*keytool, "-genkeypair", "-alias", "lakehouse", "-keyalg", "RSA", "-keysize", "2048",
         "-validity", "2", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost",
         "-storetype", "PKCS12", "-keystore", str(keystore), "-keypass", STOREPASS],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*keytool, "-exportcert", "-rfc", "-alias", "lakehouse", "-keystore", str(keystore),
         "-file", str(pem)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*keytool, "-importcert", "-alias", "lakehouse", "-file", str(pem), "-storetype",
         "PKCS12", "-keystore", str(truststore)],
        check=True, capture_output=True,
    )  # fmt: skip
    return {"keystore": keystore, "pem": pem, "truststore": truststore}


def _arguments_containing(secret: str) -> list[str]:
    """The command lines of this machine's processes that contain ``secret``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes()
        except OSError:  # the process exited, or is not ours to read
            continue
        if secret.encode() in arguments:
            found.append(arguments.replace(b"\0", b" ").decode(errors="replace")[:300])
    return found


def _home(tmp_path: Path) -> LakehouseConfig:
    return LakehouseConfig.create(str(tmp_path / "home"))


def test_binary_password_over_tls(tmp_path, tls):
    config = _home(tmp_path)
    _add_user(config, "alice", "correct-horse")
    with running_server(
        config.home, "--tls-keystore", str(tls["keystore"]),
        auth="password", cafile=tls["pem"], env={"LAKEHOUSE_TLS_KEYSTORE_PASSWORD": STOREPASS},
    ) as server:  # fmt: skip
        with connect(server, "alice", "correct-horse") as connection:
            assert query(connection, "SELECT COUNT(*) FROM kpi_summary") == [(0,)]
            # The keystore password reached the JVM (TLS works) without any argument list.
            assert _arguments_containing(STOREPASS) == []
            with pytest.raises(OperationalError, match="lakehouse serve is read-only"):
                query(connection, "ADD JAR /nonexistent.jar")  # logged in, still read-only
        for user, password in (("alice", "wrong"), ("mallory", "correct-horse")):
            with pytest.raises(Exception):  # noqa: B017 - any refusal; a session must not open
                connect(server, user, password)
        plain = type(server)(port=server.port, auth="password")  # same server, no TLS
        with pytest.raises(Exception):  # noqa: B017
            connect(plain, "alice", "correct-horse")

        _add_user(config, "bob", "added-while-serving")  # no restart needed
        with connect(server, "bob", "added-while-serving") as connection:
            assert query(connection, "SELECT 1") == [(1,)]

        url = (
            f"jdbc:hive2://127.0.0.1:{server.port}/gold;ssl=true;"
            f"sslTrustStore={tls['truststore']};trustStorePassword={STOREPASS}"
        )
        out = beeline(url, "SELECT COUNT(*) AS n FROM kpi_summary;", "alice", "correct-horse")
        assert out.split() == ["n", "0"]
        with pytest.raises(AssertionError, match="beeline failed"):
            beeline(url, "SELECT 1;", "alice", "wrong")
    assert not [line for line in server.output if STOREPASS in line]


def test_http_username_and_the_read_only_escape_hatch(tmp_path):
    config = _home(tmp_path)
    readable = tmp_path / "notes.txt"
    readable.write_text("any file the server may read\n")
    with running_server(
        config.home, "--read-only", "off", transport="http", auth="username"
    ) as server:
        assert any("ANY statement (--read-only off)" in line for line in server.output)
        with connect(server, "any-name") as connection:
            assert query(connection, "SELECT COUNT(*) FROM dq.rule_results") == [(0,)]
            # what the default refuses, a trusted admin may run
            got = query(connection, f"SELECT * FROM text.`{readable}`")
            assert got == [("any file the server may read",)]
        url = f"jdbc:hive2://127.0.0.1:{server.port}/gold;transportMode=http;httpPath=cliservice"
        assert beeline(url, "SELECT 42 AS answer;", "someone").split() == ["answer", "42"]


def test_http_password_over_tls(tmp_path, tls):
    config = _home(tmp_path)
    _add_user(config, "alice", "correct-horse")
    with running_server(
        config.home, "--tls-keystore", str(tls["keystore"]), transport="http",
        auth="password", cafile=tls["pem"], env={"LAKEHOUSE_TLS_KEYSTORE_PASSWORD": STOREPASS},
    ) as server:  # fmt: skip
        with connect(server, "alice", "correct-horse") as connection:
            assert query(connection, "SELECT COUNT(*) FROM orders") == [(0,)]
        # A wrong password gets HTTP 401 before any Thrift message is read.
        import ssl

        request = urllib.request.Request(
            f"https://127.0.0.1:{server.port}/cliservice",
            data=b"\x80\x01\x00\x01",
            headers={"Authorization": "Basic " + base64.b64encode(b"alice:wrong").decode()},
        )
        context = ssl.create_default_context(cafile=str(tls["pem"]))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, context=context, timeout=60)
        assert refused.value.code == 401
        url = (
            f"jdbc:hive2://127.0.0.1:{server.port}/gold;transportMode=http;httpPath=cliservice;"
            f"ssl=true;sslTrustStore={tls['truststore']};trustStorePassword={STOREPASS}"
        )
        out = beeline(url, "SELECT COUNT(*) AS n FROM orders;", "alice", "correct-horse")
        assert out.split() == ["n", "0"]


def _refusal_seconds(server, user: str, password: str) -> float:
    """How long the server takes to refuse a login."""
    start = time.perf_counter()
    with pytest.raises(Exception):  # noqa: B017 - any refusal; a session must not open
        connect(server, user, password)
    return time.perf_counter() - start


def test_refusals_do_not_tell_which_names_exist_and_repeated_failures_are_slowed(tmp_path):
    config = _home(tmp_path)
    users = default_users_file(config)
    known = [f"user{i:02d}" for i in range(20)]
    for name in known:
        set_user(users, name, f"secret-of-{name}")
    set_user(users, "alice", "correct-horse")
    with running_server(config.home, auth="password") as server:
        _refusal_seconds(server, "warm-up", "x")  # the first login loads classes and the file
        # Each name is tried once, so no try is slowed by the throttle; interleaved, so a
        # change in the machine's load falls on both cases alike.
        wrong_password, unknown_name = [], []
        for i, name in enumerate(known):
            wrong_password.append(_refusal_seconds(server, name, "wrong"))
            unknown_name.append(_refusal_seconds(server, f"nobody{i:02d}", "wrong"))
        a, b = statistics.median(wrong_password), statistics.median(unknown_name)
        assert abs(a - b) <= 0.25 * max(a, b), (wrong_password, unknown_name)
        assert min(unknown_name) > 0.05  # the unknown name did cost a PBKDF2 check

        # One name failing again and again: three tries are free, then each waits 0.5 s, 1 s,
        # 2 s, 4 s, 8 s. A login's own PBKDF2 time varies by seconds on a loaded machine, so
        # the check compares the long waits with the slowest free try.
        tries = [_refusal_seconds(server, "alice", f"guess-{i}") for i in range(8)]
        free = max(tries[:3])
        assert tries[6] >= free + 2.5 and tries[7] >= free + 5, tries
        with connect(server, "alice", "correct-horse") as connection:  # success resets it
            assert query(connection, "SELECT 1") == [(1,)]
        assert _refusal_seconds(server, "alice", "guess-again") < tries[7] - 4, tries

        # A new password, written within the file system's time resolution (simulated: the old
        # mtime is put back), in a file of the same size (every hash line is as long): the
        # server reloads on content, so the old password stops working at once.
        before = users.stat()
        set_user(users, "alice", "battery-staple")
        os.utime(users, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert users.stat().st_size == before.st_size
        with connect(server, "alice", "battery-staple") as connection:
            assert query(connection, "SELECT 2") == [(2,)]
        _refusal_seconds(server, "alice", "correct-horse")
