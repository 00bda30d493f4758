"""The sandbox's price: operators' SQL checked, rewritten and run under a policy, against the same SQL run raw.

The data: a 50-million-row person table of a city (``BENCH_SANDBOX_ROWS`` scales it down), one Parquet file with
1-million-row row groups, snappy like the lake's, and a social-insurance payment table keyed by the person's ID
number (0.3 payments per person: 15 million rows at full size). Generated once, a chunk at a time with numpy and
pyarrow, and cached under ``var/bench/`` keyed by row count; delete the files to regenerate.

- ``person``: ``gmsfhm`` 公民身份号码 (18 characters, GB 11643 check digit, unique by construction: a county code,
  a birth date and a sequence number, the last one's parity the sex), ``xm`` 姓名, ``xb`` 性别 (1 男 2 女, from the
  ID), ``qx`` 区县代码 (the 13 districts and counties of Shenyang, 2101xx, weighted by population), ``nl`` 年龄
  (from the ID's birth date, an ageing city's pyramid), ``ysr`` 月收入 (DOUBLE: wages, pensions, none for children),
  ``zy`` 职业 (by age), ``bz`` 备注 (free text, often empty);
- ``insurance``: ``gmsfhm``, ``jfny`` 缴费年月 (YYYY-MM), ``xz`` 险种, ``jfje`` 缴费金额 (DOUBLE).

The policy, built in code as the service builds it from an authorization: ``gmsfhm`` join only, ``xm`` hidden,
``xb`` and ``qx`` group by, ``nl`` compare, ``ysr`` and ``jfje`` aggregate (with bounds), ``zy``, ``xz`` and ``jfny``
plain or group by, ``bz`` masked (``keep_first:2``); the row filter ``nl >= 16`` on ``person``, whose ``gmsfhm`` is
identifying (unique and required, as its quality rules would prove on ingest); k = 10; no
differential privacy for the two timed queries.

1. **Check + rewrite latency**, in this process, no data: ``checker.check`` + ``rewriter.rewrite`` +
   ``.sql("duckdb")`` for 21 realistic queries (joins, CTEs, subqueries, windows, set operations),
   ``BENCH_SANDBOX_ITERATIONS`` rounds (default 50) after one warm-up; p50/p95/p99 in ms, target p95 < 20 ms.
2. **Enforced against raw**, each contender a fresh Python process, taking turns ``BENCH_REPEAT`` rounds (default 3),
   each keeping its best time, the files read once before each so all start with them in the page cache:
   - *raw*: DuckDB alone, plain views over the same files, the same threads as the sandbox's engine (2) and the same
     memory limit on both sides (``BENCH_SANDBOX_MEMORY``, default 8GB: under the row filter DuckDB builds the join's
     hash table on the person side, 4–6 GB, and the engine may not spill to disk), running the operator's SQL **with
     the row filter added to its WHERE** (otherwise the two would not compute the same thing); its result is
     compared with the enforced one's;
   - *enforced*: ``checker.check`` → ``rewriter.rewrite`` → ``DuckDBEngine().run`` (its connection opened, locked and
     closed per query, as in the service).
   The ratio is of the in-process times (raw: connect, views, run, fetch; enforced: check, rewrite and the engine's
   run), target ≤ 1.15×; the processes' wall times (interpreter start and imports included) are shown beside.
   As information: a differentially private version of the aggregate (ε = 1, one row one person); a month filter
   on the payments sorted by month (can the engine still skip row groups?); both queries once under the sandbox's
   default 2GB memory limit.
3. **SmartNoise SQL** 1.0.10, the reference a user would otherwise pick (no joins, no subqueries: the single-table
   aggregate only), in a virtual environment of its own under ``var/bench/smartnoise-venv`` (created on first use:
   it wants opendp < 0.15 and pandas < 3, which the project's own do not satisfy). It has no DuckDB engine and needs
   all data in memory through its Pandas reader (~9 GB for 10M rows), so it runs on the first
   ``BENCH_SMARTNOISE_ROWS`` rows (default 5M) of the person file, as would suit it best: only the four columns the
   query reads, (a) in a SQLite database file built once (``from_connection``, row privacy), (b) from a DataFrame
   (``from_df``, its documented way: the DataFrame is copied into an in-memory SQLite database, load included).
   Against it, our DP aggregate on the same subsample; SmartNoise's time extrapolated linearly to the full table
   (an extrapolation, said so) against ours measured there.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench._util import timed
from shengjing.sandbox import checker, rewriter
from shengjing.sandbox.engines import Limits
from shengjing.sandbox.policy import ColumnPolicy, Control, Policy, Privacy, TablePolicy, parse_row_filter

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
ROWS = int(os.environ.get("BENCH_SANDBOX_ROWS", "50000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
ITERATIONS = int(os.environ.get("BENCH_SANDBOX_ITERATIONS", "50"))
MEMORY = os.environ.get("BENCH_SANDBOX_MEMORY", "8GB")  # DuckDB's memory limit, both sides (see main)
SMARTNOISE_ROWS = min(ROWS, int(os.environ.get("BENCH_SMARTNOISE_ROWS", "5000000")))
SMARTNOISE_VENV = CACHE / "smartnoise-venv"
SMARTNOISE = ("smartnoise-sql==1.0.10", "duckdb", "pandas", "pyarrow")
SEED = 2026
CHUNK_ROWS = 1_000_000  # rows generated at a time, and rows per Parquet row group
PAYMENTS_PER_PERSON = 0.3
TARGET = 1.15
LATENCY_TARGET_MS = 20.0
EPSILON = 1.0
DELTA = 1e-6

Ints = npt.NDArray[np.int64]

# --- The data ---------------------------------------------------------------------------------------------

# Shenyang's districts and counties (GB/T 2260) and their resident populations (10,000s), as weights.
DISTRICTS = {
    "210102": ("和平区", 65), "210103": ("沈河区", 77), "210104": ("大东区", 95), "210105": ("皇姑区", 83),
    "210106": ("铁西区", 150), "210111": ("苏家屯区", 50), "210112": ("浑南区", 150), "210113": ("沈北新区", 110),
    "210114": ("于洪区", 100), "210115": ("辽中区", 45), "210123": ("康平县", 30), "210124": ("法库县", 38),
    "210181": ("新民市", 60),
}  # fmt: skip
# Where the quarter of residents born elsewhere were registered: other cities of Liaoning, and beyond.
_BORN_ELSEWHERE = (
    210202, 210302, 210402, 210502, 210602, 210702, 210802, 210902, 211002, 211102, 211202, 211302, 211402,
    220102, 230102, 150102, 130102, 370102, 410102, 110101,
)  # fmt: skip
_REFERENCE_YEAR = 2026  # ages are as of 1 January 2026
_OLDEST = 100
_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
_SLOTS = 365 * 1000  # (day of the year, sequence number) pairs of one county and birth year
_SLOT_STEP = 7919  # coprime with _SLOTS: k ↦ k·step mod _SLOTS is a bijection
_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏"
    "钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文关佟那"
)
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国春梅海波宇浩然子轩欣怡梓涵"
    "雨泽思远佳琪嘉怡一诺晨阳博文俊杰诗涵雪婷天佑宏伟志强淑珍凤琴玉兰德福永胜金凤丽娟晓东亮成龙婉清铭泽瑞"
)
_SURNAME_WEIGHTS = 1 / np.arange(8, 8 + len(_SURNAMES))  # 王 about 4.5 %, falling off with the rank
_SURNAME_WEIGHTS /= _SURNAME_WEIGHTS.sum()
_OCCUPATIONS = {
    "企业职工": 30, "个体工商户": 10, "灵活就业人员": 10, "农民": 8, "无业": 8, "事业单位人员": 5, "自由职业": 4,
    "公务员": 3, "教师": 3, "医务人员": 3, "军人": 1,
}  # fmt: skip
_NOTES = (
    "低保对象，每季度复核", "独居老人，社区网格员每周走访", "退役军人", "新就业形态劳动者", "重点人群随访",
    "户籍由大连市迁入", "户籍由铁岭市迁入", "持残疾人证", "高龄津贴领取人", "联系电话",
)  # fmt: skip
_INSURANCE = {"养老保险": (40, 0.08), "医疗保险": (40, 0.02), "失业保险": (8, 0.005), "工伤保险": (6, 0.004)}
_INSURANCE |= {"生育保险": (6, 0.008)}  # kind: (weight, the person's share of the contribution base)


def _age_weights() -> npt.NDArray[np.float64]:
    """An ageing northern city's pyramid: few children, many in their fifties and sixties."""
    age = np.arange(_OLDEST + 1)
    weights = np.select(
        [age < 16, age < 26, age < 46, age < 61, age < 76, age < 86],
        [0.55, 0.8, 1.0, 1.35, 1.1, 0.5],
        default=0.5 * np.exp(-(age - 85) / 5),
    )
    return weights / weights.sum()


