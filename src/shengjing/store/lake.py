"""The lake: a directory of datasets, each a sequence of immutable, versioned Parquet snapshots.

Layout (one dataset per resource or library; ``parts`` such as ``("resource", "R0001")``)::

    <lake>/<part>/<part>/
        snapshots/v000001/part-00000.parquet …  _manifest.json   immutable once renamed into place
        HEAD.json          {"current": 3, "history": [1, 2, 3]}  replaced atomically: the commit point
        .lock              serializes committers of this dataset
    <lake>/_staging/<random>/                                  where a snapshot is written before commit

A snapshot is committed when HEAD.json names it. A crash or ``kill -9`` at any earlier moment leaves the
previous HEAD.json, so readers never see partial data; what the crash left behind (a staging directory, or
a renamed directory that HEAD never named) is removed by :meth:`Lake.collect_garbage`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from shengjing.errors import InvalidInput, NotFound

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
HEAD = "HEAD.json"
MANIFEST = "_manifest.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """One committed, immutable version of a dataset."""

    version: int
    path: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> list[Path]:
        return [self.path / entry["name"] for entry in self.manifest["files"]]

    @property
    def row_count(self) -> int:
        return int(self.manifest["row_count"])

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the manifest: names, sizes, hashes and row counts of every file of the snapshot."""
        canonical = json.dumps(self.manifest["files"], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Staging:
    """A snapshot being written: put Parquet files in ``path``; they become visible only on commit."""

    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)
    snapshot: Snapshot | None = None


class Dataset:
    def __init__(self, lake: Lake, parts: tuple[str, ...]) -> None:
        self.lake = lake
        self.parts = parts
        self.path = lake.root.joinpath(*parts)

    @property
    def key(self) -> str:
        return "/".join(self.parts)

    def _head(self) -> dict[str, Any]:
        head = self.path / HEAD
        if not head.exists():
            return {"current": None, "history": []}
        return dict(json.loads(head.read_text("utf-8")))

    def _load(self, version: int) -> Snapshot:
        path = self.path / "snapshots" / f"v{version:06d}"
        return Snapshot(version, path, json.loads((path / MANIFEST).read_text("utf-8")))

    def current(self) -> Snapshot | None:
        version = self._head()["current"]
        return None if version is None else self._load(version)

    def snapshot(self, version: int) -> Snapshot:
        """A committed snapshot by version, current or not."""
        if version not in self._head()["history"]:
            raise NotFound.of("快照", "snapshot", f"{self.key}@v{version}")
        return self._load(version)

    def snapshots(self) -> list[Snapshot]:
        return [self._load(v) for v in self._head()["history"]]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def write_snapshot(self, **metadata: Any) -> Iterator[Staging]:
        """Write files into a staging directory; commit them as the next snapshot if the block succeeds."""
        staging_root = self.lake.root / "_staging"
        staging_root.mkdir(parents=True, exist_ok=True)
        staging = Staging(staging_root / uuid.uuid4().hex, dict(metadata))
        staging.path.mkdir()
        try:
            yield staging
            staging.snapshot = self._commit(staging)
        finally:
            shutil.rmtree(staging.path, ignore_errors=True)

    def _commit(self, staging: Staging) -> Snapshot:
        files = []
        row_count = 0
        for path in sorted(staging.path.iterdir()):
            if path.suffix != ".parquet":
                raise InvalidInput(
                    f"快照只能包含 Parquet 文件：{path.name}。",
                    f"A snapshot may hold only Parquet files: {path.name}.",
                    file=path.name,
                )
            rows = pq.ParquetFile(path).metadata.num_rows
            row_count += rows
            files.append({"name": path.name, "bytes": path.stat().st_size, "sha256": _sha256_file(path), "rows": rows})
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        with self._locked():
            head = self._head()
            # A crash after the rename but before HEAD leaves a directory HEAD never named: skip its number.
            existing = [int(p.name[1:]) for p in (self.path / "snapshots").glob("v*")]
            version = max([0, *head["history"], *existing]) + 1
            manifest = {
                "dataset": self.key,
                "version": version,
                "created_at": datetime.now(UTC).isoformat(),
                "row_count": row_count,
                "files": files,
                "metadata": staging.metadata,
            }
            (staging.path / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
            _fsync_dir(staging.path)
            target = self.path / "snapshots" / f"v{version:06d}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging.path, target)
            _fsync_dir(target.parent)
            head = {"current": version, "history": [*head["history"], version]}
            _write_atomically(self.path / HEAD, json.dumps(head).encode())
        return self._load(version)

    def rollback_to(self, version: int) -> Snapshot:
        """Make an earlier committed snapshot current again (history is kept; nothing is deleted)."""
        with self._locked():
            snapshot = self.snapshot(version)
            _write_atomically(self.path / HEAD, json.dumps({**self._head(), "current": version}).encode())
        return snapshot


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = root

    def init(self) -> None:
        (self.root / "_staging").mkdir(parents=True, exist_ok=True)

    def dataset(self, *parts: str) -> Dataset:
        for part in parts:
            if not _PART.match(part) or part.startswith("_"):
                raise InvalidInput(f"数据集名称不合法：{part!r}。", f"Invalid dataset name part: {part!r}.", part=part)
        if not parts:
            raise InvalidInput("数据集名称为空。", "Empty dataset name.")
        return Dataset(self, parts)

    def collect_garbage(self) -> list[Path]:
        """Remove what crashed writers left: staging directories and snapshots no HEAD ever named."""
        removed: list[Path] = []
        staging = self.root / "_staging"
        for leftover in staging.iterdir() if staging.exists() else []:
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
        for head_file in self.root.glob("**/" + HEAD):
            dataset = Dataset(self, head_file.parent.relative_to(self.root).parts)
            with dataset._locked():
                history = set(dataset._head()["history"])
                for snap_dir in (dataset.path / "snapshots").glob("v*"):
                    if int(snap_dir.name[1:]) not in history:
                        shutil.rmtree(snap_dir, ignore_errors=True)
                        removed.append(snap_dir)
        return removed
