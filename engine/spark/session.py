"""A SparkSession set up the way the warehouse needs, or one clear error saying what is missing.

Spark is optional (``pip install 'trailsmith[spark]'``): nothing on the DuckDB path imports this module,
and this module imports pyspark only inside functions, so ``import trailsmith`` never starts a JVM.

Settings that make both engines agree (see ``../shared/REFERENCE.md`` section 6):

- the session time zone is UTC, like every time and ``eventDate`` partition in the warehouse;
- Parquet timestamps are written as ``TIMESTAMP_MICROS`` (adjusted to UTC), which DuckDB and pyarrow read
  as ``TIMESTAMP WITH TIME ZONE``, never as the legacy INT96;
- partition values are never type-inferred (``eventDate`` is cast explicitly to DATE by the readers, and
  an account id with a leading zero would otherwise become a number);
- ``size(NULL)`` is NULL, as DuckDB's ``array_length(NULL)``, which sqlglot translates to ``size``. Spark
  returns -1 instead when ANSI mode is off (Spark 3's default, and some platforms'), which silently drops
  rows from ``resources_touched``.

Settings that narrow what SQL can reach (the allow-list in :mod:`trailsmith.spark.guard` is the lock;
these hold even for a query it let through by mistake):

- ``runSQLOnFiles`` off: ``SELECT * FROM text.`/etc/passwd``` names a table, never a file to read (the
  readers use the DataFrame API, which this does not touch);
- SQL scripting off: ``spark.sql`` parses a text the way the guard's ``parsePlan`` does, never as a script;
- ``reflect``/``java_method`` may call no method at all (``spark.sql.reflect.allowList``, where the Spark
  version has it; set before the JVM starts), and the catalog is in memory: no Hive metastore to reach.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from trailsmith.engines import DEFAULT_MASTER
from trailsmith.errors import MissingDependencyError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


INSTALL_HINT = "Install it with: pip install 'trailsmith[spark]'"

#: SQL settings every session gets (runtime settings: they apply to an already running session too).
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.debug.maxToStringFields": "500",  # the events schema is wide: no warning about long plans
    "spark.sql.runSQLOnFiles": "false",
    "spark.sql.scripting.enabled": "false",
}

#: Settings of a JVM this process starts itself (they cannot change once it runs).
JVM_CONF: dict[str, str] = {
    "spark.ui.showConsoleProgress": "false",  # the CLI draws its own progress; Spark's would garble it
    "spark.sql.reflect.allowList": "(?!)",  # a pattern no method name matches
    "spark.sql.catalogImplementation": "in-memory",
}

#: And with a local master: no web UI (a cluster's UI is how its users follow their jobs, so it stays).
LOCAL_CONF: dict[str, str] = {"spark.ui.enabled": "false"}


def is_connect(master: str) -> bool:
    """True for a Spark Connect URL (``sc://host:15002``), where no local JVM is started.

    >>> is_connect("sc://localhost:15002"), is_connect("local[2]")
    (True, False)
    """
    return master.startswith("sc://")


def require_pyspark(master: str = DEFAULT_MASTER) -> None:
    """Raise :class:`MissingDependencyError` unless Spark can run here (pyspark, pandas, and Java when local).

    pandas is checked too: pyspark refuses ``mapInArrow`` without it, although trailsmith never uses it.
    """
    for module in ("pyspark", "pandas", "pyarrow"):
        try:
            __import__(module)
        except ImportError:
            problem = f"--engine spark needs {module}, which is not installed"
            raise MissingDependencyError(problem, hint=INSTALL_HINT) from None
    if is_connect(master):
        try:
            __import__("pyspark.sql.connect.session")
            __import__("grpc")
        except ImportError:
            raise MissingDependencyError(
                f"{master} is a Spark Connect URL, and the Spark Connect client is not installed",
                hint="Install it with: pip install 'pyspark[connect]'",
            ) from None
        return
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise MissingDependencyError(
            "--engine spark with a local or cluster master needs Java 17 or newer, and none was found",
            hint="Install a JDK (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        )


def session(
    master: str = DEFAULT_MASTER, *, app_name: str = "trailsmith", config: Mapping[str, str] | None = None
) -> SparkSession:
    """The SparkSession for ``master``: ``local[*]``, ``spark://...``, ``yarn``, or ``sc://`` (Spark Connect).

    An already running session is reused (Spark allows one per process) and gets the SQL settings above;
    ``config`` adds or overrides settings, e.g. ``{"spark.driver.memory": "4g"}`` before the JVM starts.
    """
    require_pyspark(master)
    with quiet_pyspark():
        from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    settings = dict(SESSION_CONF)
    if is_connect(master):
        builder = builder.remote(master)
    else:
        # Local executors run the parser in Python: the same interpreter as this one, so they find trailsmith
        # (PySpark otherwise starts whatever ``python3`` is on PATH). A cluster brings its own.
        if master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
            settings.update(LOCAL_CONF)
        builder = builder.master(master)
        settings.update(JVM_CONF)
    settings.update(config or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    with quiet_pyspark():
        spark = builder.getOrCreate()
    runtime = {**SESSION_CONF, **{k: v for k, v in (config or {}).items() if k.startswith("spark.sql.")}}
    for key, value in runtime.items():
        spark.conf.set(key, value)  # a reused session keeps its old values otherwise
    return spark


@contextlib.contextmanager
def quiet_pyspark() -> Iterator[None]:
    """Silence pyspark's warning about pandas 3, which it checks for but trailsmith never uses.

    It goes to stderr on every ``mapInArrow``; the CLI keeps stderr for progress and problems that matter.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        yield
