"""Classifying a snapshot in full mode against DuckDB alone, and against Presidio.

The file: 10 million rows × 12 columns of a city's person records (``BENCH_ROWS`` scales it down), one Parquet file
with 1-million-row row groups, snappy like the lake's. Identifiers are drawn per row with numpy so they are
(nearly) all distinct and valid as the real ones are: resident IDs with their GB 11643 check digit over current
GB/T 2260 county codes (python-stdnum accepts every one), UnionPay cards passing Luhn, unified social credit
codes with both GB 11714 and GB 32100 check characters, mobiles, plates, IPv4, e-mails, addresses of Shenyang
mostly. Names come from a 50,000-name Faker zh_CN pool (names repeat in a city), diagnoses and ethnicities from
short weighted lists. The file is generated once and cached under ``var/bench/`` keyed by row count; delete it to
regenerate.

The contenders, each a fresh Python process, taking turns ``BENCH_REPEAT`` rounds (default 3), each keeping its
best time; the file is read once before each so all start with it in the page cache:

- **baseline**: DuckDB alone, one ``SELECT sum(CASE WHEN regexp_matches(col, '…') …)`` per column over
  ``read_parquet``, one anchored regular expression per column for the type it holds: what "just count the
  pattern" costs on the same engine, threads and file;
- **ours**: ``classify_files(…, mode=Mode.FULL)``, six fields with their real codes, Chinese labels and data
  elements, six with opaque codes (``f07``…) and no label, so the values alone must decide; its own sample pass
  is included, as is importing the classifier;
- **Presidio** (2.x, pattern recognizers only, ``NoOpNlpEngine``: no model): recognizers configured for the same
  Chinese types, run value by value as a user would, over the first ``BENCH_PRESIDIO_VALUES`` values of each
  column (default 20,000: Presidio does a few thousand values a second), its values per second extrapolated to the
  whole file. Building the engine is not timed, only ``analyze``; it runs in one process, as Presidio does.

Prints wall and CPU seconds of each, ours/baseline (target ≤ 2×), both processes' peak RSS, what each column was
classified as, and the values per second of ours against Presidio's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench._util import timed
from shengjing.classify.detectors import InfoType

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
ROWS = int(os.environ.get("BENCH_ROWS", "10000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
PRESIDIO_VALUES = int(os.environ.get("BENCH_PRESIDIO_VALUES", "20000"))
SEED = 2024
CHUNK_ROWS = 1_000_000  # rows generated at a time, and rows per Parquet row group
POOL = 50_000  # distinct Faker names
TARGET = 2.0

Ints = npt.NDArray[np.int64]

_HAN = "[\u4e00-\u9fa5]"
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PROVINCE_SHORT = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_CREDIT = "0-9A-HJ-NPQRTUWXY"


@dataclass(frozen=True)
class Column:
    name: str
    label: str  # empty for an opaque column
    element: str | None
    expected: InfoType
    pattern: str  # the baseline's one regular expression for this column


COLUMNS = (
    Column(
        "gmsfhm",
        "公民身份号码",
        "GMSFHM",
        InfoType.ID_NUMBER,
        "^[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$",
    ),
    Column("xm", "姓名", "XM", InfoType.PERSON_NAME, f"^{_HAN}{{2,4}}$"),
    Column("sjhm", "手机号码", "SJHM", InfoType.MOBILE, "^1[3-9][0-9]{9}$"),
    Column(
        "csrq", "出生日期", "CSRQ", InfoType.BIRTH_DATE, "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
    ),
    Column("yhkh", "银行卡号", None, InfoType.BANK_CARD, "^[1-9][0-9]{15,18}$"),
    Column(
        "zdmc",
        "诊断名称",
        None,
        InfoType.HEALTH,
        "(炎|病|症|癌|瘤|疹|痛|感染|骨折|损伤|扭伤|梗死|衰竭|贫血|妊娠|高血压|糖尿|白内障|龋齿|哮喘|结核)",
    ),
    Column("f07", "", None, InfoType.EMAIL, "^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$"),
    Column("f08", "", None, InfoType.ADDRESS, f"^{_HAN}+(市|区|县){_HAN}*[0-9]+号([0-9]+栋[0-9]+单元[0-9]+室)?$"),
    Column("f09", "", None, InfoType.CREDIT_CODE, f"^[1-9A-GY][{_CREDIT}][0-9]{{6}}[{_CREDIT}]{{10}}$"),
    Column("f10", "", None, InfoType.LICENSE_PLATE, f"^[{_PROVINCE_SHORT}][A-HJ-NP-Z][A-HJ-NP-Z0-9]{{5,6}}$"),
    Column("f11", "", None, InfoType.IP_ADDRESS, f"^({_OCTET}\\.){{3}}{_OCTET}$"),
    Column("f12", "", None, InfoType.ETHNICITY, f"^{_HAN}{{1,5}}族$"),
)


# --- The file ---------------------------------------------------------------------------------------------

_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)])
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
_CREDIT_ALPHABET = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", dtype=np.uint8)
_CREDIT_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)])
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])
_PLATE_LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
# UnionPay debit and credit BINs of the big banks (工行, 建行, 农行, 中行, 招行, 交行, 邮储, 盛京银行 …).
_BINS = (622202, 621700, 622848, 621661, 622588, 622260, 621799, 623668, 621226, 622700, 625965, 628288, 621098)
_MOBILE_PREFIXES = (*range(130, 140), *range(150, 154), *range(155, 160), 166, 173, 176, 177, 178, *range(180, 190))
_MOBILE_PREFIXES += (191, 198, 199)
_SHENYANG_DISTRICTS = (
    "和平区", "沈河区", "大东区", "皇姑区", "铁西区", "苏家屯区", "浑南区", "沈北新区", "于洪区", "辽中区",
)  # fmt: skip
_EMAIL_DOMAINS = ("163.com", "126.com", "sina.com", "sohu.com", "foxmail.com", "139.com", "yeah.net", "aliyun.com")
_EMAIL_DOMAINS += ("gmail.com", "hotmail.com", "outlook.com")
_DIAGNOSES = {
    "原发性高血压": 14, "2型糖尿病": 9, "急性上呼吸道感染": 12, "慢性胃炎": 6, "冠状动脉粥样硬化性心脏病": 5,
    "脑梗死": 4, "慢性阻塞性肺疾病": 3, "急性支气管炎": 5, "腰椎间盘突出症": 3, "社区获得性肺炎": 3,
    "骨质疏松症": 2, "高脂血症": 4, "慢性肾脏病": 1, "甲状腺功能亢进症": 1, "抑郁症": 1, "急性胃肠炎": 3,
    "龋齿": 3, "过敏性鼻炎": 3, "湿疹": 2, "痛风": 1, "子宫肌瘤": 1, "白内障": 2, "颈椎病": 3, "肩周炎": 1,
    "膝骨关节炎": 2, "缺铁性贫血": 1, "慢性乙型病毒性肝炎": 1, "肺结核": 1, "支气管哮喘": 1, "偏头痛": 1,
    "桡骨远端骨折": 1, "踝关节扭伤": 1, "早期妊娠": 1, "失眠": 1, "前列腺增生": 1, "带状疱疹": 1,
}  # fmt: skip
_ETHNICITIES = {
    "汉族": 900, "满族": 40, "蒙古族": 12, "回族": 14, "朝鲜族": 12, "锡伯族": 4, "壮族": 3, "土家族": 2,
    "苗族": 2, "藏族": 1, "维吾尔族": 1, "彝族": 1, "达斡尔族": 1, "鄂温克族": 1,
}  # fmt: skip


@dataclass(frozen=True)
class _Pools:
    counties: Ints  # current county-level codes of GB/T 2260
    shenyang: Ints  # Shenyang's (2101xx)
    names: pa.Array
    users: pa.Array
    streets: pa.Array
    places: pa.Array  # province + city + district
    place_weights: npt.NDArray[np.float64]


def _county_codes() -> Ints:
    """County-level codes of GB/T 2260 still in use, from python-stdnum's table."""
    from stdnum import numdb

    codes = []
    for _, province, _, _, counties in numdb.get("cn/loc").prefixes:
        for _, county, _, info, _ in counties:
            latest = info.get("county", "").split(",")[-1]
            current = not latest.startswith("[") or latest.split("]")[0].endswith("-")
            if current and county[2:] not in ("00", "01") and not latest.endswith("市辖区"):
                codes.append(int(province + county))
    return np.array(codes, dtype=np.int64)


