"""A small city for the sandbox's tests: a data bureau, two departments with one resource each (persons with
their ID numbers, names, districts, ages and incomes; social insurance payments by ID number), an operator, their
users, and an authorization taken through the whole workflow to active.

The values are deterministic and *distinctive*: every protected value (an ID number, a name, an income) is unlike
any number or word a result could hold by chance, so a test can look for any of them in a result and know that
finding one is a leak.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, insert, select, text

from shengjing import domains
from shengjing.catalog.schemas import FieldIn, ShareType
from shengjing.identity.principal import OrgType, Principal
from shengjing.ingest import service as ingest
from shengjing.sandbox import service as sandbox
from shengjing.store.db import unit_of_work
from tests.conftest import World

DISTRICTS = ["210102", "210103", "210104", "210105", "210106", "210111"]
PERSON_FIELDS = [
    FieldIn(name="gmsfhm", label="公民身份号码"),
    FieldIn(name="xm", label="姓名"),
    FieldIn(name="xb", label="性别"),
    FieldIn(name="qx", label="区县代码"),
    FieldIn(name="nl", label="年龄", data_type="integer"),
    FieldIn(name="sr", label="月收入", data_type="decimal"),
    FieldIn(name="zy", label="职业"),
    FieldIn(name="bz", label="备注"),
]
INSURANCE_FIELDS = [
    FieldIn(name="gmsfhm", label="公民身份号码"),
    FieldIn(name="jfje", label="缴费金额", data_type="decimal"),
    FieldIn(name="xz", label="险种"),
]
PERSON_CONTROLS = {
    "gmsfhm": "join",
    "xm": "hidden",
    "xb": "group_by",
    "qx": "group_by",
    "nl": "compare",
    "sr": {"control": "aggregate", "bounds": [0, 100000]},
    "zy": "plain",
    "bz": {"control": "masked", "mask": "keep_first:2"},
}
INSURANCE_CONTROLS = {"gmsfhm": "join", "jfje": {"control": "aggregate", "bounds": [0, 10000]}, "xz": "plain"}


@dataclass
class Persons:
    rows: list[dict[str, Any]]

    def secrets(self) -> set[str]:
        """Every protected value of the persons, as text: none may ever appear in a result."""
        found: set[str] = set()
        for row in self.rows:
            found |= {row["gmsfhm"], row["xm"], f"{row['sr']:.2f}", row["bz"]}
        return found


def persons(n: int, seed: int = 20241) -> Persons:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append(
            {
                "gmsfhm": f"21{rng.randint(10**15, 10**16 - 1)}X",  # never a count, a sum or a word
                "xm": f"测试姓名{i:05d}",
                "xb": rng.choice("12"),
                "qx": rng.choice(DISTRICTS),
                "nl": rng.randint(1, 95),
                "sr": round(rng.uniform(3000, 90000) + 0.37, 2),
                "zy": rng.choice(["教师", "工人", "医生", "职员"]),
                "bz": f"备注{rng.randint(10**8, 10**9 - 1)}",
            }
        )
    return Persons(rows)


def write_csv(path: Path, rows: list[dict[str, Any]], fields: list[FieldIn]) -> Path:
    lines = [",".join(f.name for f in fields)]
    lines += [",".join(str(row[f.name]) for f in fields) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class City:
    world: World
    people: Persons
    insurance: list[dict[str, Any]] = field(default_factory=list)
    _actors: dict[str, Principal] = field(default_factory=dict)

    def actor(self, username: str) -> Principal:
        """The user as the services see them (looked up once: a lookup inside a test's open transaction would wait
        on SQLite's write lock)."""
        if username not in self._actors:
            self._actors[username] = self.world.principal(username)
        return self._actors[username]

    @property
    def sessions(self):  # type: ignore[no-untyped-def]
        return self.world.sessions

    def document(self, **overrides: Any) -> str:
        data: dict[str, Any] = {
            "operator": "YY",
            "title": "沈阳普惠金融征信分析",
            "scenario": "finance_credit",
            "purpose": "按区县统计就业人口收入水平，用于普惠金融产品设计",
            "valid_from": "2026-01-01",
            "valid_until": "2099-12-31",
            "egress": "automatic",
            "row_limit": 100,
            "min_group_size": 5,
            "resources": [
                {"resource": "GA-PERSON", "table": "person", "row_filter": "nl >= 18", "columns": PERSON_CONTROLS},
                {"resource": "RS-INSURANCE", "table": "insurance", "columns": INSURANCE_CONTROLS},
            ],
        }
        data.update(overrides)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)

    def authorize(self, text: str | None = None) -> str:
        """An authorization from ``text`` (default: ``document()``), taken through the workflow to active."""
        with unit_of_work(self.sessions) as db:
            code = sandbox.create_authorization(db, self.actor("analyst"), text or self.document()).code
        with unit_of_work(self.sessions) as db:
            sandbox.apply(db, self.actor("analyst"), code)
        with unit_of_work(self.sessions) as db:
            sandbox.consent(db, self.actor("gongan"), code, "GA-PERSON", "consent")
        with unit_of_work(self.sessions) as db:
            sandbox.consent(db, self.actor("renshe"), code, "RS-INSURANCE", "consent")
        with unit_of_work(self.sessions) as db:
            sandbox.approve(db, self.actor("admin"), code, "同意")
        return code

    def query(self, code: str, sql: str, *, engine: str | None = None):  # type: ignore[no-untyped-def]
        return sandbox.run_query(self.sessions, self.actor("analyst"), code, sql, engine=engine)


