from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from Cryptodome.Util.asn1 import DerInteger, DerSequence
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from gmssl.sm2 import default_ecc_table

from shengjing.errors import InvalidInput
from shengjing.registry import sm2
from shengjing.registry.bundle import (
    Algorithm,
    BundleInvalid,
    Certificate,
    Holder,
    Right,
    algorithm_of,
    dumps_bundle,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
    save_private_key,
    sign_bundle,
    verify_bundle_signature,
    with_transparency,
)
from tests.registry.samples import certificate

ALGORITHMS = list(Algorithm)


@pytest.fixture(scope="module", params=ALGORITHMS)
def key(request: pytest.FixtureRequest) -> Any:
    return generate_key(request.param)


@pytest.fixture(scope="module")
def bundle(key: Any) -> dict[str, Any]:
    return sign_bundle(certificate(), key)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for name, member in value.items():
            yield from _leaves(member, (*path, name))
    else:
        yield path


def _altered(bundle: dict[str, Any], path: tuple[str, ...], new: Any) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    parent = changed
    for name in path[:-1]:
        parent = parent[name]
    parent[path[-1]] = new
    return changed


def _other(value: Any) -> Any:
    """A different value of the same kind, valid where it can be."""
    if isinstance(value, list):
        return value[:-1] if len(value) > 1 else [*value, "operating"]
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    return "x"


def test_round_trip(bundle: dict[str, Any], key: Any) -> None:
    public = key.public_key()
    assert verify_bundle_signature(bundle, public) == certificate()
    text = dumps_bundle(bundle)
    assert "沈阳市公安局" in text  # a person can read the file
    assert verify_bundle_signature(text, public) == certificate()
    assert verify_bundle_signature(text.encode(), public) == certificate()
    assert bundle["algorithm"] == algorithm_of(key)
    assert bundle["transparency"] is None


def test_layout_and_member_order_are_not_signed(bundle: dict[str, Any], key: Any) -> None:
    """The signature is over the JCS form, so a file re-indented or with members reordered still verifies."""
    reordered = json.dumps(dict(reversed(bundle.items())), ensure_ascii=True, separators=(" ,", ": "))
    assert verify_bundle_signature(reordered, key.public_key()) == certificate()


def test_the_signature_is_over_the_jcs_form_of_the_signed_members(bundle: dict[str, Any], key: Any) -> None:
    """Checked outside the module's code path: format, algorithm and key id are signed, not only compared."""
    message = rfc8785.dumps({name: bundle[name] for name in ("format", "algorithm", "key_id", "certificate")})
    assert message.startswith(b'{"algorithm":') and b"\\u" not in message  # sorted keys, UTF-8 text
    signature = base64.b64decode(bundle["signature"])
    if isinstance(key, sm2.Sm2PrivateKey):
        assert key.public_key().verify(signature, message)
    else:
        key.public_key().verify(signature, message)  # raises InvalidSignature otherwise


def test_altering_any_signed_field_fails(bundle: dict[str, Any], key: Any) -> None:
    paths = [path for path in _leaves(bundle) if path[0] not in ("signature", "transparency")]
    assert len(paths) >= 18
    for path in paths:
        with pytest.raises(BundleInvalid):
            verify_bundle_signature(_altered(bundle, path, _other(_value(bundle, path))), key.public_key())


def _value(bundle: dict[str, Any], path: tuple[str, ...]) -> Any:
    for name in path:
        bundle = bundle[name]
    return bundle


def test_an_altered_certificate_says_it_was_altered(bundle: dict[str, Any], key: Any) -> None:
    altered = _altered(bundle, ("certificate", "rights"), ["holding", "processing", "operating"])
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle_signature(altered, key.public_key())
    assert "已被改动" in caught.value.message_zh
    assert "the bundle was altered" in caught.value.message_en
    assert caught.value.code == "bundle_invalid"


def test_altering_the_signature_fails(bundle: dict[str, Any], key: Any) -> None:
    raw = base64.b64decode(bundle["signature"])
    flipped = bytes([raw[0], raw[1], raw[2] ^ 0x01, *raw[3:]])
    for signature in (
        base64.b64encode(flipped).decode(),
        base64.b64encode(raw[:-1]).decode(),
        base64.b64encode(raw + b"\x00").decode(),
        bundle["signature"][:-4] + "!!!!",
        "",
        None,
        12,
    ):
        with pytest.raises(BundleInvalid):
            verify_bundle_signature({**bundle, "signature": signature}, key.public_key())