def _draw_pools() -> _Pools:
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(SEED)
    counties = _county_codes()
    cities = [f"{fake.province()}{fake.city_name()}市{fake.district()}区" for _ in range(2000)]
    shenyang = [f"辽宁省沈阳市{d}" for d in _SHENYANG_DISTRICTS] + [f"沈阳市{d}" for d in _SHENYANG_DISTRICTS]
    places = shenyang + cities
    weights = np.array([0.75 / len(shenyang)] * len(shenyang) + [0.25 / len(cities)] * len(cities))
    return _Pools(
        counties=counties,
        shenyang=counties[(counties // 100) == 2101],
        names=pa.array([fake.name() for _ in range(POOL)]),
        users=pa.array(sorted({fake.user_name() for _ in range(POOL)})),
        streets=pa.array(sorted({fake.street_name() for _ in range(20_000)})),
        places=pa.array(places),
        place_weights=weights / weights.sum(),
    )


def _text(chars: npt.NDArray[np.uint8], lengths: Ints | None = None) -> pa.Array:
    """ASCII strings from a rows × width matrix of bytes, each row cut to its length (default: the full width)."""
    rows, width = chars.shape
    if lengths is None:
        data = chars.tobytes()
        offsets = np.arange(rows + 1, dtype=np.int64) * width
    else:
        data = chars[np.arange(width) < lengths[:, None]].tobytes()
        offsets = np.concatenate([[0], np.cumsum(lengths)])
    return pa.Array.from_buffers(pa.large_string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]).cast(
        pa.string()
    )


def _digits_of(values: Ints, width: int) -> Ints:
    """Each value's ``width`` decimal digits, most significant first."""
    return values[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64) % 10


def _ids(rng: np.random.Generator, pools: _Pools, n: int) -> tuple[pa.Array, pa.Array]:
    """Resident ID numbers (GB 11643, check digit included) and the birth dates they carry, as ``YYYY-MM-DD``."""
    local = rng.random(n) < 0.7
    county = np.where(local, rng.choice(pools.shenyang, n), rng.choice(pools.counties, n))
    days = rng.integers(np.datetime64("1940-01-01").astype(int), np.datetime64("2020-12-31").astype(int), n)
    dates = days.astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = year * 10_000 + month * 100 + day
    digits = _digits_of(county * 10**11 + ymd * 1000 + rng.integers(0, 1000, n), 17)
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, :17] = digits + ord("0")
    chars[:, 17] = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
    date_chars = np.full((n, 10), ord("-"), dtype=np.uint8)
    date_chars[:, :4] = _digits_of(year, 4) + ord("0")
    date_chars[:, 5:7] = _digits_of(month, 2) + ord("0")
    date_chars[:, 8:] = _digits_of(day, 2) + ord("0")
    return _text(chars), _text(date_chars)


