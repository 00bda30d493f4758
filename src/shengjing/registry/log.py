"""The registry's transparency log (透明日志): one append-only Merkle log in the metadata database.

Storage. ``registry_log_entry`` row ``idx`` holds a leaf: the entry's bytes and their leaf hash.
``registry_log_node`` holds the hash of every complete perfect subtree of level 1 and up. Each such row is
written once, by the append that completes its subtree (``merkle.appended_nodes``). A proof or a root reads
only the stored hashes that ``merkle`` names, fetched in two indexed queries. At ten million entries, an
inclusion proof is about 24 hashes, and nothing is rebuilt.

Appends are batched. ``append`` adds many entries in one transaction and writes about one new node per entry.
It first locks the head row: SELECT … FOR UPDATE on PostgreSQL, while on SQLite every transaction begins with
BEGIN IMMEDIATE and so holds the writer lock already. So concurrent appenders, from any number of processes,
get consecutive and distinct indexes in one tree.

Checkpoints are signed with the log's Ed25519 key (see ``checkpoint``). ``verify_log`` recomputes everything
from the entries' bytes, the same way appends computed it, and names the first thing that differs.

Audit. This is a low floor and records no audit event of its own. The registry service that decides a
registration calls ``append`` inside its ``state_change`` function and records the audit event there, in the
same transaction, so the entry and its audit event are committed or rolled back together.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Select,
    SmallInteger,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session

from shengjing.config import Settings
from shengjing.errors import ConfigurationError, IntegrityBroken, InvalidInput, NotFound
from shengjing.registry import checkpoint, merkle
from shengjing.registry.checkpoint import Checkpoint, CheckpointError
from shengjing.registry.merkle import Node, NodeGetter
from shengjing.registry.models import LogCheckpoint, LogEntry, LogHead, LogNode
from shengjing.store.db import utcnow

HEAD_ID = 1
MAX_ENTRY_BYTES = 1 << 20  # a registration event is a few hundred bytes; this only stops mistakes
_VERIFY_CHUNK = 8192  # entries read (and nodes recomputed) per query when verifying


def canonical_json(event: Mapping[str, Any]) -> bytes:
    """The one byte form of an event that its leaf hashes: sorted keys, no spaces, UTF-8 (as the audit chain)."""
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _entry_bytes(entry: bytes | Mapping[str, Any]) -> bytes:
    data = entry if isinstance(entry, bytes) else canonical_json(entry)
    if len(data) > MAX_ENTRY_BYTES:
        raise InvalidInput(
            f"透明日志条目过大：{len(data)} 字节，上限 {MAX_ENTRY_BYTES}。",
            f"A transparency log entry is too large: {len(data)} bytes, at most {MAX_ENTRY_BYTES}.",
        )
    return data


# --- reading the stored tree --------------------------------------------------------------------------------------


# Statements on the path of every proof are built once: building a SQLAlchemy expression costs more than running it.
_SIZE = select(LogHead.size).where(LogHead.id == HEAD_ID)
_ENTRY = select(LogEntry.entry).where(LogEntry.idx == bindparam("index"))


def size(db: Session) -> int:
    """How many entries the log holds."""
    return db.scalar(_SIZE) or 0


def entry(db: Session, index: int) -> bytes:
    """The bytes of entry ``index``: what its leaf hash covers."""
    data = db.scalar(_ENTRY, {"index": index})
    if data is None:
        raise NotFound.of("透明日志条目", "transparency log entry", index)
    return data


def entries(db: Session, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
    """(index, bytes, leaf hash) of entries [start, end), in order."""
    stmt = (
        select(LogEntry.idx, LogEntry.entry, LogEntry.leaf_hash)
        .where(LogEntry.idx >= start, LogEntry.idx < end)
        .order_by(LogEntry.idx)
    )
    return [(index, bytes(data), bytes(digest)) for index, data, digest in db.execute(stmt)]


@functools.cache
def _hashes_query(leaves: int, nodes: int) -> Select[tuple[int, int, bytes]] | CompoundSelect[tuple[int, int, bytes]]:
    """One query for the stored hashes of ``leaves`` leaves and ``nodes`` inner nodes, as (level, index, hash).

    On SQLite it is an OR of primary-key lookups, built once for each shape. A row-value IN over (level, idx)
    would not do, because SQLite scans the whole table for it."""
    parts = []
    if leaves:
        keys = [LogEntry.idx == bindparam(f"leaf_{k}") for k in range(leaves)]
        parts.append(select(literal_column("0", SmallInteger), LogEntry.idx, LogEntry.leaf_hash).where(or_(*keys)))
    if nodes:
        keys = [
            and_(LogNode.level == bindparam(f"level_{k}"), LogNode.idx == bindparam(f"node_{k}")) for k in range(nodes)
        ]
        parts.append(select(LogNode.level, LogNode.idx, LogNode.hash).where(or_(*keys)))
    return union_all(*parts) if len(parts) == 2 else parts[0]


def _postgres_hashes_query() -> CompoundSelect[tuple[int, int, bytes]]:
    """PostgreSQL takes the wanted subtrees as arrays, so one short statement serves every proof and is cheap to
    plan. Planning matters because psycopg drops its prepared statements at each rollback, that is, after
    every read-only request."""
    wanted = (
        func.unnest(bindparam("levels", type_=ARRAY(SmallInteger)), bindparam("indexes", type_=ARRAY(BigInteger)))
        .table_valued("level", "idx")
        .render_derived(name="wanted")
    )
    leaves = select(literal_column("0", SmallInteger), LogEntry.idx, LogEntry.leaf_hash).where(
        LogEntry.idx == any_(bindparam("leaves", type_=ARRAY(BigInteger)))
    )
    nodes = select(LogNode.level, LogNode.idx, LogNode.hash).join(
        wanted, and_(LogNode.level == wanted.c.level, LogNode.idx == wanted.c.idx)
    )
    return union_all(leaves, nodes)


_POSTGRES_HASHES = _postgres_hashes_query()


def _fetch_hashes(db: Session, leaves: list[int], inner: list[Node]) -> Result[Any]:
    if db.get_bind().dialect.name == "postgresql":
        arrays = {"leaves": leaves, "levels": [level for level, _ in inner], "indexes": [index for _, index in inner]}
        return db.execute(_POSTGRES_HASHES, arrays)
    params = {f"leaf_{k}": index for k, index in enumerate(leaves)}
    for k, (level, index) in enumerate(inner):
        params[f"level_{k}"], params[f"node_{k}"] = level, index
    return db.execute(_hashes_query(len(leaves), len(inner)), params)


def _invalid_size(tree_size: int, current: int) -> InvalidInput:
    return InvalidInput(
        f"树大小 {tree_size} 无效：日志当前有 {current} 个条目。",
        f"Invalid tree size {tree_size}: the log holds {current} entries.",
        size=tree_size,
        current=current,
    )


def _stored(db: Session, tree_size: int, nodes: Iterable[Node]) -> NodeGetter:
    """A getter over the stored hashes of these subtrees of the tree of ``tree_size`` entries, fetched in one
    query: leaves from the entries, the rest from the nodes.

    The last leaf of that tree is fetched too, because it exists only if the log holds ``tree_size`` entries.
    That saves reading the head on every proof."""
    if tree_size < 0:
        raise _invalid_size(tree_size, size(db))
    wanted = set(nodes) | ({(0, tree_size - 1)} if tree_size else set())
    leaves = sorted(index for level, index in wanted if level == 0)
    inner = sorted(node for node in wanted if node[0] > 0)
    found = {(level, index): digest for level, index, digest in _fetch_hashes(db, leaves, inner)} if wanted else {}
    if missing := wanted - found.keys():
        if tree_size > (current := size(db)):
            raise _invalid_size(tree_size, current)
        level, index = min(missing)
        raise IntegrityBroken(
            f"透明日志缺少已存储的子树哈希（层 {level}，序号 {index}）：请运行日志校验。",
            f"The transparency log lacks a stored subtree hash (level {level}, index {index}): verify the log.",
            level=level,
            index=index,
        )
    return lambda level, index: found[(level, index)]


def root(db: Session, tree_size: int | None = None) -> bytes:
    """The root hash of the log's first ``tree_size`` entries (all of them by default)."""
    if tree_size is None:
        tree_size = size(db)
    return merkle.tree_root(tree_size, _stored(db, tree_size, merkle.frontier(tree_size)))


