"""The sandbox's fixtures: a small city with an active authorization (tests/sandbox/city.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import World
from tests.sandbox.city import City, city_from_template


@pytest.fixture
def city(world: World, tmp_path: Path) -> City:
    return city_from_template(world, tmp_path)
