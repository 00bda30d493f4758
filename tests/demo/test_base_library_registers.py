"""The registers behind the electronic-licence, property-unit and social-credit libraries: realistic noise on
known truth, drawn from streams of their own."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session, sessionmaker
from stdnum import luhn
from stdnum.cn import uscc

from shengjing.demo import generator, shenyang
from shengjing.demo import service as demo
from shengjing.demo.catalog import RESOURCE_BY_TABLE
from shengjing.demo.generator import (
    LICENCE_REGISTERS,
    MANIFEST_FILE,
    PROPERTY_REGISTERS,
    REFERENCE_DATE,
    TABLES,
    TRUTH,
    CityManifest,
    generate_city,
)
from shengjing.identity.principal import Principal
from shengjing.ingest import service as ingest
from shengjing.store.db import unit_of_work
from tests.demo.test_registers import _enterprise_name_noise, _within

SEED = 1949
PERSONS = 60_000  # 3,000 enterprises (≈ 850 licence pushes) and 20,000 property units: enough for the rates
SMALL = 4_000
SMALL_CHUNK = 1_500
NEW_TABLES = (*LICENCE_REGISTERS, *PROPERTY_REGISTERS)
# The tables there were before these registers (taxpayer and employer have gained a column each since).
OLD_TABLES = tuple(t.name for t in TABLES if t.name not in NEW_TABLES)
LICENCE_NO = re.compile(shenyang.LICENCE_NO_PATTERN)
UNIT_NO = re.compile(shenyang.UNIT_NO_PATTERN)
SHANGHAI = ZoneInfo("Asia/Shanghai")
Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rows]:
    wanted = {"person", "enterprise", "taxpayer", "employer", *NEW_TABLES}
    made = generate_city(tmp_path_factory.mktemp("base-registers") / "city", persons=PERSONS, seed=SEED, tables=wanted)
    found = {name: pq.read_table(path).to_pylist() for name, path in made.paths.items() if name != "person"}
    found.update({f"truth_{name}": pq.read_table(path).to_pylist() for name, path in made.truth.items()})
    return found


def _small(out_dir: Path, **kwargs: Any) -> CityManifest:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generator, "CHUNK_PERSONS", SMALL_CHUNK)
        return generate_city(out_dir, persons=SMALL, seed=SEED, **kwargs)


@pytest.fixture(scope="module")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> CityManifest:
    return _small(tmp_path_factory.mktemp("small") / "city")


def _truth(rows: Rows, key: str) -> dict[tuple[str, str], str]:
    return {(r["table"], r["record_id"]): r[key] for r in rows}


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- truth ------------------------------------------------------------------------------------------------


def test_truth_covers_every_record_once(small_city: CityManifest) -> None:
    for spec in TRUTH:
        truth = pq.read_table(small_city.truth[spec.name]).to_pylist()
        key = spec.schema.names[2]
        assert len({(r["table"], r["record_id"]) for r in truth}) == len(truth)
        assert len(truth) == sum(small_city.row_counts[t] for t in spec.registers)
        for table in spec.registers:
            written = pq.read_table(small_city.paths[table])
            ids = written.column("record_id" if "record_id" in written.column_names else key).to_pylist()
            assert len(set(ids)) == len(ids) > 0, table
            assert {r["record_id"] for r in truth if r["table"] == table} == set(ids), table
    # The authoritative registers' keys are their own true keys.
    for spec, table in ((TRUTH[2], "food_licence"), (TRUTH[3], "real_estate_unit")):
        key = spec.schema.names[2]
        truth = _truth(pq.read_table(small_city.truth[spec.name]).to_pylist(), key)
        assert all(truth[table, r["record_id"]] == r[key] for r in pq.read_table(small_city.paths[table]).to_pylist())


def test_record_ids_are_of_their_form(rows: dict[str, Rows]) -> None:
    for table, prefix in (("food_licence", "SP"), ("licence_push", "DZ"), ("real_estate_unit", "BDC"), ("house", "FW")):
        ids = [r["record_id"] for r in rows[table]]
        assert len(set(ids)) == len(ids) > 0
        assert all(re.fullmatch(prefix + r"[0-9]{10}", i) for i in ids), table


# --- social credit ------------------------------------------------------------------------------------------


def test_credit_grades_and_wage_arrears(rows: dict[str, Rows]) -> None:
    grades = Counter(r["credit_grade"] for r in rows["taxpayer"])
    n = grades.total()
    assert _within(grades[None], n, 0.05), grades
    for grade, share in {"A": 0.35, "B": 0.40, "M": 0.15, "C": 0.07, "D": 0.03}.items():
        assert _within(grades[grade], n, 0.95 * share), (grade, grades)
    assert set(grades) == {None, "A", "B", "M", "C", "D"}
    arrears = [r["wage_arrears"] for r in rows["employer"]]
    assert all(isinstance(a, bool) for a in arrears) and _within(sum(arrears), len(arrears), 0.02)


def test_the_credit_columns_leave_their_registers_as_they_were(small_city: CityManifest, tmp_path: Path) -> None:
    # Drawn from streams of their own: however much randomness they take, the registers' other columns are the
    # same rows (as they were before the columns were added).
    def greedy(draw: Any) -> Any:
        return lambda rng, n: (rng.random(1000), draw(rng, n + 1).slice(1))[1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generator, "_credit_grades", greedy(generator._credit_grades))
        mp.setattr(generator, "_wage_arrears", greedy(generator._wage_arrears))
        other = _small(tmp_path / "other", tables={"person", "taxpayer", "employer"})
    for register, column in (("taxpayer", "credit_grade"), ("employer", "wage_arrears")):
        mine, theirs = pq.read_table(other.paths[register]), pq.read_table(small_city.paths[register])
        assert mine.column(column) != theirs.column(column), register
        assert mine.drop_columns([column]).equals(theirs.drop_columns([column])), register


# --- electronic licences ------------------------------------------------------------------------------------


def test_food_licences(rows: dict[str, Rows]) -> None:
    enterprise = {r["credit_code"]: r for r in rows["enterprise"]}
    licences = rows["food_licence"]
    assert _within(len(licences), len(enterprise), 0.30)
    assert len({r["holder_credit_code"] for r in licences}) == len(licences)  # one licence per enterprise
    numbers = [r["licence_no"] for r in licences]
    assert len(set(numbers)) == len(numbers) and all(LICENCE_NO.match(n) for n in numbers)
    status: Counter[str] = Counter()
    for r in licences:
        e, number = enterprise[r["holder_credit_code"]], r["licence_no"]
        assert (r["holder_name"], r["address"]) == (e["name"], e["address"])  # the regulator's own: clean
        assert number[2] in "123" and number[3:7] == "2101" and number[7:9] == e["district_code"][4:]
        if e["industry_code"] in ("6110", "6210", "6220"):
            assert number[2] == "2"  # 餐饮服务经营者
        assert luhn.is_valid(number[2:])  # the demo's check digit
        assert e["established_on"] < r["issued_on"] <= REFERENCE_DATE
        assert r["valid_until"] == _plus_years(r["issued_on"], 5)
        if r["status"] == "注销":
            assert e["status"] in ("注销", "吊销", "迁出")
        else:
            assert r["status"] == ("过期" if r["valid_until"] < REFERENCE_DATE else "有效")
        status[r["status"]] += 1
    assert status["有效"] > status["注销"] > 0 and status["过期"] > 0, status


def _malformed_licence_kind(given: str, true: str) -> str:
    if " " in given:
        assert given.replace(" ", "") == true and given[0] != " " and given[-1] != " "
        return "space"
    if given.startswith("jy"):
        assert given.upper() == true
        return "lower"
    if "O" in given:
        assert given.count("O") == 1 and given.replace("O", "0") == true
        return "letter_o"
    assert len(given) == 15 and given[:2] == "JY"
    assert any(true[:i] + true[i + 1 :] == given for i in range(2, 16))
    return "dropped"


def test_licence_push_noise(rows: dict[str, Rows]) -> None:
    truth = _truth(rows["truth_licences"], "licence_no")
    licence = {r["licence_no"]: r for r in rows["food_licence"]}
    codes = {r["credit_code"] for r in rows["enterprise"]}
    pushes = rows["licence_push"]
    per_licence = Counter(truth["licence_push", r["record_id"]] for r in pushes)
    assert _within(len(per_licence), len(licence), 0.90)
    assert set(per_licence.values()) == {1, 2} and _within(Counter(per_licence.values())[2], len(per_licence), 0.06)
    seen: Counter[str] = Counter()
    for r in pushes:
        true = truth["licence_push", r["record_id"]]
        lic = licence[true]
        given = r["licence_no"]
        if given is None:
            seen["missing"] += 1
        elif LICENCE_NO.match(given):
            assert given == true  # a well-formed licence number is always the true one
        else:
            seen["malformed"] += 1
            seen[_malformed_licence_kind(given, true)] += 1
        code = r["holder_credit_code"]
        if code is None:
            seen["code_missing"] += 1
        elif uscc.is_valid(code):
            assert code == lic["holder_credit_code"]
        else:
            seen["code_invalid"] += 1
            assert code not in codes
        seen["name_" + _enterprise_name_noise(r["holder_name"], lic["holder_name"])] += 1
        if r["issued_on"] != lic["issued_on"]:
            seen["issued_off"] += 1
            assert abs((r["issued_on"] - lic["issued_on"]).days) == 1
        assert r["valid_until"] == lic["valid_until"] and r["licence_type"] == "食品经营许可证"
        pushed = r["pushed_at"].astimezone(SHANGHAI).date()
        assert lic["issued_on"] <= pushed <= REFERENCE_DATE
    n = len(pushes)
    for kind, share in {"missing": 0.04, "malformed": 0.04, "code_missing": 0.04, "code_invalid": 0.06}.items():
        assert _within(seen[kind], n, share), (kind, seen[kind] / n)
    assert _within(seen["issued_off"], n, 0.02), seen
    assert _within(n - seen["name_clean"], n, 0.13 - 0.03 * 0.05), seen  # as in the taxpayer register
    assert all(seen[k] > 0 for k in ("space", "lower", "letter_o", "dropped")), seen


# --- property units -----------------------------------------------------------------------------------------


def test_real_estate_units(rows: dict[str, Rows]) -> None:
    units = rows["real_estate_unit"]
    assert len(units) == round(PERSONS / 3)
    numbers = [r["unit_no"] for r in units]
    assert len(set(numbers)) == len(numbers) and all(UNIT_NO.match(n) for n in numbers)
    district_names = {d.code: d.name for d in shenyang.DISTRICTS}
    homesteads = 0
    for r in units:
        number, address = r["unit_no"], r["address"]
        assert number[:6] == r["district_code"] and address.startswith("沈阳市" + district_names[r["district_code"]])
        if number[12:14] == "JC":  # 集体土地, 宅基地: a rural house on its own plot
            homesteads += 1
            assert address.endswith("号") and number[24:] == "0001"  # the first and only 户 of its 幢
        else:
            assert re.search(r"号[0-9]+栋[1-4]单元[0-9]+0[12]$", address), address
        assert date(1990, 1, 1) <= r["registered_on"] <= REFERENCE_DATE
    assert 0.04 < homesteads / len(units) < 0.12  # 2 % of the units in the urban districts, 45 % in the counties
    assert set(Counter(r["land_use"] for r in units)) == {"住宅", "商业", "办公", "工业"}
    assert 80 < median(float(r["building_area"]) for r in units) < 100
    # Units follow the districts' population, building by building.
    shares = Counter(r["district_code"] for r in units)
    total = sum(d.population_weight for d in shenyang.DISTRICTS)
    for d in shenyang.DISTRICTS:
        assert abs(shares[d.code] / len(units) - d.population_weight / total) < 0.04, d.name


def _address_kind(given: str, true: str) -> str:
    if given == true:
        return "clean"
    if given == true[len("沈阳市") :]:
        return "without_city"
    if given == true + "室":
        return "room"
    assert given == true.replace("栋", "号楼"), (given, true)
    return "building"


def test_house_noise(rows: dict[str, Rows]) -> None:
    truth = _truth(rows["truth_property_units"], "unit_no")
    unit = {r["unit_no"]: r for r in rows["real_estate_unit"]}
    houses = rows["house"]
    assert _within(len(houses), len(unit), 0.80)
    assert len({truth["house", r["record_id"]] for r in houses}) == len(houses)
    seen: Counter[str] = Counter()
    for r in houses:
        true = truth["house", r["record_id"]]
        u, given = unit[true], r["unit_no"]
        if given is None:
            seen["missing"] += 1
        elif UNIT_NO.match(given):
            assert given == true  # a well-formed unit number is always the true one
        else:
            seen["malformed"] += 1
            if len(given) == 27:
                assert any(true[:i] + true[i + 1 :] == given for i in range(28))
                seen["dropped"] += 1
            else:
                assert given == true[:19] + "f" + true[20:]
                seen["lower_f"] += 1
        seen[_address_kind(r["address"], u["address"])] += 1
        assert r["district_code"] == u["district_code"]
        if r["building_area"] != u["building_area"]:
            seen["area"] += 1
            off = abs(r["building_area"] / u["building_area"] - 1)
            assert Decimal("0.0045") <= off <= Decimal("0.0305"), (r["building_area"], u["building_area"])
        assert isinstance(r["built_year"], int) and 1955 <= r["built_year"] < u["registered_on"].year
        assert r["structure"] in ("钢混", "砖混", "框架")
    n = len(houses)
    for kind, share in {"missing": 0.05, "malformed": 0.04, "area": 0.10}.items():
        assert _within(seen[kind], n, share), (kind, seen[kind] / n)
    # 15 % written differently; a rural house (no 栋, no room) is only ever written without the city.
    assert _within(n - seen["clean"], n, 0.15), seen
    assert all(seen[k] > 0 for k in ("without_city", "room", "building", "dropped", "lower_f")), seen


# --- determinism, independence, restriction ----------------------------------------------------------------


def _digests(city: CityManifest) -> dict[str, str]:
    files = [*city.paths.values(), *city.truth.values(), city.directory / MANIFEST_FILE]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_same_seed_same_files(small_city: CityManifest, tmp_path: Path) -> None:
    again = _digests(_small(tmp_path / "again"))
    assert again == _digests(small_city)
    assert {f"{t}.parquet" for t in NEW_TABLES} | {s.file for s in TRUTH} <= again.keys()


def test_the_new_registers_leave_the_other_tables_as_they_were(small_city: CityManifest, tmp_path: Path) -> None:
    # A city without the new registers: the same bytes as in the full city, so their streams (appended after the
    # others') change none of the other tables' rows, and no truth file of the others changes either.
    old = _small(tmp_path / "old", tables=OLD_TABLES)
    full, mine = _digests(small_city), _digests(old)
    for name in (*(f"{t}.parquet" for t in OLD_TABLES), "truth_persons.parquet", "truth_enterprises.parquet"):
        assert mine[name] == full[name], name
    for spec in TRUTH[2:]:
        assert pq.ParquetFile(old.truth[spec.name]).metadata.num_rows == 0


@pytest.mark.parametrize("wanted", [{"licence_push"}, {"food_licence"}, {"house"}, {"real_estate_unit"}])
def test_a_city_of_one_new_register(small_city: CityManifest, tmp_path: Path, wanted: set[str]) -> None:
    only = _small(tmp_path / "only", tables=wanted)
    assert [t.name for t in only.tables] == sorted(wanted)
    full, mine = _digests(small_city), _digests(only)
    (table,) = wanted
    assert mine[f"{table}.parquet"] == full[f"{table}.parquet"]  # computed the same without the others
    spec = next(s for s in TRUTH if table in s.registers)
    truth = pq.read_table(only.truth[spec.name]).to_pylist()
    assert {r["table"] for r in truth} == {table} and len(truth) == only.row_counts[table]
    expected = [r for r in pq.read_table(small_city.truth[spec.name]).to_pylist() if r["table"] == table]
    assert truth == expected
    assert all(pq.ParquetFile(p).metadata.num_rows == 0 for n, p in only.truth.items() if n != spec.name)


def test_the_manifest_names_the_truth_files(small_city: CityManifest) -> None:
    manifest = json.loads((small_city.directory / MANIFEST_FILE).read_text())
    assert manifest["truth"] == {s.name: {"file": s.file} for s in TRUTH}
    assert set(small_city.truth) == {"persons", "enterprises", "licences", "property_units"}
    for table in NEW_TABLES:
        assert manifest["tables"][table]["department"] == generator.TABLE_SPECS[table].department
    assert manifest["tables"]["licence_push"]["department"] == "data_bureau"
    assert manifest["tables"]["real_estate_unit"]["department"] == "natural_resources"


# --- into the catalog, as the libraries read them ----------------------------------------------------------


def test_the_generated_files_are_ingested_whole(
    sessions: sessionmaker[Session], system: Principal, tmp_path: Path
) -> None:
    # The libraries ingest the generator's Parquet files themselves (not the deliveries): nothing is quarantined,
    # and a register's bad identifiers are counted as failures of non-blocking rules.
    with unit_of_work(sessions) as db:
        demo.set_up_organizations_and_users(db, system)
        demo.set_up_catalog(db, system)
    tables = ("person", "enterprise", "taxpayer", "employer", *NEW_TABLES)
    city = generate_city(tmp_path / "city", persons=3_000, seed=SEED, tables=set(tables))
    for table in tables:
        report = ingest.ingest(sessions, system, RESOURCE_BY_TABLE[table].code, str(city.paths[table]))
        assert (report.rows_in, report.rows_quarantined) == (city.table(table).rows, 0), table