def _fixed_text(chars: npt.NDArray[np.uint8]) -> pa.Array:
    """Equal-length ASCII strings, one per row of a rows × width byte matrix."""
    rows, width = chars.shape
    offsets = np.arange(rows + 1, dtype=np.int32) * width
    return pa.Array.from_buffers(
        pa.string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars).tobytes())]
    )


def _digits(values: Ints, width: int) -> npt.NDArray[np.uint8]:
    """Each value's ``width`` decimal digits, most significant first, as a rows × width matrix of digit values."""
    return (values[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64) % 10).astype(np.uint8)


_SEQUENCE_DIGITS = _digits(np.arange(1000, dtype=np.int64), 3)
_MONTH_DAY_DIGITS = _digits(np.arange(1300, dtype=np.int64), 4)  # MMDD, by month·100 + day
_YEAR_DIGITS = _digits(_REFERENCE_YEAR - 1 - np.arange(_OLDEST + 1, dtype=np.int64), 4)  # the birth year, by age


@dataclass
class _Registry:
    """What makes ID numbers unique across chunks: how many numbers each (county, birth year) has handed out."""

    county_digits: npt.NDArray[np.uint8]  # counties × 6
    issued: Ints  # counties × birth years

    @classmethod
    def new(cls) -> _Registry:
        counties = np.array([*map(int, DISTRICTS), *_BORN_ELSEWHERE], dtype=np.int64)
        return cls(_digits(counties, 6), np.zeros((len(counties), _OLDEST + 1), dtype=np.int64))


