"""The transparency log's tables: its entries (the bytes each leaf hashes), the stored hashes of its complete
perfect subtrees, its signed checkpoints, and the one head row that appends lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shengjing.store.db import Base, UTCDateTime

# On SQLite an INTEGER primary key is the rowid itself. With BIGINT, SQLite would keep a second index as well.
_POSITION = BigInteger().with_variant(Integer(), "sqlite")


class LogHead(Base):
    """The log's size. Every append locks this row (SELECT … FOR UPDATE), so appends run one at a time."""

    __tablename__ = "registry_log_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # always 1: there is one log
    size: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogEntry(Base):
    """Leaf ``idx`` of the tree. ``entry`` holds the exact bytes that its leaf hash covers (the canonical JSON
    of a registration event, time included). ``appended_at`` is bookkeeping, and no hash covers it."""

    __tablename__ = "registry_log_entry"

    idx: Mapped[int] = mapped_column(_POSITION, primary_key=True, autoincrement=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogNode(Base):
    """The hash of a complete perfect subtree of level 1 and up: 2**level leaves from leaf idx * 2**level.

    Leaves (level 0) are the entries' ``leaf_hash``. A row is written once, when its subtree is complete, and
    never changes after that."""

    __tablename__ = "registry_log_node"
    __table_args__ = ({"sqlite_with_rowid": False},)  # the row lives in the primary key's tree: half the space

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogCheckpoint(Base):
    """A signed checkpoint (签名树头), kept as published: the whole signed note, with its size and root."""

    __tablename__ = "registry_log_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_id: Mapped[str] = mapped_column(String(8))  # hex, as in the note's verifier key
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
