"""Jars the Thrift server's JVM needs on its *system* class path.

The Thrift server opens each client session on a thread whose class loader is Hive's, which
does not see jars added at run time by ``spark.jars.packages``: the Delta catalog then fails
with ``ClassNotFoundException`` at connect (delta-io/delta#1332). So the server puts the Delta
jars on ``spark.driver.extraClassPath`` - only those whose artifact Spark does not already ship,
so Spark's own versions keep winning as they do in the batch jobs.

The list of resolved jars is cached per Delta package under ``~/.cache/lakehouse``; the first
server start on a machine resolves it once with a short Spark run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyspark

from lakehouse.environment import environment
from lakehouse.session import DELTA_PACKAGE

AUTHENTICATOR_CLASS = "lakehouse.serving.LakehouseUsersAuthenticator"
READ_ONLY_EXTENSION = "lakehouse.serving.ReadOnlySql"
_JAVA_SOURCES = Path(__file__).with_name("java")
_ARTIFACT = re.compile(r"^(.*?)-\d[\w.\-]*\.jar$")


class ClasspathError(RuntimeError):
    """The server's jars could not be resolved or built."""


def cache_dir() -> Path:
    return environment().cache_home / "lakehouse"


def spark_jars_dir() -> Path:
    return Path(pyspark.__file__).parent / "jars"


def artifact_name(jar_name: str) -> str:
    """``delta-storage-4.3.1.jar`` -> ``delta-storage``."""
    match = _ARTIFACT.match(jar_name)
    return match.group(1) if match else jar_name


def extra_jars(resolved: list[Path], shipped: list[Path]) -> list[Path]:
    """Jars of Ivy's ``resolved`` (``org_artifact-version.jar``) that Spark does not ship."""
    have = {artifact_name(p.name) for p in shipped}
    return [p for p in resolved if artifact_name(p.name.split("_", 1)[-1]) not in have]


def resolved_delta_jars(package: str = DELTA_PACKAGE) -> list[Path]:
    """Local paths of ``package`` and its dependencies, resolved by Spark's Ivy once."""
    key = hashlib.sha256(package.encode()).hexdigest()[:12]
    listing = cache_dir() / f"jars-{key}.txt"
    if listing.exists():
        jars = [Path(line) for line in listing.read_text().splitlines() if line]
        if jars and all(p.exists() for p in jars):
            return jars
    code = (
        "from lakehouse.session import get_spark\n"
        "print('JARS=' + get_spark().sparkContext.getConf().get('spark.jars'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    lines = [x for x in result.stdout.splitlines() if x.startswith("JARS=")]
    if result.returncode != 0 or not lines:
        raise ClasspathError(
            f"could not resolve {package} from Maven Central:\n{result.stderr[-2000:]}"
        )
    jars = [Path(unquote(urlparse(uri).path)) for uri in lines[0][5:].split(",") if uri]
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("".join(f"{p}\n" for p in jars))
    return jars


def serving_jar() -> Path:
    """Compile the server's Java classes (the users-file authenticator and the read-only SQL
    extension; needs ``javac``) into one jar, cached by the hash of their sources."""
    sources = sorted(_JAVA_SOURCES.glob("*.java"))
    key = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:12]
    jar = cache_dir() / f"lakehouse-serving-{key}.jar"
    if jar.exists():
        return jar
    javac = shutil.which("javac")
    if javac is None:
        raise ClasspathError(
            "lakehouse serve needs a Java compiler (javac) to build its read-only check and "
            "authenticator once; install a JDK (Debian: openjdk-17-jdk-headless)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        classes = Path(tmp) / "classes"
        classes.mkdir()
        cmd = [
            javac, "-nowarn", "--release", "17", "-d", str(classes),
            "-cp", str(spark_jars_dir() / "*"), *(str(path) for path in sources),
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ClasspathError(f"javac failed:\n{result.stderr[-2000:]}")
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_name(f".{jar.name}.tmp")
        with zipfile.ZipFile(partial, "w") as archive:
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        os.replace(partial, jar)
    return jar


def delta_jars_to_ship() -> list[Path]:
    """The resolved Delta jars that Spark does not ship itself: what ``spark.jars`` (or
    ``spark-submit --jars``) needs instead of an Ivy resolution at every start."""
    return extra_jars(resolved_delta_jars(), list(spark_jars_dir().glob("*.jar")))


def server_classpath(*, with_serving_jar: bool) -> list[Path]:
    """Everything the server adds to its JVM's system class path."""
    jars = delta_jars_to_ship()
    if with_serving_jar:
        jars.append(serving_jar())
    return jars