def _persons(rng: np.random.Generator, registry: _Registry, n: int) -> pa.Table:
    weights = np.array([w for _, w in DISTRICTS.values()], dtype=np.float64)
    district = rng.choice(len(DISTRICTS), n, p=weights / weights.sum())
    # The county of the ID: where the resident lives for three in four, elsewhere for the others.
    elsewhere = len(DISTRICTS) + rng.integers(0, len(_BORN_ELSEWHERE), n)
    county = np.where(rng.random(n) < 0.75, district, elsewhere).astype(np.int64)
    age = rng.choice(_OLDEST + 1, n, p=_age_weights())
    # The k-th number a (county, birth year) hands out takes slot k·step mod 365,000: a day and a sequence number.
    cell = county * (_OLDEST + 1) + age
    order = np.argsort(cell, kind="stable")
    sorted_cells = cell[order]
    first = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first
    flat = registry.issued.reshape(-1)
    k = flat[cell] + rank
    flat += np.bincount(cell, minlength=flat.size)
    if k.max() >= _SLOTS:
        raise RuntimeError("a county and birth year ran out of ID numbers: lower BENCH_SANDBOX_ROWS")
    slot = (k * _SLOT_STEP + cell * 104_729) % _SLOTS
    day, sequence = slot // 1000, slot % 1000
    year = _REFERENCE_YEAR - 1 - age  # born in that year, before 1 January of the reference year
    birth = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + day.astype("timedelta64[D]")
    month_start = birth.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    mday = (birth - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    digits = np.concatenate(
        [
            registry.county_digits[county],
            _YEAR_DIGITS[age],
            _MONTH_DAY_DIGITS[month * 100 + mday],
            _SEQUENCE_DIGITS[sequence],
        ],
        axis=1,
    )
    check = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
    ids = _fixed_text(np.concatenate([digits + 48, check[:, None]], axis=1))
    male = sequence % 2 == 1
    age = age + (day == 0)  # born on 1 January: a year older that day

    surnames = pa.array(list(_SURNAMES))
    given = pa.array(list(_GIVEN))
    second = pc.if_else(pa.array(rng.random(n) < 0.7), given.take(pa.array(rng.integers(0, len(given), n))), "")
    names = pc.binary_join_element_wise(
        surnames.take(pa.array(rng.choice(len(_SURNAMES), n, p=_SURNAME_WEIGHTS))),
        given.take(pa.array(rng.integers(0, len(given), n))),
        second,
        "",
    )

    jobs = [*_OCCUPATIONS, "离退休人员", "学生", "学龄前儿童"]
    p = np.array(list(_OCCUPATIONS.values()), dtype=np.float64)
    job = rng.choice(len(_OCCUPATIONS), n, p=p / p.sum())
    retired = (age >= 60) | ((age >= 50) & ~male & (rng.random(n) < 0.8))
    student = (age >= 7) & ((age < 16) | ((age < 23) & (rng.random(n) < 0.6)))
    job = np.where(age < 7, len(jobs) - 1, np.where(retired, len(jobs) - 3, np.where(student, len(jobs) - 2, job)))
    wage = rng.lognormal(np.log(5200), 0.55, n)
    pension = rng.lognormal(np.log(3600), 0.3, n)
    jobless = (age < 16) | student | (job == jobs.index("无业"))
    income = np.round(np.where(retired, pension, np.where(jobless, 0.0, wage)), 2)

    kind = rng.integers(0, len(_NOTES), n)
    notes = pa.array(_NOTES).take(pa.array(kind))
    phones = np.concatenate(
        [np.full((n, 1), 1), rng.integers(3, 10, (n, 1)), rng.integers(0, 10, (n, 9))], axis=1
    ).astype(np.uint8)
    with_phone = pc.binary_join_element_wise(notes, _fixed_text(phones + 48), "")
    notes = pc.if_else(pa.array(kind == len(_NOTES) - 1), with_phone, notes)
    notes = pc.if_else(pa.array(rng.random(n) < 0.6), pa.scalar(None, pa.string()), notes)
    return pa.table(
        {
            "gmsfhm": ids,
            "xm": names,
            "xb": pa.array(["2", "1"]).take(pa.array(male.astype(np.int8))),
            "qx": pa.array(list(DISTRICTS)).take(pa.array(district)),
            "nl": pa.array(age.astype(np.int64)),
            "ysr": pa.array(income),
            "zy": pa.array(jobs).take(pa.array(job)),
            "bz": notes,
        }
    )


def _payments(rng: np.random.Generator, persons: pa.Table) -> pa.Table:
    """Social-insurance payments of this chunk's working-age persons, in no order, some paying several."""
    adults = np.flatnonzero(pc.and_(pc.greater_equal(persons["nl"], 18), pc.less(persons["nl"], 65)).to_numpy())
    m = round(PAYMENTS_PER_PERSON * persons.num_rows)
    who = adults[rng.integers(0, len(adults), m)]
    kinds = np.array(list(_INSURANCE))
    weights = np.array([w for w, _ in _INSURANCE.values()], dtype=np.float64)
    kind = rng.choice(len(kinds), m, p=weights / weights.sum())
    rate = np.array([r for _, r in _INSURANCE.values()])[kind]
    base = rng.lognormal(np.log(4800), 0.45, m).clip(3_800, 26_000)
    month = rng.integers(0, 24, m)
    months = np.char.add(
        np.char.add((2024 + month // 12).astype(str), "-"), np.char.zfill((month % 12 + 1).astype(str), 2)
    )
    return pa.table(
        {
            "gmsfhm": persons["gmsfhm"].take(pa.array(who)),
            "jfny": pa.array(months),
            "xz": pa.array(kinds[kind]),
            "jfje": pa.array(np.round(base * rate, 2)),
        }
    )


def data_files(rows: int) -> tuple[Path, Path]:
    """The person and payment files for ``rows`` persons, generated once (a chunk at a time) and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    person = CACHE / f"sandbox-person-{rows}.parquet"
    insurance = CACHE / f"sandbox-insurance-{rows}.parquet"
    if person.exists() and insurance.exists():
        return person, insurance
    started = time.perf_counter()
    registry = _Registry.new()
    partial = [p.with_suffix(".partial") for p in (person, insurance)]
    writers: list[pq.ParquetWriter] = []
    try:
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            rng = np.random.default_rng([SEED, index])
            persons = _persons(rng, registry, min(CHUNK_ROWS, rows - start))
            payments = _payments(rng, persons)
            if not writers:
                _check(persons)
                writers = [pq.ParquetWriter(p, t.schema) for p, t in zip(partial, (persons, payments), strict=True)]
            writers[0].write_table(persons, row_group_size=CHUNK_ROWS)
            writers[1].write_table(payments, row_group_size=CHUNK_ROWS)
    finally:
        for writer in writers:
            writer.close()
    partial[0].rename(person)
    partial[1].rename(insurance)
    sizes = f"{person.stat().st_size / 1e9:.2f} GB and {insurance.stat().st_size / 1e9:.2f} GB"
    print(f"generated {rows:,} persons and their payments in {time.perf_counter() - started:.1f} s: {sizes}")
    return person, insurance


def by_month(insurance: Path) -> Path:
    """The payments in month order (1-million-row row groups), made once with DuckDB."""
    import duckdb

    path = insurance.with_name(f"{insurance.stem}-by-month.parquet")
    if not path.exists():
        partial = path.with_suffix(".partial")
        with duckdb.connect() as con:
            con.execute("SET enable_progress_bar = false")
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{insurance}') ORDER BY jfny) TO '{partial}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {CHUNK_ROWS})"
            )
        partial.rename(path)
    return path


def _check(persons: pa.Table) -> None:
    """The first ID numbers are valid GB 11643 numbers carrying the row's age and sex, and the chunk's are distinct."""
    from datetime import date

    from stdnum.cn import ric

    assert pc.count_distinct(persons["gmsfhm"]).as_py() == persons.num_rows
    for number, sex, age in zip(*(persons[c].slice(0, 2000).to_pylist() for c in ("gmsfhm", "xb", "nl")), strict=True):
        assert ric.calc_check_digit(number) == number[-1], number
        born = ric.get_birth_date(number)
        assert date(_REFERENCE_YEAR, 1, 1).year - born.year - 1 + (born.timetuple().tm_yday == 1) == age, number
        assert (int(number[16]) % 2 == 1) == (sex == "1"), number


# --- The policy and the queries ---------------------------------------------------------------------------

ROW_FILTER = "nl >= 16"  # the data bureau's row filter of person: no minors


def policy(*, dp: bool = False) -> Policy:
    """The authorization's policy, as ``service.policy_of`` builds it (no database)."""

    def columns(*specs: tuple[str, Control, str, str, dict[str, Any]]) -> dict[str, ColumnPolicy]:
        return {
            name: ColumnPolicy(name, control, sql_type, label, **extra)
            for name, control, sql_type, label, extra in specs
        }

    person = TablePolicy(
        "person",
        "SY-GA-RKJBXX",
        columns(
            ("gmsfhm", Control.JOIN, "VARCHAR", "公民身份号码", {}),
            ("xm", Control.HIDDEN, "VARCHAR", "姓名", {}),
            ("xb", Control.GROUP_BY, "VARCHAR", "性别", {}),
            ("qx", Control.GROUP_BY, "VARCHAR", "区县代码", {}),
            ("nl", Control.COMPARE, "BIGINT", "年龄", {}),
            ("ysr", Control.AGGREGATE, "DOUBLE", "月收入", {"bounds": (0.0, 50_000.0)}),
            ("zy", Control.PLAIN, "VARCHAR", "职业", {}),
            ("bz", Control.MASKED, "VARCHAR", "备注", {"mask": "keep_first:2"}),
        ),
    )
    # gmsfhm is unique by construction: what the resource's quality rules (unique and required) prove on ingest.
    person = replace(person, row_filter=parse_row_filter(ROW_FILTER, person), identifying=frozenset({"gmsfhm"}))
    insurance = TablePolicy(
        "insurance",
        "SY-RS-SBJF",
        columns(
            ("gmsfhm", Control.JOIN, "VARCHAR", "公民身份号码", {}),
            ("jfny", Control.GROUP_BY, "VARCHAR", "缴费年月", {}),
            ("xz", Control.PLAIN, "VARCHAR", "险种", {}),
            ("jfje", Control.AGGREGATE, "DOUBLE", "缴费金额", {"bounds": (0.0, 5_000.0)}),
        ),
    )
    privacy = Privacy(epsilon=EPSILON, budget=1e9, period="total", delta=DELTA) if dp else None
    built = Policy({"person": person, "insurance": insurance}, min_group_size=10, privacy=privacy, salt="bench")
    checker.check_row_filter(person.row_filter, person, built)
    return built


@dataclass(frozen=True)
class Query:
    name: str
    sql: str  # as the operator writes it
    raw: str  # the same, with the row filter in its WHERE: what the raw baseline runs


AGGREGATE = Query(
    "aggregate",
    "SELECT qx, xb, COUNT(*) AS n, AVG(ysr) AS avg_income FROM person WHERE nl BETWEEN 18 AND 60 "
    "GROUP BY qx, xb ORDER BY qx, xb",
    f"SELECT qx, xb, COUNT(*) AS n, AVG(ysr) AS avg_income FROM person WHERE nl BETWEEN 18 AND 60 AND {ROW_FILTER} "
    "GROUP BY qx, xb ORDER BY qx, xb",
)
JOIN = Query(
    "join",
    "SELECT p.qx, COUNT(*) AS payments, SUM(i.jfje) AS total FROM person AS p "
    "JOIN insurance AS i ON p.gmsfhm = i.gmsfhm GROUP BY p.qx ORDER BY p.qx",
    "SELECT p.qx, COUNT(*) AS payments, SUM(i.jfje) AS total FROM person AS p "
    f"JOIN insurance AS i ON p.gmsfhm = i.gmsfhm WHERE p.{ROW_FILTER} GROUP BY p.qx ORDER BY p.qx",
)
MONTHS = Query(
    "month filter",
    "SELECT xz, COUNT(*) AS n, SUM(jfje) AS total FROM insurance WHERE jfny >= '2025-10' GROUP BY xz ORDER BY xz",
    "SELECT xz, COUNT(*) AS n, SUM(jfje) AS total FROM insurance WHERE jfny >= '2025-10' GROUP BY xz ORDER BY xz",
)  # on payments in month order, as a ledger's snapshot often is: row groups outside the months can be skipped

# What operators write (joins, CTEs, subqueries, windows, set operations), for the check + rewrite latency.
WORKLOAD = (
    AGGREGATE.sql,
    JOIN.sql,
    "SELECT xb, COUNT(*) AS n FROM person GROUP BY xb",
    "SELECT qx, AVG(ysr) AS avg_income, STDDEV(ysr) AS sd FROM person WHERE nl >= 60 GROUP BY qx "
    "ORDER BY avg_income DESC",
    "SELECT qx, CASE WHEN nl < 30 THEN '18-29' WHEN nl < 45 THEN '30-44' ELSE '45+' END AS band, COUNT(*) AS n "
    "FROM person WHERE nl >= 18 GROUP BY qx, CASE WHEN nl < 30 THEN '18-29' WHEN nl < 45 THEN '30-44' ELSE '45+' END",
    "SELECT zy, COUNT(*) AS n, AVG(ysr) AS avg_income FROM person GROUP BY zy HAVING COUNT(*) > 100 "
    "ORDER BY n DESC LIMIT 20",
    "SELECT bz, COUNT(*) AS n FROM person WHERE bz IS NOT NULL GROUP BY bz ORDER BY n DESC LIMIT 10",
    "SELECT zy, bz FROM person WHERE qx = '210102' AND nl > 30 AND zy LIKE '%教师%' LIMIT 100",
    "WITH adults AS (SELECT qx, xb, ysr FROM person WHERE nl >= 18) "
    "SELECT qx, xb, COUNT(*) AS n, SUM(ysr) AS total FROM adults GROUP BY qx, xb",
    "WITH young AS (SELECT gmsfhm, qx FROM person WHERE nl BETWEEN 20 AND 40) "
    "SELECT young.qx, i.xz, SUM(i.jfje) AS total FROM young JOIN insurance AS i ON young.gmsfhm = i.gmsfhm "
    "GROUP BY young.qx, i.xz",
    "SELECT qx, COUNT(*) AS n FROM person WHERE gmsfhm IN (SELECT gmsfhm FROM insurance WHERE xz = '失业保险') "
    "GROUP BY qx",
    "SELECT p.qx, COUNT(*) AS n FROM person AS p WHERE EXISTS "
    "(SELECT 1 FROM insurance AS i WHERE i.gmsfhm = p.gmsfhm AND i.xz = '医疗保险') GROUP BY p.qx",
    "SELECT t.qx, AVG(t.n) AS avg_n FROM (SELECT qx, xb, COUNT(*) AS n FROM person GROUP BY qx, xb) AS t GROUP BY t.qx",
    "SELECT qx, n, RANK() OVER (ORDER BY n DESC) AS r FROM (SELECT qx, COUNT(*) AS n FROM person GROUP BY qx) AS t",
    "SELECT '男' AS sex, COUNT(*) AS n FROM person WHERE xb = '1' UNION ALL "
    "SELECT '女' AS sex, COUNT(*) AS n FROM person WHERE xb = '2'",
    "SELECT qx, AVG(ysr) AS avg_income FROM person GROUP BY qx HAVING AVG(ysr) > (SELECT AVG(ysr) FROM person)",
    "SELECT i.jfny, i.xz, COUNT(*) AS n, SUM(i.jfje) AS total FROM insurance AS i JOIN person AS p "
    "ON i.gmsfhm = p.gmsfhm WHERE p.qx IN ('210102', '210103') AND i.jfny >= '2025-01' "
    "GROUP BY i.jfny, i.xz ORDER BY i.jfny, i.xz",
    "SELECT qx, COUNT(*) FILTER (WHERE nl >= 60) AS elderly, COUNT(*) AS n FROM person GROUP BY qx",
    "FROM person SELECT xb, COUNT(*) AS n GROUP BY xb",
    "WITH a AS (SELECT qx, COUNT(*) AS n FROM person GROUP BY qx), "
    "b AS (SELECT p.qx, SUM(i.jfje) AS paid FROM person AS p JOIN insurance AS i ON p.gmsfhm = i.gmsfhm GROUP BY p.qx) "
    "SELECT a.qx, a.n, b.paid FROM a JOIN b ON a.qx = b.qx ORDER BY a.qx",
    "SELECT xb, ROUND(AVG(ysr), 0) AS avg_income, COUNT(DISTINCT qx) AS districts FROM person "
    "WHERE zy IN ('教师', '医务人员') AND nl BETWEEN 25 AND 55 GROUP BY xb",
)


# --- Check + rewrite latency ------------------------------------------------------------------------------


def check_and_rewrite(sql: str, policy_: Policy) -> str:
    return rewriter.rewrite(checker.check(sql, policy_), policy_).sql("duckdb")


def latency(queries: tuple[str, ...], policy_: Policy, iterations: int) -> tuple[list[float], dict[str, float]]:
    """Milliseconds of check + rewrite + rendering, every query ``iterations`` times (after one warm-up each),
    the queries taking turns; and each query's own p95."""
    for sql in queries:
        check_and_rewrite(sql, policy_)
    samples: dict[str, list[float]] = {sql: [] for sql in queries}
    for _ in range(iterations):
        for sql in queries:
            started = time.perf_counter()
            check_and_rewrite(sql, policy_)
            samples[sql].append((time.perf_counter() - started) * 1000)
    every = sorted(s for values in samples.values() for s in values)
    return every, {sql: _percentile(sorted(values), 95) for sql, values in samples.items()}


def _percentile(ordered: list[float], p: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(p / 100 * len(ordered))) - 1))]


