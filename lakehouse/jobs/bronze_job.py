"""spark-submit entry point for the bronze layer.

    spark-submit --packages io.delta:delta-spark_4.1_2.13:4.3.1 \
      "$(python -m lakehouse.jobs bronze)" --home DIR

Takes the same options as ``lakehouse run`` (``--home``, ``--landing``, ``--conf``,
``--full-refresh`` ...).
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--layers", "bronze", *sys.argv[1:]]))
