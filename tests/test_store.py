"""The store: migrations agree with the models on both engines; lake snapshots commit atomically."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shengjing import domains
from shengjing.config import Settings
from shengjing.errors import InvalidInput, NotFound
from shengjing.store import migrate
from shengjing.store.db import make_engine
from shengjing.store.lake import Lake


def test_models_and_migrations_agree(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        assert migrate.current_revision(engine) is not None
        assert migrate.pending_differences(engine, domains.metadata()) == []
    finally:
        engine.dispose()


def test_migrations_go_down_and_up_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    metadata = domains.metadata()
    migrate.upgrade(engine, metadata)
    migrate.downgrade(engine, metadata, "base")
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine, metadata)
    assert migrate.pending_differences(engine, metadata) == []
    engine.dispose()


def _write(staging_path: Path, rows: int, name: str = "part-00000.parquet") -> None:
    pq.write_table(pa.table({"n": list(range(rows))}), staging_path / name)


def test_snapshots_commit_list_and_roll_back(tmp_path: Path) -> None:
    dataset = Lake(tmp_path / "lake").dataset("resource", "R0001")
    assert dataset.current() is None
    for rows in (3, 5):
        with dataset.write_snapshot(source="test") as staging:
            _write(staging.path, rows)
    assert [s.version for s in dataset.snapshots()] == [1, 2]
    current = dataset.current()
    assert current is not None and current.version == 2 and current.row_count == 5
    assert current.manifest["metadata"] == {"source": "test"} and len(current.fingerprint) == 64
    assert dataset.rollback_to(1).row_count == 3
    assert dataset.current().version == 1  # type: ignore[union-attr]
    with dataset.write_snapshot() as staging:
        _write(staging.path, 7)
    assert [s.version for s in dataset.snapshots()] == [1, 2, 3]
    with pytest.raises(NotFound):
        dataset.rollback_to(9)


def test_a_failed_write_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    dataset = lake.dataset("resource", "R0002")
    with dataset.write_snapshot() as staging:
        _write(staging.path, 2)
    with pytest.raises(RuntimeError), dataset.write_snapshot() as staging:
        _write(staging.path, 100)
        raise RuntimeError("crash in the middle")
    assert dataset.current().row_count == 2  # type: ignore[union-attr]
    assert list((tmp_path / "lake" / "_staging").iterdir()) == []
    with pytest.raises(InvalidInput), dataset.write_snapshot() as staging:
        (staging.path / "notes.txt").write_text("not parquet")


def test_dataset_names_cannot_escape_the_lake(tmp_path: Path) -> None:
    for bad in ("..", "a/b", "_staging", ""):
        with pytest.raises(InvalidInput):
            Lake(tmp_path).dataset("resource", bad)


def test_kill_9_mid_commit_leaves_the_previous_snapshot_current(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    dataset = Lake(root).dataset("resource", "R0003")
    with dataset.write_snapshot() as staging:
        _write(staging.path, 4)
    ready = tmp_path / "ready"
    script = textwrap.dedent(f"""
        import time, pyarrow as pa, pyarrow.parquet as pq
        from pathlib import Path
        from shengjing.store.lake import Lake
        dataset = Lake(Path({str(root)!r})).dataset("resource", "R0003")
        with dataset.write_snapshot() as staging:
            for i in range(50):
                pq.write_table(pa.table({{"n": list(range(1000))}}), staging.path / f"part-{{i:05d}}.parquet")
                if i == 10:
                    Path({str(ready)!r}).touch()
                    time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert child.poll() is None and time.monotonic() < deadline, "the writer did not start"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    current = dataset.current()
    assert current is not None and current.version == 1 and current.row_count == 4
    assert [s.version for s in dataset.snapshots()] == [1]
    leftovers = Lake(root).collect_garbage()
    assert leftovers and not any((root / "_staging").iterdir())
    with dataset.write_snapshot() as staging:
        _write(staging.path, 6)
    assert dataset.current().version == 2  # type: ignore[union-attr]
