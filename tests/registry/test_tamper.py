"""No one, not even the platform's administrators with the database in hand, can quietly alter the register:
editing, deleting, inserting or reordering a registration row, a step, a certificate or a log entry makes
verification fail, and an issued bundle verifies offline with the published keys alone."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from shengjing.audit.models import AuditEvent
from shengjing.registry import service
from shengjing.registry.bundle import BundleInvalid, dumps_bundle
from shengjing.registry.models import IssuedCertificate, LogEntry, Registration, RegistrationEvent
from shengjing.registry.verify import load_keys, verify_certificate
from shengjing.store.db import unit_of_work
from tests.registry.conftest import application, issued
from tests.sandbox.city import City

pytestmark = pytest.mark.usefixtures("clock")


def _report(city: City) -> service.RegisterReport:
    auditor = city.actor("auditor")
    with unit_of_work(city.sessions) as db:
        return service.verify_register(db, auditor)


def _swap_holders(db: Session) -> None:
    first, second = db.scalars(select(Registration).order_by(Registration.id)).all()[:2]
    first.holder_name, second.holder_name = second.holder_name, first.holder_name


def _swap_steps(db: Session) -> None:
    a, b = db.scalars(select(RegistrationEvent).order_by(RegistrationEvent.id)).all()[1:3]
    a.action, b.action = b.action, a.action


def _back_date_term(db: Session) -> None:
    row = db.scalars(select(Registration)).first()
    row.term_start = row.term_start.replace(year=row.term_start.year - 1)


def _edit_bundle(db: Session) -> None:
    cert = db.scalars(select(IssuedCertificate)).first()
    changed = copy.deepcopy(cert.bundle)
    changed["certificate"]["holder"]["name"] = "某公司"
    cert.bundle = changed


def _truncate_audit(db: Session) -> None:
    newest = db.scalar(select(func.max(AuditEvent.seq)))
    db.execute(delete(AuditEvent).where(AuditEvent.seq > newest - 3))


def _rewrite_anchored_audit(db: Session) -> None:
    """The event before the newest one: the last registration step's log entry anchored it."""
    newest = db.scalar(select(func.max(AuditEvent.seq)))
    db.execute(update(AuditEvent).where(AuditEvent.seq == newest - 1).values(hash="0" * 64))


def _edit_entry(db: Session) -> None:
    row = db.get(LogEntry, 0)
    row.entry = row.entry.replace(b'"apply"', b'"accept"')


TAMPERING: dict[str, Callable[[Session], None]] = {
    "edit a registration's holder": lambda db: db.execute(update(Registration).values(holder_name="某公司")),
    "edit a registration's status": lambda db: db.execute(update(Registration).values(status="refused")),
    "back-date a registration's term": _back_date_term,
    "swap two registrations' holders": _swap_holders,
    "delete a registration's step": lambda db: db.execute(delete(RegistrationEvent).where(RegistrationEvent.seq == 2)),
    "reorder two steps": _swap_steps,
    "edit a certificate": _edit_bundle,
    "cancel a certificate quietly": lambda db: db.execute(update(IssuedCertificate).values(status="cancelled")),
    "delete a certificate": lambda db: db.execute(delete(IssuedCertificate)),
    "edit a log entry": _edit_entry,
    "truncate the audit trail": _truncate_audit,
    "rewrite an anchored audit event": _rewrite_anchored_audit,
}


@pytest.mark.parametrize("tamper", list(TAMPERING), ids=list(TAMPERING))
def test_tampering_fails_verification(city: City, clock: time_machine.Traveller, tamper: str) -> None:
    issued(city, clock)
    issued(city, clock, application(city, "renshe", "RS-INSURANCE"), "renshe")
    assert _report(city).ok
    with unit_of_work(city.sessions) as db:
        TAMPERING[tamper](db)
    report = _report(city)
    assert not report.ok, tamper
    assert report.problems or report.log_report.first_break


def test_anchoring_the_audit_chain_by_hand(city: City, clock: time_machine.Traveller) -> None:
    issued(city, clock)
    auditor = city.actor("auditor")
    with unit_of_work(city.sessions) as db:
        index = service.anchor_audit(db, auditor)
    with unit_of_work(city.sessions) as db:
        newest = db.scalar(select(func.max(AuditEvent.seq)))
        db.execute(delete(AuditEvent).where(AuditEvent.seq == newest - 1))  # the one the anchor named
    problems = _report(city).problems
    assert any(f"anchored in log entry {index}" in p for p in problems), problems


def test_deleting_a_whole_registration_is_seen(city: City, clock: time_machine.Traveller) -> None:
    number = issued(city, clock).number
    with unit_of_work(city.sessions) as db:
        db.execute(delete(IssuedCertificate))
        db.execute(delete(RegistrationEvent))
        db.execute(delete(Registration))
    report = _report(city)
    assert any("missing from the register" in p for p in report.problems), number


def test_a_bundle_verifies_offline_and_a_changed_one_does_not(
    city: City, clock: time_machine.Traveller, tmp_path: Path
) -> None:
    done = issued(city, clock)
    with unit_of_work(city.sessions) as db:
        bundle = service.certificate_bundle(db, done.certificate_number or "")
    keys_file = tmp_path / "registry-keys.pem"
    keys_file.write_bytes(service.public_keys_pem(city.world.settings))
    keys = load_keys([keys_file])
    verified = verify_certificate(dumps_bundle(bundle), keys)
    assert str(verified.certificate.number) == done.certificate_number

    for change in (
        lambda b: b["certificate"]["holder"].update(name="某公司"),
        lambda b: b["transparency"].update(leaf_index=b["transparency"]["leaf_index"] - 1),
        lambda b: b["transparency"]["proof"].__setitem__(0, "00" * 32),
        lambda b: b["transparency"].update(checkpoint=b["transparency"]["checkpoint"].replace("\n", "\n1", 1)),
    ):
        altered = json.loads(json.dumps(bundle))
        change(altered)
        with pytest.raises(BundleInvalid):
            verify_certificate(altered, keys)


def test_an_sm2_certificate_verifies_offline_with_the_published_keys(
    city: City, clock: time_machine.Traveller, tmp_path: Path
) -> None:
    """For bodies that must use the national algorithms: the certificate is SM2/SM3, the checkpoints stay
    Ed25519, and the one published keys file holds both."""
    settings = city.world.settings
    settings.registry_certificate_algorithm = "sm2-sm3"
    done = issued(city, clock)
    with unit_of_work(city.sessions) as db:
        bundle = service.certificate_bundle(db, done.certificate_number or "")
        assert service.verify_register(db, city.world.system).ok
    assert bundle["algorithm"] == "sm2-sm3"
    keys_file = tmp_path / "registry-keys.pem"
    keys_file.write_bytes(service.public_keys_pem(settings))
    assert keys_file.read_bytes().count(b"-----BEGIN PUBLIC KEY-----") == 2
    verified = verify_certificate(bundle, load_keys([keys_file]))
    assert str(verified.certificate.number) == done.certificate_number
    altered = json.loads(json.dumps(bundle))
    altered["certificate"]["fingerprint"] = "sha256:" + "0" * 64
    with pytest.raises(BundleInvalid):
        verify_certificate(altered, load_keys([keys_file]))