# --- The runs ---------------------------------------------------------------------------------------------


def _warm(*paths: Path) -> None:
    """Read the files once so every contender starts with them in the page cache."""
    for path in paths:
        with path.open("rb") as f:
            while f.read(64 << 20):
                pass


def _limits(memory: str = MEMORY) -> Limits:
    """The service's default threads, room in time for the full-size join, and ``memory``."""
    return Limits(seconds=1800.0, memory=memory)


# DuckDB draws its progress bar on stdout once a query runs past 2 s; the raw baseline turns it off, as the engine
# does. The raw baseline has the same threads and memory limit as the engine's connection.
_RAW = """
import json, sys, time
started = time.perf_counter()
import duckdb
spec = json.loads(sys.argv[1])
imported = time.perf_counter()
with duckdb.connect(config={"threads": spec["threads"], "memory_limit": spec["memory"]}) as con:
    con.execute("SET enable_progress_bar = false")
    for name, path in spec["views"].items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    rows = [list(r) for r in con.execute(spec["sql"]).fetchall()]
done = time.perf_counter()
print(json.dumps({"seconds": done - imported, "imports": imported - started, "rows": rows}))
"""


def enforced_worker(spec_text: str, started: float) -> None:
    """In a fresh process: check → rewrite → the locked DuckDB engine (→ release, under DP); prints its figures."""
    from shengjing.sandbox import privacy
    from shengjing.sandbox.engines import DuckDBEngine, EngineFailure

    spec = json.loads(spec_text)
    policy_ = policy(dp=spec["dp"])
    limits = _limits(spec["memory"])
    engine = DuckDBEngine()
    imported = time.perf_counter()
    checked = checker.check(spec["sql"], policy_)
    rewritten = rewriter.rewrite(checked, policy_)
    sql = rewritten.sql(engine.dialect)
    rewritten_at = time.perf_counter()
    sources = {name: [Path(spec["files"][resource])] for name, resource in rewritten.sources.items()}
    try:
        table = engine.run(sql, sources, fetch=rewritten.fetch, limits=limits)
    except EngineFailure as exc:
        print(json.dumps({"seconds": time.perf_counter() - imported, "error": exc.code, "message": exc.message_en}))
        return
    ran = time.perf_counter()
    if rewritten.dp is not None:
        rows = privacy.release(rewritten.dp, table.to_pydict()).rows
    else:
        rows = [list(r.values()) for r in table.to_pylist()]
    done = time.perf_counter()
    figures = {"check_rewrite": rewritten_at - imported, "engine": ran - rewritten_at, "release": done - ran}
    print(json.dumps({"seconds": done - imported, "imports": imported - started, **figures, "rows": rows}))


