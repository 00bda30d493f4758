"""A deterministic synthetic Shenyang, written as one Parquet file per table.

The city is generated in chunks of persons. Each chunk holds its persons and every row that refers to them
(their enterprises, contributions, visits, enrolments, bus trips), so references never leave the chunk and
a chunk needs nothing but its own random stream: memory stays bounded by one chunk, and the same
``persons`` + ``seed`` always give the same files. Faker is asked once, up front, for pools of names,
streets and words; rows are then drawn from those pools with numpy and assembled as Arrow arrays.

Besides the authoritative person and enterprise tables, departmental registers (insured persons, patients,
students, taxpayers, insured employers) hold the same persons and enterprises again with realistic noise; the
sharing platform's licence pushes hold the market regulator's food business licences again, and the housing
bureau's building survey the real-estate register's property units. Truth files (``TRUTH``) say whose each
register record is: the ground truth for record linkage. Property units are drawn per chunk like the rest
(about one per three residents), from the district weights and Faker's streets, not from the chunk's persons.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from faker import Faker
from stdnum.cn import ric

from shengjing.demo import shenyang as sy

Progress = Callable[[str, int, int], None]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Days = npt.NDArray[np.datetime64]

# --- The city's clock ---------------------------------------------------------------------------------------

REFERENCE_DATE: Final = date(2025, 6, 30)  # "today" in the city: ages and statuses are as of this day
FIRST_MONTH: Final = date(2025, 1, 1)  # monthly records cover FIRST_MONTH … the month of REFERENCE_DATE
MONTHS: Final = 6
SCHOOL_YEAR_START: Final = date(2024, 9, 1)
TRIP_WEEK_START: Final = date(2025, 6, 23)  # bus trips are one week, Monday to Sunday
_UTC_OFFSET_S: Final = 8 * 3600  # Asia/Shanghai has no DST; local times are stored as UTC

CHUNK_PERSONS: Final = 50_000
_MAX_CHUNKS: Final = 250  # ID sequence numbers are shared out between chunks: keep each chunk's share ≥ 2
_PERSONS_PER_ENTERPRISE: Final = 20
_PERSONS_PER_UNIT: Final = 3  # property units (flats, shops, offices, plants, rural houses) per resident


def _day(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


_REF_DAY: Final = _day(REFERENCE_DATE)
_REF_YMD: Final = REFERENCE_DATE.year * 10000 + REFERENCE_DATE.month * 100 + REFERENCE_DATE.day


# --- Tables -------------------------------------------------------------------------------------------------

STRING: Final = pa.string()
BOOL: Final = pa.bool_()
INT: Final = pa.int32()
DATE: Final = pa.date32()
TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
MONEY: Final = pa.decimal128(18, 2)  # CNY; money is never a float
AREA: Final = pa.decimal128(12, 2)  # m², to the hundredth as surveyed


def _field(name: str, type_: pa.DataType, title: str, *, nullable: bool = False) -> pa.Field:
    # The Chinese title rides along as field metadata so a catalog can show it without a lookup table.
    return pa.field(name, type_, nullable=nullable, metadata={"title": title})


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    department: str  # Organization.code of the 数据提供单位
    title: str
    schema: pa.Schema


TABLES: Final[tuple[TableSpec, ...]] = (
    TableSpec("person", "public_security", "户籍人口", pa.schema([
        _field("id_number", STRING, "公民身份号码"),
        _field("name", STRING, "姓名"),
        _field("sex", STRING, "性别"),
        _field("birth_date", DATE, "出生日期"),
        _field("ethnicity", STRING, "民族"),
        _field("mobile", STRING, "手机号码", nullable=True),
        _field("district_code", STRING, "户籍地行政区划代码"),
        _field("address", STRING, "户籍地址"),
        _field("registered_at", TIMESTAMP, "户籍登记时间"),
    ])),
    TableSpec("enterprise", "market_regulation", "企业营业执照", pa.schema([
        _field("credit_code", STRING, "统一社会信用代码"),
        _field("name", STRING, "企业名称"),
        _field("legal_representative_id", STRING, "法定代表人身份号码"),
        _field("industry_code", STRING, "国民经济行业代码"),
        _field("registered_capital", MONEY, "注册资本（元）"),
        _field("established_on", DATE, "成立日期"),
        _field("district_code", STRING, "住所行政区划代码"),
        _field("address", STRING, "住所"),
        _field("status", STRING, "登记状态"),
    ])),
    TableSpec("social_insurance", "human_resources", "社会保险缴费记录", pa.schema([
        _field("id_number", STRING, "公民身份号码"),
        _field("employer_credit_code", STRING, "参保单位统一社会信用代码"),
        _field("insurance_type", STRING, "险种"),
        _field("month", DATE, "费款所属期（月初）"),
        _field("contribution_base", MONEY, "缴费基数（元）"),
        _field("amount", MONEY, "缴费金额（元）"),
    ])),
    TableSpec("housing_fund", "housing_fund", "住房公积金缴存记录", pa.schema([
        _field("id_number", STRING, "公民身份号码"),
        _field("employer_credit_code", STRING, "缴存单位统一社会信用代码"),
        _field("month", DATE, "缴存月份（月初）"),
        _field("deposit", MONEY, "月缴存额（元）"),
        _field("balance", MONEY, "账户余额（元）"),
    ])),
    TableSpec("clinic_visit", "health", "门诊就诊记录", pa.schema([
        _field("id_number", STRING, "公民身份号码"),
        _field("hospital", STRING, "就诊医院"),
        _field("visit_date", DATE, "就诊日期"),
        _field("department", STRING, "就诊科室"),
        _field("diagnosis_code", STRING, "诊断编码（ICD-10）"),
        _field("diagnosis_name", STRING, "诊断名称"),
        _field("fee", MONEY, "费用（元）"),
    ])),
    TableSpec("school_enrolment", "education", "中小学学籍", pa.schema([
        _field("id_number", STRING, "公民身份号码"),
        _field("school", STRING, "学校名称"),
        _field("grade", STRING, "年级"),
        _field("enrolled_on", DATE, "入学日期"),
        _field("district_code", STRING, "学校所在行政区划代码"),
    ])),
    TableSpec("bus_card_trip", "transport", "公交卡刷卡记录", pa.schema([
        _field("card_no", STRING, "卡号"),
        _field("id_number", STRING, "持卡人身份号码（不记名卡为空）", nullable=True),
        _field("line", STRING, "线路"),
        _field("boarded_at", TIMESTAMP, "刷卡时间"),
        _field("station", STRING, "上车站点"),
        _field("fare", MONEY, "扣费金额（元）"),
    ])),
    # Departmental registers of the same persons and enterprises, with the noise of real ones (see
    # "Departmental registers" below); the person and enterprise tables above are their authoritative sources.
    TableSpec("insured_person", "human_resources", "社会保险参保人员信息", pa.schema([
        _field("record_id", STRING, "个人编号"),
        _field("id_number", STRING, "公民身份号码", nullable=True),
        _field("name", STRING, "姓名"),
        _field("sex", STRING, "性别"),
        _field("birth_date", DATE, "出生日期"),
        _field("mobile", STRING, "手机号码", nullable=True),
        _field("address", STRING, "联系地址"),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
    TableSpec("patient", "health", "居民就诊登记（患者主索引）", pa.schema([
        _field("record_id", STRING, "患者主索引号"),
        _field("id_number", STRING, "公民身份号码", nullable=True),
        _field("name", STRING, "姓名"),
        _field("sex", STRING, "性别"),
        _field("birth_date", DATE, "出生日期"),
        _field("mobile", STRING, "手机号码", nullable=True),
        _field("address", STRING, "现住址"),
        _field("hospital", STRING, "建档医院"),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
    TableSpec("student", "education", "中小学学生学籍信息", pa.schema([
        _field("record_id", STRING, "学生编号"),
        _field("id_number", STRING, "公民身份号码", nullable=True),
        _field("name", STRING, "姓名"),
        _field("sex", STRING, "性别"),
        _field("birth_date", DATE, "出生日期"),
        _field("guardian_mobile", STRING, "监护人手机号码", nullable=True),
        _field("address", STRING, "家庭住址"),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
    TableSpec("taxpayer", "taxation", "纳税人登记信息", pa.schema([
        _field("record_id", STRING, "纳税人档案号"),
        _field("credit_code", STRING, "纳税人识别号（统一社会信用代码）", nullable=True),
        _field("name", STRING, "纳税人名称"),
        _field("legal_representative", STRING, "法定代表人姓名"),
        _field("address", STRING, "生产经营地址"),
        _field("registered_on", DATE, "税务登记日期"),
        _field("credit_grade", STRING, "纳税信用等级", nullable=True),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
    TableSpec("employer", "human_resources", "社会保险参保单位信息", pa.schema([
        _field("record_id", STRING, "单位编号"),
        _field("credit_code", STRING, "统一社会信用代码", nullable=True),
        _field("name", STRING, "单位名称"),
        _field("address", STRING, "单位地址"),
        _field("contact_phone", STRING, "联系电话", nullable=True),
        _field("wage_arrears", BOOL, "是否列入拖欠工资失信名单"),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
    # Electronic licences (电子证照): the food business licences the market regulator issues, and the records its
    # issuing system pushed to the data bureau's e-licence sharing platform (电子证照共享平台), with noise.
    TableSpec("food_licence", "market_regulation", "食品经营许可证", pa.schema([
        _field("record_id", STRING, "许可档案编号"),
        _field("licence_no", STRING, "许可证编号"),
        _field("holder_credit_code", STRING, "经营者统一社会信用代码"),
        _field("holder_name", STRING, "经营者名称"),
        _field("address", STRING, "经营场所"),
        _field("issued_on", DATE, "发证日期"),
        _field("valid_until", DATE, "有效期至"),
        _field("status", STRING, "许可状态"),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
    TableSpec("licence_push", "data_bureau", "电子证照归集记录（食品经营许可证）", pa.schema([
        _field("record_id", STRING, "归集记录编号"),
        _field("licence_type", STRING, "证照类型"),
        _field("licence_no", STRING, "证照编号", nullable=True),
        _field("holder_credit_code", STRING, "持证主体统一社会信用代码", nullable=True),
        _field("holder_name", STRING, "持证主体名称"),
        _field("issued_on", DATE, "发证日期"),
        _field("valid_until", DATE, "有效期截止日期"),
        _field("pushed_at", TIMESTAMP, "推送时间"),
    ])),
    # Natural resources and spatial geography (自然资源和空间地理): the real-estate register's property units, and
    # the housing bureau's building survey of the same houses, with noise.
    TableSpec("real_estate_unit", "natural_resources", "不动产登记单元", pa.schema([
        _field("record_id", STRING, "不动产登记记录编号"),
        _field("unit_no", STRING, "不动产单元号"),
        _field("address", STRING, "坐落"),
        _field("district_code", STRING, "所在行政区划代码"),
        _field("land_use", STRING, "用途"),
        _field("building_area", AREA, "建筑面积（平方米）"),
        _field("registered_on", DATE, "登记日期"),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
    TableSpec("house", "housing", "房屋基础信息", pa.schema([
        _field("record_id", STRING, "房屋编号"),
        _field("unit_no", STRING, "不动产单元号", nullable=True),
        _field("address", STRING, "房屋坐落"),
        _field("district_code", STRING, "所在行政区划代码"),
        _field("building_area", AREA, "建筑面积（平方米）"),
        _field("built_year", INT, "建成年份"),
        _field("structure", STRING, "建筑结构"),
        _field("updated_at", TIMESTAMP, "最后变更时间"),
    ])),
)  # fmt: skip
TABLE_SPECS: Final[Mapping[str, TableSpec]] = {t.name: t for t in TABLES}
# The registers that describe persons and enterprises, each led by its authoritative source.
PERSON_REGISTERS: Final = ("person", "insured_person", "patient", "student")
ENTERPRISE_REGISTERS: Final = ("enterprise", "taxpayer", "employer")
# The registers of food business licences and of property units, likewise.
LICENCE_REGISTERS: Final = ("food_licence", "licence_push")
PROPERTY_REGISTERS: Final = ("real_estate_unit", "house")


@dataclass(frozen=True, slots=True)
class TruthSpec:
    """A file of known truth: which person, enterprise, licence or property unit each register record belongs
    to. Not a table of the city (no department holds it, nothing delivers it); it is what record linkage is
    measured against. A register with a ``record_id`` column is keyed by it, the others (the person and enterprise
    tables) by their key itself."""

    name: str
    registers: tuple[str, ...]
    schema: pa.Schema

    @property
    def file(self) -> str:
        return f"truth_{self.name}.parquet"


TRUTH: Final[tuple[TruthSpec, ...]] = (
    TruthSpec("persons", PERSON_REGISTERS, pa.schema([
        _field("table", STRING, "表"),
        _field("record_id", STRING, "记录编号（户籍人口表为公民身份号码）"),
        _field("id_number", STRING, "记录所属人员的公民身份号码"),
    ])),
    TruthSpec("enterprises", ENTERPRISE_REGISTERS, pa.schema([
        _field("table", STRING, "表"),
        _field("record_id", STRING, "记录编号（营业执照表为统一社会信用代码）"),
        _field("credit_code", STRING, "记录所属企业的统一社会信用代码"),
    ])),
    TruthSpec("licences", LICENCE_REGISTERS, pa.schema([
        _field("table", STRING, "表"),
        _field("record_id", STRING, "记录编号"),
        _field("licence_no", STRING, "记录所属许可证的许可证编号"),
    ])),
    TruthSpec("property_units", PROPERTY_REGISTERS, pa.schema([
        _field("table", STRING, "表"),
        _field("record_id", STRING, "记录编号"),
        _field("unit_no", STRING, "记录所属不动产单元的不动产单元号"),
    ])),
)  # fmt: skip


# --- Manifest -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableFile:
    name: str
    department: str
    title: str
    rows: int
    path: Path


@dataclass(frozen=True, slots=True)
class CityManifest:
    directory: Path
    persons: int
    seed: int
    reference_date: date
    tables: tuple[TableFile, ...]
    truth: Mapping[str, Path] = field(default_factory=dict)  # TruthSpec.name -> file (not a table: not delivered)

    def table(self, name: str) -> TableFile:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def row_counts(self) -> dict[str, int]:
        return {t.name: t.rows for t in self.tables}

    @property
    def paths(self) -> dict[str, Path]:
        return {t.name: t.path for t in self.tables}

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "persons": self.persons,
            "seed": self.seed,
            "reference_date": self.reference_date.isoformat(),
            "tables": {
                t.name: {
                    "department": t.department,
                    "title": t.title,
                    "rows": t.rows,
                    "file": t.path.name,
                    "path": str(t.path),
                }
                for t in self.tables
            },
            "truth": {name: {"file": path.name, "path": str(path)} for name, path in self.truth.items()},
        }


MANIFEST_FILE: Final = "manifest.json"


# --- Pools drawn from Faker once -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pools:
    surnames: pa.Array
    given_any: tuple[pa.Array, pa.Array]  # female, male: Faker's given names as it draws them
    given_single: tuple[pa.Array, pa.Array]  # their one-character members, paired up for two-character names
    streets: pa.Array
    brand_words: pa.Array  # 字号 of enterprise names
    mobile_prefixes: Ints
    stations: pa.Array


def _draw_pools(seed: int) -> _Pools:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    # Faker samples by its own frequency tables, so a few thousand draws carry its weighting into the pool.
    surnames = [fake.last_name() for _ in range(5000)]
    female = [fake.first_name_female() for _ in range(2000)]
    male = [fake.first_name_male() for _ in range(2000)]
    streets = sorted({fake.street_name() for _ in range(4000)})
    single_chars = sorted({c for c in female + male if len(c) == 1})
    # Faker has ~80 company prefixes; pairs of its one-character names make enough 字号 for 50,000 names.
    pairs = [a + b for a in single_chars for b in single_chars if a != b]
    brands = {fake.company_prefix() for _ in range(500)}
    brands.update(fake.random_elements(pairs, length=min(6000, len(pairs)), unique=True))
    prefixes = sorted({int(fake.phone_number()[:3]) for _ in range(3000)})
    stations = list(sy.LANDMARK_STOPS) + [f"{s}站" for s in fake.random_elements(streets, 200, unique=True)]

    def singles(names: list[str]) -> pa.Array:
        return pa.array([n for n in names if len(n) == 1] or single_chars)

    return _Pools(
        surnames=pa.array(surnames),
        given_any=(pa.array(female), pa.array(male)),
        given_single=(singles(female), singles(male)),
        streets=pa.array(streets),
        brand_words=pa.array(sorted(brands)),
        mobile_prefixes=np.array(prefixes, dtype=np.int64),
        stations=pa.array(stations),
    )


# --- Static lookups ---------------------------------------------------------------------------------------


def _weights(values: Any) -> npt.NDArray[np.float64]:
    w = np.asarray(values, dtype=np.float64)
    return w / w.sum()


_DISTRICT_P: Final = _weights([d.population_weight for d in sy.DISTRICTS])
_DISTRICT_CODES: Final = pa.array([d.code for d in sy.DISTRICTS])
_DISTRICT_CODE_INTS: Final = np.array([int(d.code) for d in sy.DISTRICTS], dtype=np.int64)
_DISTRICT_ADDRESS: Final = pa.array([sy.CITY_NAME + d.name for d in sy.DISTRICTS])
# A 县 or 县级市 names its institutions without the city: "康平县人民医院", but "沈阳市和平区…".
_DISTRICT_PREFIX: Final = [d.name if d.kind != "区" else sy.CITY_NAME + d.name for d in sy.DISTRICTS]

_BIRTH_YEARS: Final = np.array(
    [y for c in sy.BIRTH_COHORTS for y in range(c.first_year, c.last_year + 1)], dtype=np.int64
)
_BIRTH_YEAR_P: Final = _weights([c.weight for c in sy.BIRTH_COHORTS for _ in range(c.first_year, c.last_year + 1)])
_ETHNICITIES: Final = pa.array([e.value for e in sy.ETHNICITIES])
_ETHNICITY_P: Final = _weights([e.weight for e in sy.ETHNICITIES])
_SEXES: Final = pa.array(["女", "男"])  # indexed by is_male

_INDUSTRY_CODES: Final = pa.array([i.code for i in sy.ENTERPRISE_INDUSTRIES])
_INDUSTRY_TRADES: Final = pa.array([i.trade for i in sy.ENTERPRISE_INDUSTRIES])
_LEGAL_FORMS: Final = pa.array(["有限公司", "有限责任公司", "股份有限公司"])
_LEGAL_FORM_P: Final = _weights([85, 10, 5])
_STATUSES: Final = pa.array(["存续", "在业", "注销", "吊销", "迁出"])
_STATUS_P: Final = _weights([82, 5, 8, 4, 1])
_ACTIVE_STATUSES: Final = 2  # the first two statuses can employ people
_MODERN_ORG_CODE_SINCE: Final = _day(date(2016, 1, 1))  # later enterprises get "MA…" organization codes
_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# Rates are employer + personal, in basis points of the contribution base; illustrative, not Shenyang's
# published schedule.
_INSURANCE_TYPES: Final = pa.array(["养老保险", "医疗保险", "失业保险", "工伤保险", "生育保险"])
_INSURANCE_RATE_BP: Final = np.array([2400, 1000, 100, 40, 70], dtype=np.int64)
_BASE_FLOOR, _BASE_CEILING = 4_200, 21_000  # yuan: contribution base bounds, illustrative
_MONTH_DAYS: Final = np.array(
    [np.datetime64(f"{FIRST_MONTH.year}-{FIRST_MONTH.month + k:02d}-01", "D") for k in range(MONTHS)]
)

_DISTRICT_HOSPITALS: Final = [p + ("中心医院" if p.endswith("区") else "人民医院") for p in _DISTRICT_PREFIX]
_HOSPITALS: Final = pa.array([*sy.CITY_HOSPITALS, *_DISTRICT_HOSPITALS])
_DIAGNOSIS_CODES: Final = pa.array([d.icd10 for d in sy.DIAGNOSES])
_DIAGNOSIS_NAMES: Final = pa.array([d.name for d in sy.DIAGNOSES])
_DIAGNOSIS_DEPTS: Final = [d.department for d in sy.DIAGNOSES]
_DEPARTMENTS: Final = pa.array(sorted({*_DIAGNOSIS_DEPTS, "儿科"}))
_DEPARTMENT_INDEX: Final = {name: i for i, name in enumerate(_DEPARTMENTS.to_pylist())}
_DIAGNOSIS_DEPT_IDX: Final = np.array([_DEPARTMENT_INDEX[d] for d in _DIAGNOSIS_DEPTS], dtype=np.int64)
_PAEDIATRICS: Final = _DEPARTMENT_INDEX["儿科"]
_INTERNAL_MEDICINE: Final = _DEPARTMENT_INDEX["内科"]
_DIAGNOSIS_P_CHILD: Final = _weights([d.weight_child for d in sy.DIAGNOSES])
_DIAGNOSIS_P_ADULT: Final = _weights([d.weight_adult for d in sy.DIAGNOSES])

_CN_NUMERALS: Final = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
_GRADES: Final = pa.array(
    [f"小学{n}年级" for n in _CN_NUMERALS[:6]]
    + [f"初中{n}年级" for n in _CN_NUMERALS[:3]]
    + [f"高中{n}年级" for n in _CN_NUMERALS[:3]]
)
# (first grade, school count, name suffix) of each stage; every district has its own schools of each stage.
_STAGES: Final = ((1, 8, "小学"), (7, 4, "初级中学"), (10, 2, "高级中学"))
_STAGE_FIRST_GRADE: Final = np.array([first for first, _, _ in _STAGES], dtype=np.int64)
_STAGE_SCHOOLS: Final = np.array([n for _, n, _ in _STAGES], dtype=np.int64)
_STAGE_OFFSET: Final = np.concatenate([[0], np.cumsum(_STAGE_SCHOOLS)[:-1]])
_SCHOOLS_PER_DISTRICT: Final = int(_STAGE_SCHOOLS.sum())
_SCHOOLS: Final = pa.array(
    [f"{p}第{_CN_NUMERALS[k]}{kind}" for p in _DISTRICT_PREFIX for _, n, kind in _STAGES for k in range(n)]
)

_BUS_LINES: Final = pa.array(sy.BUS_LINES)
_CARD_ISSUER: Final = 2101 * 10**12  # 16-digit card numbers: issuer prefix + 12-digit serial


# --- Small vectorized helpers -----------------------------------------------------------------------------


def _money(cents: Ints) -> pa.Array:
    """Exact decimal128(18, 2) from integer cents."""
    return _decimal(cents, MONEY)


def _decimal(hundredths: Ints, type_: pa.Decimal128Type) -> pa.Array:
    """Exact decimal128(p, 2) from integer hundredths: the 16-byte two's complement words, built in numpy."""
    words = np.empty((hundredths.size, 2), dtype=np.int64)
    words[:, 0] = hundredths
    words[:, 1] = np.where(hundredths < 0, -1, 0)
    return pa.Array.from_buffers(type_, hundredths.size, [None, pa.py_buffer(words)])


