"""The departmental registers: the same persons and enterprises with realistic noise, and the truth about them."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric, uscc

from shengjing.demo import generator, shenyang
from shengjing.demo.generator import (
    ENTERPRISE_REGISTERS,
    MANIFEST_FILE,
    PERSON_REGISTERS,
    REFERENCE_DATE,
    TABLES,
    TRUTH,
    CityManifest,
    generate_city,
)

PERSONS = 4_000
ENTERPRISE_PERSONS = 60_000  # 3,000 enterprises: enough for the enterprise registers' rates
SEED = 1949
SMALL_CHUNK = 1_500
OLD_TABLES = ("person", "enterprise", "social_insurance", "housing_fund", "clinic_visit", "school_enrolment")
OLD_TABLES += ("bus_card_trip",)
Rows = list[dict[str, Any]]


def _generate(out_dir: Path, *, persons: int = PERSONS, **kwargs: Any) -> CityManifest:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generator, "CHUNK_PERSONS", SMALL_CHUNK)
        return generate_city(out_dir, persons=persons, seed=SEED, **kwargs)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> CityManifest:
    return _generate(tmp_path_factory.mktemp("registers") / "city")


@pytest.fixture(scope="module")
def rows(city: CityManifest) -> dict[str, Rows]:
    found = {name: pq.read_table(path).to_pylist() for name, path in city.paths.items() if name != "bus_card_trip"}
    found.update({f"truth_{name}": pq.read_table(path).to_pylist() for name, path in city.truth.items()})
    return found


@pytest.fixture(scope="module")
def enterprise_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rows]:
    out = tmp_path_factory.mktemp("enterprises") / "city"
    made = generate_city(out, persons=ENTERPRISE_PERSONS, seed=SEED, tables={"person", *ENTERPRISE_REGISTERS})
    found = {name: pq.read_table(path).to_pylist() for name, path in made.paths.items()}
    found["truth"] = pq.read_table(made.truth["enterprises"]).to_pylist()
    return found


def _gb11643(number: str | None) -> bool:
    """Valid per GB 11643: 17 digits, a real birth date and the check character. (stdnum's is_valid also wants the
    region code to have existed in the birth year, which no Shenyang ID of someone born before 1983 meets.)"""
    if number is None or len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        ric.get_birth_date(number)
    except ValueError:
        return False
    return ric.calc_check_digit(number) == number[-1]


def _stdnum_valid(number: str) -> bool:
    try:
        return ric.is_valid(number)
    except KeyError:  # stdnum 2.2 raises for some unknown county codes instead of answering False
        return False


def _truth(rows: Rows, key: str) -> dict[tuple[str, str], str]:
    return {(r["table"], r["record_id"]): r[key] for r in rows}


def _within(measured: int, total: int, share: float, *, slack: float = 0.0) -> bool:
    """``measured`` of ``total`` is within four standard errors (plus ``slack``) of ``share``."""
    return abs(measured / total - share) <= 4 * math.sqrt(share * (1 - share) / total) + slack


# --- truth ------------------------------------------------------------------------------------------------


def test_truth_covers_every_record_once(city: CityManifest, rows: dict[str, Rows]) -> None:
    persons = {r["id_number"] for r in rows["person"]}
    enterprises = {r["credit_code"] for r in rows["enterprise"]}
    for spec, known in ((TRUTH[0], persons), (TRUTH[1], enterprises)):
        truth = rows[f"truth_{spec.name}"]
        key = spec.schema.names[2]
        assert len({(r["table"], r["record_id"]) for r in truth}) == len(truth)
        assert {r[key] for r in truth} <= known
        for table in spec.registers:
            records = {(table, r[key] if table == spec.registers[0] else r["record_id"]) for r in rows[table]}
            assert len(records) == len(rows[table]) > 0, table
            assert {(r["table"], r["record_id"]) for r in truth if r["table"] == table} == records, table
        assert len(truth) == sum(city.row_counts[t] for t in spec.registers)
    assert all(r["record_id"] == r["id_number"] for r in rows["truth_persons"] if r["table"] == "person")


def test_record_ids_are_unique_and_of_their_form(rows: dict[str, Rows]) -> None:
    for table, prefix in (("insured_person", "RS"), ("patient", "WJ"), ("student", "JY")):
        ids = [r["record_id"] for r in rows[table]]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(prefix + r"[0-9]{10}", i) for i in ids), table


def test_a_valid_id_is_always_the_true_one(rows: dict[str, Rows]) -> None:
    truth = _truth(rows["truth_persons"], "id_number")
    persons = {r["id_number"] for r in rows["person"]}
    kinds: Counter[str] = Counter()
    for table in PERSON_REGISTERS[1:]:
        for r in rows[table]:
            true, given = truth[table, r["record_id"]], r["id_number"]
            if given is None:
                continue
            if _gb11643(given):
                assert given == true, (table, r["record_id"])
                continue
            # Invalid: fails stdnum's check too, is nobody's ID, and is one of the three mistakes.
            assert not _stdnum_valid(given) and given not in persons
            if len(given) == 17:
                assert given == true[:17]
                kinds["truncated"] += 1
                continue
            diff = [i for i in range(18) if given[i] != true[i]]
            if len(diff) == 1:
                kinds["mistyped"] += 1
            else:
                i = diff[0]
                assert diff == [i, i + 1] and given[i : i + 2] == true[i + 1] + true[i], (given, true)
                kinds["swapped"] += 1
    assert min(kinds.values()) > 0.2 * kinds.total(), kinds  # three kinds, about a third each


def test_a_valid_credit_code_is_always_the_true_one(enterprise_rows: dict[str, Rows]) -> None:
    truth = _truth(enterprise_rows["truth"], "credit_code")
    codes = {r["credit_code"] for r in enterprise_rows["enterprise"]}
    for table in ENTERPRISE_REGISTERS[1:]:
        for r in enterprise_rows[table]:
            true, given = truth[table, r["record_id"]], r["credit_code"]
            if given is None:
                continue
            if uscc.is_valid(given):
                assert given == true
            else:
                assert given not in codes
                assert given == true[:17] or sum(a != b for a, b in zip(given, true, strict=True)) == 1
                assert set(given) <= set(generator._USCC_ALPHABET)


def test_about_five_percent_of_person_records_lack_a_valid_id(rows: dict[str, Rows]) -> None:
    records = [r["id_number"] for table in PERSON_REGISTERS for r in rows[table]]
    share = sum(not _gb11643(number) for number in records) / len(records)
    assert 0.04 <= share <= 0.06, share
    assert all(_gb11643(r["id_number"]) for r in rows["person"])  # the household register is clean


# --- noise rates ------------------------------------------------------------------------------------------

PERSON_NOISE = {
    "insured_person": {"id_missing": 0.03, "id_invalid": 0.04},
    "patient": {"id_missing": 0.05, "id_invalid": 0.07},
    "student": {"id_missing": 0.02, "id_invalid": 0.03},
}
COMMON_NOISE = {
    "name_typo": 0.03,
    "name_spaced": 0.005,
    "birth_date": 0.02,
    "address_moved": 0.15,
    "address_without_city": 0.10,
}


def _person_noise(table: str, registers: Rows, truth: dict[tuple[str, str], str], person: dict[str, Any]) -> Counter:
    seen: Counter[str] = Counter()
    for r in registers:
        p = person[truth[table, r["record_id"]]]
        seen["records"] += 1
        seen["id_missing"] += r["id_number"] is None
        seen["id_invalid"] += r["id_number"] is not None and not _gb11643(r["id_number"])
        name = r["name"]
        if " " in name or "\u3000" in name:
            seen["name_spaced"] += 1
            assert re.sub("[ \u3000]", "", name) == p["name"]
        elif name != p["name"]:
            seen["name_typo"] += 1
            assert len(name) == len(p["name"]) and name[0] == p["name"][0]
            assert sum(a != b for a, b in zip(name, p["name"], strict=True)) == 1
        born, true_born = r["birth_date"], p["birth_date"]
        if born != true_born:
            seen["birth_date"] += 1
            swapped = (born.year, born.month, born.day) == (true_born.year, true_born.day, true_born.month)
            assert swapped or 1 <= abs((born - true_born).days) <= 3
        address = r["address"]
        if not address.startswith(shenyang.CITY_NAME):
            seen["address_without_city"] += 1
            address = shenyang.CITY_NAME + address
        if address != p["address"]:
            seen["address_moved"] += 1
            assert address.endswith("号") and any(address.startswith("沈阳市" + d.name) for d in shenyang.DISTRICTS)
        if "mobile" in r and p["mobile"] is not None:
            seen["has_mobile"] += 1
            seen["mobile_missing"] += r["mobile"] is None
            seen["mobile_other"] += r["mobile"] is not None and r["mobile"] != p["mobile"]
        if "mobile" in r and p["mobile"] is None:
            assert r["mobile"] is None  # children under 12 have no phone, in any register
    return seen


@pytest.mark.parametrize("table", list(PERSON_NOISE))
def test_person_register_noise_rates(rows: dict[str, Rows], table: str) -> None:
    truth = _truth(rows["truth_persons"], "id_number")
    person = {r["id_number"]: r for r in rows["person"]}
    seen = _person_noise(table, rows[table], truth, person)
    for kind, share in {**PERSON_NOISE[table], **COMMON_NOISE}.items():
        assert _within(seen[kind], seen["records"], share), (kind, seen[kind] / seen["records"], share)
    if table != "student":
        assert _within(seen["mobile_missing"], seen["has_mobile"], 0.10)
        assert _within(seen["mobile_other"], seen["has_mobile"], 0.20)


def _enterprise_name_noise(name: str, true: str) -> str:
    if name == true:
        return "clean"
    if name == true + " ":
        return "trailing_space"
    if "(沈阳)" in name:
        assert name.replace("(沈阳)", "") == true[2:]
        return "ascii_parentheses"
    if name in (true[2:], "沈阳市" + true[2:]):
        return "city"
    swapped = {true.replace("有限责任公司", "有限公司"), true[: -len("有限公司")] + "有限责任公司"}
    assert name in swapped, (name, true)
    return "legal_form"


@pytest.mark.parametrize(("table", "missing", "invalid"), [("taxpayer", 0.02, 0.04), ("employer", 0.04, 0.06)])
def test_enterprise_register_noise_rates(
    enterprise_rows: dict[str, Rows], table: str, missing: float, invalid: float
) -> None:
    truth = _truth(enterprise_rows["truth"], "credit_code")
    enterprise = {r["credit_code"]: r for r in enterprise_rows["enterprise"]}
    records = enterprise_rows[table]
    seen: Counter[str] = Counter()
    for r in records:
        e = enterprise[truth[table, r["record_id"]]]
        seen["missing"] += r["credit_code"] is None
        seen["invalid"] += r["credit_code"] is not None and not uscc.is_valid(r["credit_code"])
        seen[_enterprise_name_noise(r["name"], e["name"])] += 1
        seen["moved"] += r["address"] != e["address"]
    n = len(records)
    assert _within(seen["missing"], n, missing) and _within(seen["invalid"], n, invalid), seen
    assert _within(seen["city"], n, 0.08) and _within(seen["moved"], n, 0.10), seen
    # 股份有限公司 keeps its form: a little under 3 %.
    assert _within(seen["legal_form"], n, 0.03 * 0.95), seen
    assert _within(seen["ascii_parentheses"] + seen["trailing_space"], n, 0.02), seen
    assert seen["ascii_parentheses"] > 0 and seen["trailing_space"] > 0


# --- who is in which register -----------------------------------------------------------------------------


def _age(born: date) -> int:
    ref = REFERENCE_DATE
    return ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))


def test_who_is_registered_where(rows: dict[str, Rows]) -> None:
    truth = _truth(rows["truth_persons"], "id_number")
    person = {r["id_number"]: r for r in rows["person"]}
    ages = {number: _age(r["birth_date"]) for number, r in person.items()}

    insured = [truth["insured_person", r["record_id"]] for r in rows["insured_person"]]
    assert len(set(insured)) == len(insured) and all(16 <= ages[n] <= 65 for n in insured)
    assert _within(len(insured), sum(16 <= a <= 65 for a in ages.values()), 0.60)

    patients = Counter(truth["patient", r["record_id"]] for r in rows["patient"])
    assert _within(len(patients), len(person), 0.55) and set(patients.values()) <= {1, 2}
    twice = [n for n, count in patients.items() if count == 2]
    assert _within(len(twice), len(patients), 0.08)
    hospitals: dict[str, set[str]] = {}
    for r in rows["patient"]:
        hospitals.setdefault(truth["patient", r["record_id"]], set()).add(r["hospital"])
    assert all(len(hospitals[n]) == 2 for n in twice)  # a second record is at another hospital

    students = [truth["student", r["record_id"]] for r in rows["student"]]
    assert sorted(students) == sorted(r["id_number"] for r in rows["school_enrolment"])
    assert "mobile" not in rows["student"][0]
    guardians = [r["guardian_mobile"] for r in rows["student"]]
    assert all(m is None or re.fullmatch("1[3-9][0-9]{9}", m) for m in guardians)
    assert 0 < sum(m is None for m in guardians) < 0.15 * len(guardians)


def test_sex_and_times_of_the_person_registers(rows: dict[str, Rows]) -> None:
    truth = _truth(rows["truth_persons"], "id_number")
    person = {r["id_number"]: r for r in rows["person"]}
    since = datetime(2019, 6, 30, 0, 30, tzinfo=UTC)  # 08:30 in Shenyang, six years before REFERENCE_DATE
    until = datetime(2025, 6, 30, 9, tzinfo=UTC)
    for table in PERSON_REGISTERS[1:]:
        for r in rows[table]:
            p = person[truth[table, r["record_id"]]]
            assert r["sex"] == p["sex"]
            assert since <= r["updated_at"] <= until
            assert r["updated_at"].date() >= p["birth_date"]


def test_enterprise_registers_describe_their_enterprise(enterprise_rows: dict[str, Rows]) -> None:
    truth = _truth(enterprise_rows["truth"], "credit_code")
    enterprise = {r["credit_code"]: r for r in enterprise_rows["enterprise"]}
    names = {r["id_number"]: r["name"] for r in enterprise_rows["person"]}
    taxpayers = enterprise_rows["taxpayer"]
    assert _within(len(taxpayers), len(enterprise), 0.85)
    for r in taxpayers:
        e = enterprise[truth["taxpayer", r["record_id"]]]
        assert r["legal_representative"] == names[e["legal_representative_id"]]
        assert (
            e["established_on"] <= r["registered_on"] <= min(e["established_on"] + timedelta(days=30), REFERENCE_DATE)
        )
        assert re.fullmatch(r"SW[0-9]{10}", r["record_id"])
    employers = {truth["employer", r["record_id"]] for r in enterprise_rows["employer"]}
    assert len(employers) == len(enterprise_rows["employer"])
    assert {enterprise[c]["status"] for c in employers} <= {"存续", "在业"}
    phones = [r["contact_phone"] for r in enterprise_rows["employer"]]
    assert all(p is None or re.fullmatch(r"1[3-9][0-9]{9}|024-[2-8][0-9]{7}", p) for p in phones)
    assert {p is None for p in phones} == {True, False}


# --- determinism, independence, restriction ----------------------------------------------------------------


def _digests(city: CityManifest) -> dict[str, str]:
    files = [*city.paths.values(), *city.truth.values(), city.directory / MANIFEST_FILE]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_same_seed_same_files(city: CityManifest, tmp_path: Path) -> None:
    assert _digests(_generate(tmp_path / "again")) == _digests(city)


def test_the_registers_leave_the_other_tables_as_they_were(city: CityManifest, tmp_path: Path) -> None:
    # A city of only the tables there were before the registers: the same bytes as in the full city, so the
    # registers' streams (appended after theirs) change none of their rows.
    old = _generate(tmp_path / "old", tables=OLD_TABLES)
    assert [t.name for t in old.tables] == list(OLD_TABLES)
    full, mine = _digests(city), _digests(old)
    for name in OLD_TABLES:
        assert mine[f"{name}.parquet"] == full[f"{name}.parquet"], name


def test_a_city_of_only_the_person_registers(city: CityManifest, tmp_path: Path) -> None:
    wanted = set(PERSON_REGISTERS)
    only = _generate(tmp_path / "persons", tables=wanted)
    assert [t.name for t in only.tables] == [t.name for t in TABLES if t.name in wanted]
    assert sorted(p.name for p in only.directory.iterdir()) == sorted(
        [MANIFEST_FILE, *(f"{t}.parquet" for t in wanted), *(t.file for t in TRUTH)]
    )
    full, mine = _digests(city), _digests(only)
    for name in (*(f"{t}.parquet" for t in wanted), "truth_persons.parquet"):
        assert mine[name] == full[name], name  # nothing computed or skipped for others changes these
    assert pq.ParquetFile(only.truth["enterprises"]).metadata.num_rows == 0


def test_unknown_or_no_tables_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tables: nonsense"):
        generate_city(tmp_path / "x", persons=10, seed=1, tables={"person", "nonsense"})
    with pytest.raises(ValueError):
        generate_city(tmp_path / "x", persons=10, seed=1, tables=())
    assert not (tmp_path / "x").exists()
