"""DCAT v3: the catalog exported as Turtle and JSON-LD, read back by rdflib, and imported into an empty database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from shengjing import cli
from shengjing.audit.models import AuditEvent
from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import ResourceIn, ResourceOut
from shengjing.config import Settings
from shengjing.errors import DataFormatError, InvalidInput, NotFound
from shengjing.identity import service as identity
from shengjing.identity.principal import OrgType
from shengjing.opendata import dcat, service
from shengjing.opendata.dcat import CSVW, DCAT, SJ, VCARD
from shengjing.store.db import make_engine, make_session_factory, unit_of_work
from tests.conftest import World
from tests.opendata.conftest import DEPARTMENTS, add_departments, city_resources

BASE = "https://data.shenyang.example"


def as_input(resource: ResourceOut) -> ResourceIn:
    """What a resource was described with: the shape an import recreates."""
    return ResourceIn.model_validate(
        resource.model_dump(include=set(ResourceIn.model_fields) - {"fields"})
        | {"fields": [f.model_dump() for f in resource.fields]}
    )


@pytest.fixture
def source(sqlite_template: Path, tmp_path: Path, settings: Settings, system) -> Iterator[sessionmaker[Session]]:  # type: ignore[no-untyped-def]
    """Another platform (a SQLite database of its own) holding the city's catalog, to export from."""
    path = tmp_path / "source.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    sessions = make_session_factory(engine, settings)
    with unit_of_work(sessions) as db:
        identity.sync_builtin_roles(db, system)
    world = World(sessions, system)
    add_departments(world)
    with unit_of_work(sessions) as db:
        for resource in city_resources():
            catalog.create_resource(db, system, resource)
    yield sessions
    engine.dispose()


def _export(sessions: sessionmaker[Session], system, public_only: bool = False) -> Graph:  # type: ignore[no-untyped-def]
    with unit_of_work(sessions) as db:
        return service.export_catalog(db, system, public_only=public_only, base_url=BASE)


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_export_then_import_into_an_empty_database_gives_the_same_resources(
    source: sessionmaker[Session], world: World, fmt: dcat.Format
) -> None:
    text = dcat.serialize(_export(source, world.system), fmt)
    for code, name in DEPARTMENTS.items():  # the receiving platform knows the departments, not the resources
        world.org(code, OrgType.DEPARTMENT, name)
    graph = dcat.parse(text, fmt, source=f"catalog.{fmt}")
    with unit_of_work(world.sessions) as db:
        report = service.import_catalog(db, world.system, graph)
    assert sorted(report.created) == ["GA-0001", "SB-0001", "SB-0002"] and report.updated == []
    with unit_of_work(world.sessions) as db:
        imported = {r.code: as_input(r) for r in catalog.export_resources(db, world.system, public_only=False)}
    with unit_of_work(source) as db:
        original = {r.code: as_input(r) for r in catalog.export_resources(db, world.system, public_only=False)}
    assert imported == original
    # Importing the same file again updates every resource and creates none.
    with unit_of_work(world.sessions) as db:
        again = service.import_catalog(db, world.system, dcat.parse(text, fmt, source="again"))
    assert again.created == [] and sorted(again.updated) == ["GA-0001", "SB-0001", "SB-0002"]


