"""spark-submit entry point for the silver layer.

    spark-submit --packages io.delta:delta-spark_4.1_2.13:4.3.1 \
      "$(python -m lakehouse.jobs silver)" --home DIR

Takes the same options as ``lakehouse run``.
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--layers", "silver", *sys.argv[1:]]))
