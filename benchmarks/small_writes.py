"""What one small Delta append costs, by how it is made idempotent: the per-commit floor under
every bookkeeping write of a run.

    python benchmarks/small_writes.py              # the three ways, each in its own process
    python benchmarks/small_writes.py --way marked --appends 20

Each way appends a one-row frame ``--appends`` times to a fresh table (after a few warm-up
appends) in a Spark session with the lakehouse's local defaults, and reports the mean wall time
and the Spark jobs per append:

- ``plain``: a bare append (no protection against a replay);
- ``txn``: Delta's ``txnAppId``/``txnVersion`` options, which make Delta look up the app's last
  version in the table's reconstructed state before committing;
- ``marked``: ``lakehouse.delta_io.append_once``, the batch mark in the commit's
  ``userMetadata``, checked in the newest commit files without a Spark job.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WAYS = ("plain", "txn", "marked")
WARM_UP = 5


def measure(way: str, appends: int, folder: Path) -> dict:
    from lakehouse.delta_io import BatchMark, append_once
    from lakehouse.session import get_spark

    spark = get_spark()
    location = str(folder / way)
    shutil.rmtree(location, ignore_errors=True)

    def append(n: int) -> None:
        row = spark.createDataFrame([(n, "x")], "id INT, value STRING")
        if way == "plain":
            row.write.format("delta").mode("append").save(location)
        elif way == "txn":
            row.write.format("delta").mode("append").option("txnAppId", "bench").option(
                "txnVersion", n
            ).save(location)
        else:
            append_once(row, location, BatchMark("bench", n))

    for n in range(WARM_UP):
        append(n)
    spark.sparkContext.setJobGroup("measured", "measured appends")
    started = time.perf_counter()
    for n in range(WARM_UP, WARM_UP + appends):
        append(n)
    seconds = time.perf_counter() - started
    jobs = len(spark.sparkContext.statusTracker().getJobIdsForGroup("measured"))
    rows = spark.read.format("delta").load(location).count()
    assert rows == WARM_UP + appends, rows
    return {
        "way": way,
        "appends": appends,
        "seconds_per_append": round(seconds / appends, 3),
        "jobs_per_append": round(jobs / appends, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--way", choices=WAYS, help="one way, in this process (default: all)")
    parser.add_argument("--appends", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="small-writes-") as folder:
        if args.way:
            print(json.dumps(measure(args.way, args.appends, Path(folder))))
            return
        for way in WAYS:  # each in its own JVM: no way warms the JIT for the next
            command = [sys.executable, __file__, "--way", way, "--appends", str(args.appends)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