def inclusion(db: Session, index: int, tree_size: int) -> list[bytes]:
    """The inclusion proof of entry ``index`` in the tree of the first ``tree_size`` entries."""
    needed = merkle.nodes_of(merkle.inclusion_ranges(index, tree_size))
    return merkle.inclusion_proof(index, tree_size, _stored(db, tree_size, needed))


def consistency(db: Session, old: int, new: int) -> list[bytes]:
    """The proof that the tree of ``new`` entries extends the tree of its first ``old``."""
    needed = merkle.nodes_of(merkle.consistency_ranges(old, new))
    return merkle.consistency_proof(old, new, _stored(db, new, needed))


# --- appending ----------------------------------------------------------------------------------------------------


def _lock_head(db: Session) -> LogHead:
    """The head row, locked until the transaction ends. It is made on first use, by whichever appender
    comes first."""
    locked = select(LogHead).where(LogHead.id == HEAD_ID).with_for_update().execution_options(populate_existing=True)
    head = db.scalars(locked).one_or_none()
    if head is None:
        dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
        db.execute(dialect.insert(LogHead).values(id=HEAD_ID, size=0, updated_at=utcnow()).on_conflict_do_nothing())
        head = db.scalars(locked).one()
    return head


def lock(db: Session) -> None:
    """Hold the log's head row until the transaction ends: the registry takes it before it numbers a registration
    or a certificate, so concurrent applications and issues are numbered one at a time (and append in order)."""
    _lock_head(db)