_ENFORCED = (
    "import time; t = time.perf_counter(); import sys, bench.bench_sandbox as b; b.enforced_worker(sys.argv[1], t)"
)


@dataclass
class _Best:
    wall: float = float("inf")
    inner: float = float("inf")
    peak: int = 0
    out: dict[str, Any] | None = None
    runs: list[float] = field(default_factory=list)  # every run's in-process seconds

    def add(self, wall: float, peak: int, out: dict[str, Any]) -> None:
        self.wall = min(self.wall, wall)
        self.peak = max(self.peak, peak)
        self.runs.append(out["seconds"])
        if out["seconds"] < self.inner:
            self.inner, self.out = out["seconds"], out

    def spread(self) -> str:
        median = statistics.median(self.runs)
        return f"{len(self.runs)} runs {min(self.runs):.2f}–{max(self.runs):.2f} s, median {median:.2f} s"


def _raw_command(sql: str, views: dict[str, Path], memory: str = MEMORY) -> list[str]:
    limits = _limits(memory)
    spec = {
        "sql": sql,
        "threads": limits.threads,
        "memory": limits.memory,
        "views": {k: str(v) for k, v in views.items()},
    }
    return [sys.executable, "-c", _RAW, json.dumps(spec, ensure_ascii=False)]


def _enforced_command(sql: str, files: dict[str, Path], *, dp: bool = False, memory: str = MEMORY) -> list[str]:
    spec = {"sql": sql, "dp": dp, "memory": memory, "files": {k: str(v) for k, v in files.items()}}
    return [sys.executable, "-c", _ENFORCED, json.dumps(spec, ensure_ascii=False)]


