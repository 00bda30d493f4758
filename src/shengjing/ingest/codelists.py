"""Reference code lists, as data: what standardization maps free-text values onto.

Each list has its canonical codes with their standard labels, plus aliases seen in departments' files. Lookup
keys are normalized (NFKC, no whitespace, case-folded) by :func:`lookup_key`, so ``Ｍ``, `` m `` and ``M`` are
one alias. The district table copies the GB/T 2260 codes of ``shengjing.demo.shenyang`` rather than importing
them: ``demo`` sits above ``ingest`` (it is ingested through it); a test checks that the two agree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final


def lookup_key(value: str) -> str:
    """The form under which aliases are compared: NFKC (full-width → half-width), no whitespace, case-folded."""
    return "".join(unicodedata.normalize("NFKC", value).split()).casefold()


@dataclass(frozen=True, slots=True)
class CodeList:
    """A code list: ``codes`` maps each canonical code to its label; ``aliases`` maps lookup keys to codes."""

    id: str
    name: str
    codes: Mapping[str, str]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, value: str) -> str | None:
        """The canonical code for a raw value, or None when the value is not in the list."""
        return self.aliases.get(lookup_key(value))


def _build(list_id: str, name: str, codes: dict[str, str], extra: dict[str, str]) -> CodeList:
    aliases: dict[str, str] = {}
    for code, label in codes.items():
        aliases[lookup_key(code)] = code
        aliases[lookup_key(label)] = code
    for alias, code in extra.items():
        if code not in codes:  # a typo in the table must fail at import, not map silently to nothing
            raise ValueError(f"alias for unknown code in {list_id}")
        aliases[lookup_key(alias)] = code
    return CodeList(list_id, name, MappingProxyType(codes), MappingProxyType(aliases))


# --- GB/T 2261.1-2003 人的性别代码 ---------------------------------------------------------------------------

SEX: Final = _build(
    "GB/T 2261.1",
    "人的性别代码",
    {"0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别"},
    {
        "未知": "0", "不详": "0", "unknown": "0", "U": "0",
        "男": "1", "M": "1", "male": "1", "man": "1",
        "女": "2", "F": "2", "female": "2", "woman": "2",
        "未说明": "9",
    },
)  # fmt: skip


# --- GB 3304-1991 中国各民族名称的罗马字母拼写法和代码 ----------------------------------------------------------

_ETHNICITIES: Final = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
]
_ETHNICITY_CODES: Final = {f"{i:02d}": name for i, name in enumerate(_ETHNICITIES, start=1)} | {
    "97": "其他",
    "98": "外国血统中国籍人士",
}
_ETHNICITY_ALIASES: Final = (
    {name.removesuffix("族"): code for code, name in _ETHNICITY_CODES.items() if name.endswith("族")}
    | {str(int(code)): code for code in _ETHNICITY_CODES}  # "1" from a numeric column means "01"
    | {"毛难族": "36", "崩龙族": "46"}  # names before the 1986 and 1985 renamings, still in old records
)

ETHNICITY: Final = _build("GB 3304", "中国各民族名称代码", _ETHNICITY_CODES, _ETHNICITY_ALIASES)

CODE_LISTS: Final[Mapping[str, CodeList]] = MappingProxyType({cl.id: cl for cl in (SEX, ETHNICITY)})


# --- GB/T 2260 districts and counties, per city ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CityDistricts:
    code: str
    name: str  # 沈阳市
    province: str  # 辽宁省
    districts: Mapping[str, str]  # code → full name
    historical: Mapping[str, str]  # former name → current code

    def aliases(self) -> dict[str, str]:
        """Lookup key → district code: the full name, the short name where unambiguous, the code itself and
        former names. City and province prefixes are stripped before lookup (see :meth:`resolve`)."""
        table: dict[str, str] = {}
        shorts: dict[str, set[str]] = {}
        for code, name in self.districts.items():
            table[lookup_key(code)] = code
            table[lookup_key(name)] = code
            for suffix in ("新区", "区", "县", "市"):
                if name.endswith(suffix) and len(name) > len(suffix) + 1:
                    shorts.setdefault(name.removesuffix(suffix), set()).add(code)
                    break
        for short, codes in shorts.items():
            if len(codes) == 1 and lookup_key(short) not in table:  # an ambiguous short form is not an alias
                table[lookup_key(short)] = next(iter(codes))
        for old, code in self.historical.items():
            table.setdefault(lookup_key(old), code)
        return table

    def prefixes(self) -> tuple[str, ...]:
        """Prefixes to strip, longest first: 辽宁省沈阳市, 辽宁沈阳市, 沈阳市, 沈阳, …"""
        city_short = self.name.removesuffix("市")
        prov_short = self.province.removesuffix("省")
        cities = (self.name, city_short)
        found = {p + c for p in (self.province, prov_short) for c in cities} | set(cities)
        return tuple(sorted((lookup_key(p) for p in found), key=len, reverse=True))


SHENYANG: Final = CityDistricts(
    code="210100",
    name="沈阳市",
    province="辽宁省",
    districts=MappingProxyType(
        {
            "210102": "和平区",
            "210103": "沈河区",
            "210104": "大东区",
            "210105": "皇姑区",
            "210106": "铁西区",
            "210111": "苏家屯区",
            "210112": "浑南区",
            "210113": "沈北新区",
            "210114": "于洪区",
            "210115": "辽中区",
            "210123": "康平县",
            "210124": "法库县",
            "210181": "新民市",
        }
    ),
    # 东陵区 was renamed 浑南区 in 2014 (same code); 辽中县 became 辽中区 in 2016; 沈北区 is a common slip.
    historical=MappingProxyType({"东陵区": "210112", "东陵": "210112", "辽中县": "210115", "沈北区": "210113"}),
)

CITIES: Final[Mapping[str, CityDistricts]] = MappingProxyType({SHENYANG.code: SHENYANG})