def _mobiles(rng: np.random.Generator, n: int) -> pa.Array:
    numbers = rng.choice(np.array(_MOBILE_PREFIXES, dtype=np.int64), n) * 10**8 + rng.integers(0, 10**8, n)
    return _text((_digits_of(numbers, 11) + ord("0")).astype(np.uint8))


def _bank_cards(rng: np.random.Generator, n: int) -> pa.Array:
    """UnionPay card numbers, 19 digits (debit) or 16 (credit), the last one Luhn's check digit."""
    lengths = np.where(rng.random(n) < 0.7, 19, 16)
    digits = rng.integers(0, 10, (n, 19))
    digits[:, :6] = _digits_of(rng.choice(np.array(_BINS, dtype=np.int64), n), 6)
    position = np.arange(19)
    payload = position < lengths[:, None] - 1
    doubled = payload & ((lengths[:, None] - 2 - position) % 2 == 0)  # every second digit from the payload's right
    values = np.where(doubled, np.where(digits >= 5, digits * 2 - 9, digits * 2), digits) * payload
    digits[np.arange(n), lengths - 1] = (10 - values.sum(axis=1) % 10) % 10
    return _text((digits + ord("0")).astype(np.uint8), lengths)


def _credit_codes(rng: np.random.Generator, pools: _Pools, n: int) -> pa.Array:
    """Unified social credit codes: department and kind, the county code, a GB 11714 organization code (eight
    characters and its check), and the GB 32100 check character; most bodies start with MA as new ones do."""
    index = np.empty((n, 18), dtype=np.int64)  # positions in the 31-character alphabet, which starts with 0-9
    department = rng.choice(np.array([9, 5, 1]), n, p=[0.92, 0.03, 0.05])
    index[:, 0] = department
    index[:, 1] = np.where(department == 9, rng.choice(np.array([1, 2, 3]), n, p=[0.75, 0.2, 0.05]), 1)
    index[:, 2:8] = _digits_of(rng.choice(pools.counties, n), 6)
    index[:, 8:16] = rng.integers(0, 31, (n, 8))
    new = rng.random(n) < 0.6
    index[new, 8] = 21  # M
    index[new, 9] = 10  # A
    chars = _CREDIT_ALPHABET[index[:, :16]]
    values = np.where(chars >= ord("A"), chars.astype(np.int64) - ord("A") + 10, chars.astype(np.int64) - ord("0"))
    org_check = 11 - (values[:, 8:16] @ _ORG_WEIGHTS) % 11  # GB 11714: 10 is written X, 11 is 0
    index[:, 16] = np.where(org_check == 10, 29, np.where(org_check == 11, 0, org_check))
    index[:, 17] = (31 - (index[:, :17] @ _CREDIT_WEIGHTS) % 31) % 31
    return _text(_CREDIT_ALPHABET[index])


