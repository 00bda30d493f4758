"""Where a library's pipeline runs: DuckDB embedded, or Spark for cities that outgrow one machine.

A pipeline is a sequence of SQL statements written once, in DuckDB's dialect, and rendered for Spark by
sqlglot. Each step names the table it makes (``materialize``); the runner keeps it as a temporary table (DuckDB)
or a checkpointed temporary view (Spark), so later steps read it without recomputing it. Splink runs on the
same connection or session, so its blocked pairs never leave the engine.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Runner(Protocol):
    name: str
    splink_dialect: str

    def register(self, name: str, files: Sequence[Path]) -> None: ...

    def materialize(self, name: str, sql: str) -> None: ...

    def fetch(self, sql: str) -> pa.Table: ...

    def write(self, sql: str, directory: Path, stem: str) -> int: ...

    def drop(self, name: str) -> None: ...

    def splink_api(self) -> Any: ...

    def close(self) -> None: ...


class DuckDBRunner:
    name = splink_dialect = "duckdb"

    def __init__(self, *, memory: str = "3GB", threads: int | None = None, spill_dir: Path | None = None) -> None:
        import duckdb

        config: dict[str, Any] = {"memory_limit": memory, "preserve_insertion_order": False}
        if threads:
            config["threads"] = threads
        if spill_dir is not None:
            config["temp_directory"] = str(spill_dir)
        self.connection = duckdb.connect(config=config)
        self._views: set[str] = set()  # what register made (views over files); the rest are tables

    def register(self, name: str, files: Sequence[Path]) -> None:
        listed = ", ".join(_literal(str(p)) for p in files)
        self._views.add(name)
        self.connection.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet([{listed}])')  # noqa: S608

    def materialize(self, name: str, sql: str) -> None:
        self.connection.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')

    def fetch(self, sql: str) -> pa.Table:
        return self.connection.sql(sql).to_arrow_table()

    def write(self, sql: str, directory: Path, stem: str) -> int:
        """The result as ``<stem>.parquet`` in ``directory``; returns its row count."""
        path = directory / f"{stem}.parquet"
        self.connection.execute(f"COPY ({sql}) TO {_literal(str(path))} (FORMAT parquet, COMPRESSION zstd)")
        return int(pq.ParquetFile(path).metadata.num_rows)

    def drop(self, name: str) -> None:
        kind = "VIEW" if name in self._views else "TABLE"
        self._views.discard(name)
        self.connection.execute(f'DROP {kind} IF EXISTS "{name}"')

    def splink_api(self) -> Any:
        from splink import DuckDBAPI

        return DuckDBAPI(self.connection)

    def close(self) -> None:
        self.connection.close()


class SparkRunner:
    """Statements are transpiled from DuckDB's dialect; each made table is checkpointed (its lineage cut), so a
    long pipeline does not replan every earlier step."""

    name = splink_dialect = "spark"

    def __init__(self, master: str = "local[*]", *, checkpoint_dir: Path) -> None:
        from shengjing.store.spark import spark_session

        # On one machine, a shuffle into Spark's default 200 partitions is mostly scheduling overhead.
        partitions = str(max(2, os.cpu_count() or 2)) if master.startswith("local") else "200"
        self.session = spark_session(
            master, "shengjing-libraries", **{"spark.sql.shuffle.partitions": partitions, "spark.driver.memory": "4g"}
        )
        self.partitions = int(partitions)
        self.checkpoint_dir = checkpoint_dir / f"spark-{uuid.uuid4().hex}"
        self.session.sparkContext.setCheckpointDir(str(self.checkpoint_dir))
        self._views: set[str] = set()
        self._frames: dict[str, Any] = {}

    @staticmethod
    def render(sql: str) -> str:
        return sqlglot.transpile(sql, read="duckdb", write="spark")[0]

    def register(self, name: str, files: Sequence[Path]) -> None:
        self.session.read.parquet(*[str(p) for p in files]).createOrReplaceTempView(name)
        self._views.add(name)

    def materialize(self, name: str, sql: str) -> None:
        frame = self.session.sql(self.render(sql)).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self._frames[name] = frame
        self._views.add(name)

    def fetch(self, sql: str) -> pa.Table:
        return self.session.sql(self.render(sql)).toArrow()

    def write(self, sql: str, directory: Path, stem: str) -> int:
        """The result as ``<stem>-NNNNN.parquet`` files in ``directory``, written by the executors (Spark writes
        a folder of parts with its own marker files: the parts are moved up and renamed)."""
        parts_dir = directory / f".{stem}-{uuid.uuid4().hex}"
        self.session.sql(self.render(sql)).write.option("compression", "zstd").parquet(str(parts_dir))
        rows = 0
        for index, part in enumerate(sorted(parts_dir.glob("part-*.parquet"))):
            rows += pq.ParquetFile(part).metadata.num_rows
            part.rename(directory / f"{stem}-{index:05d}.parquet")
        shutil.rmtree(parts_dir)
        return rows

    def drop(self, name: str) -> None:
        self.session.catalog.dropTempView(name)
        frame = self._frames.pop(name, None)
        if frame is not None:
            frame.unpersist()
        self._views.discard(name)

    def splink_api(self) -> Any:
        from splink import SparkAPI

        # Comparisons use Spark's own functions (levenshtein): Splink's jar of similarity functions is not needed.
        return SparkAPI(
            spark_session=self.session,
            break_lineage_method="checkpoint",  # measured faster than persist, in local mode too
            num_partitions_on_repartition=self.partitions,
            register_udfs_automatically=False,
        )

    def close(self) -> None:
        for name in list(self._views):
            self.drop(name)
        shutil.rmtree(self.checkpoint_dir, ignore_errors=True)


def open_runner(engine: str, *, work_dir: Path, spark_master: str = "local[*]", memory: str = "3GB") -> Runner:
    if engine == "duckdb":
        return DuckDBRunner(memory=memory, spill_dir=work_dir)
    if engine == "spark":
        return SparkRunner(spark_master, checkpoint_dir=work_dir)
    raise ValueError(f"unknown engine {engine!r}")
