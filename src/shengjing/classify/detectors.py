"""What a field holds: one detector per kind of personal or organizational information in Chinese public data.

A detector has two kinds of evidence:

- **values**: SQL conditions over one value (pattern, check digit, dictionary), written once as a sqlglot tree
  and rendered for DuckDB or Spark, so a column is tested in the engine, vectorized, never row by row in
  Python. A detector's ``strong`` conditions alone say what a value is (a valid GB 11643 check digit);
  its ``weak`` ones only fit (any date could be a birth date, any 8 digits a local phone number) and count
  only when the field's name agrees;
- **the field's name**: Chinese words in its label (身份证), pinyin initials (sfzh) and English words (id_card)
  among the tokens of its code, and the data element (数据元) it references.

``decide`` weighs both for one column and says which it used. The check digits are written in SQL rather than
called from python-stdnum because the engine must run them over billions of rows; tests/classify compare
every one of them with python-stdnum on random values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import sqlglot
import yaml
from sqlglot import exp


class InfoType(StrEnum):
    ID_NUMBER = "id_number"
    PERSON_NAME = "person_name"
    MOBILE = "mobile"
    LANDLINE = "landline"
    EMAIL = "email"
    ADDRESS = "address"
    BANK_CARD = "bank_card"
    PASSPORT = "passport"
    HK_MACAU_PASS = "hk_macau_pass"  # noqa: S105 (a type, not a password)
    BIRTH_DATE = "birth_date"
    LICENSE_PLATE = "license_plate"
    CREDIT_CODE = "credit_code"
    IP_ADDRESS = "ip_address"
    COORDINATES = "coordinates"
    HEALTH = "health"
    RELIGION = "religion"
    ETHNICITY = "ethnicity"
    NONE = "none"


# --- value conditions, as SQL over the placeholder column ``v`` (a trimmed string) ------------------------------

_V = "v"


def _sql(template: str) -> exp.Expression:
    """A condition written in DuckDB's SQL over the value ``v``; rendered later for the engine that runs it."""
    return sqlglot.parse_one(template, read="duckdb")


_TABLES: dict[str, tuple[int, ...]] = {}


def _table(name: str, values: Iterable[int]) -> str:
    """A constant list, read with ``LIST_EXTRACT(table, i + 1)``: a lookup costs the engine less than the arithmetic
    it saves. The SQL names it by a placeholder, inlined after rendering (``inline_tables``): parsing its thousands
    of literals would cost sqlglot more than everything else it renders."""
    _TABLES[name] = tuple(values)
    return f"__table_{name}__"


def inline_tables(sql: str, dialect: str) -> str:
    """``sql`` with the constant lists in place of their placeholders, as ``dialect`` writes a list."""
    for name, values in _TABLES.items():
        listed = ", ".join(map(str, values))
        sql = sql.replace(f"__table_{name}__", f"[{listed}]" if dialect == "duckdb" else f"ARRAY({listed})")
    return sql


# GB 11643: the 18th character is (12 - Σ digit·2^(18-i) mod 11) mod 11, written 0-9 or X (for 10): the weighted
# sum of all 18, the check character's weight 2^0 = 1, leaves 1 mod 11. All 18 characters are read as one integer
# (``id_number``: one cast of the whole value, where a cast of its first 17 characters costs a substring more), two
# digits at a time from the right, each pair through a table of its weighted sum. A number ending in X cannot be
# cast: its first 17 digits, times ten, are kept negated, and the X adds its 10.
_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(18)]
_PROVINCE = "(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[1-3])"
_MONTH_DAY = "(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
ID_18 = f"^{_PROVINCE}[0-9]{{4}}(18|19|20)[0-9]{{2}}{_MONTH_DAY}[0-9]{{3}}[0-9Xx]$"
ID_15 = f"^{_PROVINCE}[0-9]{{4}}[0-9]{{2}}{_MONTH_DAY}[0-9]{{3}}$"


