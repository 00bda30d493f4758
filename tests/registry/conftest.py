"""The registry's fixtures: the sandbox's small city (a data bureau, two departments with a resource each, an
operator), its clock set to a known working week, and applications to register with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml

from shengjing.registry import service
from shengjing.registry.schemas import RegistrationOut
from shengjing.store.db import unit_of_work
from tests.conftest import World
from tests.sandbox.city import City, city_from_template

# Tuesday 1 September 2026, 10:00 in Shenyang: ten working days later is 15 September (no holiday between).
START = dt.datetime(2026, 9, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


@pytest.fixture
def city(world: World, tmp_path: Path, clock: time_machine.Traveller) -> City:
    return city_from_template(world, tmp_path, people=60, tag="registry")


def application(city: City, username: str = "gongan", code: str = "GA-PERSON", **changes: Any) -> str:
    """The draft the service offers for ``code``, completed as an applicant would: the lawful-source commitment
    made, a compliance report attached, real scenarios."""
    actor = city.actor(username)
    with unit_of_work(city.sessions) as db:
        text = service.draft_document(db, actor, object_kind="resource", code=code)
    data = yaml.safe_load(text)
    particulars = data["particulars"]
    particulars["scenarios"] = ["人口统计分析", "普惠金融"]
    particulars["lawful_source"] = {"sources": ["履职采集"], "commitment": True, "statement": "依法履职采集"}
    particulars["compliance"] = {
        "agency": "辽宁某数据合规评估中心",
        "report_number": "LNHG-2026-0815",
        "report_date": "2026-08-15",
        "conclusion": "来源合法，处理合规",
    }
    data["scope"] = "沈阳市范围内的公共服务、统计分析与授权运营"
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def step(city: City, username: str, fn: Any, *args: Any, **kwargs: Any) -> RegistrationOut:
    actor = city.actor(username)  # looked up before the transaction: SQLite has one writer
    with unit_of_work(city.sessions) as db:
        return fn(db, actor, *args, **kwargs)  # type: ignore[no-any-return]


def issued(
    city: City, clock: time_machine.Traveller, text: str | None = None, username: str = "gongan"
) -> RegistrationOut:
    """An application taken through the whole workflow to its certificate."""
    number = step(city, username, service.apply, text or application(city)).number
    step(city, "admin", service.accept, number)
    publicized = step(city, "admin", service.publicize, number)
    assert publicized.publicity_end is not None
    clock.move_to(dt.datetime.combine(publicized.publicity_end + dt.timedelta(days=1), dt.time(2), dt.UTC))
    return step(city, "admin", service.issue, number)