def append(db: Session, entries: Sequence[bytes | Mapping[str, Any]]) -> list[int]:
    """Append entries in the caller's transaction, and return their indexes. Each entry is its bytes, or an
    event that is stored as its canonical JSON."""
    blobs = [_entry_bytes(item) for item in entries]
    if not blobs:
        return []
    head = _lock_head(db)
    start, now = head.size, utcnow()
    leaves = [merkle.leaf_hash(blob) for blob in blobs]
    nodes = merkle.appended_nodes(start, leaves, _stored(db, start, merkle.frontier(start)))
    db.execute(
        insert(LogEntry),
        [
            {"idx": start + offset, "entry": blob, "leaf_hash": digest, "appended_at": now}
            for offset, (blob, digest) in enumerate(zip(blobs, leaves, strict=True))
        ],
    )
    if nodes:
        db.execute(insert(LogNode), [{"level": level, "idx": index, "hash": digest} for level, index, digest in nodes])
    head.size, head.updated_at = start + len(blobs), now
    db.flush()
    return list(range(start, head.size))


# --- checkpoints --------------------------------------------------------------------------------------------------


def _settings(db: Session) -> Settings:
    return db.info["settings"]  # type: ignore[no-any-return]


def sign_checkpoint(db: Session) -> Checkpoint:
    """Sign the log's current size and root with the log's key, keep the checkpoint and return it. Signing
    again at the same size gives the same note (Ed25519 is deterministic), so the note is kept only once."""
    settings = _settings(db)
    key = checkpoint.signing_key(settings)
    tree_size = size(db)
    signed = checkpoint.sign(settings.registry_log_origin, tree_size, root(db, tree_size), key)
    latest = db.scalars(select(LogCheckpoint.note).order_by(LogCheckpoint.id.desc()).limit(1)).first()
    if latest != signed.note:
        db.add(
            LogCheckpoint(
                tree_size=tree_size,
                root_hash=signed.root,
                key_id=checkpoint.key_id(signed.origin, key.public_key()).hex(),
                note=signed.note,
                signed_at=utcnow(),
            )
        )
        db.flush()
    return signed


