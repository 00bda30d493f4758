"""The signed certificate bundle (登记证书数据包): the JSON file a holder keeps, which anyone can check offline
with the authority's public key.

::

    {
      "format": "shengjing/certificate-bundle/v1",
      "algorithm": "ed25519" | "sm2-sm3",
      "key_id": "<SHA-256 of the signing key's SubjectPublicKeyInfo, hex>",
      "certificate": {"number", "registration_number", "holder", "object", "rights", "scope", "term",
                      "issued_on", "authority", "fingerprint"},
      "signature": "<base64>",
      "transparency": null | {"leaf_index": int, "tree_size": int, "proof": ["<hex>", …], "checkpoint": "<text>"}
    }

The signature covers the RFC 8785 (JCS) canonical JSON of every member but ``signature`` and
``transparency``, so changing the format, the algorithm, the key id or any certificate field breaks it. JCS
comes from the ``rfc8785`` package (Trail of Bits, pure Python, made to behave as the RFC author's reference
code; the ``jcs`` package has had no release since 2022) rather than ``json.dumps(sort_keys=True)``, which sorts
keys by code point instead of UTF-16 unit and escapes and formats numbers its own way.

``transparency`` is filled in after signing, once the registration is in the transparency log: an inclusion
proof of the registration's leaf and the signed checkpoint it leads to, which verify on their own against the log's
key; here only its shape is checked.

Ed25519 (``cryptography``) is the default; SM2 with SM3 (GB/T 32918, see ``registry.sm2``) is there for bodies
that must use the national algorithms. Keys are PEM: PKCS#8 for private keys, SubjectPublicKeyInfo for public.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import rfc8785
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from stdnum.cn import uscc

from shengjing.errors import IntegrityBroken, InvalidInput
from shengjing.registry import sm2
from shengjing.registry.numbers import (
    CertificateNumber,
    RegistrationNumber,
    parse_certificate_number,
    parse_registration_number,
)
from shengjing.registry.sm2 import Sm2PrivateKey, Sm2PublicKey

FORMAT = "shengjing/certificate-bundle/v1"

PrivateKey = Ed25519PrivateKey | Sm2PrivateKey
PublicKey = Ed25519PublicKey | Sm2PublicKey

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_SIGNED = ("format", "algorithm", "key_id", "certificate")
_MEMBERS = frozenset({*_SIGNED, "signature", "transparency"})
_CERTIFICATE_MEMBERS = frozenset(
    {
        "number",
        "registration_number",
        "holder",
        "object",
        "rights",
        "scope",
        "term",
        "issued_on",
        "authority",
        "fingerprint",
    }
)


class Algorithm(StrEnum):
    ED25519 = "ed25519"
    SM2_SM3 = "sm2-sm3"


class Right(StrEnum):
    """The rights a registration records (数据产权), in the order they are printed."""

    HOLDING = "holding"  # 数据资源持有权
    PROCESSING = "processing"  # 数据加工使用权
    OPERATING = "operating"  # 数据产品经营权

    @property
    def label_zh(self) -> str:
        return {"holding": "持有权", "processing": "加工使用权", "operating": "产品经营权"}[self.value]

    @property
    def label_en(self) -> str:
        return {"holding": "holding", "processing": "processing and use", "operating": "product operation"}[self.value]


class ObjectKind(StrEnum):
    RESOURCE = "resource"  # 数据资源
    PRODUCT = "product"  # 数据产品

    @property
    def label_zh(self) -> str:
        return {"resource": "数据资源", "product": "数据产品"}[self.value]


class BundleInvalid(IntegrityBroken):
    """A bundle that does not verify: altered, signed by another key, or not a bundle at all."""

    code = "bundle_invalid"

    def __init__(self, reason_zh: str, reason_en: str, **details: Any) -> None:
        super().__init__(
            f"登记证书数据包验证失败：{reason_zh}", f"The certificate bundle does not verify: {reason_en}", **details
        )


# --- the certificate ---------------------------------------------------------------------------------------------


def _require(ok: bool, field: str, why_zh: str, why_en: str) -> None:
    if not ok:
        raise InvalidInput(
            f"证书字段 {field} 无效：{why_zh}", f"Certificate field {field} is invalid: {why_en}", field=field
        )


def _name(value: object, field: str) -> str:
    ok = isinstance(value, str) and value == value.strip() and 0 < len(value) <= 100 and value.isprintable()
    _require(
        ok,
        field,
        "应为 1–100 个字符、不含换行、首尾无空白的文字。",
        "it should be 1–100 characters of text, without line breaks or spaces at either end.",
    )
    return str(value)


@dataclass(frozen=True)
class Holder:
    """The right holder (权利人): an organization, named with its unified social credit code when it has one."""

    name: str
    credit_code: str | None = None

    def __post_init__(self) -> None:
        _name(self.name, "holder.name")
        code = self.credit_code
        _require(
            code is None or (isinstance(code, str) and uscc.is_valid(code) and uscc.compact(code) == code),
            "holder.credit_code",
            "不是有效的统一社会信用代码（GB 32100）。",
            "not a valid unified social credit code (GB 32100).",
        )


@dataclass(frozen=True)
class RegisteredObject:
    """What is registered (登记对象): a data resource or a data product of the catalog."""

    kind: ObjectKind
    id: str
    name: str

    def __post_init__(self) -> None:
        _require(
            self.kind in tuple(ObjectKind),
            "object.kind",
            "应为 resource 或 product。",
            "it should be resource or product.",
        )
        _name(self.id, "object.id")
        _name(self.name, "object.name")


@dataclass(frozen=True)
class Certificate:
    """A registration certificate (数据产权登记证书). ``fingerprint`` is the SHA-256 of the registered snapshot's
    manifest (``store.lake.Snapshot.fingerprint``) in lowercase hex; ``term_end`` None means no fixed end;
    ``scope`` is the scope of the rights (权利范围: the uses, scenarios or area they cover), empty for all."""

    number: CertificateNumber
    registration_number: RegistrationNumber
    holder: Holder
    object: RegisteredObject
    rights: tuple[Right, ...]
    term_start: dt.date
    term_end: dt.date | None
    issued_on: dt.date
    authority_name: str
    fingerprint: str
    scope: str = ""

    def __post_init__(self) -> None:
        _require(
            isinstance(self.scope, str) and len(self.scope) <= 500 and "\x00" not in self.scope,
            "scope",
            "应为不超过 500 个字符的文字。",
            "it should be text of at most 500 characters.",
        )
        rights = self.rights
        _require(
            len(rights) > 0 and list(rights) == [right for right in Right if right in rights],
            "rights",
            "应为持有权、加工使用权、产品经营权中的一项或几项，按此顺序、不重复。",
            "one or more of holding, processing, operating, in that order, each once.",
        )
        _require(
            self.term_end is None or self.term_end >= self.term_start,
            "term",
            "终止日期早于起始日期。",
            "the term ends before it starts.",
        )
        _require(
            (self.issued_on.year, self.issued_on.month) == (self.number.year, self.number.month),
            "issued_on",
            "与证书编号中的年月不一致。",
            "it is not in the year and month of the certificate number.",
        )
        _name(self.authority_name, "authority.name")
        _require(
            isinstance(self.fingerprint, str) and _HEX_DIGEST.fullmatch(self.fingerprint) is not None,
            "fingerprint",
            "应为 64 位小写十六进制的 SHA-256 值。",
            "it should be a SHA-256 digest in 64 lowercase hex digits.",
        )

    def to_json(self) -> dict[str, Any]:
        authority = self.number.authority
        return {
            "number": str(self.number),
            "registration_number": str(self.registration_number),
            "holder": {"name": self.holder.name, "credit_code": self.holder.credit_code},
            "object": {"kind": str(self.object.kind), "id": self.object.id, "name": self.object.name},
            "rights": [str(right) for right in self.rights],
            "scope": self.scope,
            "term": {
                "start": self.term_start.isoformat(),
                "end": None if self.term_end is None else self.term_end.isoformat(),
            },
            "issued_on": self.issued_on.isoformat(),
            "authority": {"division": authority.division, "unit": authority.unit, "name": self.authority_name},
            "fingerprint": f"sha256:{self.fingerprint}",
        }

    @classmethod
    def from_json(cls, data: object) -> Certificate:
        """The certificate in its JSON form, every member checked; InvalidInput names the first wrong one."""
        c = _members(data, "certificate", _CERTIFICATE_MEMBERS)
        holder = _members(c["holder"], "holder", {"name", "credit_code"})
        obj = _members(c["object"], "object", {"kind", "id", "name"})
        term = _members(c["term"], "term", {"start", "end"})
        authority = _members(c["authority"], "authority", {"division", "unit", "name"})
        number = parse_certificate_number(_string(c["number"], "number"))
        _require(
            (authority["division"], authority["unit"]) == (number.authority.division, number.authority.unit),
            "authority",
            "与证书编号中的发证机构代码不一致。",
            "it is not the authority in the certificate number.",
        )
        fingerprint = _string(c["fingerprint"], "fingerprint")
        _require(
            fingerprint.startswith("sha256:"), "fingerprint", "应以 sha256: 开头。", "it should start with sha256:."
        )
        rights = c["rights"]
        _require(isinstance(rights, list), "rights", "应为数组。", "it should be an array.")
        return cls(
            number=number,
            registration_number=parse_registration_number(_string(c["registration_number"], "registration_number")),
            holder=Holder(
                _string(holder["name"], "holder.name"), _optional(holder["credit_code"], "holder.credit_code")
            ),
            object=RegisteredObject(
                _enum(ObjectKind, obj["kind"], "object.kind"),
                _string(obj["id"], "object.id"),
                _string(obj["name"], "object.name"),
            ),
            rights=tuple(_enum(Right, r, "rights") for r in rights),
            term_start=_date(term["start"], "term.start"),
            term_end=None if term["end"] is None else _date(term["end"], "term.end"),
            issued_on=_date(c["issued_on"], "issued_on"),
            authority_name=_string(authority["name"], "authority.name"),
            fingerprint=fingerprint.removeprefix("sha256:"),
            scope=_string(c["scope"], "scope") if c["scope"] != "" else "",
        )


def _members(value: object, field: str, names: frozenset[str] | set[str]) -> dict[str, Any]:
    ok = isinstance(value, dict) and set(value) == names
    _require(
        ok, field, f"应为含且仅含 {sorted(names)} 的对象。", f"it should be an object with exactly {sorted(names)}."
    )
    return value  # type: ignore[return-value]


def _string(value: object, field: str) -> str:
    _require(isinstance(value, str), field, "应为字符串。", "it should be a string.")
    return str(value)


def _optional(value: object, field: str) -> str | None:
    return None if value is None else _string(value, field)


def _date(value: object, field: str) -> dt.date:
    text = _string(value, field)
    try:
        day = dt.date.fromisoformat(text) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) else None
    except ValueError:
        day = None
    _require(day is not None, field, "应为 YYYY-MM-DD 格式的日期。", "it should be a date as YYYY-MM-DD.")
    return day  # type: ignore[return-value]


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: object, field: str) -> E:
    allowed = [member.value for member in kind]
    _require(value in allowed, field, f"应为 {allowed} 之一。", f"it should be one of {allowed}.")
    return kind(value)


# --- keys ----------------------------------------------------------------------------------------------------------


def _bad_key(kind_zh: str, kind_en: str) -> InvalidInput:
    return InvalidInput(
        f"不是未加密的 PEM 格式 Ed25519 或 SM2 {kind_zh}。", f"Not an unencrypted Ed25519 or SM2 {kind_en} in PEM."
    )


def generate_key(algorithm: Algorithm | str = Algorithm.ED25519) -> PrivateKey:
    return Ed25519PrivateKey.generate() if Algorithm(algorithm) is Algorithm.ED25519 else Sm2PrivateKey.generate()


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    return Algorithm.ED25519 if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey) else Algorithm.SM2_SM3


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#8, unencrypted: the file's mode protects it (see ``save_private_key``)."""
    if isinstance(key, Sm2PrivateKey):
        return key.pem()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public(key: PrivateKey | PublicKey) -> PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey | Sm2PrivateKey) else key