def _run_rounds(contenders: dict[str, tuple[list[str], tuple[Path, ...]]], rounds: int = REPEAT) -> dict[str, _Best]:
    best = {name: _Best() for name in contenders}
    for _ in range(rounds):
        for name, (command, files) in contenders.items():
            _warm(*files)
            result = timed(command, cwd=ROOT)
            out = json.loads(result.stdout.splitlines()[-1])
            if "error" in out:
                raise RuntimeError(f"{name}: {out['message']}")
            best[name].add(result.seconds, result.peak_rss, out)
    return best


def _once(command: list[str], files: tuple[Path, ...]) -> tuple[int, dict[str, Any]]:
    """One run: the process's peak RSS and what it printed."""
    _warm(*files)
    result = timed(command, cwd=ROOT)
    return result.peak_rss, json.loads(result.stdout.splitlines()[-1])


def _same_rows(a: list[list[Any]], b: list[list[Any]]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if len(x) != len(y):
            return False
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) or isinstance(v, float):
                if not np.isclose(u, v, rtol=1e-9, atol=1e-6):
                    return False
            elif u != v:
                return False
    return True


# --- SmartNoise SQL ---------------------------------------------------------------------------------------

SMARTNOISE_COLUMNS = ("qx", "xb", "nl", "ysr")  # what the aggregate reads: all SmartNoise is given
SMARTNOISE_SQL = AGGREGATE.raw.replace("FROM person", "FROM main.person")  # it has no row filters: in the WHERE


def _smartnoise_metadata(rows: int) -> dict[str, Any]:
    """One row one person (row privacy), the same bounds as the policy's; SmartNoise's own defaults otherwise
    (groups censored below its threshold, as ours are)."""
    table = {
        "row_privacy": True,
        "rows": rows,
        "qx": {"type": "string"},
        "xb": {"type": "string"},
        "nl": {"type": "int", "lower": 0, "upper": 110},
        "ysr": {"type": "float", "lower": 0.0, "upper": 50_000.0},
    }
    return {"bench": {"main": {"person": table}}}


def smartnoise_python() -> tuple[Path | None, str]:
    """The virtual environment's interpreter, created and installed on first use; or None and why not."""
    python = SMARTNOISE_VENV / "bin" / "python"
    probe = [str(python), "-c", "import snsql, pandas, pyarrow, duckdb"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python, ""
    print(f"  creating {SMARTNOISE_VENV.relative_to(ROOT)} with {', '.join(SMARTNOISE)} …", flush=True)
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(SMARTNOISE_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *SMARTNOISE],
    )
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None, f"`{' '.join(step[:4])} …` failed: {(done.stderr or done.stdout).strip()[-600:]}"
    if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        return None, "smartnoise-sql installed but does not import"
    return python, ""


def smartnoise_files(person: Path, rows: int) -> tuple[Path, Path]:
    """The first ``rows`` persons: as Parquet (for ours and for SmartNoise's DataFrame) and as a SQLite database
    of the columns the query reads (for SmartNoise's SQLite engine), made once."""
    import sqlite3

    head = CACHE / f"{person.stem}-head-{rows}.parquet"
    database = head.with_suffix(".sqlite")
    if not head.exists():
        partial = head.with_suffix(".partial")
        source = pq.ParquetFile(person)
        with pq.ParquetWriter(partial, source.schema_arrow) as writer:
            left = rows
            for batch in source.iter_batches(batch_size=CHUNK_ROWS):
                writer.write_table(pa.Table.from_batches([batch.slice(0, left)]), row_group_size=CHUNK_ROWS)
                left -= min(left, batch.num_rows)
                if not left:
                    break
        partial.rename(head)
    if not database.exists():
        partial = database.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with sqlite3.connect(partial) as con:
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
            con.execute("CREATE TABLE person (qx TEXT, xb TEXT, nl INTEGER, ysr REAL)")
            for batch in pq.ParquetFile(head).iter_batches(batch_size=200_000, columns=list(SMARTNOISE_COLUMNS)):
                con.executemany("INSERT INTO person VALUES (?, ?, ?, ?)", zip(*batch.to_pydict().values(), strict=True))
        con.close()
        partial.rename(database)
    return head, database


