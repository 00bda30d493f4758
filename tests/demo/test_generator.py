"""The synthetic Shenyang: valid identifiers, referential integrity, determinism and atomic output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stdnum import numdb
from stdnum.cn import ric, uscc

from shengjing.demo import generator, shenyang
from shengjing.demo.generator import MANIFEST_FILE, TABLES, TRUTH, CityManifest, generate_city

PERSONS = 2_000
SEED = 20250630
SMALL_CHUNK = 700  # several chunks, the last one partial, so the chunk machinery is exercised


def _generate(out_dir: Path, *, seed: int = SEED, persons: int = PERSONS, **kwargs: object) -> CityManifest:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generator, "CHUNK_PERSONS", SMALL_CHUNK)
        return generate_city(out_dir, persons=persons, seed=seed, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> CityManifest:
    return _generate(tmp_path_factory.mktemp("city") / "shenyang")


@pytest.fixture(scope="module")
def tables(city: CityManifest) -> dict[str, pa.Table]:
    return {name: pq.read_table(path) for name, path in city.paths.items()}


def _column(table: pa.Table, name: str) -> list[str]:
    return table.column(name).to_pylist()


# --- identifiers ------------------------------------------------------------------------------------------


def _ric_is_valid(number: str) -> bool:
    # stdnum 2.2 raises KeyError('county') instead of returning False for some unknown region codes.
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


def _code_since(code: str, name: str) -> int:
    """The first year stdnum's region table has ``code`` at all ("[1983-2013]东陵区,[2014-]浑南区" → 1983),
    checking on the way that ``name`` is what the code means today."""
    info = dict(numdb.get("cn/loc").info(code)[-1][1])
    spans = dict(reversed(entry[1:].split("]")) for entry in info["county"].split(","))
    assert spans[name].endswith("-"), f"{code} is not {name} today in stdnum's table"
    return min(int(span.split("-")[0] or 0) for span in spans.values())


def test_every_id_number_is_valid_except_for_stdnums_county_era_rule(tables: dict[str, pa.Table]) -> None:
    # stdnum only accepts a region code for people born after the code was created, which no real
    # Shenyang ID of someone born before 1983 satisfies; apart from that rule every number must pass.
    names = {d.code: d.name for d in shenyang.DISTRICTS}
    since = {code: _code_since(code, name) for code, name in names.items()}
    ids = _column(tables["person"], "id_number")
    for number in ids:
        assert len(number) == 18 and number[:17].isdigit()
        assert ric.calc_check_digit(number) == number[-1]
        assert ric.get_birth_date(number)
        assert _ric_is_valid(number) == (int(number[6:10]) >= since[number[:6]]), number
    assert sum(map(_ric_is_valid, ids)) > len(ids) // 4
    assert len(set(ids)) == len(ids)


def test_birth_date_and_sex_in_the_id_agree_with_the_columns(tables: dict[str, pa.Table]) -> None:
    columns = (_column(tables["person"], c) for c in ("id_number", "sex", "birth_date"))
    for number, sex, born in zip(*columns, strict=True):
        assert ric.get_birth_date(number) == born
        assert sex == ("男" if int(number[16]) % 2 else "女")
        assert date(1940, 1, 1) <= born <= date(2024, 12, 31)


def test_district_codes_are_shenyangs_thirteen(tables: dict[str, pa.Table]) -> None:
    person, enterprise = tables["person"], tables["enterprise"]
    assert set(_column(person, "district_code")) == shenyang.DISTRICT_CODES  # 2,000 people reach every one
    ids = zip(_column(person, "id_number"), _column(person, "district_code"), strict=True)
    assert all(n[:6] == d for n, d in ids)
    codes = zip(_column(enterprise, "credit_code"), _column(enterprise, "district_code"), strict=True)
    assert all(c[2:8] == d for c, d in codes)
    assert set(_column(enterprise, "district_code")) <= shenyang.DISTRICT_CODES
    assert set(_column(tables["school_enrolment"], "district_code")) <= shenyang.DISTRICT_CODES
    districts = {d.code: d.name for d in shenyang.DISTRICTS}
    for address, code in zip(_column(person, "address"), _column(person, "district_code"), strict=True):
        assert address.startswith("沈阳市" + districts[code]) and address.endswith("号")


def test_every_credit_code_is_valid(tables: dict[str, pa.Table]) -> None:
    codes = _column(tables["enterprise"], "credit_code")
    assert len(set(codes)) == len(codes) > 0
    for code in codes + [o.credit_code for o in shenyang.ORGANIZATIONS]:
        assert uscc.is_valid(code), code
        assert shenyang.organization_code_check_char(code[8:16]) == code[16], code
    assert all(c.startswith("91") for c in codes)


def test_reference_organizations() -> None:
    assert shenyang.organization_code_check_char("60003734") == "1"  # 91110000600037341L, stdnum's example
    assert len(shenyang.DISTRICTS) == 13 and len(shenyang.DISTRICT_CODES) == 13
    assert len(shenyang.DEPARTMENTS) == 12
    organs = [o for o in shenyang.ORGANIZATIONS if o.role in ("data_bureau", "department")]
    assert all(o.credit_code[:2] in ("11", "12") for o in organs)
    companies = (shenyang.OPERATOR, shenyang.DATA_MERCHANT, shenyang.SERVICE_AGENCY)
    assert {o.credit_code[:2] for o in companies} == {"91"}
    assert len({o.code for o in shenyang.ORGANIZATIONS}) == len(shenyang.ORGANIZATIONS)
    assert len({i.code for i in shenyang.INDUSTRIES}) == len(shenyang.INDUSTRIES) >= 40
    assert {i.section for i in shenyang.INDUSTRIES} == set("ABCDEFGHIJKLMNOPQRS")
    assert all(len(i.code) == 4 and i.code.isdigit() for i in shenyang.INDUSTRIES)


# --- referential integrity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column", "parent", "key"),
    [
        ("enterprise", "legal_representative_id", "person", "id_number"),
        ("social_insurance", "id_number", "person", "id_number"),
        ("social_insurance", "employer_credit_code", "enterprise", "credit_code"),
        ("housing_fund", "id_number", "person", "id_number"),
        ("housing_fund", "employer_credit_code", "enterprise", "credit_code"),
        ("clinic_visit", "id_number", "person", "id_number"),
        ("school_enrolment", "id_number", "person", "id_number"),
        ("bus_card_trip", "id_number", "person", "id_number"),
    ],
)
def test_references_resolve(tables: dict[str, pa.Table], table: str, column: str, parent: str, key: str) -> None:
    child = tables[table].column(column).drop_null()
    assert len(child) > 0
    assert pc.all(pc.is_in(child, value_set=tables[parent].column(key))).as_py()


def test_employers_are_going_concerns(tables: dict[str, pa.Table]) -> None:
    enterprise = tables["enterprise"]
    status = dict(zip(_column(enterprise, "credit_code"), _column(enterprise, "status"), strict=True))
    for name in ("social_insurance", "housing_fund"):
        assert {status[c] for c in _column(tables[name], "employer_credit_code")} <= {"存续", "在业"}


def test_dependent_tables_are_consistent(tables: dict[str, pa.Table]) -> None:
    person = tables["person"]
    born = dict(zip(_column(person, "id_number"), _column(person, "birth_date"), strict=True))
    ref = generator.REFERENCE_DATE

    def age(number: str) -> int:
        b = born[number]
        return ref.year - b.year - ((ref.month, ref.day) < (b.month, b.day))

    assert {age(n) for n in _column(tables["school_enrolment"], "id_number")} <= set(range(6, 19))
    mobile = zip(_column(tables["person"], "id_number"), _column(tables["person"], "mobile"), strict=True)
    assert all((m is None) == (age(n) < 12) for n, m in mobile)
    assert all(m is None or (len(m) == 11 and m[0] == "1") for m in _column(tables["person"], "mobile"))

    si = tables["social_insurance"]
    assert set(_column(si, "insurance_type")) == {"养老保险", "医疗保险", "失业保险", "工伤保险", "生育保险"}
    assert len(set(_column(si, "month"))) == generator.MONTHS
    base = np.array([float(x) for x in _column(si, "contribution_base")])
    assert (base >= 4_200).all() and (base <= 21_000).all()

    trips = tables["bus_card_trip"]
    owners: dict[str, set[str | None]] = {}
    for card, owner in zip(_column(trips, "card_no"), _column(trips, "id_number"), strict=True):
        owners.setdefault(card, set()).add(owner)
    assert all(len(o) == 1 for o in owners.values())  # a card belongs to one person, or to nobody
    assert trips.column("id_number").null_count > 0


def test_sequence_numbers_stay_unique_in_a_crowded_birthday() -> None:
    # With 250 chunks a chunk owns two codes per sex; ten women born the same day in the same district must
    # be spread over neighbouring days rather than share an ID.
    chunk = generator._Chunk(index=7, count=250, start=0, size=10, enterprise_start=0, enterprises=0)
    birth = np.full(10, np.datetime64("1990-05-01"))
    seq, moved = generator._sequence_numbers(chunk, np.zeros(10, np.int64), birth, np.zeros(10, np.bool_))
    assert len({(str(b), s) for b, s in zip(moved, seq, strict=True)}) == 10
    assert all(s % 2 == 0 and (s // 2) % 250 == 7 for s in seq)


# --- files, manifest, determinism -------------------------------------------------------------------------


def test_manifest_matches_the_files(city: CityManifest) -> None:
    assert [t.name for t in city.tables] == [t.name for t in TABLES]
    for spec in TABLES:
        entry = city.table(spec.name)
        meta = pq.ParquetFile(entry.path)
        assert entry.path.parent == city.directory
        assert meta.metadata.num_rows == entry.rows
        assert meta.schema_arrow.equals(spec.schema, check_metadata=True)
    assert city.row_counts["person"] == PERSONS
    assert city.row_counts["enterprise"] == PERSONS // 20
    on_disk = json.loads((city.directory / MANIFEST_FILE).read_text())
    assert on_disk["seed"] == SEED and on_disk["persons"] == PERSONS
    assert {n: t["rows"] for n, t in on_disk["tables"].items()} == city.row_counts
    json.dumps(city.to_dict())


def test_same_seed_same_city_other_seed_other_city(
    city: CityManifest, tables: dict[str, pa.Table], tmp_path: Path
) -> None:
    again = _generate(tmp_path / "again")
    assert again.row_counts == city.row_counts
    for name, table in tables.items():
        assert pq.read_table(again.paths[name]).equals(table), name
    other = _generate(tmp_path / "other", seed=SEED + 1)
    assert not pq.read_table(other.paths["person"]).equals(tables["person"])
    assert not pq.read_table(other.paths["enterprise"]).equals(tables["enterprise"])


def test_progress_is_reported_per_chunk(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    _generate(tmp_path / "city", persons=1_500, progress=lambda *a: calls.append(a))
    assert calls == [("generate", 700, 1_500), ("generate", 1_400, 1_500), ("generate", 1_500, 1_500)]


def test_a_one_person_city(tmp_path: Path) -> None:
    city = _generate(tmp_path / "tiny", persons=1)
    assert city.row_counts["person"] == 1 and city.row_counts["enterprise"] == 0
    assert all(pq.ParquetFile(p).metadata.num_rows == city.row_counts[n] for n, p in city.paths.items())


# --- atomic output ----------------------------------------------------------------------------------------


@pytest.fixture
def previous_city(tmp_path: Path) -> Iterator[Path]:
    out = tmp_path / "out" / "shenyang"
    out.mkdir(parents=True)
    (out / "marker.txt").write_text("previous city")
    yield out


def _siblings(out_dir: Path) -> list[str]:
    return sorted(p.name for p in out_dir.parent.iterdir())


def test_an_existing_city_is_replaced(previous_city: Path) -> None:
    city = _generate(previous_city, persons=300)
    assert not (previous_city / "marker.txt").exists()
    assert sorted(p.name for p in previous_city.iterdir()) == sorted(
        [MANIFEST_FILE, *(f"{t.name}.parquet" for t in TABLES), *(t.file for t in TRUTH)]
    )
    assert city.row_counts["person"] == 300
    assert _siblings(previous_city) == ["shenyang"]


class _Crash(RuntimeError):
    pass


def _crash_on_second_chunk(phase: str, done: int, total: int) -> None:
    if done > SMALL_CHUNK:
        raise _Crash(f"{phase} {done}/{total}")


def test_a_failure_leaves_the_previous_city_and_no_debris(previous_city: Path) -> None:
    with pytest.raises(_Crash):
        _generate(previous_city, persons=1_500, progress=_crash_on_second_chunk)
    assert sorted(p.name for p in previous_city.iterdir()) == ["marker.txt"]
    assert (previous_city / "marker.txt").read_text() == "previous city"
    assert _siblings(previous_city) == ["shenyang"]


def test_a_failure_without_a_previous_city_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fresh" / "shenyang"
    with pytest.raises(_Crash):
        _generate(out, persons=1_500, progress=_crash_on_second_chunk)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_city(tmp_path / "x", persons=0, seed=1)
    with pytest.raises(ValueError):
        generate_city(tmp_path / "x", persons=10, seed=-1)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        generate_city(tmp_path / "file", persons=10, seed=1)
