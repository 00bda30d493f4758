"""A small city catalog for the open-data tests: open, conditionally open and closed resources."""

from __future__ import annotations

import pytest

from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.identity.principal import OrgType
from shengjing.store.db import unit_of_work
from tests.conftest import World

DEPARTMENTS = {"HRSS": "沈阳市人力资源和社会保障局", "POLICE": "沈阳市公安局"}


def city_resources() -> list[ResourceIn]:
    """Themes, tags and formats sorted: RDF does not order them, so an import sorts them."""
    return [
        ResourceIn(
            code="SB-0001",
            name="社会保险缴费记录",
            summary="全市职工社会保险缴费明细，按月更新。",
            department="HRSS",
            share_type=ShareType.CONDITIONAL,
            open_type=ShareType.UNCONDITIONAL,
            update_frequency=UpdateFrequency.MONTHLY,
            themes=["社会保障", "经济"],
            tags=["社保", "缴费"],
            formats=["CSV", "XLSX"],
            contact="市人社局数据科 024-12345678 data@hrss.example.cn",
            fields=[
                FieldIn(name="dwbh", label="单位编号", description="统一社会信用代码"),
                FieldIn(name="jfje", label="缴费金额", data_type="decimal", unit="元"),
                FieldIn(name="jfrq", label="缴费日期", data_type="date"),
                FieldIn(name="rs", label="参保人数", data_type="integer"),
            ],
            quality_rules="rules:\n  - {kind: required, field: jfje}\n",
        ),
        ResourceIn(
            code="SB-0002",
            name="养老保险待遇发放",
            summary="不予开放的内部数据。",
            department="HRSS",
            share_type=ShareType.CONDITIONAL,
            open_type=ShareType.NONE,
            update_frequency=UpdateFrequency.QUARTERLY,
            themes=["社会保障"],
            fields=[FieldIn(name="sfzh", label="公民身份号码")],
        ),
        ResourceIn(
            code="GA-0001",
            name="户籍人口统计",
            department="POLICE",
            share_type=ShareType.UNCONDITIONAL,
            open_type=ShareType.CONDITIONAL,
            update_frequency=UpdateFrequency.YEARLY,
            themes=["人口"],
            formats=["JSON"],
            fields=[FieldIn(name="qx", label="区县"), FieldIn(name="hs", label="户数", data_type="integer")],
        ),
    ]


def add_departments(world: World) -> None:
    world.org("BUREAU")
    for code, name in DEPARTMENTS.items():
        world.org(code, OrgType.DEPARTMENT, name)


@pytest.fixture
def city(world: World) -> World:
    add_departments(world)
    with unit_of_work(world.sessions) as db:
        for resource in city_resources():
            catalog.create_resource(db, world.system, resource)
    return world
