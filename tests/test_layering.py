"""Imports run one way: core <- layers <- orchestration <- interfaces.

Every import of the project's own modules, including those inside functions, is read from the
source with :mod:`ast`; none may reach a higher tier, and a layer never imports another layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGES = ("lakehouse", "bronze", "silver", "gold", "expectations")
LAYERS = ("bronze", "silver", "gold")

TIERS: dict[str, int] = {
    # interfaces: the command line, the spark-submit entry scripts, serving, the dashboard
    "lakehouse.cli": 3,
    "lakehouse.jobs": 3,
    "lakehouse.serving": 3,
    "lakehouse.dashboard": 3,
    # orchestration: runs the layers (and the maintenance and status around them)
    "lakehouse.pipeline": 2,
    "lakehouse.maintain": 2,
    "lakehouse.status": 2,
    # the layers: pure transforms apart from their I/O
    "bronze": 1,
    "silver": 1,
    "gold": 1,
    # core: everything else in lakehouse/ (config, table declarations, Delta I/O, the ledger)
    "lakehouse": 0,
    "expectations": 0,
}
NAMES = {0: "core", 1: "layer", 2: "orchestration", 3: "interface"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _tier(module: str) -> int:
    """The tier of the longest declared prefix of ``module``."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in TIERS:
            return TIERS[prefix]
    raise AssertionError(f"{module} is in no tier")


def _imports(path: Path) -> set[str]:
    """The project modules ``path`` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_imports_run_from_interfaces_down_to_core():
    against = []
    for path in _sources():
        module = _module(path)
        for imported in sorted(_imports(path)):
            if _tier(imported) > _tier(module):
                against.append(
                    f"{module} ({NAMES[_tier(module)]}) imports {imported} "
                    f"({NAMES[_tier(imported)]})"
                )
    assert not against, "imports against the layering:\n" + "\n".join(against)


def test_a_layer_imports_no_other_layer():
    crossing = []
    for path in _sources():
        module = _module(path)
        own = module.split(".")[0]
        if own in LAYERS:
            crossing += [
                f"{module} imports {i}"
                for i in sorted(_imports(path))
                if i.split(".")[0] in LAYERS and i.split(".")[0] != own
            ]
    assert not crossing, "\n".join(crossing)


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    source = tmp_path / "job.py"
    source.write_text("def run():\n    from lakehouse.cli import main\n    return main\n")
    assert _imports(source) == {"lakehouse.cli"}
    assert _tier("lakehouse.cli") > _tier("bronze.ingest")
