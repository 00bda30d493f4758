"""The sandbox's fixtures: a small city with an active authorization (tests/sandbox/city.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import World
from tests.sandbox.city import City, build_city


@pytest.fixture
def city(world: World, tmp_path: Path) -> City:
    return build_city(world, tmp_path)
