"""A Python client of ``lakehouse serve``: the connection any HiveServer2 client would open.

Used by ``lakehouse dashboard`` (which reads gold only through the server, like Tableau) and by
the serving tests. Built on PyHive; the settings mirror :class:`ServeOptions`, seen from the
client's side.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.serving.server import DEFAULT_PORTS, HTTP_PATH, Auth, Transport


@dataclass(frozen=True)
class Endpoint:
    """Where a ``lakehouse serve`` listens and how to log in to it."""

    host: str = "127.0.0.1"
    port: int | None = None
    """``None``: the server's default for the transport (10000 binary, 10001 HTTP)."""
    transport: Transport = Transport.BINARY
    auth: Auth = Auth.NONE
    user: str = "lakehouse"
    password: str | None = None
    tls_ca: Path | None = None
    """PEM file of the CA (or self-signed certificate) to trust: turns TLS on."""
    database: str = "gold"

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.transport.value]

    def describe(self) -> str:
        scheme = {Transport.BINARY: "thrift", Transport.HTTP: "http"}[self.transport]
        tls = "+tls" if self.tls_ca else ""
        return f"{scheme}{tls}://{self.host}:{self.effective_port} (auth {self.auth.value})"

    def connect(self) -> Any:
        """Open a PyHive connection (``pyhive.hive.Connection``); close it when done."""
        from pyhive import hive
        from thrift.transport import THttpClient, TSocket, TSSLSocket, TTransport

        secret = self.password if self.password is not None else "unused"
        context = ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else None
        if self.transport is Transport.HTTP:
            scheme = "https" if context else "http"
            transport = THttpClient.THttpClient(
                f"{scheme}://{self.host}:{self.effective_port}/{HTTP_PATH}", ssl_context=context
            )
            token = base64.b64encode(f"{self.user}:{secret}".encode()).decode()
            transport.setCustomHeaders({"Authorization": f"Basic {token}"})
            return hive.connect(thrift_transport=transport, database=self.database)
        if context is not None:
            sock = TSSLSocket.TSSLSocket(
                self.host, self.effective_port, ssl_context=context, server_hostname=self.host
            )
        else:
            sock = TSocket.TSocket(self.host, self.effective_port)
        if self.auth is Auth.NONE:
            return hive.connect(
                thrift_transport=TTransport.TBufferedTransport(sock),
                username=self.user,
                database=self.database,
            )
        return hive.connect(
            thrift_transport=_sasl_plain(sock, self.host, self.user, secret),
            username=self.user,
            database=self.database,
        )


def _sasl_plain(sock: Any, host: str, user: str, password: str) -> Any:
    import thrift_sasl
    from pyhive import hive

    def factory() -> Any:
        return hive.get_installed_sasl(
            host=host, sasl_auth="PLAIN", username=user, password=password
        )

    return thrift_sasl.TSaslClientTransport(factory, "PLAIN", sock)


def fetch(connection: Any, sql: str) -> list[tuple]:
    """Run one statement; return its rows (``[]`` for statements without a result)."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()
