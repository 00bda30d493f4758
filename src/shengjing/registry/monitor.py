"""A monitor of a transparency log (日志监督): poll its checkpoints, prove each new one consistent with the last
one it verified, and report a fork or a rewrite. That is what makes the log's promise hold: an authority that
rewrote history would have to show the monitors a tree that does not extend the one they saw.

State is one small JSON file ({"size", "root", "note"}), so a restarted monitor carries on from what it verified.
It is written atomically, and only after a checkpoint verifies.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from shengjing.errors import IntegrityBroken, ShengjingError
from shengjing.registry import merkle
from shengjing.registry.bundle import BundleInvalid, PublicKey
from shengjing.registry.checkpoint import Checkpoint
from shengjing.registry.verify import log_checkpoint


class LogForked(IntegrityBroken):
    """The log showed a tree that does not extend the one this monitor verified before."""

    code = "log_forked"


class LogUnreachable(ShengjingError):
    code = "log_unreachable"
    http_status = 502
    exit_code = 3


def _get(client: httpx.Client, url: str, **params: int) -> httpx.Response:
    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise LogUnreachable(f"无法访问透明日志 {url}：{exc}", f"Cannot reach the log at {url}: {exc}") from None
    if response.status_code != 200:
        raise LogUnreachable(
            f"透明日志 {url} 返回 HTTP {response.status_code}。",
            f"The log at {url} answered HTTP {response.status_code}.",
        )
    return response


def _load_state(path: Path) -> dict[str, object] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def _save_state(path: Path, signed: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".monitor-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"size": signed.size, "root": signed.root.hex(), "note": signed.note}, out)
    os.replace(temporary, path)


def check_once(client: httpx.Client, base_url: str, keys: list[PublicKey], state: Path) -> tuple[Checkpoint, int]:
    """Fetch the latest checkpoint, verify its signature and its consistency with the stored one, then store it.
    Returns it and the size it was checked against (0 on the first run)."""
    base = base_url.rstrip("/")
    note = _get(client, f"{base}/checkpoint").text
    try:
        signed = log_checkpoint(note, keys)
    except BundleInvalid as exc:
        raise LogForked(
            "透明日志的检查点签名无效。", "The log's checkpoint signature does not verify.", url=base
        ) from exc
    last = _load_state(state)
    old_size = int(last["size"]) if last else 0  # type: ignore[call-overload]
    if last:
        old_root = bytes.fromhex(str(last["root"]))
        if signed.size < old_size:
            raise LogForked(
                f"透明日志变短了：曾为 {old_size} 条，现为 {signed.size} 条。",
                f"The log shrank from {old_size} to {signed.size} entries: it was rewritten.",
                old_size=old_size,
                new_size=signed.size,
            )
        if signed.size == old_size and signed.root != old_root:
            raise LogForked(
                f"同为 {old_size} 条，根哈希却不同：日志出现分叉。",
                f"Two different roots for the same {old_size} entries: the log forked.",
                size=old_size,
            )
        if signed.size > old_size and old_size > 0:
            data = _get(client, f"{base}/proof/consistency", old=old_size, new=signed.size).json()
            try:
                proof = [bytes.fromhex(node) for node in data["proof"]]
                merkle.verify_consistency(old_size, signed.size, old_root, signed.root, proof)
            except (merkle.ProofError, KeyError, TypeError, ValueError) as exc:
                raise LogForked(
                    f"新检查点（{signed.size} 条）与已核验的检查点（{old_size} 条）不一致：历史被改写。",
                    f"The new checkpoint ({signed.size} entries) is not consistent with the verified one "
                    f"({old_size}): history was rewritten.",
                    old_size=old_size,
                    new_size=signed.size,
                ) from exc
    _save_state(state, signed)
    return signed, old_size


def follow(
    base_url: str,
    keys: list[PublicKey],
    state: Path,
    *,
    interval: float,
    once: bool,
    report: Callable[[str], object],
) -> None:
    """Check the log every ``interval`` seconds (or once). A fork raises LogForked, which ends the monitor."""
    with httpx.Client(timeout=30.0, follow_redirects=False) as client:
        while True:
            signed, old = check_once(client, base_url, keys, state)
            grown = f"consistent with {old}" if old else "first checkpoint"
            report(f"✓ {signed.origin} size {signed.size} root {signed.root.hex()[:16]}… ({grown})")
            if once:
                return
            time.sleep(interval)
