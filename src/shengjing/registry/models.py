"""The registry's tables. The transparency log: its entries (the bytes each leaf hashes), the stored hashes of its
complete perfect subtrees, its signed checkpoints, and the one head row that appends lock. The registrations: each
case, its steps (each one a log entry), its objections, and the certificates issued."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shengjing.store.db import Base, UTCDateTime, utcnow

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


# --- registrations (数据产权登记) ------------------------------------------------------------------------------------


class Registration(Base):
    """One registration case: what is registered, the rights, holder, term and the application's national fields,
    and where its workflow stands. ``state_hash`` is the SHA-256 of ``service.registration_state`` as of the case's
    last step; the same hash is in that step's transparency-log entry, so an edited row no longer matches the log."""

    __tablename__ = "registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # the registration number, check character last
    kind: Mapped[str] = mapped_column(String(16))  # initial | change | correction | cancellation | license
    status: Mapped[str] = mapped_column(String(16), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    object_kind: Mapped[str] = mapped_column(String(16))  # resource | product
    object_code: Mapped[str] = mapped_column(String(64))  # a resource code, or a product's code
    object_name: Mapped[str] = mapped_column(String(200))
    object_version: Mapped[int | None]  # the registered snapshot (a resource version, or the product's run)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of that snapshot's manifest
    holder_name: Mapped[str] = mapped_column(String(100))
    holder_credit_code: Mapped[str | None] = mapped_column(String(18))
    rights: Mapped[list[str]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(Text, default="")  # 权利范围: the uses, scenarios or area the rights cover
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date | None] = mapped_column(Date)
    # The national fields (basic information, agent, storage, scenarios, sharing and opening, co-owned data, the
    # lawful-source commitment, the data catalogue, the compliance assessment) as the application gave them.
    particulars: Mapped[dict[str, Any]] = mapped_column(JSON)
    document: Mapped[str] = mapped_column(Text)  # the application document as last submitted
    previous_certificate: Mapped[str | None] = mapped_column(String(40), index=True)  # change, correction, …
    revision: Mapped[int] = mapped_column(default=1)
    accept_due: Mapped[date | None] = mapped_column(Date)
    review_due: Mapped[date | None] = mapped_column(Date)
    publicity_start: Mapped[date | None] = mapped_column(Date)
    publicity_end: Mapped[date | None] = mapped_column(Date)
    refusal_ground: Mapped[str | None] = mapped_column(String(32))
    status_note: Mapped[str] = mapped_column(Text, default="")
    certificate_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    state_hash: Mapped[str] = mapped_column(String(64))


class RegistrationEvent(Base):
    """One step of a registration, with the index of its transparency-log entry."""

    __tablename__ = "registration_event"
    __table_args__ = (Index("ix_registration_event_registration", "registration_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"))
    seq: Mapped[int]  # 1, 2, … within the registration
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # the registration's status after the step
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    log_index: Mapped[int] = mapped_column(BigInteger)


class Objection(Base):
    """An objection (异议) raised during publicity. While one is open, the case and its publicity clock stop."""

    __tablename__ = "registration_objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    objector: Mapped[str] = mapped_column(String(200))  # who objects: a user, or a party the bureau records
    contact: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | dismissed | upheld
    filed_by: Mapped[str] = mapped_column(String(200))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_working_days: Mapped[int] = mapped_column(default=0)


class IssuedCertificate(Base):
    """A certificate as issued: its signed bundle (with the inclusion proof of its log entry at issue) and its
    status now. ``status`` changes (superseded, cancelled) are registration events in the log as well."""

    __tablename__ = "registry_certificate"

    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # valid | superseded | cancelled
    status_note: Mapped[str] = mapped_column(Text, default="")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_on: Mapped[date] = mapped_column(Date)
    leaf_index: Mapped[int] = mapped_column(BigInteger)
    bundle: Mapped[dict[str, Any]] = mapped_column(JSON)
