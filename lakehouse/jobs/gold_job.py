"""spark-submit entry point for the gold layer.

    spark-submit --packages io.delta:delta-spark_4.1_2.13:4.3.1 \
      "$(python -m lakehouse.jobs gold)" --home DIR

Takes the same options as ``lakehouse run`` (``--full-refresh`` rebuilds gold from silver).
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--layers", "gold", *sys.argv[1:]]))
