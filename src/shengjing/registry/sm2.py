"""SM2 signatures over SM3 (GB/T 32918.2, GB/T 32905) through the ``gmssl`` package, and SM2 keys in PEM.

gmssl does the curve arithmetic and the SM3 hashing, and its own ``verify_with_sm3`` checks what it signed; four
of its habits are worked around here:

- its default nonce comes from ``random`` (Mersenne Twister), and a predictable nonce gives the private key
  away: every signature here takes its nonce from ``secrets``;
- it strips the ``04`` point prefix with ``str.lstrip``, which also eats leading 0 and 4 digits of x: the key
  is set on the object after construction, as the 128 hex digits of x and y;
- it does not check that r and s lie in [1, n−1], so (r, s + n) would verify too: signatures are decoded
  here, as strict DER, and their range checked before gmssl sees them;
- it neither makes keys nor reads or writes them: keys are stored as OpenSSL 3 writes SM2 keys (PKCS#8 and
  SubjectPublicKeyInfo, id-ecPublicKey on the curve 1.2.156.10197.1.301), with the DER classes of pycryptodomex
  (gmssl's own dependency), so ``openssl pkey`` reads them and OpenSSL verifies our signatures.

Signatures are DER ``SEQUENCE {r, s}`` (GB/T 35276) with the default signer ID ``1234567812345678``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from Cryptodome.IO import PEM
from Cryptodome.Util.asn1 import DerBitString, DerInteger, DerObjectId, DerOctetString, DerSequence
from gmssl.sm2 import CryptSM2, default_ecc_table

_P = int(default_ecc_table["p"], 16)
_A = int(default_ecc_table["a"], 16)
_B = int(default_ecc_table["b"], 16)
_N = int(default_ecc_table["n"], 16)
_G = default_ecc_table["g"]

_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_SM2_CURVE = "1.2.156.10197.1.301"


def _algorithm_identifier() -> DerSequence:
    return DerSequence([DerObjectId(_EC_PUBLIC_KEY), DerObjectId(_SM2_CURVE)])


def _crypt(private_hex: str, public: Sm2PublicKey) -> CryptSM2:
    crypt = CryptSM2(private_key=private_hex, public_key="", asn1=False)
    crypt.public_key = public.hex  # not through the constructor: see the module's note on lstrip
    return crypt


@dataclass(frozen=True)
class Sm2PublicKey:
    x: int
    y: int

    def __post_init__(self) -> None:
        on_curve = (self.y * self.y - (self.x**3 + _A * self.x + _B)) % _P == 0
        if not (0 <= self.x < _P and 0 <= self.y < _P and on_curve):
            raise ValueError("not a point on the SM2 curve")

    @property
    def hex(self) -> str:
        return f"{self.x:064x}{self.y:064x}"

    @property
    def point(self) -> bytes:
        """The uncompressed point: 04 || x || y."""
        return b"\x04" + bytes.fromhex(self.hex)

    def der(self) -> bytes:
        """SubjectPublicKeyInfo."""
        return DerSequence([_algorithm_identifier(), DerBitString(self.point)]).encode()

    def pem(self) -> bytes:
        return PEM.encode(self.der(), "PUBLIC KEY").encode() + b"\n"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            r, s = _decode_signature(signature)
            return bool(_crypt("", self).verify_with_sm3(f"{r:064x}{s:064x}", message))
        except (ValueError, TypeError, IndexError):  # not DER, or gmssl meeting the point at infinity
            return False


@dataclass(frozen=True)
class Sm2PrivateKey:
    d: int = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.d <= _N - 2:
            raise ValueError("the SM2 private key is out of range")

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        return cls(secrets.randbelow(_N - 2) + 1)

    def public_key(self) -> Sm2PublicKey:
        point = CryptSM2(private_key="", public_key="")._kg(self.d, _G)  # d·G, gmssl's own scalar multiplication
        return Sm2PublicKey(int(point[:64], 16), int(point[64:], 16))

    def sign(self, message: bytes) -> bytes:
        crypt = _crypt(f"{self.d:064x}", self.public_key())
        while True:  # gmssl returns None for the rare nonce that gives r = 0, r + k = n or s = 0: draw again
            nonce = secrets.randbelow(_N - 1) + 1
            signature = crypt.sign_with_sm3(message, f"{nonce:064x}")
            if signature is not None:
                r, s = int(signature[:64], 16), int(signature[64:], 16)
                return DerSequence([DerInteger(r), DerInteger(s)]).encode()

    def der(self) -> bytes:
        """PKCS#8 PrivateKeyInfo holding an RFC 5915 ECPrivateKey, as OpenSSL 3 writes SM2 keys."""
        inner = DerSequence(
            [
                DerInteger(1),
                DerOctetString(self.d.to_bytes(32, "big")),
                DerBitString(self.public_key().point, explicit=1),
            ]
        )
        return DerSequence([DerInteger(0), _algorithm_identifier(), DerOctetString(inner.encode())]).encode()

    def pem(self) -> bytes:
        return PEM.encode(self.der(), "PRIVATE KEY").encode() + b"\n"


