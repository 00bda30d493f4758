"""What the transparency log costs, each figure against a baseline measured in the same run.

(a) Sustained appends through ``registry.log.append``: lock the head row, hash, and store the entries and their
    nodes, in batches of ``BENCH_LOG_BATCH`` entries per transaction. The baseline is plain INSERTs of the same
    entries, in the same batches, into a table of the same shape with no tree. The target is at least 5,000
    entries/s. For reference, Tessera reports about 2,900 writes/s on 12 cores.
(b) A log of ``BENCH_LOG_ENTRIES`` entries (10 million by default):
    - an inclusion proof served from the database, in its own transaction as a request would be, with a target
      p50/p95 under 5 ms; the baseline is reading one entry by its index, the same way;
    - the proof's verification, with a target under 1 ms; the baseline is verifying the checkpoint's Ed25519
      signature, which a client does anyway.

How the big log is built. It is bulk-loaded, not appended one batch at a time. The entries are generated 65,536
at a time. Their leaf hashes come from ``merkle.leaf_hash``, and their subtree hashes from
``merkle.appended_nodes``, the function ``log.append`` uses, with hashlib. They are written into the same tables,
with executemany on SQLite and binary COPY on PostgreSQL. Then ``BENCH_LOG_TAIL`` more entries are appended
through ``log.append``, and the root served from the database is checked against the one computed in memory.
So the proofs measured come from a tree that both paths built.

SQLite always, on a file. PostgreSQL too, in a throwaway database, when ``SHENGJING_BENCH_POSTGRES_URL`` or
``SHENGJING_TEST_POSTGRES_URL`` is set or the local test server (postgres@127.0.0.1:5432/test) answers.
``BENCH_LOG_VERIFY=1`` also times ``log.verify_log`` over the whole big log.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable
from itertools import repeat
from pathlib import Path

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, Table, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench._util import report, throwaway_postgres
from shengjing import domains
from shengjing.config import Settings
from shengjing.registry import checkpoint, log, merkle
from shengjing.registry.models import LogEntry, LogHead, LogNode
from shengjing.store import migrate
from shengjing.store.db import UTCDateTime, make_engine, make_session_factory, unit_of_work, utcnow

ENTRIES = int(os.environ.get("BENCH_LOG_ENTRIES", "10000000"))
APPENDS = int(os.environ.get("BENCH_LOG_APPENDS", "50000"))
BATCH = int(os.environ.get("BENCH_LOG_BATCH", "1000"))
TAIL = int(os.environ.get("BENCH_LOG_TAIL", "1000"))
PROOFS = int(os.environ.get("BENCH_LOG_PROOFS", "2000"))
VERIFY = os.environ.get("BENCH_LOG_VERIFY", "") == "1"
LOAD_CHUNK = 1 << 16
TARGET_APPENDS_PER_S, TESSERA_PER_S = 5_000, 2_900
TARGET_PROOF_S, TARGET_VERIFY_S = 0.005, 0.001


def _entry(n: int) -> bytes:
    """A registration event as its canonical JSON (keys sorted, no spaces), about 90 bytes, made without json."""
    return b'{"code":"DJ-2026-%08d","holder":"ORG-%04d","kind":"registration","n":%d,"right":"holding"}' % (
        n,
        n % 9973,
        n,
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _each(calls: list[Callable[[], object]]) -> list[float]:
    timings = []
    for call in calls:
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def _open(url: str, var_dir: Path) -> tuple[Engine, sessionmaker[Session]]:
    settings = Settings(_env_file=None, var_dir=var_dir, database_url=url)  # type: ignore[call-arg]
    engine = make_engine(url)
    migrate.upgrade(engine, domains.metadata())
    return engine, make_session_factory(engine, settings)


# --- (a) sustained appends --------------------------------------------------------------------------------------


def bench_appends(name: str, url: str, var_dir: Path) -> None:
    engine, sessions = _open(url, var_dir)
    plain = Table(
        "bench_plain_entry",
        MetaData(),
        Column("idx", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
        Column("entry", LargeBinary, nullable=False),
        Column("appended_at", UTCDateTime(), nullable=False),
    )
    plain.create(engine)
    entries = [_entry(n) for n in range(APPENDS)]
    batches = [entries[start : start + BATCH] for start in range(0, APPENDS, BATCH)]

    def through_the_log() -> float:
        started = time.perf_counter()
        for batch in batches:
            with unit_of_work(sessions) as db:
                log.append(db, batch)
        return time.perf_counter() - started

    def plain_inserts(offset: int) -> float:
        started = time.perf_counter()
        for number, batch in enumerate(batches):
            first, now = offset + number * BATCH, utcnow()
            with unit_of_work(sessions) as db:
                db.execute(
                    insert(plain), [{"idx": first + i, "entry": e, "appended_at": now} for i, e in enumerate(batch)]
                )
        return time.perf_counter() - started

    # Two rounds each, alternating; the second log round appends to a log that already holds the first.
    logged, baseline = [], []
    for round_ in range(2):
        baseline.append(plain_inserts(round_ * APPENDS))
        logged.append(through_the_log())
    measured, plain_s = min(logged), min(baseline)
    report(f"{name}: {APPENDS} log appends in batches of {BATCH}", measured, plain_s, "plain inserts, no tree")
    print(
        f"  {APPENDS / measured:,.0f} entries/s through log.append (target ≥ {TARGET_APPENDS_PER_S:,}; "
        f"Tessera ~{TESSERA_PER_S:,} on 12 cores); plain inserts {APPENDS / plain_s:,.0f}/s"
    )
    with sessions() as db:
        assert log.size(db) == 2 * APPENDS
    engine.dispose()


# --- (b) proofs at ten million entries ------------------------------------------------------------------------


class _Frontier:
    """The last hash of each level: all ``merkle.appended_nodes`` reads of the tree loaded so far."""

    def __init__(self) -> None:
        self.last: dict[int, bytes] = {}

    def get(self, level: int, index: int) -> bytes:
        return self.last[level]  # chunks are loaded in order, so the last node of a level is the one asked for

    def add(self, level: int, digest: bytes) -> None:
        self.last[level] = digest


class _SqliteLoader:
    def __init__(self, engine: Engine) -> None:
        self.connection = engine.raw_connection()
        # INSERT INTO <table> (every column, in order) VALUES (?, …), as SQLAlchemy writes it for these models.
        self.entry_sql, self.node_sql = (
            str(insert(model.__table__).compile(dialect=engine.dialect)) for model in (LogEntry, LogNode)
        )
        bind = UTCDateTime().bind_processor(engine.dialect)  # the text SQLAlchemy stores for a timestamp
        self.stamp = bind(utcnow()) if bind else utcnow()

    def write(self, start: int, entries: list[bytes], leaves: list[bytes], nodes: list[tuple[int, int, bytes]]) -> None:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN")
        rows = zip(range(start, start + len(entries)), entries, leaves, repeat(self.stamp), strict=False)
        cursor.executemany(self.entry_sql, rows)
        cursor.executemany(self.node_sql, nodes)
        cursor.execute("COMMIT")
        cursor.close()

    def close(self) -> None:
        self.connection.close()


class _PostgresLoader:
    def __init__(self, engine: Engine) -> None:
        self.connection = engine.raw_connection()
        self.stamp = utcnow()

    def write(self, start: int, entries: list[bytes], leaves: list[bytes], nodes: list[tuple[int, int, bytes]]) -> None:
        cursor = self.connection.cursor()
        columns = f"{LogEntry.__tablename__} (idx, entry, leaf_hash, appended_at)"
        with cursor.copy(f"COPY {columns} FROM STDIN (FORMAT BINARY)") as copy:  # type: ignore[attr-defined]
            copy.set_types(["bigint", "bytea", "bytea", "timestamptz"])
            for row in zip(range(start, start + len(entries)), entries, leaves, repeat(self.stamp), strict=False):
                copy.write_row(row)
        with cursor.copy(f"COPY {LogNode.__tablename__} (level, idx, hash) FROM STDIN (FORMAT BINARY)") as copy:  # type: ignore[attr-defined]
            copy.set_types(["smallint", "bigint", "bytea"])
            for row in nodes:
                copy.write_row(row)
        self.connection.commit()
        cursor.close()

    def close(self) -> None:
        cursor = self.connection.cursor()
        cursor.execute(f"ANALYZE {LogEntry.__tablename__}")
        cursor.execute(f"ANALYZE {LogNode.__tablename__}")
        self.connection.commit()
        self.connection.close()


def _bulk_load(targets: list[tuple[str, Engine, sessionmaker[Session]]]) -> tuple[bytes, float]:
    """Load ``ENTRIES`` entries into every target at once (hashing them once); return the root computed in memory
    and the seconds it took."""
    loaders = [
        (_PostgresLoader if engine.dialect.name == "postgresql" else _SqliteLoader)(engine) for _, engine, _ in targets
    ]
    frontier = _Frontier()
    started = time.perf_counter()
    for start in range(0, ENTRIES, LOAD_CHUNK):
        entries = [_entry(n) for n in range(start, min(ENTRIES, start + LOAD_CHUNK))]
        leaves = [merkle.leaf_hash(data) for data in entries]
        nodes = merkle.appended_nodes(start, leaves, frontier.get)
        frontier.add(0, leaves[-1])
        for level, _, digest in nodes:
            frontier.add(level, digest)
        for loader in loaders:
            loader.write(start, entries, leaves, nodes)
    for loader in loaders:
        loader.close()
    for _, _, sessions in targets:
        with unit_of_work(sessions) as db:
            db.add(LogHead(id=log.HEAD_ID, size=ENTRIES, updated_at=utcnow()))
    return merkle.tree_root(ENTRIES, frontier.get), time.perf_counter() - started


def _storage(engine: Engine, path: Path | None) -> str:
    if path is not None:
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    else:
        with engine.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    return f"{size / 1e9:.2f} GB"


def bench_proofs(
    name: str, engine: Engine, sessions: sessionmaker[Session], expected_root: bytes, file: Path | None
) -> None:
    started = time.perf_counter()
    with unit_of_work(sessions) as db:
        assert log.root(db, ENTRIES) == expected_root, "the bulk-loaded tree is not the one computed in memory"
        log.append(db, [_entry(n) for n in range(ENTRIES, ENTRIES + TAIL)])
        signed = log.sign_checkpoint(db)
    tail_s = time.perf_counter() - started
    size = signed.size
    public = checkpoint.public_key(sessions.kw["info"]["settings"])
    print(f"{name}: {TAIL} entries appended through log.append onto the bulk-loaded log, then signed: {_ms(tail_s)}")
    print(f"  storage: {_storage(engine, file)} for {size:,} entries")

    rng = random.Random(2024)
    indexes = [rng.randrange(size) for _ in range(PROOFS)]
    entries: dict[int, bytes] = {}
    proofs: dict[int, list[bytes]] = {}

    def read_entry(index: int) -> Callable[[], object]:
        def call() -> None:
            with sessions() as db:
                entries[index] = log.entry(db, index)

        return call

    def serve_proof(index: int) -> Callable[[], object]:
        def call() -> None:
            with sessions() as db:
                proofs[index] = log.inclusion(db, index, size)

        return call

    _each([serve_proof(i) for i in indexes[:50]] + [read_entry(i) for i in indexes[:50]])  # warm up the pool
    baseline = _each([read_entry(i) for i in indexes])
    served = _each([serve_proof(i) for i in indexes])
    (p50, p95), (b50, b95) = _percentiles(served), _percentiles(baseline)
    hashes = len(proofs[indexes[0]])
    print(
        f"  inclusion proof at size {size:,} ({hashes} hashes) from the database: p50 {_ms(p50)}, p95 {_ms(p95)} "
        f"(target < {_ms(TARGET_PROOF_S)}); one entry by index: p50 {_ms(b50)}, p95 {_ms(b95)}; "
        f"ratio {p50 / b50:.2f}x (p50)"
    )

    def verify(index: int) -> Callable[[], object]:
        leaf = merkle.leaf_hash(entries[index])
        return lambda: merkle.verify_inclusion(leaf, index, size, proofs[index], signed.root)

    verified = _each([verify(i) for i in indexes])
    signatures = _each([lambda: checkpoint.verify_checkpoint(signed.note, public)] * PROOFS)
    (v50, v95), (s50, s95) = _percentiles(verified), _percentiles(signatures)
    print(
        f"  verify_inclusion: p50 {_ms(v50)}, p95 {_ms(v95)} (target < {_ms(TARGET_VERIFY_S)}); checkpoint "
        f"signature check: p50 {_ms(s50)}, p95 {_ms(s95)}; ratio {v50 / s50:.2f}x (p50)"
    )

    olds = [rng.randrange(1, size) for _ in range(PROOFS // 4)]
    with sessions() as db:
        old_roots = {old: log.root(db, old) for old in olds}
    consistency: dict[int, list[bytes]] = {}

    def serve_consistency(old: int) -> Callable[[], object]:
        def call() -> None:
            with sessions() as db:
                consistency[old] = log.consistency(db, old, size)

        return call

    def check_consistency(old: int) -> Callable[[], object]:
        return lambda: merkle.verify_consistency(old, size, old_roots[old], signed.root, consistency[old])

    c50, c95 = _percentiles(_each([serve_consistency(old) for old in olds]))
    k50, k95 = _percentiles(_each([check_consistency(old) for old in olds]))
    print(
        f"  consistency proof (random old size → {size:,}): served p50 {_ms(c50)}, p95 {_ms(c95)}; "
        f"verified p50 {_ms(k50)}, p95 {_ms(k95)}"
    )

    if VERIFY:
        started = time.perf_counter()
        with sessions() as db:
            checked = log.verify_log(db)
        assert checked.ok, checked.first_break
        print(f"  verify_log over all {checked.size:,} entries and {checked.checkpoints} checkpoint(s): "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, throwaway_postgres("shengjing_bench_log_") as postgres_url:
        root = Path(tmp)
        sqlite_file = root / "appends.db"
        bench_appends("sqlite", f"sqlite:///{sqlite_file}", root / "var-a")
        if postgres_url:
            bench_appends("postgresql", postgres_url, root / "var-a")

    with tempfile.TemporaryDirectory() as tmp, throwaway_postgres("shengjing_bench_log_") as postgres_url:
        root = Path(tmp)
        big_file = root / "log.db"
        targets = [("sqlite", *_open(f"sqlite:///{big_file}", root / "var-b"))]
        if postgres_url:
            targets.append(("postgresql", *_open(postgres_url, root / "var-b")))
        expected_root, load_s = _bulk_load(targets)
        print(
            f"{ENTRIES:,}-entry log bulk-loaded into {', '.join(name for name, _, _ in targets)} in {load_s:.0f} s "
            f"({ENTRIES / load_s:,.0f} entries/s, hashed once for all; see the docstring for how)"
        )
        for name, engine, sessions in targets:
            bench_proofs(name, engine, sessions, expected_root, big_file if name == "sqlite" else None)
            engine.dispose()