def _plates(rng: np.random.Generator, n: int) -> pa.Array:
    """Licence plates: 辽A (Shenyang) mostly, five characters after the city letter, new-energy ones D/F and six."""
    others = np.array(list(_PROVINCE_SHORT.replace("辽", "")))
    province = np.where(rng.random(n) < 0.8, "辽", rng.choice(others, n))
    city = np.where(rng.random(n) < 0.75, ord("A"), rng.choice(_PLATE_LETTERS[:16], n))
    tail = np.where(rng.random((n, 6)) < 0.15, rng.choice(_PLATE_LETTERS, (n, 6)), rng.choice(_DIGITS, (n, 6)))
    green = rng.random(n) < 0.12
    tail[green, 0] = rng.choice(np.frombuffer(b"DF", dtype=np.uint8), green.sum())
    tail[green, 2:] = rng.choice(_DIGITS, (green.sum(), 4))
    chars = np.concatenate([city[:, None], tail], axis=1).astype(np.uint8)
    return pc.binary_join_element_wise(pa.array(province), _text(chars, np.where(green, 7, 6)), "")


def _ips(rng: np.random.Generator, n: int) -> pa.Array:
    first = rng.choice(np.concatenate([np.arange(1, 127), np.arange(128, 224)]), n)
    parts = [pa.array(first), *(pa.array(rng.integers(0, 256, n)) for _ in range(3))]
    return pc.binary_join_element_wise(*(p.cast(pa.string()) for p in parts), ".")


def _emails(rng: np.random.Generator, pools: _Pools, n: int) -> pa.Array:
    """QQ numbers at qq.com for two in five, a user name (some with digits) at a mail provider for the rest."""
    qq = pa.array(rng.integers(10_000, 3_000_000_000, n)).cast(pa.string())
    users = pools.users.take(pa.array(rng.integers(0, len(pools.users), n)))
    suffix = pa.array(np.where(rng.random(n) < 0.3, rng.integers(1, 100, n).astype(str), ""))
    domains = pa.array(rng.choice(np.array(_EMAIL_DOMAINS), n))
    named = pc.binary_join_element_wise(users, suffix, "@", domains, "")
    return pc.if_else(pa.array(rng.random(n) < 0.4), pc.binary_join_element_wise(qq, "@qq.com", ""), named)


