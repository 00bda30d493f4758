"""The stored transparency log, on SQLite and PostgreSQL. Batched appends keep one tree, even from two processes
at once. Proofs served from the stored hashes verify against signed checkpoints. Any edited, deleted, added or
reordered row is found by re-verifying the log."""

from __future__ import annotations

import base64
import multiprocessing
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from shengjing.config import Settings
from shengjing.errors import ConfigurationError, IntegrityBroken, InvalidInput
from shengjing.registry import checkpoint, log, merkle
from shengjing.registry.checkpoint import CheckpointError
from shengjing.registry.models import LogCheckpoint, LogEntry, LogNode
from shengjing.store.db import make_engine, make_session_factory, unit_of_work, utcnow

Sessions = sessionmaker[Session]


def _event(n: int) -> dict[str, object]:
    return {"kind": "registration", "code": f"DJ-2026-{n:06d}", "holder": "沈阳数字产业发展有限公司", "n": n}


def _fill(sessions: Sessions, batches: list[int]) -> list[int]:
    """Append batches of events, each in its own transaction, and return every index given out."""
    given: list[int] = []
    for count in batches:
        with unit_of_work(sessions) as db:
            given += log.append(db, [_event(len(given) + i) for i in range(count)])
    return given


def _verify(sessions: Sessions) -> log.LogReport:
    with sessions() as db:
        return log.verify_log(db)


def test_batched_appends_serve_proofs_that_verify_against_signed_checkpoints(sessions: Sessions) -> None:
    with unit_of_work(sessions) as db:
        assert log.size(db) == 0 and log.root(db) == merkle.EMPTY_ROOT
        assert log.append(db, []) == []
    assert _fill(sessions, [1, 6]) == list(range(7))
    with unit_of_work(sessions) as db:
        first = log.sign_checkpoint(db)
    assert _fill(sessions, [30, 1, 19])[-1] == 56
    with unit_of_work(sessions) as db:
        assert log.append(db, [b"raw bytes are kept as given"]) == [57]
        second = log.sign_checkpoint(db)
        public = checkpoint.signing_key(db.info["settings"]).public_key()
        stored = [log.entry(db, index) for index in range(58)]

    assert (first.size, second.size) == (7, 58)
    assert stored[3] == log.canonical_json(_event(3)) and stored[57] == b"raw bytes are kept as given"
    leaf_hashes = [merkle.leaf_hash(data) for data in stored]
    assert second.root == merkle.root(leaf_hashes) and first.root == merkle.root(leaf_hashes[:7])
    assert checkpoint.verify_checkpoint(second.note, public) == second
    with sessions() as db:
        for index in range(58):
            merkle.verify_inclusion(leaf_hashes[index], index, 58, log.inclusion(db, index, 58), second.root)
        for index in range(7):
            merkle.verify_inclusion(leaf_hashes[index], index, 7, log.inclusion(db, index, 7), first.root)
        merkle.verify_consistency(7, 58, first.root, second.root, log.consistency(db, 7, 58))
        assert log.root(db, 7) == first.root
        with pytest.raises(InvalidInput):
            log.inclusion(db, 0, 59)  # beyond the log
        with pytest.raises(InvalidInput):
            log.consistency(db, 7, 59)
        assert log.latest_checkpoint(db) == second

    report = _verify(sessions)
    assert report.ok, report.first_break
    assert (report.size, report.checked, report.checkpoints, report.root) == (58, 58, 2, second.root)


def test_a_checkpoint_is_a_c2sp_signed_note_that_only_the_logs_key_verifies(sessions: Sessions) -> None:
    _fill(sessions, [5])
    with unit_of_work(sessions) as db:
        signed = log.sign_checkpoint(db)
        assert log.sign_checkpoint(db) == signed  # the same size again: the same note, kept once
        assert len(db.scalars(select(LogCheckpoint)).all()) == 1
        settings: Settings = db.info["settings"]
    origin = settings.registry_log_origin
    text, signature_line = signed.note.split("\n\n")
    assert text == f"{origin}\n5\n{base64.b64encode(signed.root).decode()}"
    assert signature_line.startswith(f"— {origin} ") and signature_line.endswith("\n")

    key_file = settings.registry_log_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # made on first use, for the owner only
    public = checkpoint.public_key(settings)
    vkey = checkpoint.verifier_key(origin, public)
    assert vkey.startswith(f"{origin}+{checkpoint.key_id(origin, public).hex()}+")
    with pytest.raises(CheckpointError):
        checkpoint.verify_checkpoint(signed.note, Ed25519PrivateKey.generate().public_key())
    for forged in (signed.note.replace("\n5\n", "\n6\n"), signed.note.replace(origin, "evil.example/log")):
        with pytest.raises(CheckpointError) as raised:
            checkpoint.verify_checkpoint(forged, public)
        assert raised.value.message_zh and raised.value.message_en


