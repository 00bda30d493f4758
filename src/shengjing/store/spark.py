"""The one Spark session of a process: ``local[*]`` unless a setting names a cluster.

The sandbox, the classifier and the libraries all run SQL on Spark with the same configuration; it is made here,
once, so that the three cannot drift apart.
"""

from __future__ import annotations

import logging
from typing import Any


def spark_session(master: str = "local[*]", app_name: str = "shengjing", **config: str) -> Any:
    """The process's Spark session, created on first use (``getOrCreate``: later callers share it)."""
    from pyspark.sql import SparkSession

    # py4j logs at INFO from its finalizers, after the interpreter has closed its streams
    logging.getLogger("py4j").setLevel(logging.WARNING)
    # PySpark 4 logs a failed statement's whole query context as JSON; the caller reports the failure itself.
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # SQL's forgiving semantics, as DuckDB gives them: a failed cast or a division by zero is NULL.
        .config("spark.sql.ansi.enabled", "false")
    )
    for key, value in config.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