_SMARTNOISE = """
import json, sys, time
started = time.perf_counter()
import snsql
from snsql import Privacy
spec = json.loads(sys.argv[1])
imported = time.perf_counter()
# Privacy(epsilon=…) is per statistic in SmartNoise: scaled so the query spends the same total ε as ours.
def reader(source, epsilon, engine):
    privacy = Privacy(epsilon=epsilon, delta=spec["delta"])
    if engine == "sqlite":
        return snsql.from_connection(source, privacy=privacy, metadata=spec["metadata"])
    return snsql.from_df(source, privacy=privacy, metadata=spec["metadata"])
if spec["mode"] == "sqlite":
    import sqlite3
    source = sqlite3.connect(spec["path"])
else:
    import pandas as pd
    source = pd.read_parquet(spec["path"], columns=spec["columns"])
loaded = time.perf_counter()
private = reader(source, spec["epsilon"], spec["mode"])
ready = time.perf_counter()
per_query = float(private.get_privacy_cost([spec["sql"]])[0]) / spec["epsilon"]
private.privacy = Privacy(epsilon=spec["epsilon"] / per_query, delta=spec["delta"])
result = private.execute(spec["sql"])
done = time.perf_counter()
cost = private.get_privacy_cost([spec["sql"]])
print(json.dumps({
    "seconds": done - imported, "load": loaded - imported, "reader": ready - loaded, "execute": done - ready,
    "imports": imported - started, "epsilon": float(cost[0]), "delta": float(cost[1]),
    "rows": [list(r) for r in result[1:]],
}))
"""


def _smartnoise_command(python: Path, mode: str, path: Path, rows: int) -> list[str]:
    spec = {
        "mode": mode,
        "path": str(path),
        "columns": list(SMARTNOISE_COLUMNS),
        "metadata": _smartnoise_metadata(rows),
        "sql": SMARTNOISE_SQL,
        "epsilon": EPSILON,
        "delta": DELTA,
    }
    return [str(python), "-c", _SMARTNOISE, json.dumps(spec, ensure_ascii=False)]


# --- The report -------------------------------------------------------------------------------------------


def _mib(peak: int) -> str:
    return f"{peak / 2**20:,.0f} MiB"


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def _report_latency() -> None:
    policy_ = policy()
    load = os.getloadavg()[0]
    every, per_query = latency(WORKLOAD, policy_, ITERATIONS)
    p50, p95, p99 = (_percentile(every, p) for p in (50, 95, 99))
    print(
        f"check + rewrite + render for DuckDB, in process: {len(WORKLOAD)} queries × {ITERATIONS} rounds = "
        f"{len(every):,} runs: p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, max {every[-1]:.2f} ms; "
        f"target p95 < {LATENCY_TARGET_MS:.0f} ms: {_verdict(p95 < LATENCY_TARGET_MS)} "
        f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores)"
    )
    slowest = sorted(per_query.items(), key=lambda item: item[1], reverse=True)[:3]
    for sql, ms in slowest:
        print(f"    slowest by its own p95: {ms:.2f} ms  {sql[:100]}{'…' if len(sql) > 100 else ''}")


def _report_query(query: Query, raw: _Best, ours: _Best) -> None:
    assert raw.out is not None and ours.out is not None
    same = _same_rows(raw.out["rows"], ours.out["rows"])
    ratio = ours.inner / raw.inner
    print(f"  {query.name}: {query.sql}")
    print(
        f"    raw DuckDB: {raw.inner:.3f} s in process (process wall {raw.wall:.2f} s, of which imports "
        f"{raw.out['imports']:.2f} s), peak RSS {_mib(raw.peak)}; {raw.spread()}"
    )
    print(
        f"    enforced: {ours.inner:.3f} s in process = check + rewrite {ours.out['check_rewrite'] * 1000:.1f} ms "
        f"+ engine {ours.out['engine']:.3f} s (process wall {ours.wall:.2f} s, of which imports "
        f"{ours.out['imports']:.2f} s), peak RSS {_mib(ours.peak)}; {ours.spread()}"
    )
    median = statistics.median(ours.runs) / statistics.median(raw.runs)
    print(
        f"    ratio enforced/raw {ratio:.3f}x (best of each); target ≤ {TARGET:.2f}x: {_verdict(ratio <= TARGET)} "
        f"(of the medians {median:.2f}x, of the process walls {ours.wall / raw.wall:.2f}x); "
        f"same result: {'yes' if same else 'NO'} ({len(ours.out['rows'])} rows)"
    )


def _report_default_memory(views: dict[str, Path], files: dict[str, Path], both: tuple[Path, ...]) -> None:
    """Both queries once more, both sides under the sandbox's default memory limit (the raw side may spill to disk,
    the engine may not: ``max_temp_directory_size = '0B'``)."""
    memory = Limits().memory
    for query in (AGGREGATE, JOIN):
        raw_peak, raw = _once(_raw_command(query.raw, views, memory), both)
        ours_peak, ours = _once(_enforced_command(query.sql, files, memory=memory), both)
        outcome = (
            f"failed after {ours['seconds']:.1f} s: {ours['error']} ({ours['message']})"
            if "error" in ours
            else f"{ours['seconds']:.2f} s ({ours['seconds'] / raw['seconds']:.2f}x)"
        )
        print(
            f"  information, the {query.name} under the sandbox's default {memory} memory limit (one run each): raw "
            f"DuckDB {raw['seconds']:.2f} s, peak RSS {_mib(raw_peak)} (it may spill to disk); enforced {outcome}, "
            f"peak RSS {_mib(ours_peak)}"
        )