@pytest.mark.parametrize("algorithm", ["ed25519", "sm2-sm3", "ED25519", "none", "", None])
def test_altering_the_algorithm_name_fails(bundle: dict[str, Any], key: Any, algorithm: Any) -> None:
    if algorithm == bundle["algorithm"]:
        return
    with pytest.raises(BundleInvalid):
        verify_bundle_signature({**bundle, "algorithm": algorithm}, key.public_key())


def test_added_or_missing_members_fail(bundle: dict[str, Any], key: Any) -> None:
    for changed in (
        {**bundle, "comment": "x"},
        {name: value for name, value in bundle.items() if name != "transparency"},
        _altered(bundle, ("certificate", "extra"), "x"),
        [bundle],
    ):
        with pytest.raises(BundleInvalid):
            verify_bundle_signature(changed, key.public_key())  # type: ignore[arg-type]


def test_another_key_does_not_verify(bundle: dict[str, Any], key: Any) -> None:
    other = generate_key(bundle["algorithm"])
    with pytest.raises(BundleInvalid, match="not signed with the key given"):
        verify_bundle_signature(bundle, other.public_key())
    with pytest.raises(BundleInvalid, match="altered"):  # naming the other key does not help
        verify_bundle_signature({**bundle, "key_id": key_id(other)}, other.public_key())
    wrong_kind = generate_key(next(a for a in Algorithm if a != bundle["algorithm"]))
    with pytest.raises(BundleInvalid, match="algorithm"):
        verify_bundle_signature(bundle, wrong_kind.public_key())


def test_json_with_a_repeated_member_is_refused(bundle: dict[str, Any], key: Any) -> None:
    text = dumps_bundle(bundle)
    doubled = text.replace('"format":', '"format": "other", "format":', 1)
    with pytest.raises(BundleInvalid, match="repeats a member"):
        verify_bundle_signature(doubled, key.public_key())
    with pytest.raises(BundleInvalid, match="not valid JSON"):
        verify_bundle_signature(text[:-10], key.public_key())


def test_the_transparency_proof_is_carried_and_its_shape_checked(bundle: dict[str, Any], key: Any) -> None:
    checkpoint = "shengjing.local/registry\n5\nAAAA\n\n— shengjing.local/registry AAAA\n"
    logged = with_transparency(bundle, 3, 5, [bytes(32), bytes(range(32))], checkpoint)
    assert logged["transparency"] == {
        "leaf_index": 3,
        "tree_size": 5,
        "proof": ["00" * 32, bytes(range(32)).hex()],
        "checkpoint": checkpoint,
    }
    assert bundle["transparency"] is None  # a copy: the signed bundle is left as it was
    assert verify_bundle_signature(dumps_bundle(logged), key.public_key()) == certificate()
    for shape in (
        {**logged["transparency"], "leaf_index": 5},
        {**logged["transparency"], "leaf_index": True},
        {**logged["transparency"], "proof": ["zz" * 32]},
        {**logged["transparency"], "checkpoint": None},
        {"leaf_index": 0, "tree_size": 1},
        [],
    ):
        with pytest.raises(BundleInvalid, match="transparency"):
            verify_bundle_signature({**bundle, "transparency": shape}, key.public_key())
    with pytest.raises(BundleInvalid):
        with_transparency(bundle, 5, 5, [], checkpoint)


def test_the_algorithm_asked_for_must_be_the_key_s() -> None:
    with pytest.raises(InvalidInput, match="not the key's"):
        sign_bundle(certificate(), generate_key(Algorithm.ED25519), Algorithm.SM2_SM3)
    assert sign_bundle(certificate(), generate_key(Algorithm.SM2_SM3), "sm2-sm3")["algorithm"] == "sm2-sm3"


# --- keys ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_keys_round_trip_through_pem(algorithm: Algorithm, tmp_path: Path) -> None:
    key = generate_key(algorithm)
    pem = private_key_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public_key_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----\n")
    loaded, public = load_private_key(pem), load_public_key(public_key_pem(key))
    assert key_id(loaded) == key_id(public) == key_id(key)
    assert verify_bundle_signature(sign_bundle(certificate(), loaded), public) == certificate()

    path = tmp_path / "keys" / "signing.pem"
    save_private_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_id(load_private_key(path.read_bytes())) == key_id(key)
    with pytest.raises(FileExistsError):
        save_private_key(generate_key(algorithm), path)


