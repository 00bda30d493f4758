"""The registry through its API: the workflow with API tokens, the authority's steps refused to others, and the
public reads (certificate, bundle, publicity, the log's checkpoint, entries, proofs and keys) without any login."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import time_machine
from fastapi.testclient import TestClient

from shengjing.registry import merkle
from shengjing.registry.bundle import load_public_key, log_entry
from shengjing.registry.checkpoint import parse
from shengjing.registry.verify import pem_blocks, verify_certificate
from tests.registry.conftest import application
from tests.sandbox.city import City

pytestmark = pytest.mark.usefixtures("clock")


def _bearer(city: City, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {city.world.token(username)}"}


def test_the_workflow_through_the_api(client: TestClient, city: City, clock: time_machine.Traveller) -> None:
    gongan, admin, renshe = (_bearer(city, u) for u in ("gongan", "admin", "renshe"))
    drafted = client.post("/api/v1/registrations/draft", json={"code": "GA-PERSON"}, headers=gongan)
    assert drafted.status_code == 200 and "GA-PERSON" in drafted.json()["document"]
    applied = client.post("/api/v1/registrations", json={"document": application(city)}, headers=gongan)
    assert applied.status_code == 200, applied.text
    number = applied.json()["number"]

    assert client.post(f"/api/v1/registrations/{number}/accept", json={}, headers=gongan).status_code == 403
    assert client.get(f"/api/v1/registrations/{number}", headers=renshe).status_code == 404
    assert client.post(f"/api/v1/registrations/{number}/accept", json={}, headers=admin).json()["status"] == "accepted"
    publicized = client.post(f"/api/v1/registrations/{number}/publicize", json={"note": "审查通过"}, headers=admin)
    assert publicized.json()["status"] == "publicity"
    listed = client.get("/api/v1/registry/publicity").json()  # public: no login
    assert [r["number"] for r in listed] == [number]

    objected = client.post(f"/api/v1/registrations/{number}/objections", json={"reason": "权属争议"}, headers=renshe)
    assert objected.status_code == 200 and objected.json()["status"] == "paused"
    objection = objected.json()["objections"][0]["id"]
    early = client.post(f"/api/v1/registrations/{number}/issue", json={}, headers=admin)
    assert early.status_code == 409
    resolved = client.post(
        f"/api/v1/registrations/{number}/objections/{objection}/resolve",
        json={"decision": "dismiss", "note": "异议不成立"},
        headers=admin,
    )
    assert resolved.json()["status"] == "publicity"
    end = dt.date.fromisoformat(resolved.json()["publicity_end"])
    clock.move_to(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(2), dt.UTC))
    done = client.post(f"/api/v1/registrations/{number}/issue", json={}, headers=admin).json()
    assert done["status"] == "issued"
    certificate = done["certificate_number"]

    public = client.get(f"/api/v1/registry/certificates/{certificate}")
    assert public.status_code == 200 and public.json()["status"] == "valid"
    bundle = client.get(f"/api/v1/registry/certificates/{certificate}/bundle").json()
    keys = client.get("/api/v1/registry/log/keys").json()
    public_keys = [load_public_key(block) for block in pem_blocks(keys["pem"].encode())]
    assert str(verify_certificate(bundle, public_keys).certificate.number) == certificate

    checkpoint = parse(client.get("/api/v1/registry/log/checkpoint").text)
    entries = client.get("/api/v1/registry/log/entries", params={"start": 0, "end": checkpoint.size}).json()
    assert len(entries) == checkpoint.size
    leaf = bundle["transparency"]["leaf_index"]
    assert base64.b64decode(entries[leaf]["entry"]) == log_entry(bundle)
    proof = client.get("/api/v1/registry/log/proof/inclusion", params={"index": leaf, "size": checkpoint.size}).json()[
        "proof"
    ]
    merkle.verify_inclusion(
        bytes.fromhex(entries[leaf]["leaf_hash"]),
        leaf,
        checkpoint.size,
        [bytes.fromhex(h) for h in proof],
        checkpoint.root,
    )
    consistency = client.get("/api/v1/registry/log/proof/consistency", params={"old": 2, "new": checkpoint.size})
    assert consistency.status_code == 200

    report = client.get("/api/v1/registry/verify", headers=admin).json()
    assert report["ok"] and report["certificates"] == 1
    assert client.get("/api/v1/registry/verify", headers=gongan).status_code == 403


def test_bad_numbers_and_sizes_are_told(client: TestClient, city: City) -> None:
    assert client.get("/api/v1/registry/certificates/SJDJ-2026-09-210100-01-000001").status_code == 404
    assert client.get("/api/v1/registry/certificates/not-a-number").status_code == 422
    assert client.get("/api/v1/registry/log/checkpoint").status_code == 404  # nothing signed yet
    too_big = client.get("/api/v1/registry/log/proof/inclusion", params={"index": 0, "size": 5})
    assert too_big.status_code == 422
    assert client.get("/api/v1/registrations").status_code == 401


def test_the_auditor_anchors_the_audit_chain_and_verifies(client: TestClient, city: City) -> None:
    auditor = _bearer(city, "auditor")
    anchored = client.post("/api/v1/registry/log/anchor", headers=auditor)
    assert anchored.status_code == 200 and anchored.json()["index"] == 0
    assert client.post("/api/v1/registry/log/anchor", headers=_bearer(city, "gongan")).status_code == 403
    report = client.get("/api/v1/registry/verify", headers=auditor).json()
    assert report["ok"] and report["tree_size"] == 1
