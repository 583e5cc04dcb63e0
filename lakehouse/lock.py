"""One writer per lakehouse home: an operating-system file lock that dies with its holder.

``<home>/_lakehouse/writer.lock`` is locked with ``flock`` for the whole run. The kernel drops
the lock when the holding process ends for any reason (SIGKILL, power loss of a container), so
a killed run never leaves a lock that blocks the next one. The file's content names the
holder (run id, pid, host, start); a clean release empties it, so content found by the next
holder means the previous run stopped without finishing, and that run is reported.

Object-storage homes (``s3a://`` ...) have no such lock: schedule one writer at a time there
(Delta's optimistic concurrency still rejects conflicting commits).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from lakehouse.config import LakehouseConfig
from lakehouse.runs import utc_now

log = logging.getLogger("lakehouse.lock")

LOCK_FILE = "_lakehouse/writer.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held without releasing) the writer lock."""

    run_id: str
    pid: int
    host: str
    started_at: str

    def __str__(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, started {self.started_at})"

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


class HomeBusy(RuntimeError):
    """Another run is writing to the same home."""


def lock_path(config: LakehouseConfig) -> Path | None:
    return None if "://" in config.home else Path(config.home) / LOCK_FILE


@contextmanager
def writer_lock(
    config: LakehouseConfig, run_id: str, wait_seconds: float = 0.0, poll_seconds: float = 1.0
) -> Iterator[Holder | None]:
    """Hold the home's writer lock for the block; yield the previous holder if it never
    released the lock (a run that was killed), else ``None``.

    Raises :class:`HomeBusy` if another process still holds it after ``wait_seconds``.
    """
    path = lock_path(config)
    if path is None:
        log.warning("no writer lock on %s: run one writer at a time there", config.home)
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = Holder.parse(path.read_text())
                    who = str(holder) if holder else "another process"
                    raise HomeBusy(
                        f"{config.home} is being written by {who}; try again when it ends, "
                        "or pass --wait SECONDS"
                    ) from None
                time.sleep(poll_seconds)
        previous = Holder.parse(os.pread(fd, 4096, 0).decode(errors="replace"))
        if previous is not None:
            log.warning("recovered the writer lock of %s (it stopped unfinished)", previous)
        me = Holder(run_id, os.getpid(), socket.gethostname(), utc_now().isoformat())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        os.fsync(fd)
        try:
            yield previous
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def describe_writer(config: LakehouseConfig) -> str:
    """'free', 'held by <holder>', or 'free (last run <id> stopped unfinished)', without
    taking the writer lock (a shared probe that is released at once)."""
    path = lock_path(config)
    if path is None or not path.exists():
        return "free"
    holder = Holder.parse(path.read_text())
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return f"held by {holder}" if holder else "held"
    finally:
        os.close(fd)
    return f"free (last run {holder.run_id} stopped unfinished)" if holder else "free"
