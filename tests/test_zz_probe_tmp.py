from typing import Any
from fastapi.testclient import TestClient
from shengjing.identity.principal import OrgType
from tests.conftest import World

def test_probe(app: Any, world: World) -> None:
    world.org("BUR"); world.user("boss1", "BUR", "platform_admin", "auditor")
    world.org("DEP", OrgType.DEPARTMENT)
    h = {"Authorization": f"Bearer {world.token('boss1')}"}
    c = TestClient(app, raise_server_exceptions=False)
    reqs = [
        ("GET", "/api/v1/organizations/a%00b", None),
        ("GET", "/api/v1/users?org=a%00b", None),
        ("GET", "/api/v1/tokens?username=a%00b", None),
        ("GET", "/api/v1/audit/events?actor=a%00b", None),
        ("GET", "/api/v1/users/a%00b", None),
        ("DELETE", "/api/v1/tokens/a%00b", None),
        ("POST", "/api/v1/tokens", {"name": "a\x00b"}),
        ("POST", "/api/v1/users", {"username": "abc", "display_name": "x" * 150, "org_code": "DEP", "password": "Passw0rd-long!", "roles": []}),
        ("POST", "/api/v1/users", {"username": "abd", "display_name": "x\x00", "org_code": "DEP", "password": "Passw0rd-long!", "roles": []}),
        ("POST", "/api/v1/organizations", {"code": "NEW1", "name": "n\x00", "org_type": "department"}),
        ("PATCH", "/api/v1/organizations/DEP", {"name": None}),
        ("PATCH", "/api/v1/users/boss1", {"display_name": None}),
        ("GET", "/api/v1/audit/events?since=0001-01-01T00:00:00", None),
        ("GET", "/api/v1/audit/events?since=9999-12-31T23:59:59-12:00", None),
        ("GET", "/api/v1/audit/events?org_id=4611686018427387904", None),
        ("GET", "/api/v1/audit/events?offset=1000000000", None),
        ("GET", "/api/v1/audit/events?target_id=%00", None),
        ("PUT", "/api/v1/me/password", {"current_password": "a\x00", "new_password": "b"}),
        ("PUT", "/api/v1/users/boss1/password", {"password": "Abcdefgh12\x00"}),
    ]
    for m, u, b in reqs:
        r = c.request(m, u, json=b, headers=h)
        print(m, u, repr(b)[:60], r.status_code, r.text[:160])
