"""Fetching the Apache Kafka broker jars from Maven Central, and finding java.

Jars are resolved by Maven from kafka-pom.xml and cached per version under
``$SITEMON_CACHE_DIR`` (default ``~/.cache/sitemon``)/kafka-<version>/lib.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from devservices.process import ServiceError

# Newest 4.x served by Maven Central that aiokafka 0.14 was verified against
# (produce, idempotent producer, group consume, commit). Override per
# environment with SITEMON_KAFKA_VERSION, e.g. to match a docker image.
KAFKA_VERSION = os.environ.get("SITEMON_KAFKA_VERSION", "4.4.0")
POM = Path(__file__).with_name("kafka-pom.xml")
COMPLETE_MARKER = ".complete"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def cache_root() -> Path:
    """Directory for downloaded artifacts: $SITEMON_CACHE_DIR or ~/.cache/sitemon."""
    env = os.environ.get("SITEMON_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "sitemon"


def kafka_lib_dir(version: str = KAFKA_VERSION) -> Path:
    """Where the jars of one Kafka version live (complete once the marker exists)."""
    return cache_root() / f"kafka-{version}" / "lib"


def fetch_kafka(version: str = KAFKA_VERSION) -> Path:
    """Download kafka_2.13 and its runtime dependencies; return the lib dir.

    Does nothing when the cache is already complete. Jars are copied into a
    staging dir that is renamed into place only after Maven succeeded, so an
    interrupted fetch never leaves a half-filled lib dir behind.
    """
    lib = kafka_lib_dir(version)
    if (lib / COMPLETE_MARKER).is_file():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("cannot fetch Kafka: 'mvn' not on PATH (apt-get install maven)")
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lib.partial.", dir=lib.parent))
    try:
        _copy_dependencies(mvn, version, staging)
        (staging / COMPLETE_MARKER).write_text(version + "\n")
        _publish(staging, lib)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lib


def _copy_dependencies(mvn: str, version: str, dest: Path) -> None:
    """Run Maven's dependency:copy-dependencies for the throw-away pom."""
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={dest}",
        "-DincludeScope=runtime",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        # Maven 3.8 emits colour resets even in batch mode; keep messages plain.
        output = ANSI_ESCAPE.sub("", res.stdout + res.stderr).strip()
        raise ServiceError(
            f"Maven could not fetch Kafka {version} (exit {res.returncode}):\n{output}"
        )


def _publish(staging: Path, lib: Path) -> None:
    """Move a finished staging dir to `lib`; a concurrent fetch may have won."""
    try:
        staging.rename(lib)
    except OSError:
        if not (lib / COMPLETE_MARKER).is_file():
            # A stale, incomplete lib dir from an older layout: replace it.
            shutil.rmtree(lib, ignore_errors=True)
            staging.rename(lib)


def find_java() -> str:
    """Path of the java binary: $JAVA_HOME/bin/java, else java on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ServiceError(
            "no 'java' on PATH and no JAVA_HOME (apt-get install openjdk-17-jre-headless)"
        )
    return java
