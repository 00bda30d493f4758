"""What the data-path tests share: a social-insurance resource owned by one department, and GBK CSV files."""

from __future__ import annotations

from pathlib import Path

import pytest
from stdnum.cn import ric

from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.identity.principal import OrgType, Principal
from shengjing.store.db import unit_of_work
from tests.conftest import World

STANDARDIZATION = """
version: 1
fields:
  xm: [trim, fullwidth_to_halfwidth]
  sfzh: [trim, upper]
  xb: [{codelist: {list: GB/T 2261.1}}]
  jfrq: [{date: {formats: ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"], output: "%Y-%m-%d"}}]
"""
QUALITY = """
rules:
  - {kind: required, field: xm}
  - {kind: id_number, field: sfzh}
  - {kind: unique, key: [sfzh, jfrq]}
"""


def _id(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")  # stdnum reads the first 17 of 18 characters


GOOD = [_id("21010219800101123"), _id("21011219750615002"), _id("21018119900228004")]


def csv_file(
    path: Path, rows: list[tuple[str, ...]], encoding: str = "gbk", header: str = "xm,sfzh,xb,jfrq,jfje"
) -> Path:
    path.write_bytes(("\n".join([header, *(",".join(r) for r in rows)]) + "\n").encode(encoding))
    return path


@pytest.fixture
def hrss(world: World) -> tuple[World, Principal]:
    world.org("BUREAU")
    world.org("HRSS", OrgType.DEPARTMENT, "沈阳市人力资源和社会保障局")
    world.org("POLICE", OrgType.DEPARTMENT, "沈阳市公安局")
    world.user("hrss", "HRSS", "department_admin")
    world.user("police", "POLICE", "department_admin")
    actor = world.principal("hrss")
    with unit_of_work(world.sessions) as db:
        catalog.create_resource(
            db,
            actor,
            ResourceIn(
                code="SB-0001",
                name="社会保险缴费记录",
                department="HRSS",
                share_type=ShareType.CONDITIONAL,
                open_type=ShareType.NONE,
                update_frequency=UpdateFrequency.MONTHLY,
                fields=[
                    FieldIn(name="xm", label="姓名"),
                    FieldIn(name="sfzh", label="公民身份号码"),
                    FieldIn(name="xb", label="性别"),
                    FieldIn(name="jfrq", label="缴费日期", data_type="date"),
                    FieldIn(name="jfje", label="缴费金额", data_type="decimal"),
                ],
                standardization=STANDARDIZATION,
                quality_rules=QUALITY,
            ),
        )
    return world, actor
