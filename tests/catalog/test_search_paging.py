"""Search counts facets in SQL and loads only the page shown: the pages, totals and facet counts must be those
of the plain definition (every visible resource whose text holds every term), whatever the filters."""

from __future__ import annotations

from collections import Counter

import pytest

from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.store.db import unit_of_work
from tests.conftest import World

THEMES = (["社会保障"], ["社会保障", "就业"], ["人口"], [])


def _description(i: int) -> ResourceIn:
    department = "HRSS" if i % 3 else "POLICE"
    return ResourceIn(
        code=f"R-{i:02d}" if i % 2 else f"r_{i:02d}",  # mixed case and separators: one order on every database
        name=("社会保险缴费记录" if i % 4 else "户籍人口信息") + f"第{i}号",
        department=department,
        share_type=[ShareType.UNCONDITIONAL, ShareType.CONDITIONAL, ShareType.NONE][i % 3],
        open_type=ShareType.CONDITIONAL,
        update_frequency=UpdateFrequency.MONTHLY,
        themes=THEMES[i % len(THEMES)],
        fields=[FieldIn(name="sfzh", label="公民身份号码")],
    )


@pytest.fixture
def many(people: World) -> tuple[World, list[ResourceIn]]:
    descriptions = [_description(i) for i in range(23)]
    with unit_of_work(people.sessions) as db:
        for data in descriptions:
            catalog.create_resource(db, people.system, data)
    return people, descriptions


@pytest.mark.parametrize(
    ("query", "filters"),
    [("", {}), ("社保 缴费", {}), ("户籍", {}), ("", {"theme": "社会保障"}), ("记录", {"theme": "就业"}),
     ("公民身份号码", {"department": "HRSS", "share_type": ShareType.CONDITIONAL})],
)  # fmt: skip
def test_pages_totals_and_facets_are_those_of_the_plain_definition(many, query, filters) -> None:  # type: ignore[no-untyped-def]
    world, descriptions = many
    terms = catalog._terms(query)
    expected = sorted(
        (d for d in descriptions if all(any(f in catalog._search_text(d) for f in forms) for forms in terms)),
        key=lambda d: d.code,
    )
    if "theme" in filters:
        expected = [d for d in expected if filters["theme"] in d.themes]
    if "department" in filters:
        expected = [d for d in expected if d.department == filters["department"]]
    if "share_type" in filters:
        expected = [d for d in expected if d.share_type == filters["share_type"]]
    with world.db() as db:
        pages = [catalog.search(db, world.system, query, limit=5, offset=start, **filters) for start in range(0, 30, 5)]
    assert {p.total for p in pages} == {len(expected)}
    assert [r.code for p in pages for r in p.resources] == [d.code for d in expected]
    facets = pages[0].facets
    assert {f.value: f.count for f in facets["department"]} == Counter(d.department for d in expected)
    assert {f.value: f.count for f in facets["share_type"]} == Counter(d.share_type.value for d in expected)
    assert {f.value: f.count for f in facets["theme"]} == Counter(t for d in expected for t in d.themes)
