"""The dashboard's login: the users of ``lakehouse users add``, checked like the Thrift server
checks them (:class:`~lakehouse.serving.users.PasswordCheck`), remembered in a signed session
cookie whose key lives only in this process (a restart logs everyone out).

Every route but the login form needs a logged-in session: a page is redirected to the form, a
request of the page's scripts (Dash's callbacks, its assets) gets 401.
"""

from __future__ import annotations

import html
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, redirect, request, session

from lakehouse.serving.users import PasswordCheck

LOGIN_ROUTE = "/login"
LOGOUT_ROUTE = "/logout"
COOKIE = "lakehouse_dashboard_session"

_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Sales performance</title>
<style>body{{font-family:sans-serif;max-width:22rem;margin:4rem auto}}label,input,button{{
display:block;width:100%;margin:.3rem 0}}.error{{color:#b00020}}</style></head>
<body><h1>Sales performance</h1>
<form method="post" action="{action}">
<label for="user">User</label><input id="user" name="user" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="sign-in" type="submit">Sign in</button></form>
<p class="error" id="login-error">{error}</p></body></html>"""


def _local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def install_login(server: Flask, users_file: Path) -> None:
    """Require a login for every route of ``server``."""
    check = PasswordCheck(users_file)
    server.secret_key = secrets.token_bytes(32)
    server.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )

    def form(error: str = "", status: int = 200) -> Response:
        target = request.args.get("next")
        action = LOGIN_ROUTE + (f"?{urlencode({'next': target})}" if target else "")
        body = _FORM.format(action=html.escape(action, quote=True), error=html.escape(error))
        return Response(body, status=status, mimetype="text/html")

    @server.route(LOGIN_ROUTE, methods=["GET", "POST"])
    def _login() -> Any:
        if request.method == "GET":
            return form()
        name, password = request.form.get("user", ""), request.form.get("password", "")
        if not check(name, password):
            return form("Wrong user name or password.", status=401)
        session.clear()
        session["user"] = name
        return redirect(_local_path(request.args.get("next")))

    @server.route(LOGOUT_ROUTE)
    def _logout() -> Any:
        session.clear()
        return redirect(LOGIN_ROUTE)

    @server.before_request
    def _require_login() -> Any:
        if request.path == LOGIN_ROUTE or session.get("user"):
            return None
        if request.method == "GET" and request.path == "/":
            return redirect(f"{LOGIN_ROUTE}?next=/")
        return Response("sign in first: " + LOGIN_ROUTE + "\n", status=401, mimetype="text/plain")