def _timestamps(days: Days, local_seconds: Ints) -> pa.Array:
    utc = days.astype("datetime64[s]") + (local_seconds - _UTC_OFFSET_S).astype("timedelta64[s]")
    return pa.array(utc.astype("datetime64[us]"), type=TIMESTAMP)


def _take(values: pa.Array, indices: Ints) -> pa.Array:
    return values.take(pa.array(indices, type=pa.int64()))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _digits(values: Ints) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.int64()), STRING)


def _ymd(days: Days) -> Ints:
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return years * 10000 + months * 100 + dom


def _uniform_days(rng: np.random.Generator, low: Days, high: Days) -> Days:
    """A uniformly drawn day in [low, high] for each pair (high is clamped up to low)."""
    span = np.maximum((high - low).astype(np.int64), 0) + 1
    return low + (rng.random(low.size) * span).astype(np.int64)


def _draw(rng: np.random.Generator, pool: pa.Array, n: int) -> pa.Array:
    return _take(pool, rng.integers(0, len(pool), n))


def _draw_by_sex(rng: np.random.Generator, pools: tuple[pa.Array, pa.Array], male: Bools) -> pa.Array:
    female_pool, male_pool = pools
    return pc.if_else(pa.array(male), _draw(rng, male_pool, male.size), _draw(rng, female_pool, male.size))


def _addresses(rng: np.random.Generator, pools: _Pools, district: Ints) -> pa.Array:
    street = _draw(rng, pools.streets, district.size)
    number = _digits(rng.integers(1, 400, district.size))
    return _join(_take(_DISTRICT_ADDRESS, district), street, number, "号")