def _decode_signature(signature: bytes) -> tuple[int, int]:
    sequence = DerSequence().decode(signature, strict=True, nr_elements=2, only_ints_expected=True)
    r, s = int(sequence[0]), int(sequence[1])
    if sequence.encode() != signature or not (1 <= r < _N and 1 <= s < _N):
        raise ValueError("not a canonical SM2 signature")
    return r, s


def _sm2_algorithm(der_algorithm: bytes) -> bool:
    algorithm = DerSequence().decode(der_algorithm, strict=True, nr_elements=2)
    oids = [DerObjectId().decode(algorithm[i], strict=True).value for i in (0, 1)]
    return oids == [_EC_PUBLIC_KEY, _SM2_CURVE]


@contextmanager
def _malformed(what: str) -> Iterator[None]:
    """DER that decodes to the wrong shape makes the lookups below fail in many ways: report one."""
    try:
        yield
    except (TypeError, IndexError, EOFError) as exc:
        raise ValueError(f"malformed {what}") from exc


def load_public_der(der: bytes) -> Sm2PublicKey:
    """An SM2 key from a SubjectPublicKeyInfo; ValueError if it is none."""
    with _malformed("SubjectPublicKeyInfo"):
        spki = DerSequence().decode(der, strict=True, nr_elements=2)
        point = DerBitString().decode(spki[1], strict=True).value
        if not _sm2_algorithm(spki[0]) or len(point) != 65 or point[0] != 4:
            raise ValueError("not an uncompressed SM2 public key")
        return Sm2PublicKey(int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big"))


def load_private_der(der: bytes) -> Sm2PrivateKey:
    """An SM2 key from an unencrypted PKCS#8 PrivateKeyInfo; ValueError if it is none."""
    with _malformed("PrivateKeyInfo"):
        info = DerSequence().decode(der, strict=True)
        if len(info) < 3 or info[0] != 0 or not _sm2_algorithm(info[1]):
            raise ValueError("not an SM2 PKCS#8 private key")
        ec_key = DerSequence().decode(DerOctetString().decode(info[2], strict=True).payload, strict=True)
        if len(ec_key) < 2 or ec_key[0] != 1:
            raise ValueError("not an RFC 5915 EC private key")
        key = Sm2PrivateKey(int.from_bytes(DerOctetString().decode(ec_key[1], strict=True).payload, "big"))
        stated = [DerBitString(explicit=1).decode(e, strict=True).value for e in ec_key[2:] if e[:1] == b"\xa1"]
        if stated and stated[0] != key.public_key().point:
            raise ValueError("the public key in the file is not the private key's")
        return key


def pem_body(pem: bytes, marker: str) -> bytes:
    """The DER inside a PEM block with ``marker`` (``PUBLIC KEY``, ``PRIVATE KEY``); ValueError otherwise."""
    der, found, encrypted = PEM.decode(pem.decode("ascii"))
    if found != marker or encrypted:
        raise ValueError(f"not an unencrypted {marker} PEM block")
    return der