def _report_smartnoise(person: Path, ours_full: _Best) -> None:
    rows = SMARTNOISE_ROWS
    print(
        f"SmartNoise SQL 1.0.10 on the single-table aggregate (it refuses joins and subqueries), first {rows:,} rows:"
    )
    python, why = smartnoise_python()
    if python is None:
        print(f"  not run: {why}")
        return
    head, database = smartnoise_files(person, rows)
    try:
        best = _run_rounds(
            {
                "ours": (_enforced_command(AGGREGATE.sql, {"SY-GA-RKJBXX": head}, dp=True), (head,)),
                "sqlite": (_smartnoise_command(python, "sqlite", database, rows), (database,)),
                "df": (_smartnoise_command(python, "df", head, rows), (head,)),
            }
        )
    except RuntimeError as exc:  # a contender's process failed: say why, and go on
        print(f"  not run to the end: {exc}")
        return
    ours, sqlite, df = best["ours"], best["sqlite"], best["df"]
    assert ours.out is not None and sqlite.out is not None and df.out is not None
    print(
        f"  ours, DP (ε = {EPSILON:g} in all, δ = {DELTA:g}): {ours.inner:.3f} s in process "
        f"(engine {ours.out['engine']:.3f} s, release {ours.out['release'] * 1000:.1f} ms; process wall "
        f"{ours.wall:.2f} s), peak RSS {_mib(ours.peak)}; {len(ours.out['rows'])} groups released"
    )
    print(
        f"  SmartNoise from_connection on a SQLite file of the four columns read (row privacy, ε = "
        f"{sqlite.out['epsilon']:g} in all, δ = {sqlite.out['delta']:.2g}): {sqlite.inner:.2f} s in process "
        f"(execute {sqlite.out['execute']:.2f} s; process wall {sqlite.wall:.2f} s), peak RSS {_mib(sqlite.peak)}; "
        f"{len(sqlite.out['rows'])} groups released"
    )
    print(
        f"  SmartNoise from_df (its Pandas reader: the DataFrame copied into an in-memory SQLite database): "
        f"{df.inner:.2f} s in process = read Parquet {df.out['load']:.2f} s + from_df {df.out['reader']:.2f} s "
        f"+ execute {df.out['execute']:.2f} s (process wall {df.wall:.2f} s), peak RSS {_mib(df.peak)}"
    )
    print(
        f"  ratio SmartNoise/ours on the same {rows:,} rows: SQLite {sqlite.inner / ours.inner:.1f}x, "
        f"from_df {df.inner / ours.inner:.1f}x (SmartNoise's query alone on its SQLite: "
        f"{sqlite.out['execute'] / ours.out['engine']:.1f}x our engine's run)"
    )
    scale = ROWS / rows
    if scale > 1:
        print(
            f"  extrapolated linearly to {ROWS:,} rows (an extrapolation, not a measurement): SmartNoise SQLite "
            f"{sqlite.inner * scale:.0f} s, from_df {df.inner * scale:.0f} s and {df.peak * scale / 2**30:.0f} GiB "
            f"(this machine has {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB); "
            f"ours measured at {ROWS:,} rows: {ours_full.inner:.2f} s: SmartNoise/ours "
            f"{sqlite.inner * scale / ours_full.inner:.0f}x (SQLite), "
            f"{df.inner * scale / ours_full.inner:.0f}x (from_df)"
        )


def sandbox_fingerprint() -> str:
    """What sandbox code is measured: its sources' digest (the sandbox is being worked on while benchmarks run)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "shengjing" / "sandbox").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def main() -> None:
    fingerprint = sandbox_fingerprint()
    print(f"sandbox sources {fingerprint} (sha256 of src/shengjing/sandbox/*.py)")
    _report_latency()
    person, insurance = data_files(ROWS)
    payments = pq.ParquetFile(insurance).metadata.num_rows
    limits = _limits()
    print(
        f"{ROWS:,} persons ({person.stat().st_size / 1e9:.2f} GB Parquet) and {payments:,} payments "
        f"({insurance.stat().st_size / 1e9:.2f} GB); best of {REPEAT} runs, each a fresh process; DuckDB with "
        f"{limits.threads} threads (the sandbox's default) and a {limits.memory} memory limit on both sides "
        f"(BENCH_SANDBOX_MEMORY; the sandbox's default, {Limits().memory}, is tried below); "
        f"load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  the raw baseline runs the operator's SQL with the policy's row filter `{ROW_FILTER}` added to its WHERE, "
        "over plain views of the same files; the enforced side gets it from its policy view"
    )
    files = {"SY-GA-RKJBXX": person, "SY-RS-SBJF": insurance}
    views = {"person": person, "insurance": insurance}
    both = (person, insurance)
    ordered = by_month(insurance)
    best = _run_rounds(
        {
            "aggregate raw": (_raw_command(AGGREGATE.raw, views), both),
            "aggregate enforced": (_enforced_command(AGGREGATE.sql, files), both),
            "join raw": (_raw_command(JOIN.raw, views), both),
            "join enforced": (_enforced_command(JOIN.sql, files), both),
            "aggregate DP": (_enforced_command(AGGREGATE.sql, files, dp=True), both),
            "month filter raw": (_raw_command(MONTHS.raw, {"insurance": ordered}), (ordered,)),
            "month filter enforced": (_enforced_command(MONTHS.sql, {"SY-RS-SBJF": ordered}), (ordered,)),
        }
    )
    for query in (AGGREGATE, JOIN):
        _report_query(query, best[f"{query.name} raw"], best[f"{query.name} enforced"])
    dp = best["aggregate DP"]
    assert dp.out is not None
    print(
        f"  aggregate under differential privacy (information: DP changes the query; ε = {EPSILON:g}, one row one "
        f"person): {dp.inner:.3f} s in process (engine {dp.out['engine']:.3f} s, release "
        f"{dp.out['release'] * 1000:.1f} ms), {dp.inner / best['aggregate raw'].inner:.2f}x the raw aggregate; "
        f"{len(dp.out['rows'])} groups released"
    )
    raw, ours = best["month filter raw"], best["month filter enforced"]
    assert raw.out is not None and ours.out is not None
    print(
        f"  information, row-group pruning: {MONTHS.sql} over the payments in month order "
        f"({pq.ParquetFile(ordered).metadata.num_row_groups} row groups): raw {raw.inner:.3f} s, enforced "
        f"{ours.inner:.3f} s (engine {ours.out['engine']:.3f} s): {ours.inner / raw.inner:.2f}x; same result: "
        f"{'yes' if _same_rows(raw.out['rows'], ours.out['rows']) else 'NO'}"
    )
    if Limits().memory != MEMORY:
        _report_default_memory(views, files, both)
    _report_smartnoise(person, dp)
    if sandbox_fingerprint() != fingerprint:
        print(
            f"WARNING: the sandbox sources changed during the run ({fingerprint} → {sandbox_fingerprint()}): "
            "the figures mix versions; run again"
        )
