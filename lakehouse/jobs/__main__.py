"""``python -m lakehouse.jobs [LAYER ...]``: the path of each layer's entry script (all three
without arguments), one per line, for ``spark-submit``."""

from __future__ import annotations

import sys

from lakehouse.jobs import JOB_LAYERS, script


def main(argv: list[str]) -> int:
    layers = argv or list(JOB_LAYERS)
    unknown = [layer for layer in layers if layer not in JOB_LAYERS]
    if unknown:
        print(
            f"python -m lakehouse.jobs: unknown layer {unknown[0]!r}; choose from "
            f"{', '.join(JOB_LAYERS)}",
            file=sys.stderr,
        )
        return 2
    for layer in layers:
        print(script(layer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
