"""The one place that builds the SparkSession, for jobs, tests and the server.

``spark_builder`` only configures a builder; the caller decides when to create the session.
Under ``spark-submit`` the master and the jars come from the command line (``--master``,
``--packages``); when started from plain Python (the ``lakehouse`` CLI, tests) the Delta jars
are resolved from Maven Central by Ivy on first use, so a fresh machine needs no copied jars.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakehouse.config import SparkSettings, require_java
from lakehouse.environment import bind_local_driver_to_loopback, environment

DELTA_VERSION = "4.3.1"
SPARK_SCALA = "4.1_2.13"
DELTA_PACKAGE = f"io.delta:delta-spark_{SPARK_SCALA}:{DELTA_VERSION}"

DEFAULT_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    # Delta tables are addressed by path; keep the embedded catalog out of the way of a
    # running Thrift server (which owns its own metastore).
    "spark.sql.catalogImplementation": "in-memory",
    "spark.sql.adaptive.enabled": "true",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # toPandas through Arrow: the great-expectations sample is collected in one transfer
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

LOCAL_CONF: dict[str, str] = {
    # Defaults for one machine; a cluster run (spark-submit --master ...) keeps Spark's own.
    "spark.sql.shuffle.partitions": "8",
    "spark.databricks.delta.snapshotPartitions": "2",
    # 128 MB splits leave a core idle on few cores (325 MB of bronze = 3 tasks for 2 cores).
    "spark.sql.files.maxPartitionBytes": "64m",
    # Short batch runs on few cores spend much of their time in the JIT: C1 only halves the
    # start-up cost of Delta's first queries.
    "spark.driver.extraJavaOptions": (
        "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
    ),
}

LOCAL_MASTER = "local[*]"


def launched_by_spark_submit() -> bool:
    """True when this Python driver runs inside a JVM started by ``spark-submit``."""
    return environment().inside_spark_submit


def spark_builder(settings: SparkSettings | None = None) -> SparkSession.Builder:
    """Return a builder with Delta, UTC and local defaults; ``settings.conf`` overrides all."""
    settings = settings or SparkSettings()
    builder = SparkSession.builder.appName(settings.app_name)
    conf = dict(DEFAULT_CONF)
    master = settings.master
    if not launched_by_spark_submit():
        master = master or LOCAL_MASTER
        conf["spark.jars.packages"] = DELTA_PACKAGE
        conf["spark.driver.memory"] = environment().driver_memory
    if master:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):
        conf.update(LOCAL_CONF)
        if not launched_by_spark_submit():
            bind_local_driver_to_loopback()
    conf.update(settings.conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder


def get_spark(settings: SparkSettings | None = None) -> SparkSession:
    """Create (or reuse) the SparkSession for ``settings`` with a quiet log level."""
    require_java()
    spark = spark_builder(settings).getOrCreate()
    spark.sparkContext.setLogLevel(environment().spark_log_level)
    return spark
