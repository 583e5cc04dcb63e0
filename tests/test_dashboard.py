"""The dashboard without a server: its login, and an unreachable Thrift server reported on the
page (real ``lakehouse dashboard`` in headless chromium), and refused options exit 2 with one
line.

(The dashboard over a real server, checked figure by figure against gold and following a
pipeline run: tests/serving/test_served_home.py.)
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request

import pytest

from lakehouse.serving.users import set_user
from tests.dashboard_page import open_dashboard, running_dashboard, wait_for
from tests.helpers import lakehouse_cmd, subprocess_env
from tests.serving.clients import free_port


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _answer(url: str, data: bytes | None = None) -> tuple[int, str]:
    """Status and Location of one request, redirects not followed, no cookies."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=30) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


@pytest.mark.slow
def test_login_then_an_unreachable_server_is_reported_on_the_page(browser, tmp_path):
    home = tmp_path / "home"
    set_user(home / "serving" / "users", "alice", "correct horse")
    with running_dashboard(str(home), free_port(), "--login") as url:
        # Without a session: the page goes to the form, its callbacks and files get 401.
        assert _answer(url) == (302, "/login?next=/")
        assert _answer(url + "_dash-update-component", b"{}")[0] == 401
        assert _answer(url + "data-docs/index.html")[0] == 401
        signed_in = b"user=alice&password=correct+horse"
        # A right password goes back to this site only, whatever "next" says.
        assert _answer(url + "login?next=https://elsewhere.example/", signed_in) == (302, "/")
        assert _answer(url + "login", b"user=alice&password=wrong")[0] == 401
        assert _answer(url + "login", b"user=mallory&password=correct+horse")[0] == 401

        browser.delete_all_cookies()
        browser.get(url)
        assert "/login" in browser.current_url
        browser.find_element("id", "user").send_keys("alice")
        browser.find_element("id", "password").send_keys("not it")
        browser.find_element("id", "sign-in").click()
        wait_for(
            browser,
            lambda: "Wrong user name or password" in browser.find_element("id", "login-error").text,
            "the refusal",
        )
        open_dashboard(browser, url, "alice", "correct horse")
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
            ("--host", "0.0.0.0"): "the dashboard on 0.0.0.0 asks for a login, and there are no "
            "users in",
            ("--login",): "the dashboard with --login asks for a login",
            ("--threads", "0"): "--threads must be between 1 and 64, not 0",
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