def public_key_pem(key: PrivateKey | PublicKey) -> bytes:
    """SubjectPublicKeyInfo, what verifiers are given."""
    public = _public(key)
    if isinstance(public, Sm2PublicKey):
        return public.pem()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes) -> PrivateKey:
    try:
        return sm2.load_private_der(sm2.pem_body(pem, "PRIVATE KEY"))
    except ValueError:
        pass  # not SM2: cryptography reads everything else
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise _bad_key("私钥", "private key")
    return key


def load_public_key(pem: bytes) -> PublicKey:
    try:
        return sm2.load_public_der(sm2.pem_body(pem, "PUBLIC KEY"))
    except ValueError:
        pass
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise _bad_key("公钥", "public key")
    return key


def save_private_key(key: PrivateKey, path: Path) -> None:
    """Write the key readable by its owner only (mode 0600). An existing file is never replaced: a signing key
    that was overwritten could not be got back, and certificates signed with it would no longer verify."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(key))
        out.flush()
        os.fsync(out.fileno())


def key_id(key: PrivateKey | PublicKey) -> str:
    """SHA-256 of the public key's SubjectPublicKeyInfo (DER), in hex: names the key a bundle was signed with."""
    return hashlib.sha256(_spki_der(key)).hexdigest()


def _spki_der(key: PrivateKey | PublicKey) -> bytes:
    public = _public(key)
    if isinstance(public, Sm2PublicKey):
        return public.der()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# --- signing and verifying -----------------------------------------------------------------------------------------


