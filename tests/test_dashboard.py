"""The dashboard without a server: an unreachable Thrift server is reported on the page (real
``lakehouse dashboard`` in headless chromium), and refused options exit 2 with one line.

(The dashboard over a real server, checked figure by figure against gold and following a
pipeline run: tests/serving/test_served_home.py.)
"""

from __future__ import annotations

import subprocess
import urllib.request

import pytest

from tests.dashboard_page import running_dashboard, wait_for
from tests.helpers import lakehouse_cmd, subprocess_env
from tests.serving.clients import free_port


@pytest.mark.slow
def test_unreachable_server_is_reported_on_the_page(browser, tmp_path):
    with running_dashboard(str(tmp_path / "home"), free_port()) as url:
        browser.get(url)
        status = lambda: browser.find_element("id", "status").text  # noqa: E731
        wait_for(
            browser, lambda: status().startswith("Cannot read from the Thrift server"), "error"
        )
        assert "127.0.0.1" in status()
        assert "No data-quality results" not in browser.find_element("id", "quality").text


def test_refused_options_exit_2_with_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            ("--port", str(port)): "cannot listen on 127.0.0.1",
            ("--host", "0.0.0.0"): "refusing to listen on 0.0.0.0",
            ("--auth", "password"): "LAKEHOUSE_THRIFT_PASSWORD",
            ("--tls-ca", str(tmp_path / "missing.pem")): "--tls-ca file not found",
            ("--refresh-seconds", "0"): "--refresh-seconds must be more than 0, not 0",
        }
        for args, message in cases.items():
            result = subprocess.run(
                lakehouse_cmd("dashboard", "--home", str(tmp_path), *args),
                capture_output=True, text=True, timeout=60, env=subprocess_env(),
            )  # fmt: skip
            assert result.returncode == 2, (args, result.stderr)
            assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_listens_on_ipv6_loopback(tmp_path):
    with running_dashboard(str(tmp_path / "home"), free_port(), host="::1") as url:
        assert url.startswith("http://[::1]:")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert "<title>Sales performance</title>" in page.read().decode()
