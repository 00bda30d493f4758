"""The libraries' fixtures: a small demo city (its organizations, catalog and the tables the libraries read,
ingested from the generator's files), its models filed and its libraries declared and built. Built once per
backend and test process, then restored for each test (tests/sandbox/city.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shengjing.demo import service as demo
from shengjing.demo.catalog import RESOURCE_BY_TABLE
from shengjing.demo.generator import CityManifest, generate_city
from shengjing.identity.principal import Principal
from shengjing.ingest import service as ingest
from shengjing.store.db import unit_of_work
from tests.conftest import World
from tests.sandbox.city import restore_world, snapshot_world

PERSONS = 1500
# What the demo's libraries read, persons and enterprises first (the other tables' reference rules need them).
TABLES = (
    "person", "enterprise", "insured_person", "patient", "student", "taxpayer", "employer",
    "food_licence", "licence_push", "real_estate_unit", "house",
    "housing_fund", "school_enrolment", "bus_card_trip",
)  # fmt: skip


@dataclass
class LibraryCity:
    world: World
    manifest: CityManifest
    codes: list[str]

    def actor(self, username: str) -> Principal:
        return self.world.principal(username)


def build_library_city(world: World, directory: Path, persons: int = PERSONS, *, users: bool = True) -> LibraryCity:
    """The city's catalog, its tables ingested and its libraries built; with ``users``, its organizations and
    users first (the browser tests' ``demo_logins`` makes them itself)."""
    with unit_of_work(world.sessions) as db:
        if users:
            demo.set_up_organizations_and_users(db, world.system)
        demo.set_up_catalog(db, world.system)
    manifest = generate_city(directory / "city", persons=persons, seed=7, tables=set(TABLES))
    for table in TABLES:
        ingest.ingest(world.sessions, world.system, RESOURCE_BY_TABLE[table].code, str(manifest.paths[table]))
    codes = demo.set_up_libraries(world.sessions, world.system)
    return LibraryCity(world, manifest, codes)


_TEMPLATES: dict[str, tuple[dict[str, list[dict[str, Any]]], Path, LibraryCity]] = {}


@pytest.fixture
def city(world: World, tmp_path_factory: pytest.TempPathFactory) -> LibraryCity:
    backend = world.sessions.kw["bind"].dialect.name
    if backend not in _TEMPLATES:
        built = build_library_city(world, tmp_path_factory.mktemp("library-city"))
        rows, var_dir = snapshot_world(world)
        _TEMPLATES[backend] = (rows, var_dir, built)
        return built
    rows, var_dir, built = _TEMPLATES[backend]
    restore_world(world, rows, var_dir)
    return LibraryCity(world, built.manifest, built.codes)