def _signed_bytes(bundle: Mapping[str, Any]) -> bytes:
    return rfc8785.dumps({name: bundle[name] for name in _SIGNED})


def sign_bundle(certificate: Certificate, key: PrivateKey, algorithm: Algorithm | str | None = None) -> dict[str, Any]:
    """The bundle of ``certificate`` signed with ``key``, its ``transparency`` still null. ``algorithm``, when
    given, must be the key's: it is a check, the key decides."""
    used = algorithm_of(key)
    if algorithm is not None and algorithm != used.value:
        raise InvalidInput(
            f"签名算法 {algorithm} 与密钥类型 {used.value} 不符。",
            f"The signature algorithm {algorithm} is not the key's ({used.value}).",
            algorithm=str(algorithm),
        )
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "algorithm": used.value,
        "key_id": key_id(key),
        "certificate": certificate.to_json(),
    }
    bundle["signature"] = base64.b64encode(key.sign(_signed_bytes(bundle))).decode("ascii")
    bundle["transparency"] = None
    return bundle


def verify_bundle_signature(bundle: Mapping[str, Any] | str | bytes, public_key: PublicKey) -> Certificate:
    """The certificate in ``bundle`` once its signature verifies with ``public_key``; BundleInvalid otherwise,
    saying why. The transparency proof is only checked for shape: the log's own code verifies it."""
    data = _parsed(bundle) if isinstance(bundle, str | bytes) else bundle
    if not isinstance(data, Mapping) or set(data) != _MEMBERS:
        raise BundleInvalid(
            f"应为含且仅含 {sorted(_MEMBERS)} 的 JSON 对象。",
            f"it should be a JSON object with exactly {sorted(_MEMBERS)}.",
        )
    if data["format"] != FORMAT:
        raise BundleInvalid(f"格式应为 {FORMAT}。", f"the format should be {FORMAT}.")
    expected = algorithm_of(public_key)
    if data["algorithm"] != expected.value:
        raise BundleInvalid(
            f"数据包声明的算法与所给 {expected.value} 公钥不符。",
            f"the algorithm it states is not that of the {expected.value} key given.",
        )
    if data["key_id"] != key_id(public_key):
        raise BundleInvalid("签名密钥不是所给的公钥。", "it was not signed with the key given.")
    signature = _signature(data["signature"])
    try:
        message = _signed_bytes(data)
    except rfc8785.CanonicalizationError:
        message = None
    if signature is None or message is None or not _verifies(public_key, signature, message):
        raise BundleInvalid("签名与内容不符：数据包已被改动。", "the signature does not match: the bundle was altered.")
    check_transparency(data["transparency"])
    try:
        return Certificate.from_json(data["certificate"])
    except InvalidInput as exc:  # signed, yet not a certificate this version reads
        raise BundleInvalid(exc.message_zh, exc.message_en, **exc.details) from exc


