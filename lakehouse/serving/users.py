"""The users file behind ``--auth password``: one PBKDF2-SHA256 hash per user, never a password.

Line format (read by ``java/LakehouseUsersAuthenticator.java`` inside the server)::

    name:pbkdf2-sha256:<iterations>:<salt, base64>:<hash, base64>

The server re-reads the file when it changes, so ``lakehouse users add`` takes effect at once.
The dashboard's login checks the same file with :class:`PasswordCheck`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from pathlib import Path

SCHEME = "pbkdf2-sha256"
ITERATIONS = 600_000
"""OWASP's figure for PBKDF2-SHA256; older hashes (310,000) still verify and are replaced with
this count when the password is next set."""
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class UsersFileError(ValueError):
    """A user name or users file that cannot be used."""


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """Return ``pbkdf2-sha256:<iterations>:<salt>:<hash>`` for ``password``."""
    if not password:
        raise UsersFileError("the password must not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)
    b64 = base64.b64encode
    return f"{SCHEME}:{iterations}:{b64(salt).decode()}:{b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches a ``hash_password`` result."""
    scheme, iterations, salt, expected = stored.split(":")
    if scheme != SCHEME:
        return False
    digest = hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations), 32
    )
    return hmac.compare_digest(digest, base64.b64decode(expected))


def read_users(path: Path) -> dict[str, str]:
    """User name -> stored hash; an absent file has no users."""
    if not path.exists():
        return {}
    users: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, stored = line.split(":", 1)
            users[name] = stored
    return users


def _write_users(path: Path, users: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    body = "# lakehouse serving users: name:pbkdf2-sha256:iterations:salt:hash\n"
    body += "".join(f"{name}:{stored}\n" for name, stored in sorted(users.items()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
    os.replace(tmp, path)


def set_user(path: Path, name: str, password: str) -> bool:
    """Add ``name`` or change its password; True if the user is new."""
    if not _NAME.match(name):
        raise UsersFileError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'"
        )
    users = read_users(path)
    is_new = name not in users
    users[name] = hash_password(password)
    _write_users(path, users)
    return is_new


def remove_user(path: Path, name: str) -> bool:
    """Remove ``name``; False if it was not there."""
    users = read_users(path)
    if users.pop(name, None) is None:
        return False
    _write_users(path, users)
    return True


class PasswordCheck:
    """Checks logins against a users file the way the Thrift server's authenticator does: an
    unknown name costs the same PBKDF2 work as a known one (a dummy hash), and failures in a row
    for one name are slowed (``free`` tries, then ``first_delay`` seconds doubling up to
    ``max_delay``, until that name succeeds)."""

    def __init__(
        self, path: Path, *, free: int = 3, first_delay: float = 0.5, max_delay: float = 8.0
    ) -> None:
        self.path = path
        self.free, self.first_delay, self.max_delay = free, first_delay, max_delay
        self._dummy = hash_password(secrets.token_urlsafe(16))
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str, password: str) -> bool:
        with self._lock:
            failures = self._failures.get(name, 0)
        if failures >= self.free:
            time.sleep(min(self.first_delay * 2 ** min(failures - self.free, 10), self.max_delay))
        stored = read_users(self.path).get(name)
        valid = verify_password(password, stored or self._dummy) and stored is not None
        with self._lock:
            if valid:
                self._failures.pop(name, None)
            else:
                if len(self._failures) > 100_000:  # made-up names must not fill the memory
                    self._failures.clear()
                self._failures[name] = failures + 1
        return valid
