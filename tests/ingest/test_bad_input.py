"""Bad input beyond tests/ingest/test_ingest.py: each is refused with a clear zh+en error, and loses nothing —
the previous version stays current, no staging is left in the lake, and the audit trail records the failure."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from shengjing.audit.models import AuditEvent
from shengjing.catalog import service as catalog
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.config import Settings
from shengjing.identity.principal import OrgType
from shengjing.store.db import unit_of_work
from tests.conftest import World

CODE = "DISK-1"
TWO_GB = 2 * 1024**3


def _unshare_works() -> bool:
    try:
        probe = ["unshare", "--user", "--map-root-user", "--mount", "true"]
        return subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def resource(world: World) -> World:
    world.org("HRSS", OrgType.DEPARTMENT, "沈阳市人力资源和社会保障局")
    with unit_of_work(world.sessions) as db:
        catalog.create_resource(
            db,
            world.system,
            ResourceIn(
                code=CODE,
                name="磁盘测试",
                department="HRSS",
                share_type=ShareType.CONDITIONAL,
                open_type=ShareType.NONE,
                update_frequency=UpdateFrequency.DAILY,
                fields=[FieldIn(name="a", label="甲"), FieldIn(name="b", label="乙")],
            ),
        )
    return world


def _two_gb_csv(path: Path) -> None:
    """2 GB of valid rows: one 8 MB block of random hex, repeated. Parquet compresses within a page (~1 MB),
    so the repetition does not shrink the snapshot: the lake fills as it would with real data."""
    block = b"".join(f"{os.urandom(16).hex()},{os.urandom(16).hex()}\n".encode() for _ in range(120_000))
    with path.open("wb") as out:
        out.write(b"a,b\n")
        for _ in range(TWO_GB // len(block) + 1):
            out.write(block)


@pytest.mark.skipif(not _unshare_works(), reason="unshare --user --mount is not permitted here (no user namespaces)")
def test_a_2_gb_file_on_a_full_disk(resource: World, settings: Settings, tmp_path: Path) -> None:
    small, big, lake = tmp_path / "small.csv", tmp_path / "big.csv", tmp_path / "lake"
    small.write_text("a,b\n甲1,乙1\n甲2,乙2\n", "utf-8")
    _two_gb_csv(big)
    lake.mkdir()
    ingest = f"{sys.executable} -m shengjing ingest --resource {CODE}"
    # Inside the namespace the lake is a 64 MB tmpfs: a first small version, then the 2 GB file, then what the
    # lake holds afterwards (the tmpfs disappears with the namespace, so it is inspected from inside).
    inspect = textwrap.dedent(f"""
        import json, pathlib
        from shengjing.config import Settings
        from shengjing.identity.principal import system_principal
        from shengjing.ingest import service
        from shengjing.store.db import make_engine, make_session_factory
        settings = Settings()
        sessions = make_session_factory(make_engine(settings.database_url), settings)
        staging = pathlib.Path({str(lake)!r}) / "_staging"
        print(json.dumps({{"rows": service.read_current(sessions, system_principal("t"), {CODE!r}).num_rows,
                          "staging": sorted(p.name for p in staging.iterdir()) if staging.exists() else []}}))
    """)
    (tmp_path / "inspect.py").write_text(inspect, "utf-8")
    script = (
        f"mount -t tmpfs -o size=64m tmpfs {lake} && {ingest} {small} >/dev/null && "
        f"{{ {ingest} {big} 2>&1 >/dev/null; echo rc=$?; }} && {sys.executable} {tmp_path / 'inspect.py'}"
    )
    env = {
        **os.environ,
        "SHENGJING_DATABASE_URL": settings.database_url,
        "SHENGJING_VAR_DIR": str(settings.var_dir),
        "SHENGJING_LAKE_DIR": str(lake),
        "SHENGJING_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }
    try:
        done = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        big.unlink()
    assert "rc=9" in done.stdout, done.stdout + done.stderr  # StorageFull's exit code
    assert "磁盘空间不足" in done.stdout and "Disk full" in done.stdout
    assert done.stdout.strip().endswith('{"rows": 2, "staging": []}'), done.stdout  # v1 readable, no leftovers
    with resource.db() as db:
        assert catalog.get_resource(db, resource.system, CODE).current_version == 1
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.resource.ingest")).all()
    assert [e.outcome for e in events] == ["success", "failed"]
    assert events[-1].details["error"] == "storage_full"
