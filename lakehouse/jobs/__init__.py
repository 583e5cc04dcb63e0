"""The layers' ``spark-submit`` entry scripts: ``bronze_job.py``, ``silver_job.py`` and
``gold_job.py`` in this folder, each ``lakehouse run --layers <layer>`` with the same options.

They are installed with the package, so a driver needs no checkout; ``python -m lakehouse.jobs
bronze`` prints where a layer's script is::

    spark-submit --master spark://host:7077 --packages io.delta:delta-spark_4.1_2.13:4.3.1 \\
      "$(python -m lakehouse.jobs bronze)" --home s3a://bucket/lakehouse
"""

from __future__ import annotations

from pathlib import Path

JOB_LAYERS = ("bronze", "silver", "gold")


def script(layer: str) -> Path:
    """The entry script of ``layer`` (one of :data:`JOB_LAYERS`)."""
    if layer not in JOB_LAYERS:
        raise ValueError(f"unknown layer {layer!r}; choose from {', '.join(JOB_LAYERS)}")
    return Path(__file__).with_name(f"{layer}_job.py")