def test_other_keys_are_refused() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted = generate_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    for pem in (p256_pem, encrypted, b"", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"):
        with pytest.raises(InvalidInput, match="Ed25519 or SM2 private key"):
            load_private_key(pem)
    p256_public = p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for pem in (p256_public, public_key_pem(generate_key())[:-30], b"junk"):
        with pytest.raises(InvalidInput, match="public key"):
            load_public_key(pem)


def test_sm2_keys_whose_x_starts_with_0_or_4_still_verify() -> None:
    """gmssl's lstrip("04") would eat those digits: the workaround in registry.sm2 keeps them."""
    key = next(k for k in iter(sm2.Sm2PrivateKey.generate, None) if k.public_key().hex[0] in "04")
    assert key.public_key().verify(key.sign(b"message"), b"message")


def test_sm2_signatures_are_checked_for_range_and_strict_der() -> None:
    key = sm2.Sm2PrivateKey.generate()
    signature = key.sign(b"message")
    r, s = sm2._decode_signature(signature)
    n = int(default_ecc_table["n"], 16)
    malleable = DerSequence([DerInteger(r), DerInteger(s + n)]).encode()
    assert not key.public_key().verify(malleable, b"message")  # gmssl alone accepts it
    assert not key.public_key().verify(signature + b"\x00", b"message")
    assert not key.public_key().verify(bytes(64), b"message")


def _openssl_sm2() -> bool:
    if shutil.which("openssl") is None:
        return False
    return subprocess.run(["openssl", "genpkey", "-algorithm", "SM2"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _openssl_sm2(), reason="no OpenSSL with SM2 on this machine")
def test_sm2_keys_and_signatures_interoperate_with_openssl(tmp_path: Path) -> None:
    made = subprocess.run(["openssl", "genpkey", "-algorithm", "SM2"], capture_output=True, check=True).stdout
    theirs = load_private_key(made)
    assert isinstance(theirs, sm2.Sm2PrivateKey)

    ours = generate_key(Algorithm.SM2_SM3)
    (tmp_path / "key.pem").write_bytes(private_key_pem(ours))
    public = subprocess.run(
        ["openssl", "pkey", "-in", tmp_path / "key.pem", "-pubout"], capture_output=True, check=True
    ).stdout
    assert public == public_key_pem(ours)

    message = b'{"certificate":{},"format":"shengjing/certificate-bundle/v1"}'
    (tmp_path / "message").write_bytes(message)
    (tmp_path / "signature").write_bytes(ours.sign(message))
    (tmp_path / "public.pem").write_bytes(public)
    verified = subprocess.run(
        [
            "openssl", "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
            "-pubin", "-inkey", tmp_path / "public.pem", "-in", tmp_path / "message",
            "-sigfile", tmp_path / "signature",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr


# --- the certificate's own checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: certificate(issued_on=dt.date(2026, 11, 30)),  # not the month of the certificate number
        lambda: certificate(rights=()),
        lambda: certificate(rights=(Right.PROCESSING, Right.HOLDING)),
        lambda: certificate(rights=(Right.HOLDING, Right.HOLDING)),
        lambda: certificate(fingerprint="AB" * 32),
        lambda: certificate(fingerprint="ab" * 31),
        lambda: certificate(term_end=dt.date(2026, 11, 30)),
        lambda: certificate(authority_name=" 沈阳市数据局"),
        lambda: Holder("沈阳市公安局", "11210100001148839W"),  # wrong check character
        lambda: Holder("沈阳市\n公安局"),
        lambda: Holder("局" * 101),
    ],
)
def test_a_certificate_checks_its_fields(build: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        build()
    assert caught.value.details["field"]
    assert caught.value.message_zh.startswith("证书字段")


def test_a_holder_without_credit_code_and_an_open_term_round_trip() -> None:
    open_ended = certificate(holder=Holder("沈阳数字产业发展有限公司"), term_end=None, rights=tuple(Right))
    assert Certificate.from_json(json.loads(json.dumps(open_ended.to_json()))) == open_ended


def test_from_json_refuses_an_authority_that_is_not_the_number_s() -> None:
    data = certificate().to_json()
    data["authority"]["division"] = "210102"
    with pytest.raises(InvalidInput, match="authority"):
        Certificate.from_json(data)
