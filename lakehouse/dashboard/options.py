"""What ``lakehouse dashboard`` serves, where, and from which Thrift server (no Dash import:
the options are checked before the dashboard's extra is loaded)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

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
    allow_insecure_bind: bool = False
    """Listen on a non-loopback address although the page has no login of its own."""

    def validate(self) -> None:
        """Raise :class:`~lakehouse.serving.server.ServeError` (a usage error) for options that
        cannot be served safely or at all, before anything starts."""
        positive_refresh(self.refresh_seconds)
        if not is_loopback(self.host) and not self.allow_insecure_bind:
            raise ServeError(
                f"refusing to listen on {self.host}: the dashboard has no login of its own. "
                "Use --allow-insecure-bind if the network is trusted."
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
