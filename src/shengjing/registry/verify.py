"""Verifying a certificate bundle offline, with nothing but the bundle and the authority's public keys: no
database, no network, no settings.

Three things must hold, and each failure says which:

1. the bundle's signature verifies with the key whose id it names (Ed25519 or SM2/SM3);
2. the checkpoint it carries is signed by the log's Ed25519 key (a C2SP signed note), for the tree size it states;
3. its inclusion proof leads from the hash of the certificate's own log entry (``bundle.log_entry``) to that
   checkpoint's root (RFC 9162 §2.1.3.2).

So a certificate that verifies was signed by the authority *and* recorded in the log that everyone can monitor:
an authority that issued it quietly, or altered it later, would have to fork the log, which monitors see.

The authority publishes its public keys as one PEM file (``shengjing log keys``): the certificate key and, when
certificates are SM2, the log's Ed25519 key as well. Passing several files works the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shengjing.errors import InvalidInput
from shengjing.registry import bundle as bundles
from shengjing.registry import checkpoint, merkle
from shengjing.registry.bundle import BundleInvalid, Certificate, PublicKey
from shengjing.registry.checkpoint import Checkpoint, CheckpointError


@dataclass(frozen=True)
class Verified:
    certificate: Certificate
    checkpoint: Checkpoint
    leaf_index: int


def pem_blocks(data: bytes) -> list[bytes]:
    """The PEM blocks in ``data``, in order (a keys file may hold several)."""
    blocks, current = [], []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"-----BEGIN "):
            current = []
        current.append(line)
        if line.startswith(b"-----END "):
            blocks.append(b"".join(current))
    return blocks


def load_keys(paths: Iterable[Path]) -> list[PublicKey]:
    """Every public key in the PEM files given; InvalidInput naming the file when one holds none."""
    keys: list[PublicKey] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"无法读取公钥文件 {path}：{exc.strerror}。",
                f"Cannot read the key file {path}: {exc.strerror}.",
                file=str(path),
            ) from None
        blocks = pem_blocks(data)
        if not blocks:
            raise InvalidInput(f"{path} 中没有 PEM 格式的公钥。", f"{path} holds no public key in PEM.", file=str(path))
        keys.extend(bundles.load_public_key(block) for block in blocks)
    return keys


def log_checkpoint(note: str, keys: list[PublicKey]) -> Checkpoint:
    """The checkpoint in ``note`` once one of the Ed25519 keys given opens its signature."""
    ed25519 = [k for k in keys if isinstance(k, Ed25519PublicKey)]
    for key in ed25519:
        try:
            return checkpoint.verify_checkpoint(note, key)
        except CheckpointError:
            continue
    raise BundleInvalid("检查点不是由所给的透明日志公钥签名的。", "the checkpoint is not signed by any log key given.")


def verify_certificate(data: Mapping[str, Any] | str | bytes, keys: list[PublicKey]) -> Verified:
    """The certificate in the bundle, once its signature, checkpoint and inclusion proof all verify."""
    parsed = bundles.parse_bundle(data) if isinstance(data, str | bytes) else data
    key_id = parsed.get("key_id")
    signing = next((k for k in keys if bundles.key_id(k) == key_id), None)
    if signing is None:
        raise BundleInvalid("所给的公钥中没有签发此证书的密钥。", "none of the keys given signed this certificate.")
    certificate = bundles.verify_bundle_signature(parsed, signing)
    transparency = parsed["transparency"]
    if transparency is None:
        raise BundleInvalid("数据包不含透明日志包含证明。", "the bundle carries no inclusion proof.")
    signed = log_checkpoint(transparency["checkpoint"], keys)
    if signed.size != transparency["tree_size"]:
        raise BundleInvalid(
            f"包含证明针对 {transparency['tree_size']} 个条目的树，检查点却是 {signed.size} 个。",
            f"the proof is for a tree of {transparency['tree_size']} entries, the checkpoint for {signed.size}.",
        )
    leaf = merkle.leaf_hash(bundles.log_entry(parsed))
    proof = [bytes.fromhex(node) for node in transparency["proof"]]
    try:
        merkle.verify_inclusion(leaf, transparency["leaf_index"], signed.size, proof, signed.root)
    except merkle.ProofError as exc:
        raise BundleInvalid(
            "包含证明不成立：证书不在此检查点的透明日志中。",
            "the inclusion proof fails: the certificate is not in the log at this checkpoint.",
        ) from exc
    return Verified(certificate, signed, transparency["leaf_index"])