def _signature(value: object) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except binascii.Error:
        return None


def _verifies(public_key: PublicKey, signature: bytes, message: bytes) -> bool:
    if isinstance(public_key, Sm2PublicKey):
        return public_key.verify(signature, message)
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate member")  # two parsers could each see a different one
    return dict(pairs)


def parse_bundle(text: str | bytes) -> dict[str, Any]:
    """A bundle file's JSON object; BundleInvalid when it is not JSON or not an object."""
    data = _parsed(text)
    if not isinstance(data, dict):
        raise BundleInvalid("应为 JSON 对象。", "it should be a JSON object.")
    return data


def _parsed(text: str | bytes) -> object:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BundleInvalid(
            "不是有效的 JSON（或有重复的成员名）。", "it is not valid JSON (or repeats a member)."
        ) from exc


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def dumps_bundle(bundle: Mapping[str, Any]) -> str:
    """The bundle as a file for people: indented, Chinese left readable. Whitespace is not signed."""
    return json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"


# --- the transparency log's part -----------------------------------------------------------------------------------


def with_transparency(
    bundle: Mapping[str, Any], leaf_index: int, tree_size: int, proof: list[bytes], checkpoint: str
) -> dict[str, Any]:
    """A copy of ``bundle`` carrying its inclusion proof: the hashes of the audit path (RFC 9162 §2.1.3), leaf to
    root, and the signed checkpoint of the tree of ``tree_size`` leaves they lead to."""
    transparency = {
        "leaf_index": leaf_index,
        "tree_size": tree_size,
        "proof": [node.hex() for node in proof],
        "checkpoint": checkpoint,
    }
    check_transparency(transparency)
    return {**bundle, "transparency": transparency}