def latest_checkpoint(db: Session) -> Checkpoint | None:
    note = db.scalars(select(LogCheckpoint.note).order_by(LogCheckpoint.id.desc()).limit(1)).first()
    return None if note is None else checkpoint.parse(note)


# --- verifying the whole stored log -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogBreak:
    where: str  # "entry 12", "node 3/1", "checkpoint 4", "rows"
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class LogReport:
    size: int
    checked: int  # entries whose bytes were hashed again
    checkpoints: int  # checkpoints whose root and signature verified
    root: bytes | None  # the recomputed root of the whole log, when it verifies
    first_break: LogBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


class _Broken(Exception):
    """Raised inside ``verify_log`` to stop at the first break."""

    def __init__(self, where: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.found = LogBreak(where, reason_zh, reason_en)


class _Recomputed:
    """The last recomputed hash of each level. That is all the next chunk and the root need of the tree so far
    (the frontier), so verifying holds a few dozen hashes, whatever the log's size."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[int, bytes]] = {}

    def add(self, level: int, index: int, digest: bytes) -> None:
        self._last[level] = (index, digest)

    def get(self, level: int, index: int) -> bytes:
        known, digest = self._last[level]
        if known != index:  # the chunks are read in order, so this is a bug, not a broken log
            raise RuntimeError(f"recomputed node {level}/{index} asked for, {level}/{known} known")
        return digest


def _leaf_hashes(db: Session, start: int, end: int) -> list[bytes]:
    """The leaf hashes of entries [start, end), recomputed from their bytes and checked against the stored ones."""
    rows = db.execute(
        select(LogEntry.idx, LogEntry.entry, LogEntry.leaf_hash)
        .where(LogEntry.idx >= start, LogEntry.idx < end)
        .order_by(LogEntry.idx)
    ).all()
    leaves = []
    for expected, (index, data, stored) in enumerate(rows, start):
        if index != expected:
            break
        digest = merkle.leaf_hash(data)
        if digest != stored:
            raise _Broken(
                f"entry {index}",
                f"条目 {index} 的内容与其叶子哈希不符：条目被改动过。",
                f"Entry {index}'s bytes do not match its leaf hash: the entry was changed.",
            )
        leaves.append(digest)
    if len(leaves) < end - start:
        missing = start + len(leaves)
        raise _Broken(
            f"entry {missing}",
            f"缺少条目 {missing}：条目被删除或移动过。",
            f"Entry {missing} is missing: entries were deleted or moved.",
        )
    return leaves


def _check_nodes(db: Session, nodes: list[tuple[int, int, bytes]]) -> None:
    """Compare recomputed nodes with the stored ones, one range query per level."""
    for level, group in groupby(nodes, key=lambda node: node[0]):
        expected = [(index, digest) for _, index, digest in group]
        low, high = expected[0][0], expected[-1][0]
        rows = db.execute(
            select(LogNode.idx, LogNode.hash).where(LogNode.level == level, LogNode.idx.between(low, high))
        )
        stored: dict[int, bytes] = {index: digest for index, digest in rows}
        for index, digest in expected:
            if stored.get(index) != digest:
                raise _Broken(
                    f"node {level}/{index}",
                    f"存储的子树哈希（层 {level}，序号 {index}）缺失或与由条目重算的不符。",
                    f"The stored subtree hash (level {level}, index {index}) is missing or differs from the "
                    "one recomputed from the entries.",
                )


def _check_checkpoint(row: LogCheckpoint, recomputed_root: bytes, public_key: Ed25519PublicKey) -> None:
    where = f"checkpoint {row.id}"
    if row.root_hash != recomputed_root:
        raise _Broken(
            where,
            f"检查点 {row.id}（大小 {row.tree_size}）的根哈希与由条目重算的不符：已签名的条目被改动过。",
            f"Checkpoint {row.id} (size {row.tree_size}) has a root other than the one recomputed from the "
            "entries: signed entries were changed.",
        )
    try:
        signed = checkpoint.verify_checkpoint(row.note, public_key)
    except CheckpointError as exc:
        raise _Broken(where, exc.message_zh, exc.message_en) from exc
    if (signed.size, signed.root) != (row.tree_size, row.root_hash):
        raise _Broken(
            where,
            f"检查点 {row.id} 的签名文本与其记录的大小或根哈希不符。",
            f"Checkpoint {row.id}'s signed note differs from its recorded size or root.",
        )


def _check_no_extra_rows(db: Session, tree_size: int) -> None:
    """Every expected row was found, so rows beyond the expected counts were added behind the log's back."""
    counts = [(0, db.scalar(select(func.count()).select_from(LogEntry)))]
    counts += [
        (level, count) for level, count in db.execute(select(LogNode.level, func.count()).group_by(LogNode.level))
    ]
    for level, count in counts:
        if count != tree_size >> level:
            raise _Broken(
                "rows",
                f"第 {level} 层存有 {count} 行，大小为 {tree_size} 的日志应有 {tree_size >> level} 行。",
                f"Level {level} holds {count} rows; a log of size {tree_size} has {tree_size >> level}.",
            )


def verify_log(db: Session, public_key: Ed25519PublicKey | None = None) -> LogReport:
    """Verify the whole stored log from its entries, and stop at the first break.

    Each entry's leaf hash is recomputed from its bytes. The tree is then rebuilt chunk by chunk, as appends
    built it, and each stored node is compared with its recomputed hash. Each checkpoint's root is checked
    against the tree at its size, and its signature against ``public_key`` (by default, the configured key).
    So an edited, deleted, added or reordered entry row shows, and so does an edited node. An entry edited
    together with its leaf hash and every node above it shows at the first checkpoint that covers it. It runs
    in the caller's transaction: on SQLite, that holds the writer lock until the transaction ends."""
    tree_size = size(db)
    rows = db.scalars(select(LogCheckpoint).order_by(LogCheckpoint.tree_size, LogCheckpoint.id)).all()
    recomputed, done, verified, stop_root = _Recomputed(), 0, 0, merkle.EMPTY_ROOT
    key = public_key
    try:
        if rows and rows[-1].tree_size > tree_size:
            raise _Broken(
                f"checkpoint {rows[-1].id}",
                f"检查点 {rows[-1].id} 的大小 {rows[-1].tree_size} 超过日志大小 {tree_size}：条目被删除过。",
                f"Checkpoint {rows[-1].id} has size {rows[-1].tree_size}, beyond the log's {tree_size}: "
                "entries were deleted.",
            )
        for stop in sorted({row.tree_size for row in rows} | {tree_size}):
            while done < stop:
                end = min(stop, done + _VERIFY_CHUNK)
                leaves = _leaf_hashes(db, done, end)
                nodes = merkle.appended_nodes(done, leaves, recomputed.get)
                _check_nodes(db, nodes)
                for level, index, digest in [(0, end - 1, leaves[-1]), *nodes]:
                    recomputed.add(level, index, digest)
                done = end
            stop_root = merkle.tree_root(stop, recomputed.get)
            for row in (row for row in rows if row.tree_size == stop):
                key = key or _configured_key(db)
                _check_checkpoint(row, stop_root, key)
                verified += 1
        _check_no_extra_rows(db, tree_size)
    except _Broken as broken:
        return LogReport(tree_size, done, verified, None, broken.found)
    return LogReport(tree_size, done, verified, stop_root, None)


def _configured_key(db: Session) -> Ed25519PublicKey:
    try:
        return checkpoint.public_key(_settings(db))
    except ConfigurationError as exc:
        raise _Broken("checkpoints", exc.message_zh, exc.message_en) from exc