def _group_rank(*keys: Ints) -> Ints:
    """Rank of each row among the rows with the same key tuple (0 for the first of its group)."""
    n = keys[0].size
    order = np.lexsort(keys[::-1])
    changed = np.zeros(n, dtype=np.bool_)
    changed[:1] = True
    for k in keys:
        sk = k[order]
        changed[1:] |= sk[1:] != sk[:-1]
    positions = np.arange(n, dtype=np.int64)
    starts = np.maximum.accumulate(np.where(changed, positions, 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = positions - starts
    return rank


# --- Chunks -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Chunk:
    index: int
    count: int  # number of chunks in the city
    start: int  # global index of the chunk's first person
    size: int
    enterprise_start: int
    enterprises: int
    unit_start: int = 0  # global index of the chunk's first property unit
    units: int = 0


def _plan(persons: int) -> list[_Chunk]:
    size = max(CHUNK_PERSONS, math.ceil(persons / _MAX_CHUNKS))
    count = math.ceil(persons / size)
    chunks, enterprise_start, unit_start = [], 0, 0
    for i in range(count):
        n = min(size, persons - i * size)
        enterprises = round(n / _PERSONS_PER_ENTERPRISE)
        units = round(n / _PERSONS_PER_UNIT)
        chunks.append(_Chunk(i, count, i * size, n, enterprise_start, enterprises, unit_start, units))
        enterprise_start += enterprises
        unit_start += units
    return chunks


@dataclass(frozen=True, slots=True)
class _People:
    ids: pa.Array
    district: Ints
    male: Bools
    birth: Days
    birth_ymd: Ints
    age: Ints  # whole years on REFERENCE_DATE
    given_length: Ints  # characters of the given name, the end of the name (a surname may have two)


@dataclass(frozen=True, slots=True)
class _Firms:
    credit_codes: pa.Array
    active: Ints  # indices of the enterprises that can employ
    representative: Ints  # index of each enterprise's legal representative among the chunk's persons
    established: Days
    district: Ints
    industry: Ints  # index into sy.ENTERPRISE_INDUSTRIES
    status: Ints  # index into _STATUSES


@dataclass(frozen=True, slots=True)
class _Jobs:
    person: Ints
    employer: Ints  # index into _Firms.credit_codes
    base_yuan: Ints


def _table(name: str, columns: Mapping[str, pa.Array]) -> pa.Table:
    schema = TABLE_SPECS[name].schema
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


# A chunk's random streams in spawn order. Append only: a stream's seed is fixed by its position, so a stream
# added at the end leaves every existing table's rows as they were.
_STREAMS: Final = (
    "person", "enterprise", "social_insurance", "housing_fund", "clinic_visit", "school_enrolment",
    "bus_card_trip", "jobs", "insured_person", "patient", "student", "taxpayer", "employer",
    "taxpayer_credit", "employer_arrears", "food_licence", "licence_push", "real_estate_unit", "house",
)  # fmt: skip
_NEED_FIRMS: Final = frozenset({
    "enterprise", "social_insurance", "housing_fund", "taxpayer", "employer", *LICENCE_REGISTERS,
})  # fmt: skip
_NEED_JOBS: Final = frozenset({"social_insurance", "housing_fund"})


def _generate_chunk(chunk: _Chunk, pools: _Pools, seed: int, wanted: frozenset[str]) -> dict[str, pa.Table]:
    """The chunk's rows of each wanted table, and of each truth file (keyed by its file name)."""
    # One independent stream per table: changing how one table is drawn leaves the others' rows alone.
    streams = np.random.SeedSequence([seed, chunk.index]).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, streams, strict=True)}
    people, person = _person(chunk, pools, rng["person"])
    out: dict[str, pa.Table] = {"person": person}
    truth: dict[str, pa.Array] = {"person": people.ids}  # the true key of each register's records
    ctx = _RegisterContext(chunk, pools, seed, people, person)
    if wanted & _NEED_FIRMS:
        firms, enterprise = _enterprise(chunk, pools, rng["enterprise"], people, seed)
        out["enterprise"], truth["enterprise"] = enterprise, firms.credit_codes
        if wanted & _NEED_JOBS:
            jobs = _jobs(rng["jobs"], people, firms)
            out["social_insurance"] = _social_insurance(people, firms, jobs)
            out["housing_fund"] = _housing_fund(rng["housing_fund"], people, firms, jobs)
        if "taxpayer" in wanted:
            out["taxpayer"], truth["taxpayer"] = _taxpayer(
                ctx, rng["taxpayer"], rng["taxpayer_credit"], firms, enterprise
            )
        if "employer" in wanted:
            out["employer"], truth["employer"] = _employer(
                ctx, rng["employer"], rng["employer_arrears"], firms, enterprise
            )
        if wanted & set(LICENCE_REGISTERS):
            licences, out["food_licence"] = _food_licence(ctx, rng["food_licence"], firms, enterprise)
            truth["food_licence"] = licences.numbers
            if "licence_push" in wanted:
                out["licence_push"], truth["licence_push"] = _licence_push(
                    ctx, rng["licence_push"], licences, enterprise
                )
    if wanted & set(PROPERTY_REGISTERS):
        units, out["real_estate_unit"], truth["real_estate_unit"] = _real_estate_unit(
            chunk, pools, seed, rng["real_estate_unit"]
        )
        if "house" in wanted:
            out["house"], truth["house"] = _house(chunk, seed, rng["house"], units)
    if "clinic_visit" in wanted:
        out["clinic_visit"] = _clinic_visit(rng["clinic_visit"], people)
    if "school_enrolment" in wanted:
        out["school_enrolment"] = _school_enrolment(rng["school_enrolment"], people)
    if "bus_card_trip" in wanted:
        out["bus_card_trip"] = _bus_card_trip(chunk, pools, rng["bus_card_trip"], people)
    if "insured_person" in wanted:
        out["insured_person"], truth["insured_person"] = _insured_person(ctx, rng["insured_person"])
    if "patient" in wanted:
        out["patient"], truth["patient"] = _patient(ctx, rng["patient"])
    if "student" in wanted:
        out["student"], truth["student"] = _student(ctx, rng["student"])
    tables = {name: table for name, table in out.items() if name in wanted}
    for spec in TRUTH:
        tables[spec.file] = _truth(spec, tables, truth)
    return tables


def _truth(spec: TruthSpec, tables: Mapping[str, pa.Table], keys: Mapping[str, pa.Array]) -> pa.Table:
    """Which person, enterprise, licence or property unit each written record of ``spec``'s registers belongs to.
    Records are keyed by their ``record_id``; those of a table without one (person, enterprise) by the key itself."""
    parts = []
    for name in spec.registers:
        if name not in tables:
            continue
        table = tables[name]
        records = table.column("record_id").combine_chunks() if "record_id" in table.schema.names else keys[name]
        parts.append(pa.table([pa.repeat(name, len(records)), records, keys[name]], schema=spec.schema))
    if not parts:
        return spec.schema.empty_table()
    return pa.concat_tables(parts)


# --- Tables, one function each ------------------------------------------------------------------------------


def _sequence_numbers(chunk: _Chunk, district: Ints, birth: Days, male: Bools) -> tuple[Ints, Days]:
    """The 3-digit order code of each ID: odd for men, even for women, unique city-wide.

    The 500 codes of each sex are dealt out round-robin between chunks (code // 2 ≡ chunk index mod chunk
    count), so chunks cannot collide without talking to each other. Within a chunk, the persons sharing a
    (district, birthday, sex) take consecutive slots of the chunk's share from a pseudo-random start. The
    rare person whose group outgrows the share is moved to the neighbouring birthday.
    """
    share = len(range(chunk.index, 500, chunk.count))
    birth = birth.copy()
    for _ in range(1000):
        day = birth.astype(np.int64)
        rank = _group_rank(district, day, male.astype(np.int64))
        overflow = rank >= share
        if not overflow.any():
            start = _mix(district, day, male.astype(np.int64), np.full_like(day, chunk.index)) % share
            slot = chunk.index + chunk.count * ((start + rank) % share)
            return slot * 2 + male, birth
        birth[overflow] += np.where(birth[overflow] < np.datetime64("1980-01-01"), 1, -1)
    raise RuntimeError("could not allocate unique ID sequence numbers")  # pragma: no cover