def _addresses(rng: np.random.Generator, pools: _Pools, n: int) -> pa.Array:
    """Place, street and number, half with building, unit and room: 辽宁省沈阳市和平区南京街123号3栋2单元501室."""
    place = pools.places.take(pa.array(rng.choice(len(pools.places), n, p=pools.place_weights)))
    street = pools.streets.take(pa.array(rng.integers(0, len(pools.streets), n)))
    number = pa.array(rng.integers(1, 1000, n)).cast(pa.string())
    room = (
        pa.array(rng.integers(1, 31, n).astype(str)),
        "栋",
        pa.array(rng.integers(1, 7, n).astype(str)),
        "单元",
        pa.array((rng.integers(1, 34, n) * 100 + rng.integers(1, 5, n)).astype(str)),
        "室",
    )
    rooms = pc.if_else(pa.array(rng.random(n) < 0.5), pc.binary_join_element_wise(*room, ""), "")
    return pc.binary_join_element_wise(place, street, number, "号", rooms, "")


def _weighted(rng: np.random.Generator, weights: dict[str, int], n: int) -> pa.Array:
    p = np.array(list(weights.values()), dtype=np.float64)
    return pa.array(np.array(list(weights))[rng.choice(len(weights), n, p=p / p.sum())])


def _with_nulls(rng: np.random.Generator, values: pa.Array, share: float) -> pa.Array:
    return pc.if_else(pa.array(rng.random(len(values)) < share), pa.scalar(None, pa.string()), values)


def _chunk(pools: _Pools, index: int, n: int) -> pa.Table:
    rng = np.random.default_rng([SEED, index])
    ids, births = _ids(rng, pools, n)
    columns = {
        "gmsfhm": ids,
        "xm": pools.names.take(pa.array(rng.integers(0, len(pools.names), n))),
        "sjhm": _mobiles(rng, n),
        "csrq": births,
        "yhkh": _bank_cards(rng, n),
        "zdmc": _weighted(rng, _DIAGNOSES, n),
        "f07": _with_nulls(rng, _emails(rng, pools, n), 0.08),
        "f08": _addresses(rng, pools, n),
        "f09": _credit_codes(rng, pools, n),
        "f10": _with_nulls(rng, _plates(rng, n), 0.05),
        "f11": _ips(rng, n),
        "f12": _weighted(rng, _ETHNICITIES, n),
    }
    assert list(columns) == [c.name for c in COLUMNS]
    return pa.table(columns)


def _check(table: pa.Table) -> None:
    """The check characters agree with python-stdnum on the first values. For IDs, the check digit and the birth
    date only: stdnum also wants the county code to have existed in the birth year, while a city's register
    gives the code of the county that issued the number (沈阳市和平区 is "[1983-]" in its table)."""
    from stdnum import luhn
    from stdnum.cn import ric, uscc

    def resident_id(number: str) -> None:
        assert ric.calc_check_digit(number) == number[-1], number
        ric.get_birth_date(number)

    for column, validate in (("gmsfhm", resident_id), ("yhkh", luhn.validate), ("f09", uscc.validate)):
        for value in table[column].slice(0, 2000).to_pylist():
            validate(value)