def log_entry(bundle: Mapping[str, Any]) -> bytes:
    """The bytes of the certificate's own transparency-log entry: the RFC 8785 JSON of the signed bundle without
    its ``transparency``. A verifier rebuilds it from the bundle alone, hashes it as the leaf, and checks the proof."""
    return rfc8785.dumps({"type": "certificate", "bundle": {name: bundle[name] for name in (*_SIGNED, "signature")}})


def check_transparency(value: object) -> None:
    """Raise BundleInvalid unless ``value`` is null or a transparency member of the documented shape."""
    if value is None:
        return
    ok = isinstance(value, dict) and set(value) == {"leaf_index", "tree_size", "proof", "checkpoint"}
    if ok:
        index, size, proof = value["leaf_index"], value["tree_size"], value["proof"]
        ok = (
            all(isinstance(n, int) and not isinstance(n, bool) for n in (index, size))
            and 0 <= index < size
            and isinstance(proof, list)
            and all(isinstance(node, str) and _HEX_DIGEST.fullmatch(node) for node in proof)
            and isinstance(value["checkpoint"], str)
        )
    if not ok:
        raise BundleInvalid(
            "transparency 应为 null，或含 leaf_index、tree_size、proof（十六进制哈希数组）、checkpoint 的对象。",
            "transparency should be null or an object with leaf_index, tree_size, proof (hex hashes), checkpoint.",
        )
