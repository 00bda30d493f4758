"""The people the catalog tests share: the data bureau, two departments and an operator, with a user in each."""

from __future__ import annotations

import pytest

from shengjing.identity.principal import OrgType
from tests.conftest import World


@pytest.fixture
def people(world: World) -> World:
    world.org("BUREAU")
    world.org("HRSS", OrgType.DEPARTMENT, "沈阳市人力资源和社会保障局")
    world.org("POLICE", OrgType.DEPARTMENT, "沈阳市公安局")
    world.org("OPERATOR", OrgType.OPERATOR, "沈阳数字产业发展有限公司")
    world.user("admin", "BUREAU", "platform_admin")
    world.user("hrss", "HRSS", "department_admin")
    world.user("police", "POLICE", "department_admin")
    world.user("analyst", "OPERATOR", "operator_analyst")
    return world