def _id_pair(pair: int) -> str:
    """The weighted sum of the ``pair``-th two digits from the right of the 18, for each value 00-99."""
    tens, units = 17 - (2 * pair + 1), 17 - 2 * pair  # their positions, 0-based from the left
    weighted = (_ID_WEIGHTS[tens] * (n // 10) + _ID_WEIGHTS[units] * (n % 10) for n in range(100))
    return _table(f"id_pair_{pair}", weighted)


ID_CHECK = (
    "(("
    + " + ".join(f"LIST_EXTRACT({_id_pair(j)}, ((ABS(id_number) // {100**j}) % 100) + 1)" for j in range(9))
    + " + CASE WHEN id_number < 0 THEN 10 ELSE 0 END) % 11) = 1"
)


def _nth_digit(number: str, width: int, position: int) -> str:
    """The ``position``-th digit (from the left, 1-based) of a ``width``-digit integer expression: integer
    arithmetic on one parsed number costs the engine a fifth of what a substring per digit does."""
    return f"(({number} // {10 ** (width - position)}) % 10)"


# Luhn over 16-19 digits, written solid or in groups (6222 0212 3456 7890): separators dropped, the digits read as
# one unsigned integer (19 digits may pass 2^63, not 2^64), two at a time from the right, where Luhn counts from,
# through a table: for the pair "ab", a doubled (with 9 taken off above 4) plus b.
_CARD_DIGITS = "CASE WHEN CONTAINS(v, ' ') OR CONTAINS(v, '-') THEN REPLACE(REPLACE(v, ' ', ''), '-', '') ELSE v END"
_LUHN_PAIRS = _table("luhn_pairs", (2 * (n // 10) - 9 * (n // 50) + n % 10 for n in range(100)))
BANK_CARD = "^[1-9]([ -]?[0-9]){15,18}$"
# (The lowest pair is taken without a division: Spark's DIV answers a long, which a number past 2^63 overflows.)
_CARD_PAIRS = ["card_number % 100", *(f"(card_number // {100**j}) % 100" for j in range(1, 10))]
_LUHN_SUM = " + ".join(f"LIST_EXTRACT({_LUHN_PAIRS}, CAST({pair} AS INTEGER) + 1)" for pair in _CARD_PAIRS)
LUHN_CHECK = f"(({_LUHN_SUM}) % 10) = 0"

# GB 32100: 17 characters of a 31-character alphabet weighted 3^(i-1) mod 31, then the check character, which
# makes the whole sum with weight 1 for itself divisible by 31. Each character's value is looked up by its code
# (upper and lower case alike: codes are typed in lower case now and then); characters 3-8 are the county code,
# digits by the pattern, and read from one integer; characters 9-18 come from one split of their part of the value
# (a substring per character costs twice as much).
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)] + [1]
_CREDIT_VALUES = _table(
    "credit_values", (CREDIT_ALPHABET.find(chr(code).upper()) if chr(code).isalnum() else -1 for code in range(128))
)
CREDIT_CODE = "(?i)^[1-9A-GY][1-9A-HJ-NP-RT-Y0-9][0-9]{6}[0-9A-HJ-NP-RT-Y]{9}[0-9A-HJ-NP-RT-Y]$"
_CREDIT_CODES = {  # each non-county character's code, by its position
    1: "ASCII(v)",
    2: "ASCII(SUBSTRING(v, 2, 1))",
    **{i: f"ASCII(LIST_EXTRACT(credit_tail, {i - 8}))" for i in range(9, 19)},
}
CREDIT_CHECK = (
    "(("
    + " + ".join(
        f"LIST_EXTRACT({_CREDIT_VALUES}, {_CREDIT_CODES[i]} + 1) * {w}"
        if i in _CREDIT_CODES
        else f"{_nth_digit('credit_county', 6, i - 2)} * {w}"
        for i, w in enumerate(_CREDIT_WEIGHTS, start=1)
    )
    + ") % 31) = 0"
)

_PROVINCE_SHORT = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTER = "A-HJ-NP-Z"
PLATE = (
    f"^[{_PROVINCE_SHORT}][{_PLATE_LETTER}][·.\\- ]?"
    f"([{_PLATE_LETTER}0-9]{{4}}[{_PLATE_LETTER}0-9挂学警港澳领试超]|[DF][{_PLATE_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DF])$"
)

MOBILE = "^(\\+?86[- ]?)?1[3-9][0-9]([- ]?[0-9]{4}){2}$"
LANDLINE_AREA = "^(\\(0[1-9][0-9]{1,2}\\)|0[1-9][0-9]{1,2}[- ]|0[1-9][0-9]{1,2})[2-9][0-9]{6,7}([-转][0-9]{1,6})?$"
LANDLINE_LOCAL = "^[2-9][0-9]{6,7}$"
EMAIL = "^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$"
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# An address as logs write it may carry its port: 203.0.113.5:53211, [2001:db8::1]:443.
_PORT = "(:[0-9]{1,5})?"
IPV4 = f"^({_OCTET}\\.){{3}}{_OCTET}{_PORT}$"
_HEXTET = "[0-9A-Fa-f]{1,4}"
_IPV6 = f"({_HEXTET}:){{7}}{_HEXTET}|(({_HEXTET}:){{0,6}}{_HEXTET})?::(({_HEXTET}:){{0,6}}{_HEXTET})?"
IPV6 = f"^({_IPV6})$|^\\[({_IPV6})\\]{_PORT}$"
PASSPORT = "^(E[0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|G[0-9]{8}|[DSP]E?[0-9]{7})$"
HK_MACAU_PASS = "^(C[0-9]{8}|C[A-HJ-NP-Z][0-9]{7}|W[0-9]{8}|[HM][0-9]{8}([0-9]{2})?)$"  # noqa: S105 (a pattern)
# A date, or a year and month (出生年月 is asked to the month on personnel forms: 1985-03, 198503, 1985年3月).
DATE = "^(19|20)[0-9]{2}[-/.年]?(0?[1-9]|1[0-2])([-/.月]?(0?[1-9]|[12][0-9]|3[01])日?|月)?( 00:00:00)?$"
COORDINATE_PAIR = "^-?[0-9]{1,3}\\.[0-9]{4,}[ ]*[,，][ ]*-?[0-9]{1,3}\\.[0-9]{4,}$"
COORDINATE = "^-?[0-9]{1,3}\\.[0-9]{4,}$"
# ICD-10 with a subcategory (E11.9) or the national clinical edition's extension (E11.900x001, I10.x00x002) is
# unmistakable; a bare category (I10) is as short as a seat or parking-space number (A12), so it only fits.
ICD10 = "^[A-TV-Z][0-9]{2}\\.[0-9Xx]{1,4}([Xx][0-9]{3})?$"
ICD10_CATEGORY = "^[A-TV-Z][0-9]{2}$"
_ORG_WORDS = "(公司|集团|中心|局|厅|委|院|所|校|学|站|店|行|社|会|部|处|科|室|馆|场|厂|队)"
ORG_SUFFIX = f"{_ORG_WORDS}$"
# An address ends like an organization only where no number comes right before: 3号院 and 502室 are addresses,
# 人民医院 and 办公室 are not.
ADDRESS_ORG_SUFFIX = f"(^|[^0-9０-９一二三四五六七八九十号]){_ORG_WORDS}$"
ADDRESS = (
    "(省|自治区|市|区|县|旗|镇|乡|街道|村).*"
    "([0-9０-９一二三四五六七八九十]+(号|栋|幢|单元|室|楼|组|弄)|(路|街|巷|胡同|里|村|屯)$)"
)


@dataclass(frozen=True)
class Detector:
    type: InfoType
    label_zh: str
    label_en: str
    words_zh: tuple[str, ...] = ()  # found anywhere in the field's Chinese label
    tokens: tuple[str, ...] = ()  # whole tokens of the field's code: English words and pinyin initials
    elements: tuple[str, ...] = ()  # data elements (数据元) that hold this type
    strong: tuple[str, ...] = ()  # value conditions that alone say what the value is
    weak: tuple[str, ...] = ()  # conditions that only fit, counted when the name agrees
    checks: tuple[str, ...] = ()  # what the conditions verify, for the evidence
    strong_share: float = 0.5  # share of strong matches that lets values alone decide
    numeric: bool = False  # tested on numbers too (coordinates), not only on text


def _dictionary() -> dict[str, list[str]]:
    return _load_dictionary()


@cache
def _load_dictionary() -> dict[str, list[str]]:
    text = resources.files("shengjing.classify").joinpath("dictionaries.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _regex(pattern: str) -> str:
    return "REGEXP_MATCHES(v, '" + pattern.replace("'", "''") + "')"


def _words_regex(words: Iterable[str]) -> str:
    return "(" + "|".join(re.escape(w) for w in words) + ")"


@dataclass(frozen=True)
class _Rule:
    """One way a value can match: a regular expression (cheap, tried first) and what else must hold."""

    pattern: str
    also: str | None = None  # SQL over ``v``: a check digit, an exclusion
    strong: bool = True

    def sql(self) -> str:
        return f"{_regex(self.pattern)} AND {self.also}" if self.also else _regex(self.pattern)


def _rules(kind: InfoType) -> list[_Rule]:
    d = _dictionary()
    match kind:
        case InfoType.ID_NUMBER:
            return [_Rule(ID_18, ID_CHECK), _Rule(ID_15, strong=False)]
        case InfoType.PERSON_NAME:
            single = "".join(x for x in d["surnames"] if len(x) == 1)
            double = "|".join(x for x in d["surnames"] if len(x) == 2)
            han = "[\u4e00-\u9fa5]"
            name = f"^(({double}){han}{{1,2}}|[{single}]{han}{{1,3}}|{han}{{1,6}}·{han}{{1,10}})$"
            # one regular expression for both exclusions: an organization's ending, a word that is not a name
            not_word = f"NOT {_regex(ORG_SUFFIX + '|' + _words_regex(d['not_names']))}"
            return [_Rule(name, not_word), _Rule(f"^{han}{{2,4}}$", not_word, strong=False)]
        case InfoType.MOBILE:
            return [_Rule(MOBILE)]
        case InfoType.LANDLINE:
            return [_Rule(LANDLINE_AREA), _Rule(LANDLINE_LOCAL, strong=False)]
        case InfoType.EMAIL:
            return [_Rule(EMAIL)]
        case InfoType.ADDRESS:
            not_an_org = f"NOT {_regex(ADDRESS_ORG_SUFFIX)}"
            return [_Rule(ADDRESS, not_an_org), _Rule("(省|市|区|县|镇|乡|村|路|街|号)", strong=False)]
        case InfoType.BANK_CARD:
            return [_Rule(BANK_CARD, LUHN_CHECK)]
        case InfoType.PASSPORT:
            return [_Rule(PASSPORT)]
        case InfoType.HK_MACAU_PASS:
            return [_Rule(HK_MACAU_PASS)]
        case InfoType.BIRTH_DATE:
            return [_Rule(DATE, strong=False)]
        case InfoType.LICENSE_PLATE:
            return [_Rule(PLATE)]
        case InfoType.CREDIT_CODE:
            return [_Rule(CREDIT_CODE, CREDIT_CHECK)]
        case InfoType.IP_ADDRESS:
            return [_Rule(IPV4), _Rule(IPV6)]
        case InfoType.COORDINATES:
            return [_Rule(COORDINATE_PAIR), _Rule(COORDINATE, strong=False)]
        case InfoType.HEALTH:
            not_a_ward = f"NOT {_regex('(科|门诊|病区|医院|中心)$')}"
            return [
                _Rule(_words_regex(d["health_terms"]), f"LENGTH(v) <= 40 AND {not_a_ward}"),
                _Rule(ICD10),
                _Rule(ICD10_CATEGORY, strong=False),
                # a normal finding (未见异常) or no history (无) is an answer in a health record, as 无 is to religion
                _Rule(f"^{_words_regex(d['no_finding'])}$", strong=False),
            ]
        case InfoType.RELIGION:
            return [
                _Rule(f"^{_words_regex(d['religions'])}$"),
                _Rule(f"^{_words_regex(d['no_religion'])}$", strong=False),
            ]
        case InfoType.ETHNICITY:
            names = _words_regex(n.removesuffix("族") for n in d["ethnicities"])
            return [_Rule(f"^{names}族?$"), _Rule("^(0[1-9]|[1-4][0-9]|5[0-8])$", strong=False)]
    return []


@dataclass(frozen=True)
class Conditions:
    """A type's SQL conditions over ``v``: ``shape`` (its regular expressions only, cheap enough to try every
    type on every column of a sample), ``strong`` (what alone says the type), ``weak`` (what only fits) and
    ``fit`` (strong or weak)."""

    shape: exp.Expression
    strong: exp.Expression | None
    weak: exp.Expression | None
    fit: exp.Expression


def _any(parts: list[str]) -> str:
    return " OR ".join(f"({p})" for p in parts)


@cache
def conditions(kind: InfoType) -> Conditions:
    rules = _rules(kind)
    strong = [r.sql() for r in rules if r.strong]
    weak = [r.sql() for r in rules if not r.strong]
    return Conditions(
        shape=_sql(_any([_regex(r.pattern) for r in rules])),
        strong=_sql(_any(strong)) if strong else None,
        weak=_sql(_any(weak)) if weak else None,
        fit=_sql(_any([r.sql() for r in rules])),
    )


# A date and the birth date inside the same row's ID number (``i``), however the date is written: 1985-03-12,
# 19850312, 1985/3/12, 1985年3月12日, a timestamp at midnight; the 15-digit numbers of the 1980s carry YYMMDD.
_YMD = "'^([0-9]{4})[^0-9]?([0-9]{1,2})[^0-9]?([0-9]{1,2})'"
# ISO dates (YYYY-MM-DD, most of them) only lose their dashes; only the others pay for the regular expression.
ID_AGREES = (
    "CASE WHEN v LIKE '____-__-__' THEN REPLACE(v, '-', '')"
    f" ELSE REGEXP_EXTRACT(v, {_YMD}, 1) || LPAD(REGEXP_EXTRACT(v, {_YMD}, 2), 2, '0')"
    f" || LPAD(REGEXP_EXTRACT(v, {_YMD}, 3), 2, '0') END"
    " = CASE LENGTH(i) WHEN 18 THEN SUBSTRING(i, 7, 8) WHEN 15 THEN '19' || SUBSTRING(i, 7, 6) END"
)

# Numbers a check digit reads, parsed once per value in a layer of their own: the engines do not share a repeated
# subexpression inside CASE, and parsing once per digit cost a bank-card column eight times a regular expression.
# TRY_CAST: the engine may compute them before the pattern rules a value out.
DERIVED: dict[InfoType, dict[str, str]] = {
    InfoType.ID_NUMBER: {"id_number": "COALESCE(TRY_CAST(v AS BIGINT), -10 * TRY_CAST(SUBSTRING(v, 1, 17) AS BIGINT))"},
    InfoType.CREDIT_CODE: {
        "credit_tail": "STRING_SPLIT(SUBSTRING(v, 9, 10), '')",
        "credit_county": "TRY_CAST(SUBSTRING(v, 3, 6) AS INTEGER)",
    },
    InfoType.BANK_CARD: {"card_number": f"TRY_CAST({_CARD_DIGITS} AS UBIGINT)"},
}
_DERIVED_NAMES = {name for parts in DERIVED.values() for name in parts}
_PLACEHOLDER = "__value__"
_ID_PLACEHOLDER = "__id_number__"


@cache
def _rendered(kind: InfoType, part: str, dialect: str) -> str | None:
    tree = _sql(ID_AGREES) if part == "id_agrees" else getattr(conditions(kind), part)
    if tree is None:
        return None

    return _placeheld(tree, dialect)


def _placeheld(tree: exp.Expression, dialect: str) -> str:
    def placeholders(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name == _V:
            return exp.column(_PLACEHOLDER)
        if isinstance(node, exp.Column) and not node.table and node.name == "i":
            return exp.column(_ID_PLACEHOLDER)
        if isinstance(node, exp.Column) and not node.table and node.name in _DERIVED_NAMES:
            return exp.column(f"__derived_{node.name}__")
        return node

    placed = tree.copy().transform(placeholders)
    if dialect == "spark":
        # Spark's arrays count from 0, DuckDB's from 1; ELEMENT_AT counts from 1 and takes an INT. (Brackets are not
        # used: sqlglot rewrites their index for 0-based dialects, a literal one always, an expression sometimes.)
        for node in [n for n in placed.find_all(exp.Anonymous) if n.name.upper() == "LIST_EXTRACT"][::-1]:
            items, index = node.expressions
            node.replace(exp.Anonymous(this="ELEMENT_AT", expressions=[items, exp.cast(index, "INT")]))
        # Spark has no unsigned integers: a card number's 19 digits fit its DECIMAL(20, 0).
        for node in list(placed.find_all(exp.DataType)):
            if node.this == exp.DataType.Type.UBIGINT:
                node.replace(exp.DataType.build("DECIMAL(20, 0)"))
    return inline_tables(placed.sql(dialect=dialect), dialect)


@cache
def _rendered_derived(kind: InfoType, dialect: str) -> dict[str, str]:
    return {name: _placeheld(_sql(sql), dialect) for name, sql in DERIVED.get(kind, {}).items()}


def derived_sql(kind: InfoType, dialect: str, value: str) -> dict[str, str]:
    """The numbers ``kind``'s check reads, as SQL over the column ``value``, by name (see ``DERIVED``)."""
    _identifiers(value)
    return {name: sql.replace(_PLACEHOLDER, value) for name, sql in _rendered_derived(kind, dialect).items()}


def _identifiers(*names: str | None) -> None:
    if any(name is not None and not name.isidentifier() for name in names):
        raise ValueError("condition_sql places plain identifiers only")


def condition_sql(
    kind: InfoType,
    part: str,
    dialect: str,
    value: str,
    id_number: str | None = None,
    derived: dict[str, str] | None = None,
) -> str | None:
    """A type's condition (``shape``, ``strong``, ``weak``, ``fit`` or, for birth dates, ``id_agrees``) in
    ``dialect``, over the column ``value`` (a plain identifier). ``derived`` names the columns that already hold
    the type's parsed numbers (``DERIVED``); without it they are computed inline. Rendered by sqlglot once per
    type and dialect, because rendering the check digits' trees for every column of every scan costs more than
    running them on a sample."""
    rendered = _rendered(kind, part, dialect)
    if rendered is None:
        return None
    _identifiers(value, id_number, *(derived or {}).values())
    placed = derived or {name: f"({sql})" for name, sql in derived_sql(kind, dialect, value).items()}
    for name, column in placed.items():
        rendered = rendered.replace(f"__derived_{name}__", column)
    return rendered.replace(_PLACEHOLDER, value).replace(_ID_PLACEHOLDER, id_number or _ID_PLACEHOLDER)


# fmt: off
DETECTORS: tuple[Detector, ...] = (
    Detector(
        InfoType.ID_NUMBER,
        "居民身份证号码",
        "Resident ID number",
        words_zh=("身份证", "身份号码", "证件号", "公民身份"),
        tokens=("sfzh", "sfzhm", "gmsfhm", "zjhm", "sfz", "idcard", "id_card", "id_number", "idno", "id_no", "ssn"),
        elements=("GMSFHM", "FDDBR"),
        checks=("GB 11643 pattern", "GB 11643 check digit"),
    ),
    Detector(
        InfoType.PERSON_NAME,
        "姓名",
        "Person name",
        words_zh=("姓名", "联系人", "法定代表人", "负责人", "户主", "患者", "参保人", "学生", "持卡人", "经办人"),
        tokens=(
            "xm", "xingming", "name", "person_name", "full_name", "lxr", "fddbr", "fzr", "jbr", "dsr", "syr", "ckr",
            "shr", "contact", "owner", "patient", "cardholder", "consignee",
        ),
        elements=("XM",),
        checks=("2-4 Han characters", "common surname", "not an organization word"),
        strong_share=0.7,
    ),
    Detector(
        InfoType.MOBILE,
        "手机号码",
        "Mobile number",
        words_zh=("手机", "移动电话", "联系电话", "电话"),
        tokens=("sjhm", "sjh", "lxdh", "dh", "mobile", "phone", "cellphone", "tel", "telephone", "msisdn"),
        elements=("SJHM", "LXDH"),
        checks=("mainland mobile pattern 1[3-9]",),
    ),
    Detector(
        InfoType.LANDLINE,
        "固定电话",
        "Landline number",
        words_zh=("固定电话", "座机", "固话", "办公电话", "联系电话", "电话", "传真"),
        tokens=("gddh", "bgdh", "zj", "cz", "czhm", "landline", "tel", "telephone", "phone", "lxdh", "dh", "fax"),
        elements=("LXDH",),
        checks=("area code and local number",),
    ),
    Detector(
        InfoType.EMAIL,
        "电子邮箱",
        "E-mail address",
        words_zh=("邮箱", "电子邮件", "邮件地址"),
        tokens=("email", "e_mail", "mail", "dzyx", "yx", "yxdz"),
        checks=("RFC 5322 address shape",),
    ),
    Detector(
        InfoType.ADDRESS,
        "地址",
        "Address",
        words_zh=("地址", "住址", "住所", "居住地", "户籍地", "详细地址"),
        tokens=("dz", "zz", "jtzz", "hjdz", "xzz", "jzdz", "address", "addr", "residence"),
        elements=("DZ",),
        checks=("administrative division then street, number or village",),
    ),
    Detector(
        InfoType.BANK_CARD,
        "银行卡号",
        "Bank card number",
        words_zh=("银行卡", "银行账号", "卡号", "账号", "银行账户"),
        tokens=(
            "yhkh", "yhzh", "khzh", "kh", "xykh", "bank_card", "card_no", "card_number", "bankcard", "account_no",
            "pan",
        ),
        checks=("16-19 digits", "Luhn check digit"),
    ),
    Detector(
        InfoType.PASSPORT,
        "护照号码",
        "Passport number",
        words_zh=("护照",),
        tokens=("hzhm", "hz", "passport", "passport_no"),
        checks=("PRC passport number pattern",),
    ),
    Detector(
        InfoType.HK_MACAU_PASS,
        "港澳通行证号码",
        "Hong Kong/Macau pass number",
        words_zh=("港澳通行证", "往来港澳", "回乡证", "来往内地通行证"),
        tokens=(
            "gatxz", "txz", "txzhm", "hxz", "hxzh", "hk_macau", "hkmacau", "hk_macau_pass", "hkm_pass",
            "exit_entry_permit", "home_return_permit",
        ),
        checks=("exit-entry permit pattern C/W/H/M",),
    ),
    Detector(
        InfoType.BIRTH_DATE,
        "出生日期",
        "Birth date",
        words_zh=("出生日期", "出生年月", "生日", "出生时间"),
        tokens=("csrq", "csny", "csnyr", "birth", "birthday", "birth_date", "date_of_birth", "dob", "birthdate"),
        elements=("CSRQ",),
        checks=("a date or a year and month", "or the birth date inside the same row's ID number"),
    ),
    Detector(
        InfoType.LICENSE_PLATE,
        "机动车号牌",
        "Licence plate",
        words_zh=("车牌", "号牌", "车辆号码"),
        tokens=("cph", "hphm", "cphm", "plate", "license_plate", "plate_no", "vehicle_no"),
        checks=("GA 36 plate pattern",),
    ),
    Detector(
        InfoType.CREDIT_CODE,
        "统一社会信用代码",
        "Unified social credit code",
        words_zh=("统一社会信用代码", "信用代码", "社会信用"),
        tokens=("tyshxydm", "shxydm", "xydm", "uscc", "credit_code", "usci"),
        elements=("TYSHXYDM",),
        checks=("GB 32100 pattern", "GB 32100 check character"),
    ),
    Detector(
        InfoType.IP_ADDRESS,
        "IP 地址",
        "IP address",
        words_zh=("IP地址", "IP 地址", "网络地址", "登录IP"),
        tokens=("ip", "ipdz", "ip_address", "ipaddr", "client_ip", "remote_addr", "ipv4", "ipv6"),
        checks=("IPv4 or IPv6",),
    ),
    Detector(
        InfoType.COORDINATES,
        "地理坐标",
        "Coordinates",
        words_zh=("经度", "纬度", "坐标", "经纬度", "位置"),
        tokens=("jd", "wd", "zb", "jwd", "lng", "lon", "lat", "longitude", "latitude", "coord", "coordinates", "gps"),
        checks=("degrees with at least 4 decimals", "within ±180"),
        numeric=True,
    ),
    Detector(
        InfoType.HEALTH,
        "健康生理信息",
        "Health information",
        words_zh=(
            "诊断", "疾病", "病史", "病情", "症状", "病名", "健康状况", "病种", "体检", "残疾类别", "既往史", "过敏史",
        ),
        tokens=(
            "zd", "zdmc", "zddm", "jbzd", "jbmc", "bs", "jws", "gms", "cjlb", "diagnosis", "disease", "icd", "icd10",
            "condition", "medical_history", "disability", "tjjl",
        ),
        elements=("JBZDDM",),
        checks=("diagnosis term dictionary", "ICD-10 code"),
    ),
    Detector(
        InfoType.RELIGION,
        "宗教信仰",
        "Religion",
        words_zh=("宗教", "信仰"),
        tokens=("zjxy", "zj_xy", "religion", "faith"),
        checks=("religion dictionary",),
        strong_share=0.05,
    ),
    Detector(
        InfoType.ETHNICITY,
        "民族",
        "Ethnicity",
        words_zh=("民族",),
        tokens=("mz", "mzdm", "nation", "ethnicity", "ethnic", "ethnic_group", "nationality_ethnic"),
        elements=("MZDM",),
        checks=("the 56 ethnic groups (GB 3304)",),
    ),
)
# fmt: on
BY_TYPE: dict[InfoType, Detector] = {d.type: d for d in DETECTORS}

# Words in a label that make a name word mean something else: 企业名称 is not a person's name, 订单电话 …
NOT_PERSONAL_WORDS = ("企业", "单位", "公司", "机构", "学校", "医院", "站点", "线路", "项目", "商品", "产品", "订单")
NOT_PERSONAL_TOKENS = (
    "company",
    "org",
    "organization",
    "dept",
    "department",
    "station",
    "line",
    "product",
    "school",
    "hospital",
    "project",
    "order",
    "item",
    "file",
    "user",
    "host",
    "server",
    "xmmc",
)


# --- the field's name -----------------------------------------------------------------------------------------------


# A word made of pinyin initials only (hzsfzh, lxrdh): consonants, no vowel.
_PINYIN_INITIALS = re.compile(r"[bcdfghjklmnpqrstwxyz]{3,}")


def tokens_of(name: str) -> list[str]:
    """A field code's tokens, lower-cased: its words (``patientIdCard`` → patient, id, card), every run of two or
    three words joined (idcard, id_card, patient_id_card), and the endings of a word of pinyin initials
    (``hzsfzh`` → zsfzh, sfzh, fzh, zh): a Chinese code, like its label, puts the noun last (患者 + 身份证号)."""
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", name.replace("-", "_"))]
    tokens = [name.lower(), *words]
    for size in (2, 3):
        for start in range(len(words) - size + 1):
            run = words[start : start + size]
            tokens += ["".join(run), "_".join(run)]
    for word in words:
        if _PINYIN_INITIALS.fullmatch(word):
            tokens += [word[start:] for start in range(1, len(word) - 1)]
    return list(dict.fromkeys(tokens))


@dataclass(frozen=True)
class NameEvidence:
    type: InfoType
    source: str  # label | code | element
    word: str


def name_evidence(code: str, label: str, element: str | None) -> list[NameEvidence]:
    """What the field's label, code and data element say it holds (possibly several types: 联系电话)."""
    found: list[NameEvidence] = []
    tokens = set(tokens_of(code))
    org_like = any(w in label for w in NOT_PERSONAL_WORDS) or bool(tokens & set(NOT_PERSONAL_TOKENS))
    for d in DETECTORS:
        if element and element.upper() in d.elements:
            found.append(NameEvidence(d.type, "element", element.upper()))
            continue
        if org_like and d.type in (InfoType.PERSON_NAME, InfoType.ADDRESS):
            continue
        word = next((w for w in d.words_zh if w.lower() in label.lower()), None)
        if word:
            found.append(NameEvidence(d.type, "label", word))
            continue
        token = next((t for t in d.tokens if t in tokens), None)
        if token:
            found.append(NameEvidence(d.type, "code", token))
    return found


# --- the decision for one column ------------------------------------------------------------------------------------


@dataclass
class ValueCounts:
    """What the engine counted for one column: values looked at, and per type the strong and fitting matches."""

    checked: int
    strong: dict[InfoType, int] = field(default_factory=dict)
    fit: dict[InfoType, int] = field(default_factory=dict)

    def share(self, kind: InfoType, *, strong: bool) -> float:
        counts = self.strong if strong else self.fit
        return counts.get(kind, 0) / self.checked if self.checked else 0.0


@dataclass(frozen=True)
class Detection:
    type: InfoType
    confidence: float
    evidence: list[dict[str, Any]]
    decided_by: str  # values | name | values+name | none


FIT_SHARE = 0.8  # at most a fifth of a column may be dirty for the values to decide alone
NAME_FIT_SHARE = 0.5  # with the name agreeing, half the values fitting is enough
CONTRADICTED = 0.2  # below this share of fitting values, the values contradict the name
# Types whose values never look alike yet share one column in practice: 联系电话 holds mobiles and landlines.
SIBLINGS: tuple[tuple[InfoType, ...], ...] = ((InfoType.MOBILE, InfoType.LANDLINE),)


def decide(counts: ValueCounts, names: list[NameEvidence]) -> Detection:
    """One column's type from its value counts and its name evidence, with a confidence and the evidence used.

    Values decide alone when at least ``FIT_SHARE`` of the column fits a type and enough of it matches the
    type's strong conditions; among several, the higher strong share wins (an ID column passes the credit-code
    check one time in 31, a bank card's Luhn one time in ten). Siblings (mobiles and landlines) decide together,
    the column taking the type of most of its values. A name decides with the values when half of them fit. A
    name the values contradict is reported, and the column is 'none'; so is the type the values came closest to,
    when they fit one at all.
    """
    evidence: list[dict[str, Any]] = [
        {"kind": "name", "type": n.type.value, "source": n.source, "word": n.word} for n in names
    ]
    named = list(dict.fromkeys(n.type for n in names))  # in the names' order, so ties break the same every run
    by_values = [
        d.type
        for d in DETECTORS
        if counts.share(d.type, strong=False) >= FIT_SHARE and counts.share(d.type, strong=True) >= d.strong_share
    ]
    if by_values:
        best = max(by_values, key=lambda t: (counts.share(t, strong=True), t in named, counts.share(t, strong=False)))
        return _decided(best, counts, evidence, named)
    if counts.checked == 0:
        if names:
            return Detection(names[0].type, 0.5, [*evidence, {"kind": "values", "checked": 0}], "name")
        return Detection(InfoType.NONE, 0.5, [{"kind": "values", "checked": 0}], "none")
    for family in SIBLINGS:
        fit = sum(counts.share(t, strong=False) for t in family)
        strong = sum(counts.share(t, strong=True) for t in family)
        if fit >= FIT_SHARE and strong >= 0.5:
            best = max(family, key=lambda t: (counts.share(t, strong=False), t in named))
            others = [value_evidence(t, counts) | {"sibling": True} for t in family if t is not best]
            by = "values+name" if best in named else "values"
            return _decided(best, counts, [*evidence, *others], named, decided_by=by)
    fitting = [t for t in named if counts.share(t, strong=False) >= NAME_FIT_SHARE]
    if fitting:
        best = max(fitting, key=lambda t: (counts.share(t, strong=False), counts.share(t, strong=True)))
        return _decided(best, counts, evidence, named)
    closest = max(DETECTORS, key=lambda d: (counts.share(d.type, strong=False), counts.share(d.type, strong=True)))
    top = counts.share(closest.type, strong=False)
    for kind in named:
        evidence.append(value_evidence(kind, counts) | {"contradicts_name": True})
    if top > 0 and closest.type not in named:
        evidence.append(value_evidence(closest.type, counts) | {"too_few": True})
    confidence = 1.0 - top
    if named:  # a name the values contradict leaves some doubt
        confidence *= 0.85
    return Detection(InfoType.NONE, round(max(confidence, 0.5), 3), evidence, "none")


def value_evidence(kind: InfoType, counts: ValueCounts) -> dict[str, Any]:
    return {
        "kind": "values",
        "type": kind.value,
        "checked": counts.checked,
        "strong": counts.strong.get(kind, 0),
        "fit": counts.fit.get(kind, 0),
        "share": round(counts.share(kind, strong=False), 4),
        "checks": list(BY_TYPE[kind].checks),
    }


def _decided(
    kind: InfoType,
    counts: ValueCounts,
    evidence: list[dict[str, Any]],
    named: Sequence[InfoType],
    *,
    decided_by: str | None = None,
) -> Detection:
    fit = counts.share(kind, strong=False)
    strong = counts.share(kind, strong=True)
    confidence = 0.45 + 0.35 * fit + 0.15 * strong + (0.05 if kind in named else 0.0)
    if decided_by is None:
        decided_by = "values+name" if kind in named else "values"
        if strong < BY_TYPE[kind].strong_share or fit < FIT_SHARE:
            decided_by = "name"
    return Detection(kind, round(min(confidence, 0.99), 3), [*evidence, value_evidence(kind, counts)], decided_by)


def candidates(counts: ValueCounts, names: list[NameEvidence], floor: float = 0.02) -> set[InfoType]:
    """The types worth counting over every row: those a sample fits at all, and those the name suggests."""
    fitting = {t for t in counts.fit if counts.share(t, strong=False) >= floor}
    return fitting | {n.type for n in names}


def detector_labels() -> Mapping[str, tuple[str, str]]:
    """Each type's (Chinese, English) label, 'none' included."""
    labels = {d.type.value: (d.label_zh, d.label_en) for d in DETECTORS}
    labels[InfoType.NONE.value] = ("无个人或组织信息", "None")
    return labels
