"""`shengjing demo` end to end, small: the city's deliveries go through the real data path into a catalog."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.compute as pc
import time_machine
from sqlalchemy.orm import Session, sessionmaker

from shengjing.catalog import service as catalog
from shengjing.demo import service as demo
from shengjing.demo.catalog import DEMO_RESOURCES, PATIENT, PERSON, RESOURCE_BY_TABLE, SOCIAL_INSURANCE
from shengjing.demo.delivery import DELIVERIES, write_deliveries
from shengjing.demo.generator import generate_city
from shengjing.identity.principal import Principal
from shengjing.ingest import service as ingest
from shengjing.ingest.readers import detect_encoding
from shengjing.store.db import unit_of_work

# The departmental registers: their missing and mistyped identifiers are counted, never quarantined.
REGISTERS = ("insured_person", "patient", "student", "taxpayer", "employer")
REGISTERS += ("food_licence", "licence_push", "real_estate_unit", "house")


def test_a_small_demo_city_is_catalogued_and_ingested(
    sessions: sessionmaker[Session], system: Principal, tmp_path: Path
) -> None:
    with unit_of_work(sessions) as db:
        demo.set_up_organizations_and_users(db, system)
    with unit_of_work(sessions) as db:
        assert demo.set_up_catalog(db, system) == [r.code for r in DEMO_RESOURCES]
    city = generate_city(tmp_path / "city", persons=300, seed=11)
    files = write_deliveries(city, tmp_path / "city" / "delivered")
    assert {DELIVERIES[t].format for t in files} >= {"csv", "xlsx", "parquet"}
    assert detect_encoding(files["person"]) in {"gbk", "gb18030"}  # really GBK on disk, not UTF-8
    seen: list[str] = []
    reports = demo.ingest_city(sessions, system, files, progress=lambda table, _: seen.append(table))
    assert seen[:2] == ["person", "enterprise"] and len(reports) == len(DEMO_RESOURCES)

    rows_by_code = {RESOURCE_BY_TABLE[table].code: city.table(table).rows for table in files}
    for report in reports:
        assert report.version == 1 and report.rows_in == report.rows_accepted + report.rows_quarantined
        assert report.rows_in == rows_by_code[report.resource]  # every generated row arrived
    # The departmental registers' missing and mistyped IDs are counted, not quarantined: linking them is the point.
    registers = {RESOURCE_BY_TABLE[t].code for t in REGISTERS}
    assert {r.resource: r.rows_quarantined for r in reports if r.resource in registers} == dict.fromkeys(registers, 0)
    # The deliveries' blemishes show: some rows are quarantined, some values are standardized.
    assert sum(r.rows_quarantined for r in reports) > 0
    person = next(r for r in reports if r.resource == PERSON)
    assert person.standardized_values.get("sex", 0) == 300  # 男/女 became GB/T 2261.1 codes
    assert person.standardized_values.get("id_number", 0) > 0  # full-width digits folded
    sexes = set(pc.unique(ingest.read_current(sessions, system, PERSON).column("sex")).to_pylist())
    assert sexes <= {"1", "2"}

    with unit_of_work(sessions) as db:
        found = catalog.search(db, system, "社保 缴费")
        assert [r.code for r in found.resources] == [SOCIAL_INSURANCE]
        for resource in DEMO_RESOURCES:
            out = catalog.get_resource(db, system, resource.code)
            assert out.current_version == 1 and len(out.versions) == 1
        assert catalog.get_data_element(db, system, "GMSFHM").used_by >= 6
        tallies = catalog.get_resource(db, system, PATIENT).versions[0].details["rules"]
        for rule in ("required:id_number", "id_number:id_number"):
            assert tallies[rule]["failed"] > 0 and not tallies[rule]["blocking"], rule

        def tallied(table: str) -> dict[str, dict[str, int | bool]]:
            return catalog.get_resource(db, system, RESOURCE_BY_TABLE[table].code).versions[0].details["rules"]

        house, push = tallied("house"), tallied("licence_push")
        for tally in (house["pattern:unit_no"], house["known_unit:unit_no"], push["required:licence_no"]):
            assert tally["failed"] > 0 and not tally["blocking"], tally
        # The social credit columns hold only their codes: 纳税信用等级 A/B/M/C/D, 欠薪失信 true/false.
        for tally in (tallied("taxpayer")["codelist:credit_grade"], tallied("employer")["codelist:wage_arrears"]):
            assert tally["checked"] > 0 and tally["failed"] == 0 and not tally["blocking"], tally
        # Running the catalog step again (a second `shengjing demo`) changes nothing it should not.
        demo.set_up_catalog(db, system)
        assert catalog.get_resource(db, system, PERSON).current_version == 1

    # The demo's authorizations are active, and the demo analyst queries under them.
    codes = demo.set_up_authorizations(sessions, system)
    assert demo.set_up_authorizations(sessions, system) == codes  # a second `shengjing demo` files none again
    from shengjing.identity import service as identity
    from shengjing.sandbox import service as sandbox

    with unit_of_work(sessions) as db:
        analyst = identity.principal_for(identity._find_user(db, system, "analyst"), "session")
        assert {a.status for a in sandbox.list_authorizations(db, analyst)} == {"active"}
    out = sandbox.run_query(
        sessions,
        analyst,
        codes[0],
        "SELECT p.district_code, i.insurance_type, COUNT(*) AS n, AVG(i.amount) AS paid FROM person p "
        "JOIN insurance i ON p.id_number = i.id_number GROUP BY 1, 2",
    )
    assert out.status == "released" and out.rows and all(row[2] >= 10 for row in out.rows)
    private = sandbox.run_query(sessions, analyst, codes[1], "SELECT sex, COUNT(*) FROM person GROUP BY sex")
    assert private.status == "pending_review" and private.epsilon == 0.5

    # Three departments' registrations, at different steps (on a known working week: deadlines count in them).
    from shengjing.registry import service as registry

    with time_machine.travel(dt.datetime(2026, 9, 1, 2, tzinfo=dt.UTC), tick=True):
        numbers = demo.set_up_registrations(sessions, system)
        assert demo.set_up_registrations(sessions, system) == numbers
        with unit_of_work(sessions) as db:
            cases = {r.object_code: r for r in registry.list_registrations(db, system)}
            assert {code: cases[code].status for code, _ in demo.DEMO_REGISTRATIONS} == {
                "SY-GA-PERSON": "publicity",
                "SY-RS-SOCIAL-INSURANCE": "accepted",
                "SY-GJJ-HOUSING-FUND": "applied",
            }
            assert [r.number for r in registry.publicity_list(db)] == [cases["SY-GA-PERSON"].number]
