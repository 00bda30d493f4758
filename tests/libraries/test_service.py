"""The demo city's libraries through the services: built from real ingested snapshots, classified and usable as
catalog resources, scored against the generator's truth, refreshed when a source gets a new snapshot, and read
back (conflicts for the departments, a golden record's lineage, versions compared)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import select

from shengjing.audit.models import AuditEvent
from shengjing.catalog import service as catalog
from shengjing.classify import service as classify
from shengjing.classify.detectors import InfoType
from shengjing.demo import shenyang
from shengjing.errors import InvalidInput, NotFound, PermissionDenied
from shengjing.ingest import service as ingest
from shengjing.libraries import service
from shengjing.libraries.models import Library, LibraryBuild
from shengjing.sandbox import service as sandbox
from shengjing.sandbox.checker import QueryRefused
from shengjing.store.db import unit_of_work
from shengjing.store.lake import Lake
from tests.libraries.conftest import LibraryCity

POPULATION = "SY-LIB-POPULATION"
LEGAL_PERSON = "SY-LIB-LEGAL-PERSON"
BASES = (POPULATION, LEGAL_PERSON, "SY-LIB-SOCIAL-CREDIT", "SY-LIB-E-LICENCE", "SY-LIB-PROPERTY-UNIT")
THEMES = ("SY-THEME-EDUCATION", "SY-THEME-HOUSING-SECURITY", "SY-THEME-TRANSPORT-TOURISM")
TABLE_OF_SOURCE = {
    "SY-GA-PERSON": "person",
    "SY-RS-INSURED-PERSON": "insured_person",
    "SY-WJ-PATIENT": "patient",
    "SY-JY-STUDENT": "student",
    "SY-SCJG-ENTERPRISE": "enterprise",
    "SY-SW-TAXPAYER": "taxpayer",
    "SY-RS-EMPLOYER": "employer",
    "SY-SCJG-FOOD-LICENCE": "food_licence",
    "SY-SJJ-LICENCE-PUSH": "licence_push",
    "SY-ZRZY-REAL-ESTATE-UNIT": "real_estate_unit",
    "SY-ZJ-HOUSE": "house",
}


def _files(city: LibraryCity, *parts: str, version: int) -> list[str]:
    return [str(p) for p in Lake(city.world.settings.lake_path).dataset(*parts).snapshot(version).files]


def _build(city: LibraryCity, code: str, version: int | None = None) -> LibraryBuild:
    """The succeeded build that made ``version`` of the library (by default its current one)."""
    with unit_of_work(city.world.sessions) as db:
        wanted = version or service.get_library(db, city.world.system, code).current_version
        build = db.scalars(
            select(LibraryBuild)
            .join(Library, Library.id == LibraryBuild.library_id)
            .where(Library.code == code, LibraryBuild.status == "succeeded", LibraryBuild.version == wanted)
        ).one()
        db.expunge(build)
        return build


def _pairwise(city: LibraryCity, code: str, truth: str, key: str, column: str) -> tuple[float, float, int]:
    build = _build(city, code)
    members = _files(city, "library", code, "members", version=build.outputs["members"])
    values = ", ".join(f"('{s}', '{t}')" for s, t in TABLE_OF_SOURCE.items())
    row = duckdb.sql(
        f"""WITH j AS (SELECT m.{key} AS cluster, t.{column} AS truth FROM read_parquet({members}) AS m
              JOIN (VALUES {values}) AS v(s, t) ON v.s = m.source
              JOIN read_parquet('{city.manifest.truth[truth]}') AS t ON t."table" = v.t AND t.record_id = m.record_key),
        hits AS (SELECT sum(k * (k - 1) / 2) AS n FROM (SELECT count(*) AS k FROM j GROUP BY cluster, truth)),
        predicted AS (SELECT sum(k * (k - 1) / 2) AS n FROM (SELECT count(*) AS k FROM j GROUP BY cluster)),
        actual AS (SELECT sum(k * (k - 1) / 2) AS n FROM (SELECT count(*) AS k FROM j GROUP BY truth))
        SELECT hits.n / predicted.n, hits.n / actual.n, (SELECT count(*) FROM j) FROM hits, predicted, actual"""
    ).fetchall()[0]
    return float(row[0]), float(row[1]), int(row[2])  # type: ignore[index]


def test_the_demo_libraries_are_built_classified_and_usable_in_the_sandbox(city: LibraryCity) -> None:
    system = city.world.system
    with unit_of_work(city.world.sessions) as db:
        libraries = {lib.code: lib for lib in service.list_libraries(db, system)}
        assert set(libraries) == {*BASES, *THEMES}
        assert all(lib.current_version is not None and not lib.stale_inputs for lib in libraries.values())
        population = libraries[POPULATION]
        resource = catalog.get_resource(db, system, POPULATION)
        assert [f.name for f in resource.fields][:3] == ["person_key", "id_number", "name"]
        assert resource.department == "data_bureau"
        # the library's snapshot went through the snapshot hooks: it is classified and graded like any resource
        grading = classify.get_grading(db, system, POPULATION)
        kinds = {f.field: f.info_type for f in grading.fields}
        assert kinds["id_number"] == InfoType.ID_NUMBER and kinds["mobile"] == InfoType.MOBILE
        assert grading.level is not None
        # ... and the sandbox can authorize it: it knows its fields and current version
        (subject,) = catalog.sandbox_subjects(db, [POPULATION])
        assert subject.current_version == population.current_version and "person_key" in subject.identifying_fields
        audit = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "libraries.library.build")))
        assert {e.target_id for e in audit} >= {*BASES, *THEMES}
    stats = population.builds[0].stats
    sources = {t: city.manifest.row_counts[TABLE_OF_SOURCE[t]] for t in stats["records_by_source"]}
    assert stats["records_by_source"] == sources  # every source record is in, none twice
    assert stats["records"] == sum(sources.values())
    print("STATS", stats)
    assert stats["linked_probabilistically"] > 0 and stats["identifier_valid"] < stats["records"]
    assert stats["model"]["comparisons"][0]["attribute"] == "name"  # the trained model is kept with the build


@pytest.mark.parametrize(
    ("code", "truth", "key", "column", "least_recall"),
    [
        (POPULATION, "persons", "person_key", "id_number", 0.99),
        (LEGAL_PERSON, "enterprises", "enterprise_key", "credit_code", 0.95),
        ("SY-LIB-SOCIAL-CREDIT", "enterprises", "subject_key", "credit_code", 0.95),
        ("SY-LIB-E-LICENCE", "licences", "licence_key", "licence_no", 0.95),
        ("SY-LIB-PROPERTY-UNIT", "property_units", "unit_key", "unit_no", 0.98),
    ],
)
def test_linking_agrees_with_the_generators_truth(
    city: LibraryCity, code: str, truth: str, key: str, column: str, least_recall: float
) -> None:
    precision, recall, scored = _pairwise(city, code, truth, key, column)
    build = _build(city, code)
    assert scored == build.stats["records"]  # every record of every source is scored against the truth
    stats = build.stats
    assert stats["linked_probabilistically"] > 0 or stats["identifier_valid"] == stats["records"]  # the model ran
    assert precision >= 0.999 and recall >= least_recall, (precision, recall)


def test_golden_records_follow_survivorship_and_keep_lineage(city: LibraryCity) -> None:
    build = _build(city, POPULATION)
    golden = _files(city, "resource", POPULATION, version=build.version or 0)
    lineage = _files(city, "library", POPULATION, "lineage", version=build.outputs["lineage"])
    person = str(city.manifest.paths["person"])
    connection = duckdb.connect()
    # every non-null attribute of every golden record has exactly one lineage row naming a real source record
    missing = connection.sql(
        f"""SELECT count(*) FROM (UNPIVOT (SELECT person_key, CAST(id_number AS VARCHAR) AS id_number, name, sex,
              CAST(birth_date AS VARCHAR) AS birth_date, mobile, address FROM read_parquet({golden}))
              ON id_number, name, sex, birth_date, mobile, address INTO NAME attribute VALUE value) AS g
            LEFT JOIN read_parquet({lineage}) AS l USING (person_key, attribute) WHERE l.record_key IS NULL"""
    ).fetchall()[0][0]
    assert missing == 0
    # most trusted: a person in the household register has its name and birth date from there
    disagreeing = connection.sql(
        f"""SELECT count(*) FROM read_parquet({golden}) AS g JOIN read_parquet('{person}') AS p USING (id_number)
            WHERE g.name <> p.name OR g.birth_date <> p.birth_date"""
    ).fetchall()[0][0]
    assert disagreeing == 0
    # most recent: the mobile comes from the most recently updated record that has one
    rules = dict(
        connection.sql(f"SELECT attribute, any_value(rule) FROM read_parquet({lineage}) GROUP BY ALL").fetchall()
    )
    assert rules["mobile"] == "most_recent" and rules["name"] == "most_trusted"


def test_a_new_snapshot_of_a_source_refreshes_its_libraries_incrementally(city: LibraryCity, tmp_path: Path) -> None:
    system = city.world.system
    before = _build(city, POPULATION)
    with unit_of_work(city.world.sessions) as db:
        themes_before = {code: service.get_library(db, system, code).current_version for code in THEMES}
    patients = pq.read_table(city.manifest.paths["patient"])
    # the clinic system's next export: a tenth of its patients have a new phone, and 20 new registrations (without
    # an ID) of persons already in the household register
    changed = pc.less(pa.array(range(patients.num_rows)), patients.num_rows // 10)
    new_mobile = pc.if_else(changed, pa.scalar("13900000000"), patients.column("mobile"))
    patients = patients.set_column(patients.schema.get_field_index("mobile"), "mobile", new_mobile)
    household = pq.read_table(city.manifest.paths["person"]).slice(0, 20)
    arrivals = (
        pa.table(
            {
                "record_id": [f"WJ99999{i:05d}" for i in range(20)],
                "id_number": pa.nulls(20, pa.string()),
                **{c: household.column(c) for c in ("name", "sex", "birth_date", "mobile", "address")},
                "hospital": ["沈阳市第一人民医院"] * 20,
                "updated_at": pa.array(
                    [patients.column("updated_at")[0].as_py()] * 20, patients.schema.field("updated_at").type
                ),
            }
        )
        .select(patients.column_names)
        .cast(patients.schema)
    )
    path = tmp_path / "patient-v2.parquet"
    pq.write_table(pa.concat_tables([patients, arrivals]), path)
    ingest.ingest(city.world.sessions, system, "SY-WJ-PATIENT", str(path))

    after = _build(city, POPULATION)
    assert after.version == (before.version or 0) + 1
    assert after.mode == "refresh" and after.trigger.startswith("SY-WJ-PATIENT v2")
    assert after.stats["kept"] > 0  # unchanged records kept their links: only new and changed ones were linked
    assert after.stats["records"] == before.stats["records"] + 20
    with unit_of_work(city.world.sessions) as db:
        comparison = service.compare_versions(db, system, POPULATION, before.version or 0, after.version or 0)
        assert comparison.added == 0  # the 20 arrivals joined the persons they are, no new golden record
        assert comparison.changed > 0 and comparison.removed == 0
        mobile = next(a for a in comparison.attributes if a.attribute == "mobile")
        assert mobile.changed > 0
        # the themes that read the population library were refreshed by its new snapshot; the one that does not, not
        themes_after = {code: service.get_library(db, system, code).current_version for code in THEMES}
    assert themes_after["SY-THEME-EDUCATION"] == (themes_before["SY-THEME-EDUCATION"] or 0) + 1
    assert themes_after["SY-THEME-HOUSING-SECURITY"] == (themes_before["SY-THEME-HOUSING-SECURITY"] or 0) + 1
    assert themes_after["SY-THEME-TRANSPORT-TOURISM"] == themes_before["SY-THEME-TRANSPORT-TOURISM"]
    members = _files(city, "library", POPULATION, "members", version=after.outputs["members"])
    arrivals_linked = duckdb.sql(
        f"SELECT count(*) FROM read_parquet({members}) WHERE record_key LIKE 'WJ99999%' AND method = 'probabilistic'"
    ).fetchall()[0][0]
    assert arrivals_linked >= 18


def test_departments_see_the_conflicts_in_their_own_records(city: LibraryCity) -> None:
    bureau, gongan, analyst = city.actor("admin"), city.actor("gongan"), city.actor("analyst")
    with unit_of_work(city.world.sessions) as db:
        everything = service.list_conflicts(db, bureau, POPULATION, limit=1000)
        assert everything.total > 0
        assert {c.attribute for c in everything.items} <= {"name", "sex", "birth_date"}
        own = service.list_conflicts(db, gongan, POPULATION, limit=1000)
        # 公安 sees the clusters in which one of its own records was not chosen; the household register is the
        # most trusted source, so its values are chosen, and it has (almost) nothing to correct
        assert own.total < everything.total
        for conflict in own.items:
            assert conflict.key in {c.key for c in everything.items}
        with pytest.raises(PermissionDenied):
            service.list_conflicts(db, analyst, POPULATION)


def test_a_golden_record_shows_its_lineage_to_who_builds_the_library_only(city: LibraryCity) -> None:
    build = _build(city, POPULATION)
    members = _files(city, "library", POPULATION, "members", version=build.outputs["members"])
    key = duckdb.sql(
        f"SELECT person_key FROM read_parquet({members}) WHERE method = 'probabilistic' ORDER BY person_key LIMIT 1"
    ).fetchall()[0][0]
    actors = {name: city.actor(name) for name in ("admin", "gongan", "analyst", "auditor")}
    with unit_of_work(city.world.sessions) as db:
        record = service.golden_record(db, actors["admin"], POPULATION, key)
        assert {m.method for m in record.members} >= {"identifier", "probabilistic"}
        assert {line.attribute for line in record.lineage} <= set(record.attributes)
        assert all(line.source in TABLE_OF_SOURCE for line in record.lineage)
        for username in ("gongan", "analyst", "auditor"):
            with pytest.raises(PermissionDenied):
                service.golden_record(db, actors[username], POPULATION, key)
        with pytest.raises(NotFound):
            service.golden_record(db, actors["admin"], POPULATION, "0" * 32)
    with unit_of_work(city.world.sessions) as db:
        views = db.scalars(select(AuditEvent).where(AuditEvent.action == "libraries.record.view"))
        assert any(e.details.get("key") == key for e in views)


def test_only_the_bureau_builds_and_a_failed_build_changes_nothing(city: LibraryCity) -> None:
    gongan = city.actor("gongan")
    with pytest.raises(PermissionDenied):
        service.build_library(city.world.sessions, gongan, POPULATION)
    with unit_of_work(city.world.sessions) as db:
        before = service.get_library(db, city.world.system, THEMES[2])
        text = before.declaration.replace("FROM trips GROUP BY", "FROM trips WHERE error('boom') IS NULL GROUP BY")
        service.declare_library(db, city.world.system, text)
    with pytest.raises(Exception):  # noqa: B017 - the engine's own error, whatever it is
        service.build_library(city.world.sessions, city.world.system, THEMES[2])
    with unit_of_work(city.world.sessions) as db:
        after = service.get_library(db, city.world.system, THEMES[2])
        assert after.current_version == before.current_version
        assert after.builds[0].status == "failed" and after.builds[0].version is None
    head = Lake(city.world.settings.lake_path).dataset("resource", THEMES[2]).current()
    assert head is not None and head.version == before.current_version


def test_declarations_are_checked_and_say_where(city: LibraryCity) -> None:
    system = city.world.system
    with unit_of_work(city.world.sessions) as db:
        population = service.get_library(db, system, POPULATION).declaration
        model = service.get_model(db, system, "population")
        # filing the same model again makes no new version; a changed one does, and the old one stays
        assert service.file_model(db, system, model.declaration).version == model.version
        changed = service.file_model(db, system, model.declaration.replace("人口数据模型", "人口数据模型（修订）"))
        assert changed.version == model.version + 1 and changed.versions == [*model.versions, changed.version]
        diagram = service.model_diagram(db, system, "population")
        assert {n["id"] for n in diagram.nodes} == {"population.person", "legal_person.enterprise"}
        with pytest.raises(InvalidInput) as raised:
            service.file_model(db, system, model.declaration.replace("data_element: XM}", "data_element: XMX}"))
        assert raised.value.details["field"] == "person.name" and "XMX" in raised.value.message_en
    cases = [
        (population.replace("  blocking: [[birth_date]", "  blocking: [[birthday]"), "birthday"),
        (
            population.replace("    record_key: record_id\n", "    record_key: no_such_column\n", 1),
            "no_such_column",
        ),
        ("code: X\n  bad: [", "line"),
    ]
    for text, said in cases:
        with unit_of_work(city.world.sessions) as db, pytest.raises(InvalidInput) as raised:
            service.declare_library(db, system, text)
        assert said in raised.value.message_en, raised.value.message_en
    with unit_of_work(city.world.sessions) as db:
        theme = service.get_library(db, system, THEMES[0]).declaration
    for text, said in (
        (theme.replace("FROM enrolments AS s", "FROM enrolments AS s, secrets"), "secrets"),
        (theme.replace("SELECT p.person_key, p.name,", "SELECT p.person_key,"), "missing ['name']"),
    ):
        with pytest.raises(InvalidInput) as raised:
            with unit_of_work(city.world.sessions) as db:
                service.declare_library(db, system, text)
            service.build_library(city.world.sessions, system, THEMES[0])
        assert said in raised.value.message_en, raised.value.message_en


def test_an_operator_queries_the_libraries_in_the_sandbox_without_seeing_a_person(city: LibraryCity) -> None:
    """A library is a resource like any other: authorized for a scenario, consented by its holder (the bureau),
    queried under column controls; the theme joins the population library on its key."""
    admin, analyst = city.actor("admin"), city.actor("analyst")
    document = {
        "operator": shenyang.OPERATOR.code,
        "title": "住房公积金缴存分析",
        "scenario": "social_security",
        "purpose": "按性别统计公积金缴存职工的月均缴存额，评估住房保障政策。",
        "valid_from": "2026-01-01",
        "valid_until": "2099-12-31",
        "egress": "automatic",
        "row_limit": 100,
        "min_group_size": 5,
        "resources": [
            {"resource": POPULATION, "table": "persons", "columns": {"person_key": "join", "sex": "group_by"}},
            {
                "resource": "SY-THEME-HOUSING-SECURITY",
                "table": "depositors",
                "columns": {"person_key": "join", "monthly_deposit": {"control": "aggregate", "bounds": [0, 20000]}},
            },
        ],
    }
    with unit_of_work(city.world.sessions) as db:
        code = sandbox.create_authorization(db, analyst, yaml.safe_dump(document, allow_unicode=True)).code
    with unit_of_work(city.world.sessions) as db:
        sandbox.apply(db, analyst, code)
    for resource in (POPULATION, "SY-THEME-HOUSING-SECURITY"):
        with unit_of_work(city.world.sessions) as db:
            sandbox.consent(db, admin, code, resource, "consent")
    with unit_of_work(city.world.sessions) as db:
        sandbox.approve(db, admin, code, "同意")
    out = sandbox.run_query(
        city.world.sessions,
        analyst,
        code,
        "SELECT p.sex, count(*) AS n, avg(d.monthly_deposit) AS deposit FROM persons AS p "
        "JOIN depositors AS d ON d.person_key = p.person_key GROUP BY p.sex",
    )
    assert out.status == "released" and sorted(r[0] for r in out.rows) == ["1", "2"]  # GB/T 2261.1, as ingested
    assert sum(r[1] for r in out.rows) > 100
    with pytest.raises(QueryRefused):
        sandbox.run_query(city.world.sessions, analyst, code, "SELECT person_key FROM persons")
