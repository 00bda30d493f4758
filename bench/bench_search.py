"""Catalog search with 10,000 resources: p50/p95 of ``catalog.service.search`` over a mix of queries (one term,
two terms such as 社保 缴费, facet filters, the empty query; as a department and as the data bureau), against the
50 ms target and against a plain ``SELECT id … WHERE search_text LIKE`` of the same terms in the same run.

SQLite always; PostgreSQL too when ``SHENGJING_BENCH_POSTGRES_URL`` is set or the local test server
(postgres@127.0.0.1:5432/test) answers, in a throwaway database. ``BENCH_RESOURCES`` scales the catalog.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from faker import Faker
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bench._util import throwaway_postgres
from shengjing import domains
from shengjing.catalog import service as catalog
from shengjing.catalog.models import Resource, ResourceField
from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.config import Settings
from shengjing.demo import service as demo_service
from shengjing.demo import shenyang
from shengjing.identity import service as identity
from shengjing.identity.models import Organization
from shengjing.identity.principal import Principal, system_principal
from shengjing.store import migrate
from shengjing.store.db import make_engine, make_session_factory, unit_of_work

RESOURCES = int(os.environ.get("BENCH_RESOURCES", "10000"))
REPEATS = 15
TARGET_P95_S = 0.050

# (topic, theme, tags): what city departments publish; names are topic + a district or year + a kind of list.
TOPICS = (
    ("社会保险缴费", "社会保障", ["社保", "缴费"]),
    ("养老保险待遇发放", "社会保障", ["养老", "社保"]),
    ("医疗保险结算", "医疗卫生", ["医保", "结算"]),
    ("住房公积金缴存", "住房保障", ["公积金"]),
    ("住房公积金贷款", "住房保障", ["公积金", "贷款"]),
    ("企业营业执照登记", "市场主体", ["工商", "企业"]),
    ("个体工商户登记", "市场主体", ["工商", "个体户"]),
    ("食品经营许可", "市场监管", ["食品", "许可"]),
    ("公交卡刷卡", "交通出行", ["公交", "客流"]),
    ("出租车运营", "交通出行", ["出租车"]),
    ("道路运输经营许可", "交通出行", ["运输", "许可"]),
    ("门诊就诊", "医疗卫生", ["就诊", "医院"]),
    ("疫苗接种", "医疗卫生", ["疫苗"]),
    ("中小学学籍", "教育", ["学籍", "学生"]),
    ("幼儿园名录", "教育", ["幼儿园"]),
    ("户籍人口", "人口", ["户籍", "人口"]),
    ("流动人口居住登记", "人口", ["居住证"]),
    ("最低生活保障", "社会救助", ["低保", "救助"]),
    ("养老机构", "社会救助", ["养老", "机构"]),
    ("建设工程施工许可", "城乡建设", ["施工", "许可"]),
    ("不动产登记", "城乡建设", ["不动产"]),
    ("文物保护单位", "文化旅游", ["文物"]),
    ("A级旅游景区", "文化旅游", ["景区", "旅游"]),
    ("空气质量监测", "生态环境", ["空气", "监测"]),
)
KINDS = ("记录", "信息", "名录", "统计", "明细", "台账")
FIELD_LABELS = (
    ("gmsfhm", "公民身份号码"), ("xm", "姓名"), ("xb", "性别"), ("csrq", "出生日期"), ("lxdh", "联系电话"),
    ("tyshxydm", "统一社会信用代码"), ("jgmc", "机构名称"), ("xzqhdm", "行政区划代码"), ("dz", "地址"),
    ("jfje", "缴费金额"), ("jfrq", "缴费日期"), ("djrq", "登记日期"), ("zt", "状态"), ("bz", "备注"),
    ("gxsj", "更新时间"), ("jd", "经度"), ("wd", "纬度"), ("sl", "数量"), ("je", "金额"), ("lx", "类型"),
)  # fmt: skip
QUERIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("one term", "社保", {}),
    ("one term", "公交", {}),
    ("one term", "许可", {}),
    ("two terms", "社保 缴费", {}),
    ("two terms", "住房 公积金", {}),
    ("facet", "信息", {"department": "human_resources"}),
    ("facet", "", {"theme": "社会保障"}),
    ("facet", "记录", {"share_type": ShareType.CONDITIONAL}),
    ("empty", "", {}),
)


def _descriptions(departments: list[str], count: int) -> Iterator[ResourceIn]:
    fake = Faker("zh_CN")
    fake.seed_instance(7)
    rng = random.Random(7)
    districts = [d.name for d in shenyang.DISTRICTS]
    for i in range(count):
        topic, theme, tags = TOPICS[i % len(TOPICS)]
        where = rng.choice([*districts, f"{rng.randint(2015, 2025)}年", "全市"])
        name = f"{where}{topic}{rng.choice(KINDS)}"
        labels = rng.sample(FIELD_LABELS, rng.randint(5, 12))
        yield ResourceIn(
            code=f"B-{i:05d}",
            name=name,
            summary=f"{name}，{fake.paragraph(nb_sentences=3)}",
            department=rng.choice(departments),
            share_type=rng.choice(list(ShareType)),
            open_type=rng.choice(list(ShareType)),
            update_frequency=rng.choice(list(UpdateFrequency)),
            themes=[theme, *rng.sample([t for _, t, _ in TOPICS], rng.randint(0, 1))],
            tags=[*tags, *fake.words(rng.randint(0, 2))],
            formats=["CSV"],
            fields=[FieldIn(name=n, label=label) for n, label in labels],
        )


def _fill(sessions: sessionmaker[Session]) -> dict[str, Principal]:
    """Organizations, users and RESOURCES resources, inserted in bulk (the audited create path would take
    minutes and is not what is measured); returns the actors: the data bureau and one department."""
    system = system_principal("bench")
    with unit_of_work(sessions) as db:
        identity.sync_builtin_roles(db, system)
        demo_service.set_up_organizations_and_users(db, system)
    with unit_of_work(sessions) as db:
        org_ids = dict(db.execute(select(Organization.code, Organization.id)).tuples().all())
        departments = [d.code for d in shenyang.DEPARTMENTS]
        for data in _descriptions(departments, RESOURCES):
            db.add(
                Resource(
                    code=data.code,
                    name=data.name,
                    summary=data.summary,
                    department_id=org_ids[data.department],
                    share_type=data.share_type.value,
                    open_type=data.open_type.value,
                    update_frequency=data.update_frequency.value,
                    themes=data.themes,
                    tags=data.tags,
                    formats=data.formats,
                    search_text=catalog._search_text(data),
                    fields=[
                        ResourceField(position=i, name=f.name, label=f.label, data_type=f.data_type.value)
                        for i, f in enumerate(data.fields)
                    ],
                )
            )
    with unit_of_work(sessions) as db:
        return {
            "data bureau": identity.principal_for(identity._find_user(db, system, "admin"), "session"),
            "department": identity.principal_for(identity._find_user(db, system, "gongan"), "session"),
        }


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94]


def _timed(sessions: sessionmaker[Session], work: Callable[[Session], object]) -> list[float]:
    samples = []
    for _ in range(REPEATS):
        with unit_of_work(sessions) as db:
            started = time.perf_counter()
            work(db)
            samples.append(time.perf_counter() - started)
    return samples


def _plain_like(db: Session, query: str) -> object:
    """The floor: ids of the rows whose search_text holds every term (or one of its long forms)."""
    conditions, params = [], {}
    for i, forms in enumerate(catalog._terms(query)):
        names = [f"t{i}_{j}" for j in range(len(forms))]
        conditions.append("(" + " OR ".join(f"search_text LIKE :{n}" for n in names) + ")")
        params.update({n: f"%{form}%" for n, form in zip(names, forms, strict=True)})
    where = " AND ".join(conditions) or "1 = 1"
    return db.execute(text(f"SELECT id FROM resource WHERE {where} ORDER BY code"), params).all()


def _measure(backend: str, url: str, var_dir: Path) -> None:
    settings = Settings(_env_file=None, var_dir=var_dir, database_url=url)  # type: ignore[call-arg]
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine, domains.metadata())
    sessions = make_session_factory(engine, settings)
    started = time.perf_counter()
    actors = _fill(sessions)
    with engine.begin() as conn:  # planner statistics, as a live catalog has them (autovacuum, on PostgreSQL)
        conn.execute(text("ANALYZE"))
    print(f"  {backend}: {RESOURCES:,} resources inserted in {time.perf_counter() - started:.1f} s")
    searched, plain = [], []
    by_kind: dict[str, list[float]] = {}
    for who, actor in actors.items():
        for kind, query, filters in QUERIES:
            samples = _timed(sessions, lambda db, q=query, f=filters, a=actor: catalog.search(db, a, q, **f))
            searched += samples
            by_kind.setdefault(f"{kind}, {who}", []).extend(samples)
    for _, query, _ in QUERIES:
        plain += _timed(sessions, lambda db, q=query: _plain_like(db, q))
    engine.dispose()
    for name, samples in by_kind.items():
        p50, p95 = _percentiles(samples)
        print(f"    {name:28s} p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms")
    p50, p95 = _percentiles(searched)
    plain_p50, plain_p95 = _percentiles(plain)
    print(f"  {backend} search: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (target p95 < 50 ms)")
    print(f"  {backend} plain LIKE of the same terms: p50 {plain_p50 * 1000:.1f} ms, p95 {plain_p95 * 1000:.1f} ms")
    print(f"  {backend} ratio: p95/target {p95 / TARGET_P95_S:.2f}x; p95 against plain LIKE p95 {p95 / plain_p95:.2f}x")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _measure("sqlite", f"sqlite:///{Path(tmp) / 'meta.db'}", Path(tmp))
        with throwaway_postgres("shengjing_bench_") as url:
            if url is not None:
                _measure("postgresql", url, Path(tmp))
