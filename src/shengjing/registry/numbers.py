"""The numbers printed on a registration: the certificate number and the registration number.

Both name the issuing authority by an 8-digit code: the 6-digit GB/T 2260 code of its administrative division
(Shenyang: ``210100``) and a 2-digit unit code that division gives its registration bodies (``01``). Digits
only, so that the registration number can carry a pure ISO 7064 check character.

Certificate number (登记证书编号), one per certificate issued::

    SJDJ-2026-12-210100-01-000123
    │    │    │  │      │  └ serial within the month at that authority, 000001–999999
    │    │    │  │      └ unit code
    │    │    │  └ GB/T 2260 division code
    │    │    └ month of issue
    │    └ year of issue
    └ 数据登记 (data registration)

It appears in the public lookup URL and on the certificate, where people read it out: hyphens keep the parts
legible, and it carries no check character because it is never typed without being looked up.

Registration number (登记号), kept by a registration through its changes, corrections and cancellation::

    21010001 2026 0000123 5        (printed without spaces: 21010001202600001235)
    │        │    │       └ ISO 7064 MOD 11-2 check character over the 19 digits before it: 0–9 or X
    │        │    └ serial within the year at that authority, 0000001–9999999
    │        └ year of the initial registration
    └ authority code (division + unit)

MOD 11-2 is the check of the resident identity number (GB 11643), familiar to clerks. As a pure system with a
prime modulus it detects every single-character substitution and every transposition of adjacent characters;
the hybrid MOD 37,36 over digits misses some transpositions of neighbouring values such as 12 ↔ 21, which we
measured, so it is not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.iso7064 import mod_11_2

from shengjing.errors import InvalidInput

CERTIFICATE_PREFIX = "SJDJ"

# The first two digits of GB/T 2260 codes: the provinces, autonomous regions, municipalities and SARs.
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62}
    | {63, 64, 65, 71, 81, 82}
)
_CERTIFICATE = re.compile(
    rf"{CERTIFICATE_PREFIX}-(?P<year>[0-9]{{4}})-(?P<month>[0-9]{{2}})"
    r"-(?P<division>[0-9]{6})-(?P<unit>[0-9]{2})-(?P<serial>[0-9]{6})"
)
_REGISTRATION = re.compile(
    r"(?P<division>[0-9]{6})(?P<unit>[0-9]{2})(?P<year>[0-9]{4})(?P<serial>[0-9]{7})(?P<check>[0-9X])"
)
_SEPARATORS = re.compile(r"[\s-]+")

_CERTIFICATE_KIND = ("证书编号", "certificate number")
_REGISTRATION_KIND = ("登记号", "registration number")
_YEAR = ("年份", "year")
_SERIAL = ("序号", "serial")


def _invalid(kind: tuple[str, str], text: str, why_zh: str, why_en: str) -> InvalidInput:
    return InvalidInput(f"{kind[0]}“{text}”无效：{why_zh}", f"Invalid {kind[1]} '{text}': {why_en}", value=text)


@dataclass(frozen=True)
class Authority:
    """An issuing authority's code: its GB/T 2260 division and its 2-digit unit code there."""

    division: str
    unit: str

    def __post_init__(self) -> None:
        if not (re.fullmatch(r"[0-9]{6}", self.division) and int(self.division[:2]) in _PROVINCES):
            raise _invalid(
                ("行政区划代码", "division code"),
                self.division,
                "应为 GB/T 2260 的 6 位代码，如沈阳市 210100。",
                "it should be a 6-digit GB/T 2260 code, e.g. 210100 for Shenyang.",
            )
        if not re.fullmatch(r"[0-9]{2}", self.unit):
            raise _invalid(
                ("单位代码", "unit code"), self.unit, "应为 2 位数字，如 01。", "it should be 2 digits, e.g. 01."
            )

    @property
    def code(self) -> str:
        return self.division + self.unit


def _in_range(kind: tuple[str, str], part: tuple[str, str], value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidInput(
            f"{kind[0]}的{part[0]}应在 {low}–{high} 之间：{value}。",
            f"The {part[1]} of a {kind[1]} should be in {low}–{high}: {value}.",
            value=value,
        )


@dataclass(frozen=True)
class CertificateNumber:
    year: int
    month: int
    authority: Authority
    serial: int

    def __post_init__(self) -> None:
        _in_range(_CERTIFICATE_KIND, _YEAR, self.year, 2000, 9999)
        _in_range(_CERTIFICATE_KIND, ("月份", "month"), self.month, 1, 12)
        _in_range(_CERTIFICATE_KIND, _SERIAL, self.serial, 1, 999_999)

    def __str__(self) -> str:
        a = self.authority
        return f"{CERTIFICATE_PREFIX}-{self.year:04d}-{self.month:02d}-{a.division}-{a.unit}-{self.serial:06d}"


@dataclass(frozen=True)
class RegistrationNumber:
    authority: Authority
    year: int
    serial: int

    def __post_init__(self) -> None:
        _in_range(_REGISTRATION_KIND, _YEAR, self.year, 2000, 9999)
        _in_range(_REGISTRATION_KIND, _SERIAL, self.serial, 1, 9_999_999)

    @property
    def body(self) -> str:
        """The 19 digits the check character is computed over."""
        return f"{self.authority.code}{self.year:04d}{self.serial:07d}"

    def __str__(self) -> str:
        return self.body + mod_11_2.calc_check_digit(self.body)


def parse_certificate_number(text: str) -> CertificateNumber:
    """The certificate number in ``text`` (letters in either case, spaces around it ignored)."""
    canonical = text.strip().upper()
    match = _CERTIFICATE.fullmatch(canonical)
    if match is None:
        raise _invalid(
            _CERTIFICATE_KIND,
            text,
            "格式应为 SJDJ-年-月-行政区划代码-单位代码-序号，如 SJDJ-2026-12-210100-01-000123。",
            "the format is SJDJ-year-month-division-unit-serial, e.g. SJDJ-2026-12-210100-01-000123.",
        )
    authority = Authority(match["division"], match["unit"])
    return CertificateNumber(int(match["year"]), int(match["month"]), authority, int(match["serial"]))


def parse_registration_number(text: str) -> RegistrationNumber:
    """The registration number in ``text``, once its check character verifies. Spaces and hyphens between
    groups of digits are ignored, and a lowercase x is read as X."""
    canonical = _SEPARATORS.sub("", text).upper()
    match = _REGISTRATION.fullmatch(canonical)
    if match is None:
        raise _invalid(
            _REGISTRATION_KIND,
            text,
            "应为 19 位数字加 1 位校验码（0–9 或 X），共 20 位。",
            "it should be 19 digits and a check character (0–9 or X), 20 characters in all.",
        )
    if not mod_11_2.is_valid(canonical):
        raise _invalid(
            _REGISTRATION_KIND,
            text,
            "校验码不符，可能有数字输错或相邻两位颠倒，请核对。",
            "the check character does not match: a digit may be mistyped or two neighbours swapped.",
        )
    authority = Authority(match["division"], match["unit"])
    return RegistrationNumber(authority, int(match["year"]), int(match["serial"]))


def validate_certificate_number(text: str) -> str:
    """The canonical form of a valid certificate number; raises InvalidInput otherwise."""
    return str(parse_certificate_number(text))


def validate_registration_number(text: str) -> str:
    """The canonical form of a valid registration number; raises InvalidInput otherwise."""
    return str(parse_registration_number(text))