def test_every_dataset_has_what_dcat_requires_in_both_serializations(city: World) -> None:
    graph = _export(city.sessions, city.system)
    for fmt in ("turtle", "jsonld"):
        parsed = Graph().parse(data=dcat.serialize(graph, fmt), format="json-ld" if fmt == "jsonld" else "turtle")
        assert len(parsed) == len(graph), fmt
        catalogs = list(parsed.subjects(RDF.type, DCAT.Catalog))
        datasets = set(parsed.subjects(RDF.type, DCAT.Dataset))
        assert len(catalogs) == 1 and len(datasets) == 3, fmt
        assert set(parsed.objects(catalogs[0], DCAT.dataset)) == datasets
        for dataset in datasets:
            for required in (DCTERMS.identifier, DCTERMS.title, DCTERMS.description, DCTERMS.publisher):
                assert parsed.value(dataset, required) is not None, (dataset, required)
            assert parsed.value(dataset, DCTERMS.title).language == "zh"
            publisher = parsed.value(dataset, DCTERMS.publisher)
            assert (publisher, RDF.type, FOAF.Agent) in parsed and parsed.value(publisher, FOAF.name) is not None
            assert str(parsed.value(dataset, DCTERMS.accrualPeriodicity)).startswith(str(dcat.FREQUENCY))
            assert str(parsed.value(dataset, DCTERMS.accessRights)).startswith(str(dcat.ACCESS_RIGHT))
            for distribution in parsed.objects(dataset, DCAT.distribution):
                assert parsed.value(distribution, DCAT.accessURL) is not None
            for theme in parsed.objects(dataset, DCAT.theme):
                assert (theme, RDF.type, SKOS.Concept) in parsed
    sb = dcat.dataset_iri(BASE, "SB-0001")
    assert str(graph.value(sb, DCTERMS.identifier)) == "SB-0001"
    assert graph.value(sb, DCTERMS.accrualPeriodicity) == dcat.FREQUENCY.MONTHLY
    assert graph.value(sb, DCTERMS.accessRights) == dcat.ACCESS_RIGHT.PUBLIC
    contact = graph.value(sb, DCAT.contactPoint)
    assert str(graph.value(contact, VCARD.hasEmail)) == "mailto:data@hrss.example.cn"
    columns = list(graph.items(graph.value(graph.value(sb, CSVW.tableSchema), CSVW.column)))
    assert [str(graph.value(c, CSVW.name)) for c in columns] == ["dwbh", "jfje", "jfrq", "rs"]
    assert [str(graph.value(c, CSVW.datatype)).rsplit("#")[-1] for c in columns] == [
        "string",
        "decimal",
        "date",
        "integer",
    ]
    assert str(graph.value(columns[1], SJ.unit)) == "元"


def test_the_public_export_holds_only_open_resources_and_no_rules(city: World) -> None:
    graph = _export(city.sessions, city.system, public_only=True)
    codes = {str(graph.value(d, DCTERMS.identifier)) for d in graph.subjects(RDF.type, DCAT.Dataset)}
    assert codes == {"SB-0001", "GA-0001"}
    assert list(graph.subject_objects(SJ.qualityRules)) == [] and list(graph.subject_objects(SJ.standardization)) == []
    assert list(_export(city.sessions, city.system).subject_objects(SJ.qualityRules)) != []


TWO_DATASETS = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://example.org/ds/good> a dcat:Dataset ; dct:identifier "OK-0001" ; dct:title "好的数据集"@zh ;
    dct:publisher [ dct:identifier "HRSS" ] .
<https://example.org/ds/no-id> a dcat:Dataset ; dct:title "没有代码"@zh ; dct:publisher [ dct:identifier "HRSS" ] .
"""


FAILS_WHEN_SAVED = (
    TWO_DATASETS.split("<https://example.org/ds/no-id>")[0]
    + """
@prefix csvw: <http://www.w3.org/ns/csvw#> .
@prefix sj: <urn:shengjing:ns:> .
<https://example.org/ds/late> a dcat:Dataset ; dct:identifier "OK-0002" ; dct:title "有数据元"@zh ;
    dct:publisher [ dct:identifier "HRSS" ] ;
    csvw:tableSchema [ csvw:column ( [ csvw:name "x" ; sj:dataElement "DE-NOPE" ] ) ] .
