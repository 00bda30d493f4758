"""The sandbox through its API, as a program with an API token uses it: the workflow's steps, a refusal as 422
with its reasons and no data value, results and downloads only once they may leave."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from tests.sandbox.city import City


def _client(client: TestClient, city: City, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {city.world.token(username)}"}


def test_the_workflow_and_a_query_through_the_api(client: TestClient, city: City) -> None:
    analyst, gongan, renshe = (_client(client, city, u) for u in ("analyst", "gongan", "renshe"))
    admin, reviewer, other = (_client(client, city, u) for u in ("admin", "reviewer", "other"))
    drafted = client.post(
        "/api/v1/authorizations/draft",
        json={"operator": "YY", "scenario": "finance_credit", "resources": ["GA-PERSON"]},
        headers=analyst,
    )
    assert drafted.status_code == 200 and "GA-PERSON" in drafted.json()["document"]
    created = client.post(
        "/api/v1/authorizations", json={"document": city.document(egress="reviewed")}, headers=analyst
    )
    assert created.status_code == 200, created.text
    code = created.json()["code"]
    assert client.post(f"/api/v1/authorizations/{code}/approve", json={}, headers=analyst).status_code == 403
    assert client.post(f"/api/v1/authorizations/{code}/apply", json={"note": ""}, headers=analyst).status_code == 200
    for headers, resource in ((gongan, "GA-PERSON"), (renshe, "RS-INSURANCE")):
        consented = client.post(
            f"/api/v1/authorizations/{code}/consent",
            json={"resource": resource, "decision": "consent"},
            headers=headers,
        )
        assert consented.status_code == 200, consented.text
    assert client.post(f"/api/v1/authorizations/{code}/approve", json={}, headers=admin).json()["status"] == "active"
    assert client.get(f"/api/v1/authorizations/{code}", headers=other).status_code == 404

    schema = client.get(f"/api/v1/authorizations/{code}/schema", headers=analyst).json()
    controls = {c["name"]: c["control"] for c in schema[0]["columns"]}
    assert controls["xm"] == "hidden" and controls["sr"] == "aggregate"

    refused = client.post(
        f"/api/v1/authorizations/{code}/queries", json={"sql": "SELECT xm FROM person"}, headers=analyst
    )
    assert refused.status_code == 422
    body = refused.json()["error"]
    assert body["code"] == "query_refused"
    assert body["details"]["reasons"][0]["column"] == "xm" and body["details"]["reasons"][0]["control"] == "hidden"
    assert not any(name in refused.text for name in city.people.secrets())

    sql = "SELECT xb, COUNT(*) AS n FROM person GROUP BY xb ORDER BY xb"
    ran = client.post(f"/api/v1/authorizations/{code}/queries", json={"sql": sql}, headers=analyst)
    assert ran.status_code == 200 and ran.json()["status"] == "pending_review" and ran.json()["rows"] is None
    run_id = ran.json()["id"]
    assert client.get(f"/api/v1/queries/{run_id}/result", headers=analyst).status_code == 409
    assert client.get("/api/v1/egress", headers=analyst).status_code == 403
    queue = client.get("/api/v1/egress", headers=reviewer).json()
    assert [r["id"] for r in queue] == [run_id] and queue[0]["rows"]
    reviewed = client.post(f"/api/v1/queries/{run_id}/egress", json={"decision": "approve"}, headers=reviewer)
    assert reviewed.json()["status"] == "approved"
    shown = client.get(f"/api/v1/queries/{run_id}", headers=analyst).json()
    assert shown["columns"] == ["xb", "n"] and len(shown["rows"]) == 2
    parquet = client.get(f"/api/v1/queries/{run_id}/result?format=parquet", headers=analyst)
    assert parquet.status_code == 200 and pq.read_table(io.BytesIO(parquet.content)).num_rows == 2
    assert client.get(f"/api/v1/queries/{run_id}", headers=other).status_code == 404
    runs = client.get(f"/api/v1/queries?authorization={code}", headers=analyst).json()
    assert [r["status"] for r in runs] == ["approved", "refused"]
