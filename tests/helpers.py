"""Helpers shared by tests: where things are, landing files, running the real CLI."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from lakehouse.config import LakehouseConfig

REPO = Path(__file__).resolve().parents[1]
REES46 = REPO / "tests" / "data" / "rees46"


def land(config: LakehouseConfig, *files: Path, rename: str | None = None) -> None:
    """Copy files into the landing folder (as a delivery would)."""
    for f in files:
        shutil.copy(f, Path(config.landing) / (rename or f.name))


def lakehouse_cmd(*args: str) -> list[str]:
    """The installed CLI, run through this interpreter (works in a venv and in CI)."""
    return [sys.executable, "-m", "lakehouse.cli", *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