# A person's ID number is there and of their own in every row: the sandbox counts a query of person alone by its rows.
PERSON_QUALITY = """
rules:
  - {kind: required, field: gmsfhm}
  - {kind: unique, key: [gmsfhm]}
"""


def build_city(world: World, tmp_path: Path, *, people: int = 400) -> City:
    world.org("SYSJJ", OrgType.DATA_BUREAU, "沈阳市数据局")
    world.org("GA", OrgType.DEPARTMENT, "沈阳市公安局")
    world.org("RS", OrgType.DEPARTMENT, "沈阳市人力资源和社会保障局")
    world.org("YY", OrgType.OPERATOR, "沈阳数字产业发展有限公司")
    world.org("QT", OrgType.OPERATOR, "另一家运营机构")
    world.user("admin", "SYSJJ", "platform_admin")
    world.user("auditor", "SYSJJ", "auditor")
    world.user("reviewer", "SYSJJ", "egress_reviewer")
    world.user("gongan", "GA", "department_admin")
    world.user("renshe", "RS", "department_admin")
    world.user("analyst", "YY", "operator_analyst")
    world.user("other", "QT", "operator_analyst")
    world.resource(
        "GA-PERSON",
        "人口基本信息",
        "GA",
        fields=PERSON_FIELDS,
        share_type=ShareType.CONDITIONAL,
        quality_rules=PERSON_QUALITY,
    )
    world.resource("RS-INSURANCE", "社会保险缴费记录", "RS", fields=INSURANCE_FIELDS, share_type=ShareType.CONDITIONAL)
    found = persons(people)
    rng = random.Random(7)
    insurance = [
        {
            "gmsfhm": rng.choice(found.rows)["gmsfhm"],
            "jfje": round(rng.uniform(100, 5000) + 0.13, 2),
            "xz": rng.choice(["养老", "医疗", "失业"]),
        }
        for _ in range(people * 2)
    ]
    ingest.ingest(
        world.sessions,
        world.principal("gongan"),
        "GA-PERSON",
        str(write_csv(tmp_path / "p.csv", found.rows, PERSON_FIELDS)),
    )
    ingest.ingest(
        world.sessions,
        world.principal("renshe"),
        "RS-INSURANCE",
        str(write_csv(tmp_path / "i.csv", insurance, INSURANCE_FIELDS)),
    )
    return City(world, found, insurance)


# --- the city built once per database backend and test process, then restored for each test ---------------------


@dataclass(frozen=True)
class _Template:
    """A built city: every table's rows and a copy of the var directory (the lake's snapshots)."""

    rows: dict[str, list[dict[str, Any]]]
    var_dir: Path
    people: Persons
    insurance: list[dict[str, Any]]


_TEMPLATES: dict[tuple[str, int, str], _Template] = {}


def snapshot_world(world: World) -> tuple[dict[str, list[dict[str, Any]]], Path]:
    """Every table's rows and a copy of the var directory (the lake's snapshots), to restore in later tests."""
    with world.sessions() as db:
        rows = {t.name: [dict(r) for r in db.execute(select(t)).mappings()] for t in domains.metadata().sorted_tables}
    copy = Path(tempfile.mkdtemp(prefix="shengjing-city-")) / "var"
    shutil.copytree(world.settings.var_dir, copy)
    return rows, copy


def restore_world(world: World, rows: dict[str, list[dict[str, Any]]], var_dir: Path) -> None:
    """The snapshot's rows in place of the test database's, and its var directory in place of the test's. On
    PostgreSQL each serial column's sequence is moved past the restored ids."""
    shutil.copytree(var_dir, world.settings.var_dir, dirs_exist_ok=True)
    tables = domains.metadata().sorted_tables
    with unit_of_work(world.sessions) as db:
        for table in reversed(tables):
            db.execute(delete(table))
        for table in tables:
            if rows[table.name]:
                db.execute(insert(table), rows[table.name])
        if db.get_bind().dialect.name == "postgresql":
            for table in tables:
                column = table.autoincrement_column
                if column is not None:
                    name = column.name
                    db.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', '{name}'), "
                            f'COALESCE(MAX("{name}"), 1), MAX("{name}") IS NOT NULL) FROM "{table.name}"'
                        )
                    )


def _snapshot(world: World, city: City) -> _Template:
    rows, copy = snapshot_world(world)
    return _Template(rows, copy, city.people, city.insurance)


def _restore(world: World, template: _Template) -> City:
    restore_world(world, template.rows, template.var_dir)
    return City(world, template.people, template.insurance)


def city_from_template(world: World, tmp_path: Path, *, people: int = 400, tag: str = "") -> City:
    """``build_city``, paid once per backend, size and ``tag`` in each test process: the first test builds the
    city through the services, the others get its rows and files restored (a tenth of the time). ``tag`` keeps
    apart cities built at different (travelled) times."""
    key = (world.sessions.kw["bind"].dialect.name, people, tag)
    template = _TEMPLATES.get(key)
    if template is None:
        city = build_city(world, tmp_path, people=people)
        _TEMPLATES[key] = _snapshot(world, city)
        return city
    return _restore(world, template)
