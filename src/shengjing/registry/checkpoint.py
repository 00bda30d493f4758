"""Signed checkpoints (签名树头) of the transparency log, in C2SP's signed-note format (c2sp.org/tlog-checkpoint),
and the log's Ed25519 key.

A checkpoint is the note text ``<origin>\\n<size>\\n<base64 root>\\n``, then a blank line, then one signature line
per key: ``— <key name> <base64(key id || Ed25519 signature of the text)>``. The key id is the first 4 bytes of
SHA-256(key name || 0x0A || 0x01 || public key), and the key name is the origin. So outside tools that read
C2SP checkpoints (Go's golang.org/x/mod/sumdb/note, witnesses) can verify ours with ``verifier_key``'s text.
There is no timestamp line: each registration event carries its own time in the bytes its leaf hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shengjing.config import Settings
from shengjing.errors import ConfigurationError, IntegrityBroken
from shengjing.registry.merkle import HASH_SIZE

log = logging.getLogger(__name__)

_ED25519 = b"\x01"  # the signed-note signature type of Ed25519
_SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space start every signature line
_SIZE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(IntegrityBroken):
    """A checkpoint that cannot be read or whose signature does not verify with the log's key."""

    code = "checkpoint_invalid"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str  # the whole signed text, as published


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The key as signed-note verifiers take it: ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
    encoded = base64.b64encode(_ED25519 + _raw(public_key)).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """A signed note (c2sp.org/signed-note): the text, a blank line, and the signature line of key ``name``."""
    signature = key_id(name, private_key.public_key()) + private_key.sign(text.encode())
    return f"{text}\n{_SIGNATURE_PREFIX}{name} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, name: str, public_key: Ed25519PublicKey) -> str:
    """The text of a signed note, once a signature by key ``name`` verifies. Raises CheckpointError otherwise.
    Signatures by other keys (for example, witnesses' cosignatures) are ignored."""
    body, blank, signatures = note.rpartition("\n\n")
    if not blank or not note.endswith("\n"):
        raise _unreadable("缺少签名部分。", "no signature block.")
    text, wanted = body + "\n", key_id(name, public_key)
    for line in signatures.split("\n")[:-1]:
        signer, _, encoded = line.removeprefix(_SIGNATURE_PREFIX).partition(" ")
        if not line.startswith(_SIGNATURE_PREFIX) or signer != name:
            continue
        try:
            signature = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if signature[:4] != wanted:
            continue
        try:
            public_key.verify(signature[4:], text.encode())
        except InvalidSignature:
            break
        return text
    raise CheckpointError(
        f"检查点没有日志“{name}”密钥的有效签名。",
        f"The checkpoint has no valid signature by the key of log '{name}'.",
        name=name,
    )


def _unreadable(reason_zh: str, reason_en: str) -> CheckpointError:
    return CheckpointError(f"无法读取检查点：{reason_zh}", f"Unreadable checkpoint: {reason_en}")


def sign(origin: str, size: int, root: bytes, private_key: Ed25519PrivateKey) -> Checkpoint:
    text = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    return Checkpoint(origin, size, root, sign_note(text, origin, private_key))


def parse(note: str) -> Checkpoint:
    """The checkpoint a signed note states, without checking its signature (see ``verify_checkpoint``)."""
    lines = note.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise _unreadable("正文应有来源、大小、根哈希三行。", "the text needs origin, size and root lines.")
    origin, size, root_b64 = lines[:3]
    if not _SIZE.fullmatch(size):
        raise _unreadable("树大小不是十进制整数。", "the tree size is not a decimal integer.")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        root = b""
    if len(root) != HASH_SIZE:
        raise _unreadable("根哈希不是 base64 编码的 32 字节。", "the root is not 32 bytes in base64.")
    return Checkpoint(origin, int(size), root, note)


def verify_checkpoint(note: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in a signed note, once its signature by the key named after its origin verifies (with the
    right key id). Raises CheckpointError otherwise."""
    stated = parse(note)
    open_note(note, stated.origin, public_key)
    return stated


# --- the log's key ------------------------------------------------------------------------------------------------


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The log's private key. If none is configured, one is made on first use under the var directory."""
    path = settings.registry_log_key
    if settings.registry_log_key_path is None and not path.exists():
        _generate(path)
    return _load(path)


def public_key(settings: Settings) -> Ed25519PublicKey:
    """The log's public key. Unlike ``signing_key``, it never makes a key."""
    return _load(settings.registry_log_key).public_key()


def _generate(path: Path) -> None:
    """Write a new key with mode 0600. ``link`` never replaces a file, so of two processes making a key at once,
    the first one to finish wins and the other uses that key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".log-key-")  # mkstemp opens with mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
            log.info("made the transparency log's signing key at %s", path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"无法读取透明日志签名密钥 {path}：{exc.strerror}。",
            f"Cannot read the transparency log's signing key {path}: {exc.strerror}.",
            path=str(path),
        ) from exc
    if path.stat().st_mode & 0o077:
        log.warning("the transparency log's signing key %s is readable by others than its owner", path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(
            f"透明日志签名密钥 {path} 不是未加密的 PEM 格式 Ed25519 私钥。",
            f"The transparency log's signing key {path} is not an unencrypted Ed25519 private key in PEM.",
            path=str(path),
        )
    return key