def parquet_file(rows: int) -> Path:
    """The snapshot of ``rows`` rows, generated once (a chunk at a time) and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"classify-{rows}.parquet"
    if path.exists():
        return path
    started = time.perf_counter()
    pools = _draw_pools()
    partial = path.with_suffix(".partial")
    writer: pq.ParquetWriter | None = None
    try:
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            table = _chunk(pools, index, min(CHUNK_ROWS, rows - start))
            if writer is None:
                _check(table)
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table, row_group_size=CHUNK_ROWS)
    finally:
        if writer is not None:
            writer.close()
    partial.rename(path)
    print(f"generated {rows:,} rows in {time.perf_counter() - started:.1f} s: {path.stat().st_size:,} B")
    return path


# --- The runs ---------------------------------------------------------------------------------------------


def _warm(path: Path) -> None:
    """Read the file once so every contender starts with it in the page cache."""
    with path.open("rb") as f:
        while f.read(64 << 20):
            pass


def baseline_sql(path: Path) -> str:
    """One regular expression per column, each counted, over the Parquet file: DuckDB doing the least work."""
    sums = ", ".join(
        f'sum(CASE WHEN regexp_matches("{c.name}", \'{c.pattern}\') THEN 1 ELSE 0 END) AS "{c.name}"' for c in COLUMNS
    )
    return f"SELECT count(*), {sums} FROM read_parquet('{path}')"


# DuckDB draws its progress bar on stdout once a query runs past 2 s, whether or not stdout is a terminal; both
# contenders turn it off, the classifier (whose engine then locks its configuration) by wrapping duckdb.connect.
_BASELINE = """
import json, sys, time, duckdb
started = time.perf_counter()
with duckdb.connect() as con:
    con.execute("SET enable_progress_bar = false")
    row = con.execute(sys.argv[1]).fetchone()
print(json.dumps({"seconds": time.perf_counter() - started, "counts": list(row)}))
"""

_OURS = """
import json, sys, time
from pathlib import Path
import duckdb
def connect(*args, connect=duckdb.connect, **kwargs):
    connection = connect(*args, **kwargs)
    connection.execute("SET enable_progress_bar = false")
    return connection
