"""What ``lakehouse dashboard`` serves, where, and from which Thrift server (no Dash import:
the options are checked before the dashboard's extra is loaded)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from lakehouse.environment import PASSWORD_ENV
from lakehouse.serving.client import Endpoint
from lakehouse.serving.server import (
    Auth,
    ServeError,
    is_loopback,
    port_is_free,
    positive_refresh,
)


@dataclass(frozen=True)
class DashboardOptions:
    """The web page's address and refresh, and the endpoint it reads gold from."""

    endpoint: Endpoint
    host: str = "127.0.0.1"
    port: int = 8050
    refresh_seconds: float = 60.0
    users_file: Path | None = None
    """The users a login is checked against (``lakehouse users add``); the CLI passes
    ``<home>/serving/users`` unless told otherwise."""
    login: bool = False
    """Ask for a login even on loopback (always asked on any other address)."""
    threads: int = 4
    """Requests served at once (the web server's bounded pool); each opens at most one Thrift
    session, so this also bounds the sessions the page holds on the server."""

    @property
    def needs_login(self) -> bool:
        return self.login or not is_loopback(self.host)

    def validate(self) -> None:
        """Raise :class:`~lakehouse.serving.server.ServeError` (a usage error) for options that
        cannot be served safely or at all, before anything starts."""
        positive_refresh(self.refresh_seconds)
        if not 1 <= self.threads <= 64:
            raise ServeError(f"--threads must be between 1 and 64, not {self.threads}")
        if self.needs_login:
            from lakehouse.serving.users import read_users

            if self.users_file is None or not read_users(self.users_file):
                where = "on " + self.host if not is_loopback(self.host) else "with --login"
                raise ServeError(
                    f"the dashboard {where} asks for a login, and there are no users in "
                    f"{self.users_file}: add one first with 'lakehouse users add NAME'"
                )
        if self.endpoint.tls_ca is not None and not self.endpoint.tls_ca.is_file():
            raise ServeError(f"--tls-ca file not found: {self.endpoint.tls_ca}")
        if self.endpoint.auth is Auth.PASSWORD and self.endpoint.password is None:
            raise ServeError(f"--auth password needs the password in ${PASSWORD_ENV}")
        port_is_free(self.host, self.port)

    @property
    def url(self) -> str:
        """Where a browser on this machine opens the page."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{_url_host(host)}:{self.port}/"


def _url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:  # a name
        return host
