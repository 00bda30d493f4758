"""Where a rewritten query runs: DuckDB embedded (the default), or Spark for cities that outgrow one machine.

The checker is the first guard; the engine is the second. A DuckDB connection is opened per query, in memory,
with views over the authorized snapshots' files only, and then locked: no other file, no network, no extension
loading, no spilling to disk, the memory and thread limits fixed, the configuration locked. A watchdog interrupts
a query that runs past its time limit, so a cross product or a runaway expression stops while the service keeps
answering. Engine errors are translated: what reaches the operator names the kind of failure, never the engine's
message, which may carry a data value (DuckDB's failed casts and ``error()`` do).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from shengjing.errors import ShengjingError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0
    memory: str = "2GB"
    threads: int = 2


class EngineFailure(ShengjingError):
    """The engine could not run an accepted query; the message never carries the engine's own text."""

    code = "query_failed"
    http_status = 422
    exit_code = 2


class QueryTimeout(EngineFailure):
    code = "query_timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"查询超过了 {seconds:g} 秒的时间上限，已被终止。",
            f"The query ran past its {seconds:g}-second limit and was stopped.",
            seconds=seconds,
        )


class QueryTooLarge(EngineFailure):
    code = "query_too_large"

    def __init__(self, memory: str) -> None:
        super().__init__(
            f"查询超过了 {memory} 的内存上限，已被终止（请缩小数据范围或减少连接）。",
            f"The query ran past its {memory} memory limit and was stopped (narrow it, or join less).",
            memory=memory,
        )


def _failed(kind: str) -> EngineFailure:
    return EngineFailure(
        "引擎无法执行该查询（数据转换或取值范围错误；为防止泄露数据，详细信息不予显示）。",
        "The engine could not run the query (a conversion or range error; the details are withheld, since they "
        "could show a data value).",
        engine_error=kind,
    )


class Engine(Protocol):
    name: str
    dialect: str

    def run(self, sql: str, sources: Mapping[str, Sequence[Path]], *, fetch: int, limits: Limits) -> pa.Table: ...


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckDBEngine:
    name = "duckdb"
    dialect = "duckdb"

    def run(self, sql: str, sources: Mapping[str, Sequence[Path]], *, fetch: int, limits: Limits) -> pa.Table:
        import duckdb

        connection = duckdb.connect(config={"threads": limits.threads, "memory_limit": limits.memory})
        try:
            files = []
            for name, paths in sources.items():
                listed = ", ".join(_literal(str(p)) for p in paths)
                files.extend(_literal(str(p)) for p in paths)
                connection.execute(f"CREATE VIEW {_quoted(name)} AS SELECT * FROM read_parquet([{listed}])")  # noqa: S608
            for setting in (
                f"SET allowed_paths = [{', '.join(files)}]",
                "SET enable_external_access = false",
                "SET autoinstall_known_extensions = false",
                "SET autoload_known_extensions = false",
                "SET allow_community_extensions = false",
                "SET enable_progress_bar = false",
                "SET max_temp_directory_size = '0B'",
                "SET lock_configuration = true",
            ):
                connection.execute(setting)
            watchdog = threading.Timer(limits.seconds, connection.interrupt)
            watchdog.start()
            try:
                reader = connection.sql(sql).to_arrow_reader(min(max(fetch, 1), 100_000))
                batches, rows = [], 0
                for batch in reader:
                    batches.append(batch)
                    rows += batch.num_rows
                    if rows >= fetch:
                        break
                table = pa.Table.from_batches(batches, schema=reader.schema)
            except duckdb.InterruptException:
                raise QueryTimeout(limits.seconds) from None
            except duckdb.OutOfMemoryException:
                raise QueryTooLarge(limits.memory) from None
            except duckdb.Error as exc:
                log.warning("sandbox query failed in DuckDB: %s", type(exc).__name__)  # never the message
                raise _failed(type(exc).__name__) from None
            finally:
                watchdog.cancel()
            return table.slice(0, fetch)
        finally:
            connection.close()


class SparkEngine:
    """A Spark session (``local[*]`` unless the setting names a cluster). Runs take turns in a process: each binds
    its snapshots to the session's view names."""

    name = "spark"
    dialect = "spark"
    _turn = threading.Lock()

    def __init__(self, master: str = "local[*]") -> None:
        self.master = master

    def _session(self):  # type: ignore[no-untyped-def]
        from shengjing.store.spark import spark_session

        return spark_session(self.master, "shengjing-sandbox")

    def run(self, sql: str, sources: Mapping[str, Sequence[Path]], *, fetch: int, limits: Limits) -> pa.Table:
        import uuid

        with self._turn:
            session = self._session()
            group = f"shengjing-{uuid.uuid4().hex}"
            context = session.sparkContext
            context.setJobGroup(group, "sandbox query", interruptOnCancel=True)
            stopped = threading.Event()

            def stop() -> None:
                stopped.set()
                context.cancelJobGroup(group)

            watchdog = threading.Timer(limits.seconds, stop)
            try:
                for name, paths in sources.items():
                    session.read.parquet(*[str(p) for p in paths]).createOrReplaceTempView(name)
                watchdog.start()
                table = session.sql(sql).limit(fetch).toArrow()
            except Exception as exc:
                if stopped.is_set():
                    raise QueryTimeout(limits.seconds) from None
                log.warning("sandbox query failed in Spark: %s", type(exc).__name__)
                raise _failed(type(exc).__name__) from None
            finally:
                watchdog.cancel()
                for name in sources:
                    session.catalog.dropTempView(name)
            return table


def open_engine(name: str, *, spark_master: str = "local[*]") -> Engine:
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine(spark_master)
    raise ValueError(f"unknown engine {name!r}")