"""
)


def test_bad_dcat_gives_a_clear_error_and_imports_nothing(world: World, tmp_path: Path) -> None:
    add_departments(world)
    with pytest.raises(DataFormatError) as not_rdf:
        dcat.parse("这不是 RDF <<<", "turtle", source="bad.ttl")
    assert "bad.ttl" in not_rdf.value.message_zh and "bad.ttl" in not_rdf.value.message_en
    with pytest.raises(DataFormatError):
        dcat.parse("{not json", "jsonld", source="bad.jsonld")

    graph = dcat.parse(TWO_DATASETS, "turtle", source="two.ttl")
    with pytest.raises(InvalidInput) as no_id, unit_of_work(world.sessions) as db:
        service.import_catalog(db, world.system, graph)
    assert "<https://example.org/ds/no-id>" in no_id.value.message_en
    assert "dct:identifier" in no_id.value.message_zh and no_id.value.details["dataset"].endswith("/no-id")

    # A valid graph whose second dataset fails only when saved (an unknown data element): the first is undone.
    failing = dcat.parse(FAILS_WHEN_SAVED, "turtle", source="late.ttl")
    with pytest.raises(NotFound) as missing, unit_of_work(world.sessions) as db:
        service.import_catalog(db, world.system, failing)
    assert missing.value.details["dataset"].endswith("/late")
    with unit_of_work(world.sessions) as db:
        assert catalog.search(db, world.system).total == 0  # all or nothing
        failures = db.query(AuditEvent).filter(AuditEvent.action == "opendata.catalog.import").all()
        assert [e.outcome for e in failures] == ["failed", "failed"]


def test_an_unknown_publisher_needs_a_department(world: World) -> None:
    add_departments(world)
    text = TWO_DATASETS.replace('"HRSS"', '"ELSEWHERE"').split("<https://example.org/ds/no-id>")[0]
    with pytest.raises(InvalidInput) as unknown, unit_of_work(world.sessions) as db:
        service.import_catalog(db, world.system, dcat.parse(text, "turtle", source="t"))
    assert "--department" in unknown.value.message_en and "/ds/good" in unknown.value.message_en
    with unit_of_work(world.sessions) as db:
        report = service.import_catalog(db, world.system, dcat.parse(text, "turtle", source="t"), "POLICE")
    assert report.created == ["OK-0001"]
    with unit_of_work(world.sessions) as db:
        resource = catalog.get_resource(db, world.system, "OK-0001")
    assert resource.department == "POLICE" and resource.open_type == "none" and resource.share_type == "none"


def test_a_department_cannot_import_into_another_department(city: World) -> None:
    city.user("police", "POLICE", "department_admin")
    with city.db() as db:
        police = identity.principal_for(identity._find_user(db, city.system, "police"), "session")
    graph = _export(city.sessions, city.system)
    with pytest.raises(Exception) as refused, unit_of_work(city.sessions) as db:
        service.import_catalog(db, police, graph)
    assert type(refused.value).__name__ in {"PermissionDenied", "NotFound"}


def test_api_and_public_files(client, city: World) -> None:  # type: ignore[no-untyped-def]
    city.user("hrss", "HRSS", "department_admin")
    auth = {"Authorization": f"Bearer {city.token('hrss')}"}
    turtle = client.get("/api/v1/dcat", headers=auth)
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    jsonld = client.get("/api/v1/dcat", headers={**auth, "Accept": "application/ld+json"})
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    by_param = client.get("/api/v1/dcat", params={"format": "jsonld"}, headers=auth)
    assert (
        Graph()
        .parse(data=by_param.text, format="json-ld")
        .isomorphic(Graph().parse(data=jsonld.text, format="json-ld"))
    )
    seen = Graph().parse(data=turtle.text, format="turtle")
    # hrss sees its own (both) and the shareable police resource
    assert {str(o) for o in seen.objects(None, DCTERMS.identifier) if "-" in str(o)} >= {"SB-0001", "SB-0002"}
    assert client.get("/api/v1/dcat").status_code == 401

    for path, fmt in (("/opendata/catalog.ttl", "turtle"), ("/opendata/catalog.jsonld", "json-ld")):
        answer = client.get(path)  # anonymous
        assert answer.status_code == 200, path
        graph = Graph().parse(data=answer.text, format=fmt)
        codes = {str(graph.value(d, DCTERMS.identifier)) for d in graph.subjects(RDF.type, DCAT.Dataset)}
        assert codes == {"SB-0001", "GA-0001"}, path


def test_the_cli_exports_and_imports(city: World, settings: Settings, tmp_path: Path) -> None:
    """In process (tests/test_cli.py runs the real command as a subprocess; this keeps the suite fast)."""
    env = {"SHENGJING_DATABASE_URL": settings.database_url, "SHENGJING_VAR_DIR": str(settings.var_dir)}
    runner = CliRunner()
    out = tmp_path / "catalog.jsonld"
    exported = runner.invoke(cli.app, ["dcat", "export", "--format", "jsonld", "--public", "--out", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    graph = Graph().parse(out, format="json-ld")
    assert {str(graph.value(d, DCTERMS.identifier)) for d in graph.subjects(RDF.type, DCAT.Dataset)} == {
        "SB-0001",
        "GA-0001",
    }
    imported = runner.invoke(cli.app, ["dcat", "import", str(out)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "0 created" in imported.output and "2 updated" in imported.output
    with unit_of_work(city.sessions) as db:  # the public file has no rules, and the import kept them
        assert "required" in catalog.get_resource(db, city.system, "SB-0001").quality_rules

    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix broken", "utf-8")
    refused = runner.invoke(cli.app, ["dcat", "import", str(bad)], env=env)
    assert isinstance(refused.exception, DataFormatError) and "bad.ttl" in refused.exception.message_en