def _mix(*keys: Ints) -> Ints:
    """A cheap deterministic hash of integer columns (multiply-xorshift), non-negative."""
    h = np.zeros(keys[0].size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in keys:
            h = (h ^ k.astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
    return (h >> np.uint64(1)).astype(np.int64)


def _id_numbers(district: Ints, birth_ymd: Ints, seq: Ints) -> pa.Array:
    body = _DISTRICT_CODE_INTS[district] * 10**11 + birth_ymd * 1000 + seq
    # calc_check_digit reads the first 17 characters of an 18-character number; the placeholder is ignored.
    return pa.array([b + ric.calc_check_digit(b + "0") for b in _digits(body).to_pylist()], type=STRING)


def _person(chunk: _Chunk, pools: _Pools, rng: np.random.Generator) -> tuple[_People, pa.Table]:
    n = chunk.size
    district = rng.choice(len(sy.DISTRICTS), size=n, p=_DISTRICT_P).astype(np.int64)
    male = rng.random(n) < 0.5
    year = rng.choice(_BIRTH_YEARS, size=n, p=_BIRTH_YEAR_P)
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    dec31 = (year - 1969).astype("datetime64[Y]").astype("datetime64[D]") - np.timedelta64(1, "D")
    birth = _uniform_days(rng, jan1, dec31)
    seq, birth = _sequence_numbers(chunk, district, birth, male)
    birth_ymd = _ymd(birth)
    age = (_REF_YMD - birth_ymd) // 10000
    ids = _id_numbers(district, birth_ymd, seq)

    # Given names: one of Faker's own draws, or two of its one-character names for a two-character name.
    sex = male.astype(np.int64)
    single = pools.given_single
    two_chars = _join(_draw_by_sex(rng, single, male), _draw_by_sex(rng, single, male))
    given = pc.if_else(pa.array(rng.random(n) < 0.55), two_chars, _draw_by_sex(rng, pools.given_any, male))
    name = _join(_draw(rng, pools.surnames, n), given)

    # Children under 12 have no phone of their own.
    prefix = pools.mobile_prefixes[rng.integers(0, pools.mobile_prefixes.size, n)]
    mobile = pc.cast(pa.array(prefix * 10**8 + rng.integers(0, 10**8, n), mask=age < 12), STRING)

    # Registered at birth since household registers were computerised (here: 1985); a fifth moved in later.
    register_from = np.maximum(birth, np.datetime64("1985-01-01"))
    registered = _uniform_days(rng, register_from, register_from + np.timedelta64(60, "D"))
    moved = (rng.random(n) < 0.2) & (age >= 19)
    adult_from = birth[moved] + np.timedelta64(18 * 365, "D")
    registered[moved] = _uniform_days(rng, np.maximum(adult_from, registered[moved]), np.full(moved.sum(), _REF_DAY))
    registered = np.minimum(registered, _REF_DAY)
    office_seconds = rng.integers(int(8.5 * 3600), 17 * 3600, n)

    given_length = pc.utf8_length(given).to_numpy().astype(np.int64)
    people = _People(ids, district, male, birth, birth_ymd, age, given_length)
    return people, _table("person", {
        "id_number": ids,
        "name": name,
        "sex": _take(_SEXES, sex),
        "birth_date": pa.array(birth, type=DATE),
        "ethnicity": _take(_ETHNICITIES, rng.choice(len(sy.ETHNICITIES), size=n, p=_ETHNICITY_P)),
        "mobile": mobile,
        "district_code": _take(_DISTRICT_CODES, district),
        "address": _addresses(rng, pools, district),
        "registered_at": _timestamps(registered, office_seconds),
    })  # fmt: skip


def _organization_bodies(global_index: Ints, modern: Bools, seed: int) -> list[str]:
    """8-character organization code bodies, unique city-wide: the enterprise's global index, scrambled by
    an affine map that is a bijection on the code space (the multiplier is coprime to its size)."""
    salt = int(_mix(np.array([seed], dtype=np.int64))[0])
    base = len(_USCC_ALPHABET)
    digits = (global_index * 48_271_043 + salt % 10**8) % 10**8
    letters = (global_index * 16_807_001 + salt % base**6) % base**6
    bodies = []
    for is_modern, d, v in zip(modern.tolist(), digits.tolist(), letters.tolist(), strict=True):
        if is_modern:
            chars = []
            for _ in range(6):
                v, r = divmod(v, base)
                chars.append(_USCC_ALPHABET[r])
            bodies.append("MA" + "".join(reversed(chars)))
        else:
            bodies.append(f"{d:08d}")
    return bodies


def _enterprise(
    chunk: _Chunk, pools: _Pools, rng: np.random.Generator, people: _People, seed: int
) -> tuple[_Firms, pa.Table]:
    adults = np.flatnonzero(people.age >= 22)
    m = chunk.enterprises if adults.size else 0
    rep = rng.choice(adults, size=m) if m else np.zeros(0, dtype=np.int64)
    # Founded once the representative was 20, and not before the market reforms of the early 1990s.
    earliest = np.maximum(people.birth[rep] + np.timedelta64(20 * 365, "D"), np.datetime64("1992-01-01"))
    established = _uniform_days(rng, earliest, np.full(m, _REF_DAY))
    district = np.where(
        rng.random(m) < 0.8, people.district[rep], rng.choice(len(sy.DISTRICTS), size=m, p=_DISTRICT_P)
    ).astype(np.int64)
    codes = _DISTRICT_CODES.to_pylist()
    bodies = _organization_bodies(
        np.arange(chunk.enterprise_start, chunk.enterprise_start + m, dtype=np.int64),
        established >= _MODERN_ORG_CODE_SINCE,
        seed,
    )
    credit_codes = pa.array(
        [sy.credit_code(sy.ENTERPRISE, codes[d], b) for d, b in zip(district.tolist(), bodies, strict=True)],
        type=STRING,
    )
    industry = rng.integers(0, len(sy.ENTERPRISE_INDUSTRIES), m)
    name = _join(
        "沈阳",
        _draw(rng, pools.brand_words, m),
        _take(_INDUSTRY_TRADES, industry),
        _take(_LEGAL_FORMS, rng.choice(len(_LEGAL_FORM_P), size=m, p=_LEGAL_FORM_P)),
    )
    capital_wan = np.clip(np.rint(rng.lognormal(np.log(100), 1.3, m)), 1, 100_000).astype(np.int64)
    status = rng.choice(len(_STATUS_P), size=m, p=_STATUS_P)
    # Only going concerns that existed before the first contribution month employ anyone.
    employs = (status < _ACTIVE_STATUSES) & (established < _day(FIRST_MONTH))
    firms = _Firms(credit_codes, np.flatnonzero(employs), rep, established, district, industry, status)
    return firms, _table("enterprise", {
        "credit_code": credit_codes,
        "name": name,
        "legal_representative_id": _take(people.ids, rep),
        "industry_code": _take(_INDUSTRY_CODES, industry),
        "registered_capital": _money(capital_wan * 10_000 * 100),
        "established_on": pa.array(established, type=DATE),
        "district_code": _take(_DISTRICT_CODES, district),
        "address": _addresses(rng, pools, district),
        "status": _take(_STATUSES, status),
    })  # fmt: skip


def _jobs(rng: np.random.Generator, people: _People, firms: _Firms) -> _Jobs:
    retirement = np.where(people.male, 60, 55)
    employed = (people.age >= 18) & (people.age < retirement) & (rng.random(people.age.size) < 0.72)
    person = np.flatnonzero(employed) if firms.active.size else np.zeros(0, dtype=np.int64)
    employer = person
    if person.size:
        size = _weights(rng.lognormal(0.0, 1.2, firms.active.size))  # a few large employers, many small ones
        employer = firms.active[rng.choice(firms.active.size, size=person.size, p=size)]
    base = np.clip(np.rint(rng.lognormal(np.log(6500), 0.45, person.size)), _BASE_FLOOR, _BASE_CEILING)
    return _Jobs(person, employer, base.astype(np.int64))


def _social_insurance(people: _People, firms: _Firms, jobs: _Jobs) -> pa.Table:
    # Every employee pays every insurance every month: rows are (employee, type, month), in that order.
    kinds, months = len(_INSURANCE_TYPES), MONTHS
    job = np.repeat(np.arange(jobs.person.size), kinds * months)
    kind = np.tile(np.repeat(np.arange(kinds), months), jobs.person.size)
    month = np.tile(np.arange(months), jobs.person.size * kinds)
    base_cents = jobs.base_yuan[job] * 100
    amount = (base_cents * _INSURANCE_RATE_BP[kind] + 5000) // 10000
    return _table("social_insurance", {
        "id_number": _take(people.ids, jobs.person[job]),
        "employer_credit_code": _take(firms.credit_codes, jobs.employer[job]),
        "insurance_type": _take(_INSURANCE_TYPES, kind),
        "month": pa.array(_MONTH_DAYS[month], type=DATE),
        "contribution_base": _money(base_cents),
        "amount": _money(amount),
    })  # fmt: skip


def _housing_fund(rng: np.random.Generator, people: _People, firms: _Firms, jobs: _Jobs) -> pa.Table:
    holders = np.flatnonzero(rng.random(jobs.person.size) < 0.65)
    rate_pct = rng.choice(np.arange(5, 13), size=holders.size, p=_weights([3, 2, 2, 2, 2, 2, 2, 5]))
    # Employer and employee each deposit base × rate, rounded to the yuan.
    deposit = np.rint(jobs.base_yuan[holders] * rate_pct / 100).astype(np.int64) * 2 * 100
    months_worked = np.clip((people.age[jobs.person[holders]] - 22) * 12, 0, 360)
    opening = deposit * (rng.random(holders.size) * months_worked * 0.5).astype(np.int64)  # less withdrawals
    row = np.repeat(np.arange(holders.size), MONTHS)
    month = np.tile(np.arange(MONTHS), holders.size)
    return _table("housing_fund", {
        "id_number": _take(people.ids, jobs.person[holders][row]),
        "employer_credit_code": _take(firms.credit_codes, jobs.employer[holders][row]),
        "month": pa.array(_MONTH_DAYS[month], type=DATE),
        "deposit": _money(deposit[row]),
        "balance": _money(opening[row] + deposit[row] * (month + 1)),
    })  # fmt: skip


def _clinic_visit(rng: np.random.Generator, people: _People) -> pa.Table:
    rate = np.where(people.age < 7, 2.0, np.where(people.age >= 65, 2.4, 0.9))  # visits per half year
    person = np.repeat(np.arange(people.age.size), rng.poisson(rate))
    v = person.size
    child = people.age[person] < 14
    diagnosis = np.where(
        child,
        rng.choice(len(sy.DIAGNOSES), size=v, p=_DIAGNOSIS_P_CHILD),
        rng.choice(len(sy.DIAGNOSES), size=v, p=_DIAGNOSIS_P_ADULT),
    )
    department = _DIAGNOSIS_DEPT_IDX[diagnosis]
    department = np.where(child & (department == _INTERNAL_MEDICINE), _PAEDIATRICS, department)
    # Just over half go to a city hospital, the rest to their district's own.
    city = len(sy.CITY_HOSPITALS)
    hospital = np.where(rng.random(v) < 0.55, rng.integers(0, city, v), city + people.district[person])
    days = _uniform_days(rng, np.full(v, _day(FIRST_MONTH)), np.full(v, _REF_DAY))
    fee = np.rint(rng.lognormal(np.log(160), 0.8, v) * 100).astype(np.int64)
    return _table("clinic_visit", {
        "id_number": _take(people.ids, person),
        "hospital": _take(_HOSPITALS, hospital),
        "visit_date": pa.array(days, type=DATE),
        "department": _take(_DEPARTMENTS, department),
        "diagnosis_code": _take(_DIAGNOSIS_CODES, diagnosis),
        "diagnosis_name": _take(_DIAGNOSIS_NAMES, diagnosis),
        "fee": _money(fee),
    })  # fmt: skip


def _pupils(people: _People) -> tuple[Ints, Ints]:
    """The persons in grades 1–12 this school year, and their grades."""
    cutoff = SCHOOL_YEAR_START.year * 10000 + 831  # a child who is 6 by 31 August starts school that September
    grade = (cutoff - people.birth_ymd) // 10000 - 5
    pupil = np.flatnonzero((grade >= 1) & (grade <= 12))
    return pupil, grade[pupil]


def _school_enrolment(rng: np.random.Generator, people: _People) -> pa.Table:
    start = SCHOOL_YEAR_START
    pupil, grade = _pupils(people)
    stage = np.searchsorted(_STAGE_FIRST_GRADE, grade, side="right") - 1
    district = people.district[pupil]
    pick = (rng.random(pupil.size) * _STAGE_SCHOOLS[stage]).astype(np.int64)
    school = district * _SCHOOLS_PER_DISTRICT + _STAGE_OFFSET[stage] + pick
    entry_year = start.year - (grade - _STAGE_FIRST_GRADE[stage])  # entered this stage of school that year
    return _table("school_enrolment", {
        "id_number": _take(people.ids, pupil),
        "school": _take(_SCHOOLS, school),
        "grade": _take(_GRADES, grade - 1),
        "enrolled_on": pa.array(_september_first(entry_year), type=DATE),
        "district_code": _take(_DISTRICT_CODES, district),
    })  # fmt: skip


def _september_first(years: Ints) -> Days:
    months = (years - 1970).astype("datetime64[Y]").astype("datetime64[M]") + np.timedelta64(8, "M")
    return months.astype("datetime64[D]")


def _bus_card_trip(chunk: _Chunk, pools: _Pools, rng: np.random.Generator, people: _People) -> pa.Table:
    age = people.age
    holds = rng.random(age.size) < np.select([age < 6, age <= 18, age < 60], [0.0, 0.75, 0.45], 0.7)
    holder = np.flatnonzero(holds)
    anonymous = rng.binomial(holder.size, 0.25)
    card_person = np.concatenate([holder, np.full(anonymous, -1, dtype=np.int64)])
    # Card serials are dealt out in disjoint per-chunk ranges, so card numbers are unique city-wide.
    card_no = _digits(_CARD_ISSUER + chunk.start * 2 + np.arange(card_person.size, dtype=np.int64))
    card = np.repeat(np.arange(card_person.size), rng.poisson(4.5, card_person.size))
    t = card.size
    # Morning and evening peaks over a flat daytime base, local time.
    peak = rng.random(t)
    hour = np.select(
        [peak < 0.35, peak < 0.7], [rng.normal(7.8, 0.6, t), rng.normal(17.8, 0.7, t)], rng.uniform(6, 21, t)
    )
    seconds = (np.clip(hour, 5.5, 22.5) * 3600).astype(np.int64)
    day = _day(TRIP_WEEK_START) + rng.integers(0, 7, t)
    order = np.lexsort((seconds, day.astype(np.int64), card))
    card, seconds, day = card[order], seconds[order], day[order]
    person = card_person[card]
    named = person >= 0
    rider_age = np.where(named, age[np.maximum(person, 0)], 30)
    fare = np.select([rider_age >= 65, (rider_age >= 6) & (rider_age <= 18)], [0, 100], 200).astype(np.int64)
    return _table("bus_card_trip", {
        "card_no": _take(card_no, card),
        "id_number": people.ids.take(pa.array(person, mask=~named)),
        "line": _draw(rng, _BUS_LINES, t),
        "boarded_at": _timestamps(day, seconds),
        "station": _draw(rng, pools.stations, t),
        "fare": _money(fare),
    })  # fmt: skip


# --- Departmental registers ---------------------------------------------------------------------------------
#
# The same persons and enterprises as other departments hold them. Each record starts from the authoritative row
# (household register, business licence) and then gets, independently per record and per field, the noise of a
# real register: an ID missing or mistyped, a name miswritten, a birth date off, an older phone number, an old
# address. A mistyped ID or credit code fails its check character by construction (one changed character or two
# swapped ones always change a GB 11643 / GB 32100 weighted sum), so a register's valid ID is always the true one.

_UPDATED_SINCE: Final = _day(date(REFERENCE_DATE.year - 6, REFERENCE_DATE.month, REFERENCE_DATE.day))


@dataclass(frozen=True, slots=True)
class _IdNoise:
    missing: float  # share of records without the ID
    invalid: float  # share of records with a mistyped one


# Tuned so that about 5 % of the records of person, insured_person, patient and student together lack a valid
# ID (the household register itself has none missing or invalid; hospitals register many without one).
_ID_NOISE: Final[Mapping[str, _IdNoise]] = {
    "insured_person": _IdNoise(0.03, 0.04),
    "patient": _IdNoise(0.05, 0.07),
    "student": _IdNoise(0.02, 0.03),
    "taxpayer": _IdNoise(0.02, 0.04),
    "employer": _IdNoise(0.04, 0.06),
}
_NAME_TYPO: Final = 0.03  # one character of the given name replaced by another
_NAME_SPACED: Final = 0.005  # a space or an ideographic space between surname and given name
_BIRTH_WRONG: Final = 0.02  # a day off by 1–3, or month and day swapped
_MOBILE_MISSING: Final = 0.10
_MOBILE_OTHER: Final = 0.20  # an older or newer number than the household register's
_GUARDIAN_MOBILE_MISSING: Final = 0.05
_ADDRESS_MOVED: Final = 0.15
_ADDRESS_NO_CITY: Final = 0.10  # written without the leading 沈阳市
_ENTERPRISE_MOVED: Final = 0.10
_ENTERPRISE_CITY: Final = 0.08  # the leading 沈阳 left out, or written 沈阳市
_ENTERPRISE_LEGAL_FORM: Final = 0.03  # 有限公司 ↔ 有限责任公司
_ENTERPRISE_TYPOGRAPHY: Final = 0.02  # (沈阳) in ASCII parentheses after the trade, or a trailing space

_ID_SYMBOLS: Final = np.frombuffer(b"0123456789X", dtype=np.uint8)
_ID_VALUE: Final = np.zeros(256, dtype=np.int64)
_ID_VALUE[_ID_SYMBOLS] = np.arange(_ID_SYMBOLS.size)
_USCC_SYMBOLS: Final = np.frombuffer(_USCC_ALPHABET.encode(), dtype=np.uint8)
_USCC_VALUE: Final = np.zeros(256, dtype=np.int64)
_USCC_VALUE[_USCC_SYMBOLS] = np.arange(_USCC_SYMBOLS.size)
_NULL_STRING: Final = pa.scalar(None, STRING)
_SPACES: Final = pa.array([" ", "\u3000"])

_RECORD_SPACE: Final = 10**10
_RECORD_MULTIPLIER: Final = 1_234_567_891  # coprime to 10**10; times any key < 10**10 it still fits a uint64


@dataclass(frozen=True, slots=True)
class _RegisterContext:
    chunk: _Chunk
    pools: _Pools
    seed: int
    people: _People
    person: pa.Table  # the chunk's rows of the person table

    def column(self, name: str) -> pa.Array:
        return self.person.column(name).combine_chunks()


def _record_ids(prefix: str, keys: Ints, seed: int, table: str) -> pa.Array:
    """``prefix`` + 10 digits: a city-wide unique key (< 10**10) scrambled by an affine bijection of the 10-digit
    numbers, so record numbers are unique, stable per seed, and say nothing of the order of persons."""
    salt = int(_mix(np.array([seed], dtype=np.int64), np.array([_STREAMS.index(table)], dtype=np.int64))[0])
    scrambled = (keys.astype(np.uint64) * np.uint64(_RECORD_MULTIPLIER) + np.uint64(salt % _RECORD_SPACE)) % np.uint64(
        _RECORD_SPACE
    )
    return _join(prefix, pc.utf8_lpad(_digits(scrambled.astype(np.int64)), 10, "0"))


def _rows_mask(n: int, rows: Ints) -> pa.Array:
    mask = np.zeros(n, dtype=np.bool_)
    mask[rows] = True
    return pa.array(mask)


def _replace_rows(values: pa.Array, rows: Ints, replacements: pa.Array) -> pa.Array:
    """``values`` with the (ascending) ``rows`` replaced by ``replacements``, in order."""
    return pc.replace_with_mask(values, _rows_mask(len(values), rows), replacements) if rows.size else values


def _char_matrix(values: pa.Array, width: int) -> npt.NDArray[np.uint8]:
    """The bytes of ASCII strings all ``width`` long (no nulls), one row each: a copy, free to change."""
    if len(values) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(len(values), width).copy()


def _from_char_matrix(chars: npt.NDArray[np.uint8], lengths: Ints) -> pa.Array:
    """Strings of the first ``lengths`` bytes of each row."""
    kept = chars[np.arange(chars.shape[1]) < lengths[:, None]]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.Array.from_buffers(STRING, lengths.size, [None, pa.py_buffer(offsets), pa.py_buffer(kept.tobytes())])


def _drawn_noise(rng: np.random.Generator, n: int, noise: _IdNoise) -> tuple[Bools, Ints]:
    """Which of ``n`` records lose their ID, and which (ascending) get a mistyped one."""
    u = rng.random(n)
    return u < noise.missing, np.flatnonzero((u >= noise.missing) & (u < noise.missing + noise.invalid))


def _noisy_ids(rng: np.random.Generator, ids: pa.Array, noise: _IdNoise) -> pa.Array:
    """Resident IDs, some missing and some invalid: one character mistyped, two adjacent digits of the body
    swapped (where they differ; else one mistyped), or the last character dropped."""
    missing, bad = _drawn_noise(rng, len(ids), noise)
    kind = rng.integers(0, 3, bad.size)  # 0 mistyped, 1 swapped, 2 truncated
    at = rng.integers(0, 18, bad.size)
    shift = rng.integers(1, 10, bad.size)  # < 10: a digit never turns into itself, nor the check character
    chars = _char_matrix(_take(ids, bad), 18)
    rows = np.arange(bad.size)
    left = np.minimum(at, 15)  # a swap stays within the 17 digits of the body
    a, b = chars[rows, left], chars[rows, left + 1]
    swap = (kind == 1) & (a != b)
    chars[rows[swap], left[swap]], chars[rows[swap], left[swap] + 1] = b[swap], a[swap]
    typo = (kind == 0) | ((kind == 1) & ~swap)
    symbols = np.where(at == 17, _ID_SYMBOLS.size, 10)  # the body holds digits, the check character also X
    typed = _ID_SYMBOLS[(_ID_VALUE[chars[rows, at]] + shift) % symbols]
    chars[rows[typo], at[typo]] = typed[typo]
    invalid = _replace_rows(ids, bad, _from_char_matrix(chars, np.where(kind == 2, 17, 18)))
    return pc.if_else(pa.array(missing), _NULL_STRING, invalid)


def _noisy_credit_codes(rng: np.random.Generator, codes: pa.Array, noise: _IdNoise) -> pa.Array:
    """Credit codes, some missing and some invalid: one character mistyped within the GB 32100 alphabet, or
    the last one dropped. (Lower case is not noise here: standardization repairs it.)"""
    missing, bad = _drawn_noise(rng, len(codes), noise)
    truncated = rng.random(bad.size) < 1 / 3
    at = rng.integers(0, 18, bad.size)
    shift = rng.integers(1, _USCC_SYMBOLS.size, bad.size)
    chars = _char_matrix(_take(codes, bad), 18)
    rows = np.arange(bad.size)
    typed = _USCC_SYMBOLS[(_USCC_VALUE[chars[rows, at]] + shift) % _USCC_SYMBOLS.size]
    chars[rows, at] = np.where(truncated, chars[rows, at], typed)
    invalid = _replace_rows(codes, bad, _from_char_matrix(chars, np.where(truncated, 17, 18)))
    return pc.if_else(pa.array(missing), _NULL_STRING, invalid)


def _splice(values: pa.Array, from_end: Ints, drop: int, insert: pa.Array) -> pa.Array:
    """Each value with ``drop`` characters replaced by ``insert``, starting ``from_end`` characters before its end."""
    out = values
    for e in np.unique(from_end).tolist():
        head = pc.utf8_slice_codeunits(values, 0, -e) if e else values
        rest = e - drop
        tail = pc.utf8_slice_codeunits(values, -rest) if rest else pc.utf8_slice_codeunits(values, 0, 0)
        out = pc.if_else(pa.array(from_end == e), _join(head, insert, tail), out)
    return out


def _char_from_end(values: pa.Array, from_end: Ints) -> pa.Array:
    """The character ``from_end`` characters before the end of each value (1: the last)."""
    out = pc.utf8_slice_codeunits(values, 0, 0)
    for e in np.unique(from_end).tolist():
        char = pc.utf8_slice_codeunits(values, -e, -e + 1) if e > 1 else pc.utf8_slice_codeunits(values, -1)
        out = pc.if_else(pa.array(from_end == e), char, out)
    return out


def _noisy_names(rng: np.random.Generator, pools: _Pools, names: pa.Array, given: Ints, male: Bools) -> pa.Array:
    u = rng.random(len(names))
    typo = np.flatnonzero(u < _NAME_TYPO)
    spaced = np.flatnonzero((u >= _NAME_TYPO) & (u < _NAME_TYPO + _NAME_SPACED))
    # One character of the given name becomes another given-name character of the same sex, never itself.
    old = _take(names, typo)
    from_end = 1 + (rng.random(typo.size) * given[typo]).astype(np.int64)
    was = _char_from_end(old, from_end)
    char = _draw_by_sex(rng, pools.given_single, male[typo])
    for _ in range(100):
        same = pc.equal(char, was).to_numpy(zero_copy_only=False).astype(np.bool_)
        if not same.any():
            break
        char = _replace_rows(char, np.flatnonzero(same), _draw_by_sex(rng, pools.given_single, male[typo][same]))
    names = _replace_rows(names, typo, _splice(old, from_end, 1, char))
    # A space typed between surname and given name.
    space = _take(_SPACES, rng.integers(0, len(_SPACES), spaced.size))
    return _replace_rows(names, spaced, _splice(_take(names, spaced), given[spaced], 0, space))


def _dates(year: Ints, month: Ints, day: Ints) -> Days:
    months = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    return months.astype("datetime64[D]") + (day - 1)


def _noisy_birth_dates(rng: np.random.Generator, birth: Days) -> Days:
    wrong = np.flatnonzero(rng.random(birth.size) < _BIRTH_WRONG)
    swap = rng.random(wrong.size) < 0.5
    offset = rng.integers(1, 4, wrong.size) * rng.choice(np.array([-1, 1]), wrong.size)
    ymd = _ymd(birth[wrong])
    year, month, day = ymd // 10000, ymd // 100 % 100, ymd % 100
    swap &= (day <= 12) & (day != month)  # month and day swapped only where that is another real date
    out = birth.copy()
    out[wrong] = np.where(swap, _dates(year, day, month), birth[wrong] + offset)
    return out


def _noisy_mobiles(rng: np.random.Generator, pools: _Pools, mobiles: pa.Array) -> pa.Array:
    """The household register's mobile numbers (null for children), some left out, some another number."""
    n = len(mobiles)
    u = rng.random(n)
    prefix = pools.mobile_prefixes[rng.integers(0, pools.mobile_prefixes.size, n)]
    other = _digits(prefix * 10**8 + rng.integers(0, 10**8, n))
    changed = (u >= _MOBILE_MISSING) & (u < _MOBILE_MISSING + _MOBILE_OTHER)
    out = pc.if_else(pc.and_(pa.array(changed), pc.is_valid(mobiles)), other, mobiles)
    return pc.if_else(pa.array(u < _MOBILE_MISSING), _NULL_STRING, out)


def _moved(
    rng: np.random.Generator, pools: _Pools, addresses: pa.Array, district: Ints, share: float, same_district: float
) -> pa.Array:
    """Addresses, a ``share`` of them replaced by another street and number, in the same district or another."""
    moved = np.flatnonzero(rng.random(len(addresses)) < share)
    other = rng.choice(len(sy.DISTRICTS), size=moved.size, p=_DISTRICT_P)
    to = np.where(rng.random(moved.size) < same_district, district[moved], other).astype(np.int64)
    return _replace_rows(addresses, moved, _addresses(rng, pools, to))


def _updated_at(rng: np.random.Generator, earliest: Days) -> pa.Array:
    """When each record last changed: a working-hours moment of the last six years, not before ``earliest``."""
    days = _uniform_days(rng, np.maximum(earliest, _UPDATED_SINCE), np.full(earliest.size, _REF_DAY))
    return _timestamps(days, rng.integers(int(8.5 * 3600), 17 * 3600, earliest.size))


def _person_records(
    ctx: _RegisterContext, rng: np.random.Generator, who: Ints, table: str, prefix: str, copy: Ints | None = None
) -> tuple[dict[str, pa.Array], pa.Array]:
    """The columns every person register has, for the persons ``who`` (a person may appear more than once, as
    ``copy`` 0, 1, …), and the true ID of each record."""
    people, pools = ctx.people, ctx.pools
    ids = _take(people.ids, who)
    key = (ctx.chunk.start + who) * 2 + (0 if copy is None else copy)
    addresses = _moved(rng, pools, _take(ctx.column("address"), who), people.district[who], _ADDRESS_MOVED, 0.6)
    no_city = pa.array(rng.random(who.size) < _ADDRESS_NO_CITY)
    columns = {
        "record_id": _record_ids(prefix, key, ctx.seed, table),
        "id_number": _noisy_ids(rng, ids, _ID_NOISE[table]),
        "name": _noisy_names(rng, pools, _take(ctx.column("name"), who), people.given_length[who], people.male[who]),
        "sex": _take(_SEXES, people.male[who].astype(np.int64)),
        "birth_date": pa.array(_noisy_birth_dates(rng, people.birth[who]), type=DATE),
        "address": pc.if_else(no_city, pc.utf8_slice_codeunits(addresses, len(sy.CITY_NAME)), addresses),
        "updated_at": _updated_at(rng, people.birth[who]),
    }
    return columns, ids


def _insured_person(ctx: _RegisterContext, rng: np.random.Generator) -> tuple[pa.Table, pa.Array]:
    age = ctx.people.age
    who = rng.permutation(np.flatnonzero((age >= 16) & (age <= 65) & (rng.random(age.size) < 0.60)))
    columns, ids = _person_records(ctx, rng, who, "insured_person", "RS")
    columns["mobile"] = _noisy_mobiles(rng, ctx.pools, _take(ctx.column("mobile"), who))
    return _table("insured_person", columns), ids


def _patient(ctx: _RegisterContext, rng: np.random.Generator) -> tuple[pa.Table, pa.Array]:
    # The master patient index of the city's hospitals: about half the residents, some of them registered twice
    # (at a second hospital, which has its own record of them).
    people = ctx.people
    n = people.age.size
    registered = rng.random(n) < 0.55
    twice = registered & (rng.random(n) < 0.08)
    city, hospitals = len(sy.CITY_HOSPITALS), len(_HOSPITALS)
    first = np.where(rng.random(n) < 0.55, rng.integers(0, city, n), city + people.district)
    second = (first + rng.integers(1, hospitals, n)) % hospitals
    who = np.concatenate([np.flatnonzero(registered), np.flatnonzero(twice)])
    copy = np.concatenate([np.zeros(registered.sum(), dtype=np.int64), np.ones(twice.sum(), dtype=np.int64)])
    order = rng.permutation(who.size)
    who, copy = who[order], copy[order]
    columns, ids = _person_records(ctx, rng, who, "patient", "WJ", copy)
    columns["mobile"] = _noisy_mobiles(rng, ctx.pools, _take(ctx.column("mobile"), who))
    columns["hospital"] = _take(_HOSPITALS, np.where(copy == 0, first[who], second[who]))
    return _table("patient", columns), ids


def _student(ctx: _RegisterContext, rng: np.random.Generator) -> tuple[pa.Table, pa.Array]:
    pupil, _ = _pupils(ctx.people)
    who = rng.permutation(pupil)
    columns, ids = _person_records(ctx, rng, who, "student", "JY")
    # A guardian's phone: some adult of the chunk of parents' age (the generator keeps no families).
    age = ctx.people.age
    adults = np.flatnonzero((age >= 25) & (age <= 55))
    if adults.size:
        guardian = _take(ctx.column("mobile"), adults[rng.integers(0, adults.size, who.size)])
        missing = pa.array(rng.random(who.size) < _GUARDIAN_MOBILE_MISSING)
        columns["guardian_mobile"] = pc.if_else(missing, _NULL_STRING, guardian)
    else:
        columns["guardian_mobile"] = pa.nulls(who.size, STRING)
    return _table("student", columns), ids


def _noisy_enterprise_names(rng: np.random.Generator, names: pa.Array) -> pa.Array:
    n = len(names)
    u = rng.random(n)
    half = rng.random(n) < 0.5
    city = u < _ENTERPRISE_CITY
    out = pc.if_else(pa.array(city & half), pc.replace_substring_regex(names, "^沈阳", "沈阳市"), names)
    out = pc.if_else(pa.array(city & ~half), pc.replace_substring_regex(out, "^沈阳", ""), out)
    low = _ENTERPRISE_CITY
    form = (u >= low) & (u < low + _ENTERPRISE_LEGAL_FORM)
    swapped = pc.if_else(
        pc.ends_with(out, "有限责任公司"),
        pc.replace_substring_regex(out, "有限责任公司$", "有限公司"),
        pc.replace_substring_regex(out, "(^|[^份])有限公司$", r"\1有限责任公司"),  # 股份有限公司 stays
    )
    out = pc.if_else(pa.array(form), swapped, out)
    low += _ENTERPRISE_LEGAL_FORM
    typography = (u >= low) & (u < low + _ENTERPRISE_TYPOGRAPHY)
    parenthesized = pc.replace_substring_regex(
        out, "^沈阳(.+?)(股份有限公司|有限责任公司|有限公司)$", r"\1(沈阳)\2"
    )  # 沈阳某某科技有限公司 → 某某科技(沈阳)有限公司, in ASCII parentheses
    out = pc.if_else(pa.array(typography & half), parenthesized, out)
    return pc.if_else(pa.array(typography & ~half), _join(out, " "), out)


def _enterprise_column(enterprise: pa.Table, name: str, who: Ints) -> pa.Array:
    return _take(enterprise.column(name).combine_chunks(), who)


def _taxpayer(
    ctx: _RegisterContext, rng: np.random.Generator, credit: np.random.Generator, firms: _Firms, enterprise: pa.Table
) -> tuple[pa.Table, pa.Array]:
    who = rng.permutation(np.flatnonzero(rng.random(len(firms.credit_codes)) < 0.85))
    codes = _take(firms.credit_codes, who)
    registered = np.minimum(firms.established[who] + rng.integers(0, 31, who.size), _REF_DAY)
    address = _enterprise_column(enterprise, "address", who)
    return _table("taxpayer", {
        "record_id": _record_ids("SW", ctx.chunk.enterprise_start + who, ctx.seed, "taxpayer"),
        "credit_code": _noisy_credit_codes(rng, codes, _ID_NOISE["taxpayer"]),
        "name": _noisy_enterprise_names(rng, _enterprise_column(enterprise, "name", who)),
        "legal_representative": _take(ctx.column("name"), firms.representative[who]),
        "address": _moved(rng, ctx.pools, address, firms.district[who], _ENTERPRISE_MOVED, 0.5),
        "registered_on": pa.array(registered, type=DATE),
        "credit_grade": _credit_grades(credit, who.size),
        "updated_at": _updated_at(rng, registered),
    }), codes  # fmt: skip


def _employer(
    ctx: _RegisterContext, rng: np.random.Generator, arrears: np.random.Generator, firms: _Firms, enterprise: pa.Table
) -> tuple[pa.Table, pa.Array]:
    who = rng.permutation(firms.active)
    m = who.size
    codes = _take(firms.credit_codes, who)
    address = _enterprise_column(enterprise, "address", who)
    # The contact: an office landline, or the legal representative's mobile, or none.
    u = rng.random(m)
    landline = _join("024-", _digits(rng.integers(2, 9, m) * 10**7 + rng.integers(0, 10**7, m)))
    phone = pc.if_else(pa.array(u < 0.5), landline, _take(ctx.column("mobile"), firms.representative[who]))
    return _table("employer", {
        "record_id": _record_ids("DW", ctx.chunk.enterprise_start + who, ctx.seed, "employer"),
        "credit_code": _noisy_credit_codes(rng, codes, _ID_NOISE["employer"]),
        "name": _noisy_enterprise_names(rng, _enterprise_column(enterprise, "name", who)),
        "address": _moved(rng, ctx.pools, address, firms.district[who], _ENTERPRISE_MOVED, 0.5),
        "contact_phone": pc.if_else(pa.array(u >= 0.9), _NULL_STRING, phone),
        "wage_arrears": _wage_arrears(arrears, m),
        "updated_at": _updated_at(rng, firms.established[who]),
    }), codes  # fmt: skip


# --- Social credit ------------------------------------------------------------------------------------------
#
# Two flags of the social credit library (社会信用基础库) ride on registers above: the tax office's credit grade of
# each taxpayer (纳税信用等级) and the labour inspectorate's list of employers in wage arrears (拖欠工资失信名单).
# Each is drawn from a stream of its own, so the registers' other columns are the rows they were without them.

_CREDIT_GRADES: Final = pa.array(["A", "B", "M", "C", "D"])
_CREDIT_GRADE_P: Final = _weights([35, 40, 15, 7, 3])
_CREDIT_GRADE_MISSING: Final = 0.05  # not rated (yet)
_WAGE_ARREARS: Final = 0.02


def _credit_grades(rng: np.random.Generator, n: int) -> pa.Array:
    grade = _take(_CREDIT_GRADES, rng.choice(len(_CREDIT_GRADE_P), size=n, p=_CREDIT_GRADE_P))
    return pc.if_else(pa.array(rng.random(n) < _CREDIT_GRADE_MISSING), _NULL_STRING, grade)


def _wage_arrears(rng: np.random.Generator, n: int) -> pa.Array:
    return pa.array(rng.random(n) < _WAGE_ARREARS, type=BOOL)


# --- Electronic licences: food business licences and their pushes to the sharing platform -------------------------
#
# 食品经营许可证 numbers are JY + 14 digits: the 主体业态 (1 食品销售经营者, 2 餐饮服务经营者, 3 单位食堂), the
# province (21 辽宁), the city (01 沈阳), the county (the last two digits of the holder's district code), a 6-digit
# serial and a check digit. The real numbering's check digit is not public: this one is the demo's own, the Luhn
# digit of the 13 digits before it. The issuing system pushes each licence to the data bureau's platform; what
# arrives there has the noise of an interface fed by hand-kept systems.

_LICENCE_TYPE: Final = "食品经营许可证"
_LICENCE_SHARE: Final = 0.30  # of the enterprises
_FOOD_TRADES: Final = {"5211": 1, "5212": 1, "5213": 1, "5292": 1, "6110": 2, "6210": 2, "6220": 2}  # → 主体业态
_FOOD_FORM: Final = np.array([_FOOD_TRADES.get(i.code, 0) for i in sy.ENTERPRISE_INDUSTRIES], dtype=np.int64)
_FOOD_TRADE_LICENSED: Final = 0.9  # shops and restaurants; other enterprises hold one for their canteen or a sideline
_FOOD_TRADE_SHARE: Final = float((_FOOD_FORM > 0).mean())
_OTHER_LICENSED: Final = (_LICENCE_SHARE - _FOOD_TRADE_SHARE * _FOOD_TRADE_LICENSED) / (1 - _FOOD_TRADE_SHARE)
_CANTEEN_SHARE: Final = 0.6  # of the licences of other enterprises: 单位食堂, the rest 食品销售
_LICENCE_PROVINCE_CITY: Final = 2101
_LICENCE_SERIALS: Final = 10**6  # serials are unique city-wide while the city has fewer enterprises than this
_LICENCE_SERIAL_MULTIPLIER: Final = 7_654_321  # coprime to 10**6
_LICENCE_YEARS: Final = 5
_LICENCE_RENEWED_EARLY_DAYS: Final = 30  # a renewal is issued up to a month before the old licence runs out
_LICENCE_LAPSED: Final = 0.08  # of the licences due for renewal: not renewed, so expired
_LICENCE_CANCELLED: Final = 0.9  # of the licences of deregistered, revoked or moved-out enterprises
_LICENCE_STATUSES: Final = pa.array(["有效", "注销", "过期"])
_VALID, _CANCELLED, _EXPIRED = 0, 1, 2

_LICENCE_PUSHED: Final = 0.90
_LICENCE_PUSHED_TWICE: Final = 0.06  # of the pushed licences: a second push, a record of its own
_LICENCE_NO_NOISE: Final = _IdNoise(0.04, 0.04)  # missing; malformed
_PUSH_CREDIT_CODE_NOISE: Final = _IdNoise(0.04, 0.06)  # as in the employer register
_ISSUED_DAY_OFF: Final = 0.02
_PLATFORM_SINCE: Final = _day(date(2021, 1, 1))  # the platform went live; older licences were loaded in 90 days


def _plus_years(days: Days, years: Ints) -> Days:
    """The same calendar day ``years`` later (29 February becomes 28 February in a common year)."""
    ymd = _ymd(days)
    first = _dates(ymd // 10000 + years, ymd // 100 % 100, np.ones(days.size, dtype=np.int64))
    month_days = ((first.astype("datetime64[M]") + 1).astype("datetime64[D]") - first).astype(np.int64)
    return first + np.minimum(ymd % 100, month_days) - 1


def _luhn_digits(numbers: Ints, width: int) -> Ints:
    """The Luhn check digit of each ``width``-digit number."""
    total = np.zeros(numbers.size, dtype=np.int64)
    for k in range(width):  # k = 0 is the rightmost digit, the check digit's neighbour: doubled
        digit = numbers // 10**k % 10
        if k % 2 == 0:
            digit = digit * 2 - 9 * (digit >= 5)
        total += digit
    return (10 - total % 10) % 10


def _licence_numbers(form: Ints, district: Ints, enterprise_index: Ints, seed: int) -> pa.Array:
    salt = int(_mix(np.array([seed], dtype=np.int64), np.array([_STREAMS.index("food_licence")]))[0])
    serial = (enterprise_index * _LICENCE_SERIAL_MULTIPLIER + salt) % _LICENCE_SERIALS
    county = _DISTRICT_CODE_INTS[district] % 100
    body = (form * 10**4 + _LICENCE_PROVINCE_CITY) * 10**8 + county * 10**6 + serial  # 13 digits
    return _join("JY", _digits(body * 10 + _luhn_digits(body, 13)))


@dataclass(frozen=True, slots=True)
class _Licences:
    """The chunk's food business licences, in the rows' order of the food_licence table."""

    firm: Ints  # the holder: index into _Firms
    numbers: pa.Array
    issued: Days
    valid_until: Days


def _food_licence(
    ctx: _RegisterContext, rng: np.random.Generator, firms: _Firms, enterprise: pa.Table
) -> tuple[_Licences, pa.Table]:
    m = firms.established.size
    trade_form = _FOOD_FORM[firms.industry]
    food = trade_form > 0
    licensed = (firms.established < _REF_DAY) & (rng.random(m) < np.where(food, _FOOD_TRADE_LICENSED, _OTHER_LICENSED))
    form = np.where(food, trade_form, np.where(rng.random(m) < _CANTEEN_SHARE, 3, 1))
    who = rng.permutation(np.flatnonzero(licensed))
    n = who.size
    # First issued within two months of establishment, then renewed every five years (up to a month before the
    # old one ran out), unless the holder let it lapse.
    first = np.minimum(firms.established[who] + rng.integers(1, 61, n), _REF_DAY)
    terms = (_REF_YMD - _ymd(first)) // 10000 // _LICENCE_YEARS
    terms -= (terms > 0) & (rng.random(n) < _LICENCE_LAPSED)
    early = np.where(terms > 0, rng.integers(0, _LICENCE_RENEWED_EARLY_DAYS + 1, n), 0)
    issued = _plus_years(first, terms * _LICENCE_YEARS) - early
    valid_until = _plus_years(issued, np.full(n, _LICENCE_YEARS))
    closed = (firms.status[who] >= _ACTIVE_STATUSES) & (rng.random(n) < _LICENCE_CANCELLED)
    status = np.where(closed, _CANCELLED, np.where(valid_until < _REF_DAY, _EXPIRED, _VALID))
    global_index = ctx.chunk.enterprise_start + who
    numbers = _licence_numbers(form[who], firms.district[who], global_index, ctx.seed)
    licences = _Licences(who, numbers, issued, valid_until)
    return licences, _table("food_licence", {
        "record_id": _record_ids("SP", global_index, ctx.seed, "food_licence"),
        "licence_no": numbers,
        "holder_credit_code": _take(firms.credit_codes, who),
        "holder_name": _enterprise_column(enterprise, "name", who),
        "address": _enterprise_column(enterprise, "address", who),
        "issued_on": pa.array(issued, type=DATE),
        "valid_until": pa.array(valid_until, type=DATE),
        "status": _take(_LICENCE_STATUSES, status),
        "updated_at": _updated_at(rng, issued),
    })  # fmt: skip


def _drop_char(chars: npt.NDArray[np.uint8], at: Ints) -> npt.NDArray[np.uint8]:
    """Each row without its character ``at``: one column narrower."""
    col = np.arange(chars.shape[1] - 1)
    return np.take_along_axis(chars, np.where(col < at[:, None], col, col + 1), axis=1)


def _insert_char(chars: npt.NDArray[np.uint8], at: Ints, char: int) -> npt.NDArray[np.uint8]:
    """Each row with ``char`` inserted before its character ``at``: one column wider."""
    col = np.arange(chars.shape[1] + 1)
    out = np.take_along_axis(chars, np.clip(np.where(col < at[:, None], col, col - 1), 0, None), axis=1)
    out[np.arange(at.size), at] = char
    return out


def _noisy_licence_numbers(rng: np.random.Generator, numbers: pa.Array, noise: _IdNoise) -> pa.Array:
    """Licence numbers, some missing and some malformed so that they no longer read JY + 14 digits: a digit
    dropped, the letter O typed for a 0, the JY in lower case, or a space typed inside."""
    missing, bad = _drawn_noise(rng, len(numbers), noise)
    n = bad.size
    kind = rng.integers(0, 4, n)  # 0 dropped, 1 letter O, 2 lower case, 3 space
    dropped_at = rng.integers(2, 16, n)
    zero_pick = rng.random((n, 14))
    space_at = rng.integers(1, 16, n)  # never at an end, where trimming would take it away
    chars = _char_matrix(_take(numbers, bad), 16)
    out = np.zeros((n, 17), dtype=np.uint8)
    rows = np.arange(n)
    out[:, :15] = _drop_char(chars, dropped_at)
    letter = chars.copy()
    # Every number has a 0 (the city's 01): the O goes over one of its zeros, picked at random.
    letter[rows, 2 + np.argmax(zero_pick * (chars[:, 2:] == ord("0")), axis=1)] = ord("O")
    lower = chars.copy()
    lower[:, :2] = np.frombuffer(b"jy", dtype=np.uint8)
    out[kind == 1, :16] = letter[kind == 1]
    out[kind == 2, :16] = lower[kind == 2]
    out[kind == 3] = _insert_char(chars, space_at, ord(" "))[kind == 3]
    malformed = _replace_rows(numbers, bad, _from_char_matrix(out, np.select([kind == 0, kind == 3], [15, 17], 16)))
    return pc.if_else(pa.array(missing), _NULL_STRING, malformed)


def _licence_push(
    ctx: _RegisterContext, rng: np.random.Generator, licences: _Licences, enterprise: pa.Table
) -> tuple[pa.Table, pa.Array]:
    n = licences.firm.size
    pushed = rng.random(n) < _LICENCE_PUSHED
    twice = pushed & (rng.random(n) < _LICENCE_PUSHED_TWICE)
    # Pushed within two days of issue, or in the platform's first quarter for a licence issued before it; a second
    # push (a correction, a re-sent batch) some time later.
    backfill = _PLATFORM_SINCE + rng.integers(0, 90, n)
    first = np.minimum(
        np.where(licences.issued < _PLATFORM_SINCE, backfill, licences.issued + rng.integers(0, 3, n)), _REF_DAY
    )
    again = _uniform_days(rng, np.minimum(first + 1, _REF_DAY), np.full(n, _REF_DAY))
    which = np.concatenate([np.flatnonzero(pushed), np.flatnonzero(twice)])
    copy = np.concatenate([np.zeros(pushed.sum(), dtype=np.int64), np.ones(twice.sum(), dtype=np.int64)])
    order = rng.permutation(which.size)
    which, copy = which[order], copy[order]
    k = which.size
    firm = licences.firm[which]
    numbers = _take(licences.numbers, which)
    issued = licences.issued[which]
    off = rng.random(k) < _ISSUED_DAY_OFF
    sign = np.where((rng.random(k) < 0.5) | (issued >= _REF_DAY), -1, 1)
    day = np.where(copy == 0, first[which], again[which])
    return _table("licence_push", {
        "record_id": _record_ids("DZ", (ctx.chunk.enterprise_start + firm) * 2 + copy, ctx.seed, "licence_push"),
        "licence_type": pa.repeat(_LICENCE_TYPE, k).cast(STRING),
        "licence_no": _noisy_licence_numbers(rng, numbers, _LICENCE_NO_NOISE),
        "holder_credit_code": _noisy_credit_codes(
            rng, _enterprise_column(enterprise, "credit_code", firm), _PUSH_CREDIT_CODE_NOISE
        ),
        "holder_name": _noisy_enterprise_names(rng, _enterprise_column(enterprise, "name", firm)),
        "issued_on": pa.array(np.where(off, issued + sign, issued), type=DATE),
        "valid_until": pa.array(licences.valid_until[which], type=DATE),
        "pushed_at": _timestamps(day, rng.integers(0, 24 * 3600, k)),  # an interface, at any hour
    }), numbers  # fmt: skip


# --- Property units: the real-estate register and the housing bureau's building survey -----------------------------
#
# 不动产单元号 (GB/T 37346), 28 characters: the 6-digit district code, a 6-digit 地籍区 + 地籍子区, the 宗地 ownership
# (G 国有土地, J 集体土地), its feature letter (A 集体土地所有权, B 建设用地使用权（地表）, S/X 地上/地下, C 宅基地
# 使用权, D/E/F 土地承包经营权 of 耕地/林地/草原, W 未确定, Y 其他), the 5-digit 宗地 number, F (定着物 is a house)
# and the 8-digit 定着物 number (4-digit 幢号, 4-digit 户号). The city's units are flats in buildings of one or more
# entrances (单元), and in the counties also rural houses on their own homestead (宅基地). Each building stands on a
# parcel (宗地) of its own, numbered by the building's index interleaved between chunks, so no two units share a
# number without the chunks talking to each other.

_LAND_USES: Final = pa.array(["住宅", "商业", "办公", "工业"])
_LAND_USE_P: Final = _weights([82, 9, 5, 4])
_AREA_MEDIAN_M2: Final = np.array([90.0, 120.0, 150.0, 600.0])  # lognormal, by land use
_AREA_SIGMA: Final = np.array([0.3, 0.6, 0.5, 0.7])
_HOMESTEAD_AREA_M2: Final = 110.0
_RESIDENTIAL_FLOORS: Final = np.array([6, 7, 11, 18, 26, 33], dtype=np.int64)
_RESIDENTIAL_FLOORS_P: Final = _weights([30, 15, 15, 20, 12, 8])
_ENTRANCES: Final = (1, 5)  # a building has 1–4 entrances (单元), two flats a floor
_OTHER_FLOORS: Final = {3: (1, 4), 1: (3, 31)}  # industrial plants: 1–3 floors; shops and offices: 3–30
_COUNTY: Final = np.array([d.kind != "区" for d in sy.DISTRICTS])
# Rural houses on their own homestead, as a share of the units: few in the urban districts, many in the counties.
_HOMESTEAD_UNITS: Final = np.where(_COUNTY, 0.45, 0.02)
# Buildings are drawn one by one, so these shares are turned into shares of buildings (a homestead is one unit,
# another building holds _BUILDING_UNITS on average), and buildings are placed in districts by population per
# unit they hold: units, like residents, then follow the districts' population.
_BUILDING_UNITS: Final = float(
    2
    * np.mean(np.arange(*_ENTRANCES))
    * (
        _LAND_USE_P[0] * (_RESIDENTIAL_FLOORS * _RESIDENTIAL_FLOORS_P).sum()
        + _LAND_USE_P[1:3].sum() * np.mean(np.arange(*_OTHER_FLOORS[1]))
        + _LAND_USE_P[3] * np.mean(np.arange(*_OTHER_FLOORS[3]))
    )
)
_HOMESTEAD_SHARE: Final = (
    _HOMESTEAD_UNITS * _BUILDING_UNITS / (1 - _HOMESTEAD_UNITS + _HOMESTEAD_UNITS * _BUILDING_UNITS)
)
_BUILDING_DISTRICT_P: Final = _weights(
    np.array([d.population_weight for d in sy.DISTRICTS])
    / (_HOMESTEAD_SHARE + (1 - _HOMESTEAD_SHARE) * _BUILDING_UNITS)
)
_COLLECTIVE_LAND: Final = 0.10  # of the other buildings in the counties: built on collective land
_OWNERSHIPS: Final = pa.array(["G", "J"])
_PARCEL_FEATURES: Final = pa.array(list("ABSXCDEFWY"))
_FEATURE_B, _FEATURE_S, _FEATURE_X, _FEATURE_C = 1, 2, 3, 4
_ZONES, _SUBZONES = 20, 15  # 地籍区 and 地籍子区 of each district used by the demo's parcels
_PARCELS_PER_SUBZONE: Final = 99_999  # 宗地 numbers 00001–99999: room for 30 million buildings
_PARCEL_MULTIPLIER: Final = 1_000_003  # a prime that divides no parcel space size: the scramble is a bijection
_STRUCTURES: Final = pa.array(["钢混", "砖混", "框架"])
_CONCRETE, _BRICK, _FRAME = 0, 1, 2

_HOUSE_SHARE: Final = 0.80  # of the units, known to the housing bureau's survey
_UNIT_NO_NOISE: Final = _IdNoise(0.05, 0.04)  # missing; malformed
_HOUSE_ADDRESS_NOISE: Final = 0.15  # without 沈阳市, 栋 written 号楼, or 室 after the room number
_HOUSE_AREA_REMEASURED: Final = 0.10  # surveyed ± 0.5–3 % off the register's area


def _lpad(values: Ints, width: int) -> pa.Array:
    return pc.utf8_lpad(_digits(values), width, "0")


@dataclass(frozen=True, slots=True)
class _Units:
    """The chunk's property units, in the order of their global index (chunk.unit_start + i)."""

    unit_no: pa.Array
    address: pa.Array
    homestead: Bools  # a rural house: its address has no 栋, 单元 or room
    district: Ints
    area: Ints  # hundredths of a m²
    built_year: Ints
    structure: Ints


def _units(chunk: _Chunk, pools: _Pools, rng: np.random.Generator) -> tuple[_Units, Ints, Days]:
    """The chunk's units, their land use and their registration day."""
    m = b = chunk.units  # never more buildings than units: the buildings not needed are dropped
    district = rng.choice(len(sy.DISTRICTS), size=b, p=_BUILDING_DISTRICT_P).astype(np.int64)
    homestead = rng.random(b) < _HOMESTEAD_SHARE[district]
    use = np.where(homestead, 0, rng.choice(len(_LAND_USE_P), size=b, p=_LAND_USE_P))
    floors = np.select(
        [homestead, use == 0, use == 3],
        [
            1,
            _RESIDENTIAL_FLOORS[rng.choice(_RESIDENTIAL_FLOORS.size, size=b, p=_RESIDENTIAL_FLOORS_P)],
            rng.integers(*_OTHER_FLOORS[3], b),
        ],
        rng.integers(*_OTHER_FLOORS[1], b),
    )
    entrances = np.where(homestead, 1, rng.integers(*_ENTRANCES, b))
    size = np.where(homestead, 1, entrances * floors * 2)  # two flats a floor
    built_year = np.clip(np.rint(rng.normal(np.where(homestead, 1995, 2003), 12, b)), 1955, REFERENCE_DATE.year - 1)
    structure = np.select(
        [homestead | ((use == 0) & (floors <= 7) & (built_year < 2000)), (use > 0) & (rng.random(b) < 0.7)],
        [_BRICK, _FRAME],
        _CONCRETE,
    )
    collective = homestead | (_COUNTY[district] & (rng.random(b) < _COLLECTIVE_LAND))
    u = rng.random(b)
    feature = np.where(homestead, _FEATURE_C, np.select([u < 0.97, u < 0.99], [_FEATURE_B, _FEATURE_S], _FEATURE_X))
    building_no = rng.integers(1, 31, b)
    street = _draw(rng, pools.streets, b)
    number = _digits(rng.integers(1, 400, b))

    ends = np.cumsum(size)
    buildings = int(np.searchsorted(ends, m)) + 1 if m else 0
    building = np.repeat(np.arange(buildings), size[:buildings])[:m]
    rank = np.arange(m) - (ends - size)[building]
    per_entrance = floors[building] * 2
    entrance, within = rank // per_entrance + 1, rank % per_entrance
    floor, door = within // 2 + 1, within % 2 + 1

    # The building's parcel: its index interleaved between chunks, scrambled by an affine bijection of the parcel
    # space (地籍区 × 地籍子区 × 宗地 number), so that parcels spread over the sub-zones.
    parcel_space = _ZONES * _SUBZONES * _PARCELS_PER_SUBZONE
    scrambled = (building * chunk.count + chunk.index) * _PARCEL_MULTIPLIER % parcel_space
    parcel, place = np.divmod(scrambled, _ZONES * _SUBZONES)
    unit_no = _join(
        _take(_DISTRICT_CODES, district[building]),
        _lpad(place // _SUBZONES + 1, 3),
        _lpad(place % _SUBZONES + 1, 3),
        _take(_OWNERSHIPS, collective[building].astype(np.int64)),
        _take(_PARCEL_FEATURES, feature[building]),
        _lpad(parcel + 1, 5),
        "F",
        _lpad(building_no[building], 4),
        _lpad(rank + 1, 4),
    )
    plot = _join(_take(_DISTRICT_ADDRESS, district[building]), _take(street, building), _take(number, building), "号")
    flat = _join(plot, _digits(building_no[building]), "栋", _digits(entrance), "单元", _digits(floor), _lpad(door, 2))
    is_homestead = homestead[building]
    unit_use = use[building]
    median = np.where(is_homestead, _HOMESTEAD_AREA_M2, _AREA_MEDIAN_M2[unit_use])
    sigma = np.where(is_homestead, 0.3, _AREA_SIGMA[unit_use])
    area = np.maximum(np.rint(rng.lognormal(np.log(median), sigma) * 100), 1000).astype(np.int64)
    year = built_year[building].astype(np.int64)
    built_from = np.maximum((year + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]"), _day(date(1990, 1, 1)))
    registered = _uniform_days(rng, np.minimum(built_from, _REF_DAY), np.full(m, _REF_DAY))
    units = _Units(
        unit_no, pc.if_else(pa.array(is_homestead), plot, flat), is_homestead, district[building], area, year,
        structure[building],
    )  # fmt: skip
    return units, unit_use, registered


def _real_estate_unit(
    chunk: _Chunk, pools: _Pools, seed: int, rng: np.random.Generator
) -> tuple[_Units, pa.Table, pa.Array]:
    units, use, registered = _units(chunk, pools, rng)
    rows = rng.permutation(chunk.units)
    numbers = _take(units.unit_no, rows)
    return units, _table("real_estate_unit", {
        "record_id": _record_ids("BDC", chunk.unit_start + rows, seed, "real_estate_unit"),
        "unit_no": numbers,
        "address": _take(units.address, rows),
        "district_code": _take(_DISTRICT_CODES, units.district[rows]),
        "land_use": _take(_LAND_USES, use[rows]),
        "building_area": _decimal(units.area[rows], AREA),
        "registered_on": pa.array(registered[rows], type=DATE),
        "updated_at": _updated_at(rng, registered[rows]),
    }), numbers  # fmt: skip


def _noisy_unit_numbers(rng: np.random.Generator, numbers: pa.Array, noise: _IdNoise) -> pa.Array:
    """Unit numbers, some missing and some malformed: one character dropped, or the 定着物 F typed as f."""
    missing, bad = _drawn_noise(rng, len(numbers), noise)
    dropped = rng.random(bad.size) < 0.5
    at = rng.integers(0, 28, bad.size)
    chars = _char_matrix(_take(numbers, bad), 28)
    lower = chars.copy()
    lower[:, 19] = ord("f")
    out = np.where(dropped[:, None], np.pad(_drop_char(chars, at), ((0, 0), (0, 1))), lower)
    malformed = _replace_rows(numbers, bad, _from_char_matrix(out, np.where(dropped, 27, 28)))
    return pc.if_else(pa.array(missing), _NULL_STRING, malformed)


def _noisy_house_addresses(rng: np.random.Generator, addresses: pa.Array, homestead: Bools) -> pa.Array:
    u = rng.random(len(addresses))
    kind = np.where(homestead, 0, rng.integers(0, 3, len(addresses)))  # a rural house has no 栋 and no room
    noisy = u < _HOUSE_ADDRESS_NOISE
    out = pc.if_else(pa.array(noisy & (kind == 0)), pc.utf8_slice_codeunits(addresses, len(sy.CITY_NAME)), addresses)
    out = pc.if_else(pa.array(noisy & (kind == 1)), pc.replace_substring(out, "栋", "号楼"), out)
    return pc.if_else(pa.array(noisy & (kind == 2)), _join(out, "室"), out)


def _house(chunk: _Chunk, seed: int, rng: np.random.Generator, units: _Units) -> tuple[pa.Table, pa.Array]:
    who = rng.permutation(np.flatnonzero(rng.random(chunk.units) < _HOUSE_SHARE))
    k = who.size
    numbers = _take(units.unit_no, who)
    remeasured = rng.random(k) < _HOUSE_AREA_REMEASURED
    factor = 1 + np.where(rng.random(k) < 0.5, -1, 1) * rng.uniform(0.005, 0.03, k)
    area = np.where(remeasured, np.rint(units.area[who] * factor).astype(np.int64), units.area[who])
    year = units.built_year[who]
    return _table("house", {
        "record_id": _record_ids("FW", chunk.unit_start + who, seed, "house"),
        "unit_no": _noisy_unit_numbers(rng, numbers, _UNIT_NO_NOISE),
        "address": _noisy_house_addresses(rng, _take(units.address, who), units.homestead[who]),
        "district_code": _take(_DISTRICT_CODES, units.district[who]),
        "building_area": _decimal(area, AREA),
        "built_year": pa.array(year, type=INT),
        "structure": _take(_STRUCTURES, units.structure[who]),
        "updated_at": _updated_at(rng, (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")),
    }), numbers  # fmt: skip


# --- Writing ------------------------------------------------------------------------------------------------


class _Writers:
    """One ParquetWriter per file, appended to chunk by chunk; row counts kept as they go."""

    def __init__(self, files: Mapping[str, tuple[Path, pa.Schema]]) -> None:
        self.rows = dict.fromkeys(files, 0)
        self._writers: dict[str, pq.ParquetWriter] = {}
        for name, (path, schema) in files.items():
            self._writers[name] = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, tables: Mapping[str, pa.Table]) -> None:
        for name, table in tables.items():
            self._writers[name].write_table(table)
            self.rows[name] += table.num_rows

    def __enter__(self) -> _Writers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for w in self._writers.values():
            w.close()


def _replace_directory(staged: Path, target: Path) -> None:
    """Move ``staged`` to ``target``; an existing ``target`` is moved aside first and back if that fails."""
    if not target.exists():
        os.rename(staged, target)
        return
    aside = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    os.rename(target, aside)
    try:
        os.rename(staged, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def generate_city(
    out_dir: Path,
    *,
    persons: int,
    seed: int,
    progress: Progress | None = None,
    tables: Collection[str] | None = None,
) -> CityManifest:
    """Write a synthetic Shenyang of ``persons`` people into ``out_dir``, one Parquet file per table, and the
    truth files (``TRUTH``) that say whose each register record is.

    The same ``persons`` and ``seed`` give identical table contents. ``tables`` restricts which tables are
    written (the truth then covers those); what no written table needs is not computed, and the tables written
    are the same rows as in a full city. The city is built in a hidden sibling directory and renamed into place
    only once complete; an existing ``out_dir`` is replaced whole. If anything fails, ``out_dir`` is left as it
    was. ``progress("generate", persons_done, persons)`` is called after each chunk is written.
    """
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    wanted = frozenset(TABLE_SPECS if tables is None else tables)
    if unknown := wanted - TABLE_SPECS.keys():
        raise ValueError(f"unknown tables: {', '.join(sorted(unknown))}; known: {', '.join(TABLE_SPECS)}")
    if not wanted:
        raise ValueError("tables must name at least one table")
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)

    pools = _draw_pools(seed)
    written = [t for t in TABLES if t.name in wanted]
    # A hidden sibling on the same file system, so the final rename is atomic; mkdir (not mkdtemp) so the
    # city gets the usual permissions.
    staged = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex}.partial")
    staged.mkdir()
    try:
        files = {t.name: (staged / f"{t.name}.parquet", t.schema) for t in written}
        files.update({t.file: (staged / t.file, t.schema) for t in TRUTH})
        with _Writers(files) as writers:
            for chunk in _plan(persons):
                writers.write(_generate_chunk(chunk, pools, seed, wanted))
                if progress is not None:
                    progress("generate", chunk.start + chunk.size, persons)
        manifest = CityManifest(
            directory=out_dir,
            persons=persons,
            seed=seed,
            reference_date=REFERENCE_DATE,
            tables=tuple(
                TableFile(t.name, t.department, t.title, writers.rows[t.name], out_dir / f"{t.name}.parquet")
                for t in written
            ),
            truth={t.name: out_dir / t.file for t in TRUTH},
        )
        portable = manifest.to_dict()
        del portable["directory"]
        for entry in (*portable["tables"].values(), *portable["truth"].values()):
            del entry["path"]
        (staged / MANIFEST_FILE).write_text(json.dumps(portable, ensure_ascii=False, indent=2) + "\n")
        _replace_directory(staged, out_dir)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return manifest