duckdb.connect = connect
from shengjing.classify.classifier import FieldSpec, Mode, classify_files
spec = json.loads(sys.argv[2])
started = time.perf_counter()
result = classify_files(
    [Path(sys.argv[1])], [FieldSpec(**f) for f in spec["fields"]], rows_total=spec["rows"], mode=Mode.FULL
)
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "rows": result.rows_scanned,
    "types": {f.field: f.detection.type.value for f in result.fields},
    "decided_by": {f.field: f.detection.decided_by for f in result.fields},
}))
"""


def _field_specs() -> list[dict[str, str | None]]:
    return [{"name": c.name, "label": c.label, "element": c.element} for c in COLUMNS]


# --- Presidio ---------------------------------------------------------------------------------------------


def _presidio_analyzer():  # type: ignore[no-untyped-def]
    """An AnalyzerEngine without any NLP model, with pattern recognizers for the Chinese types: the regular
    expressions of the types, Luhn through Presidio's own credit-card recognizer, GB 11643 and GB 32100 check
    characters (python-stdnum's) in ``validate_result`` as Presidio's country recognizers do, the dictionaries as
    regex alternations.
    Presidio's EmailRecognizer is not used as is: its tldextract validation tries to download the public suffix
    list, which this offline machine cannot; its regular expression is."""
    import logging
    from importlib import resources

    import yaml
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer, IpRecognizer
    from stdnum.cn import ric, uscc

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    words = yaml.safe_load(resources.files("shengjing.classify").joinpath("dictionaries.yaml").read_text("utf-8"))

    class Checked(PatternRecognizer):
        def __init__(self, entity: str, regex: str, check) -> None:  # type: ignore[no-untyped-def]
            super().__init__(entity, supported_language="zh", patterns=[Pattern(entity, regex, 0.5)])
            self.check = check

        def validate_result(self, pattern_text: str) -> bool:
            return self.check(pattern_text)

    def plain(entity: str, regex: str, score: float = 0.5) -> PatternRecognizer:
        return PatternRecognizer(entity, supported_language="zh", patterns=[Pattern(entity, regex, score)])

    def alternation(values: list[str]) -> str:
        return "(?:" + "|".join(values) + ")"

    han = "[\u4e00-\u9fa5]"
    surnames = alternation(sorted(words["surnames"], key=len, reverse=True))
    recognizers = [
        Checked(
            "CN_RESIDENT_ID",
            r"\b[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]\b",
            lambda number: ric.calc_check_digit(number) == number[-1].upper(),
        ),
        Checked("CN_CREDIT_CODE", rf"\b[1-9A-GY][{_CREDIT}]\d{{6}}[{_CREDIT}]{{10}}\b", uscc.is_valid),
        CreditCardRecognizer(
            patterns=[Pattern("UnionPay 16-19", r"\b[1-9]\d{15,18}\b", 0.3)],
            supported_language="zh",
            supported_entity="CN_BANK_CARD",
        ),
        plain("CN_MOBILE", r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),
        plain("CN_LANDLINE", r"(?<!\d)0\d{2,3}-?[2-9]\d{6,7}(?!\d)", 0.3),
        PatternRecognizer("EMAIL_ADDRESS", supported_language="zh", patterns=EmailRecognizer.PATTERNS),
        IpRecognizer(supported_language="zh"),
        plain("CN_PLATE", rf"[{_PROVINCE_SHORT}][A-HJ-NP-Z][·.\- ]?[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳]"),
        plain("CN_PLATE", rf"[{_PROVINCE_SHORT}][A-HJ-NP-Z][DF][A-HJ-NP-Z0-9]\d{{4}}"),
        plain("CN_PASSPORT", r"\b(?:E[A-HJ-NP-Z0-9]\d{7}|G\d{8}|[DSP]E?\d{7})\b"),
        plain("CN_HK_MACAU_PASS", r"\b(?:C[A-HJ-NP-Z0-9]\d{7}|W\d{8}|[HM]\d{8}(?:\d{2})?)\b"),
        plain(
            "CN_DATE", r"(?<!\d)(?:19|20)\d{2}[-/.年](?:0?[1-9]|1[0-2])[-/.月](?:0?[1-9]|[12]\d|3[01])日?(?!\d)", 0.3
        ),
        plain("CN_PERSON_NAME", rf"^{surnames}{han}{{1,2}}$", 0.4),
        plain("CN_ADDRESS", rf"{han}+(?:省|市|区|县){han}*\d+(?:号|栋|单元|室)", 0.5),
        plain("CN_HEALTH", alternation(words["health_terms"]), 0.4),
        plain("CN_ETHNICITY", rf"^{alternation(words['ethnicities'])}$", 0.6),
        plain("CN_RELIGION", rf"^{alternation(words['religions'])}$", 0.6),
        plain("COORDINATES", r"-?\d{1,3}\.\d{4,}\s*[,，]\s*-?\d{1,3}\.\d{4,}", 0.4),
    ]
    registry = RecognizerRegistry(supported_languages=["zh"])
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    nlp = NoOpNlpEngine(models=[{"lang_code": "zh", "model_name": "none"}])
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["zh"])
    return analyzer, sorted({e for r in recognizers for e in r.supported_entities}), len(recognizers)


def presidio_worker(path: str, per_column: int) -> None:
    """In a fresh process: Presidio over the first ``per_column`` values of each column; prints its figures."""
    table = next(pq.ParquetFile(path).iter_batches(batch_size=2 * per_column))
    values = {
        c.name: [v for v in table[c.name].slice(0, per_column * 2).to_pylist() if v][:per_column] for c in COLUMNS
    }
    started = time.perf_counter()
    analyzer, entities, recognizers = _presidio_analyzer()
    setup = time.perf_counter() - started
    found: dict[str, Counter[str]] = {}
    started = time.perf_counter()
    for column, texts in values.items():
        top = found.setdefault(column, Counter())
        for text in texts:
            results = analyzer.analyze(text=text, language="zh", entities=entities)
            if results:
                top[max(results, key=lambda r: (r.score, r.end - r.start)).entity_type] += 1
    seconds = time.perf_counter() - started
    count = sum(len(v) for v in values.values())
    verdicts = {c: (t.most_common(1)[0] if t else ("-", 0)) for c, t in found.items()}
    print(
        json.dumps(
            {
                "seconds": seconds,
                "setup": setup,
                "values": count,
                "recognizers": recognizers,
                "verdicts": {c: [e, n / len(values[c])] for c, (e, n) in verdicts.items()},
            }
        )
    )


# --- The report -------------------------------------------------------------------------------------------


def main() -> None:
    path = parquet_file(ROWS)
    values = ROWS * len(COLUMNS)
    print(f"{ROWS:,} rows × {len(COLUMNS)} columns ({path.stat().st_size / 1e9:.2f} GB Parquet); best of {REPEAT} runs")
    sql = baseline_sql(path)
    spec = json.dumps({"rows": ROWS, "fields": _field_specs()}, ensure_ascii=False)
    presidio = [
        sys.executable,
        "-c",
        "import sys, bench.bench_classify as b; b.presidio_worker(sys.argv[1], int(sys.argv[2]))",
    ]
    best: dict[str, tuple[float, float]] = {}
    peaks: dict[str, int] = {}
    inner: dict[str, float] = {}
    outputs: dict[str, dict] = {}
    for _ in range(REPEAT):
        for name, command in (
            ("baseline", [sys.executable, "-c", _BASELINE, sql]),
            ("ours", [sys.executable, "-c", _OURS, str(path), spec]),
            ("presidio", [*presidio, str(path), str(PRESIDIO_VALUES)]),
        ):
            _warm(path)
            wall, cpu, peak, out = astuple(timed(command, cwd=ROOT))
            outputs[name] = json.loads(out.splitlines()[-1])
            best[name] = min(best.get(name, (wall, cpu)), (wall, cpu))
            peaks[name] = max(peaks.get(name, 0), peak)
            inner[name] = min(inner.get(name, float("inf")), outputs[name]["seconds"])

    counts = outputs["baseline"]["counts"]
    assert counts[0] == ROWS and outputs["ours"]["rows"] == ROWS
    baseline, baseline_cpu = best["baseline"]
    ours, ours_cpu = best["ours"]
    print(
        f"  baseline, DuckDB one regexp_matches per column: {baseline:.2f} s, CPU {baseline_cpu:.2f} s "
        f"(query {inner['baseline']:.2f} s), peak RSS {peaks['baseline'] / 2**20:,.0f} MiB"
    )
    print(
        f"  ours, classify_files full mode: {ours:.2f} s, CPU {ours_cpu:.2f} s "
        f"(classify_files {inner['ours']:.2f} s), peak RSS {peaks['ours'] / 2**20:,.0f} MiB"
    )
    print(
        f"  ratio ours/baseline: {ours / baseline:.2f}x; target ≤ {TARGET:.1f}x "
        f"(CPU time ratio {ours_cpu / baseline_cpu:.2f}x, in-process {inner['ours'] / inner['baseline']:.2f}x)"
    )
    types = outputs["ours"]["types"]
    decided = outputs["ours"]["decided_by"]
    verdicts = outputs["presidio"]["verdicts"]
    print("  column: expected | ours (decided by) | baseline regex share | Presidio's most frequent entity (share)")
    for i, c in enumerate(COLUMNS):
        mark = "" if types[c.name] == c.expected.value else "  <-- MISSED"
        entity, share = verdicts[c.name]
        print(
            f"    {c.name:<7} {c.expected.value:<14} | {types[c.name]} ({decided[c.name]}) | "
            f"{counts[i + 1] / ROWS:.3f} | {entity} ({share:.2f}){mark}"
        )
    p = outputs["presidio"]
    presidio_rate = p["values"] / inner["presidio"]
    ours_rate = values / ours
    print(
        f"  Presidio {p['recognizers']} pattern recognizers, no NLP model: {p['values']:,} values "
        f"({PRESIDIO_VALUES:,} per column) in {inner['presidio']:.2f} s = {presidio_rate:,.0f} values/s "
        f"(engine set-up {p['setup']:.2f} s, not counted), peak RSS {peaks['presidio'] / 2**20:,.0f} MiB"
    )
    print(
        f"  extrapolated from that subsample to {values:,} values: Presidio {values / presidio_rate / 3600:.1f} h "
        f"(one process) against ours {ours:.1f} s = {ours_rate:,.0f} values/s; "
        f"ours/Presidio throughput {ours_rate / presidio_rate:,.0f}x"
    )