def test_the_signed_note_format_is_byte_for_byte_gos() -> None:
    """The example of golang.org/x/mod's sumdb/note (golang/mod, sumdb/note/note.go, commit a410e2da), signed
    here with its published key: Ed25519 is deterministic, so the note must come out the same, byte for byte."""
    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]  # after the algorithm byte 0x01
    key = Ed25519PrivateKey.from_private_bytes(seed)
    text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    note = checkpoint.sign_note(text, "PeterNeumann", key)
    signature = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
    assert note == f"{text}\n— PeterNeumann {signature}\n"
    assert checkpoint.verifier_key("PeterNeumann", key.public_key()) == (
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    assert checkpoint.open_note(note, "PeterNeumann", key.public_key()) == text


def test_a_configured_key_must_exist(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, registry_log_key_path=tmp_path / "absent.pem")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        checkpoint.signing_key(settings)
    assert not (tmp_path / "absent.pem").exists()


# --- tampering with the stored rows ---------------------------------------------------------------------------


def _edit_entry(db: Session) -> None:
    db.execute(update(LogEntry).where(LogEntry.idx == 12).values(entry=b'{"forged":true}'))


def _edit_entry_and_its_leaf_hash(db: Session) -> None:
    data = b'{"forged":true}'
    db.execute(update(LogEntry).where(LogEntry.idx == 12).values(entry=data, leaf_hash=merkle.leaf_hash(data)))


def _edit_the_last_entry_rehashing_everything_above_it(db: Session) -> None:
    """The cleverest forger: leaf and every stored node above it recomputed, so only the signature can tell."""
    data = b'{"forged":true}'
    db.execute(update(LogEntry).where(LogEntry.idx == 39).values(entry=data, leaf_hash=merkle.leaf_hash(data)))
    leaves = [merkle.leaf_hash(row) for row in db.scalars(select(LogEntry.entry).order_by(LogEntry.idx))]
    rebuilt = merkle.appended_nodes(0, leaves, lambda level, index: b"")  # from nothing: no frontier is read
    db.execute(delete(LogNode))
    db.execute(insert(LogNode), [{"level": level, "idx": index, "hash": h} for level, index, h in rebuilt])


def _delete_entry(db: Session) -> None:
    db.execute(delete(LogEntry).where(LogEntry.idx == 20))


def _delete_the_last_entry(db: Session) -> None:
    db.execute(delete(LogEntry).where(LogEntry.idx == 39))


def _swap_two_entries(db: Session) -> None:
    """Reordering: two rows trade places (their indexes), each keeping its own bytes and leaf hash."""
    db.execute(update(LogEntry).where(LogEntry.idx == 5).values(idx=1000))
    db.execute(update(LogEntry).where(LogEntry.idx == 9).values(idx=5))
    db.execute(update(LogEntry).where(LogEntry.idx == 1000).values(idx=9))


def _move_an_entry(db: Session) -> None:
    db.execute(update(LogEntry).where(LogEntry.idx == 30).values(idx=40))


def _add_an_entry(db: Session) -> None:
    data = b'{"smuggled":true}'
    db.execute(insert(LogEntry).values(idx=40, entry=data, leaf_hash=merkle.leaf_hash(data), appended_at=utcnow()))


def _edit_a_node(db: Session) -> None:
    db.execute(update(LogNode).where(LogNode.level == 2, LogNode.idx == 3).values(hash=b"\x00" * 32))


def _edit_a_checkpoints_root(db: Session) -> None:
    db.execute(update(LogCheckpoint).values(root_hash=b"\x00" * 32))


TAMPERING: dict[str, tuple[Callable[[Session], None], str]] = {  # what is done: (how, where it shows)
    "edit an entry": (_edit_entry, "entry 12"),
    "edit an entry and its leaf hash": (_edit_entry_and_its_leaf_hash, "node 1/6"),
    "edit the last entry and rehash the tree": (_edit_the_last_entry_rehashing_everything_above_it, "checkpoint"),
    "delete an entry": (_delete_entry, "entry 20"),
    "delete the last entry": (_delete_the_last_entry, "entry 39"),
    "swap two entries": (_swap_two_entries, "node 1/2"),
    "move an entry": (_move_an_entry, "entry 30"),
    "add an entry": (_add_an_entry, "rows"),
    "edit a node": (_edit_a_node, "node 2/3"),
    "edit a checkpoint's root": (_edit_a_checkpoints_root, "checkpoint"),
}


@pytest.mark.parametrize("tampering", TAMPERING)
def test_any_change_to_the_stored_rows_fails_verification(sessions: Sessions, tampering: str) -> None:
    _fill(sessions, [16, 24])
    with unit_of_work(sessions) as db:
        log.sign_checkpoint(db)
    assert _verify(sessions).ok
    how, where = TAMPERING[tampering]
    with unit_of_work(sessions) as db:  # straight SQL on the tables, behind the log's back
        how(db)
    report = _verify(sessions)
    assert not report.ok and report.root is None
    assert report.first_break is not None and report.first_break.where.startswith(where)
    assert report.first_break.reason_zh and report.first_break.reason_en


def test_a_forged_signature_fails_verification(sessions: Sessions) -> None:
    _fill(sessions, [3])
    with unit_of_work(sessions) as db:
        signed = log.sign_checkpoint(db)
        forger = Ed25519PrivateKey.generate()
        forged = checkpoint.sign(signed.origin, signed.size, signed.root, forger).note
        db.execute(update(LogCheckpoint).values(note=forged))
    report = _verify(sessions)
    assert report.first_break is not None and report.first_break.where.startswith("checkpoint")
    with sessions() as db:  # an outsider with the forger's key would accept it: the key is what one must trust
        assert log.verify_log(db, forger.public_key()).ok


def test_a_proof_that_needs_a_missing_stored_hash_is_refused(sessions: Sessions) -> None:
    _fill(sessions, [16])
    with unit_of_work(sessions) as db:
        db.execute(delete(LogNode).where(LogNode.level == 3, LogNode.idx == 1))
    with sessions() as db:
        with pytest.raises(IntegrityBroken) as raised:
            log.inclusion(db, 0, 16)  # its path needs leaves 8..15's subtree hash
        assert raised.value.details == {"level": 3, "index": 1}
        with pytest.raises(InvalidInput):
            log.inclusion(db, 0, 17)  # beyond the log is the caller's mistake, not a broken log
        with pytest.raises(InvalidInput):
            log.root(db, -1)


# --- two processes appending at once ----------------------------------------------------------------------------


def _append_from_another_process(
    settings: Settings, tag: str, start: object, both_began: object, results: object
) -> None:
    sessions = make_session_factory(make_engine(settings.database_url), settings)
    start.wait()  # type: ignore[attr-defined]
    given = []
    for batch in range(25):
        with unit_of_work(sessions) as db:
            given += log.append(db, [{"writer": tag, "batch": batch, "i": i} for i in range(4)])
        if batch == 0:
            # Each has appended once before either goes on: on a loaded machine one process could otherwise
            # start only after the other had finished, and nothing would run at once.
            both_began.wait(timeout=60)  # type: ignore[attr-defined]
        time.sleep(0.005)  # a service does other work between appends; SQLite's waiting writer gets its turn
    results.put((tag, given))  # type: ignore[attr-defined]


def test_two_processes_appending_at_once_share_one_tree(sessions: Sessions, settings: Settings) -> None:
    context = multiprocessing.get_context("spawn")
    start, both_began, results = context.Barrier(3), context.Barrier(2), context.Queue()
    writers = [
        context.Process(target=_append_from_another_process, args=(settings, tag, start, both_began, results))
        for tag in "ab"
    ]
    for writer in writers:
        writer.start()
    start.wait(timeout=120)
    given = dict(results.get(timeout=120) for _ in writers)
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    assert sorted(given["a"] + given["b"]) == list(range(200))  # distinct, consecutive indexes
    assert given["a"] != list(range(given["a"][0], given["a"][0] + 100)), "the writers took turns"
    with sessions() as db:
        tags = [log.entry(db, index) for index in given["a"]]
    assert all(b'"writer":"a"' in data for data in tags)
    with unit_of_work(sessions) as db:
        log.sign_checkpoint(db)
    report = _verify(sessions)
    assert report.ok, report.first_break
