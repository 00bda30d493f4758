"""The ingest's fast paths give the answers of the slow, obvious code they replace: date and time checks on bytes
against a strict parse, blank detection against str.strip, the full-width byte scan against str.translate, and
the read-ahead and write-behind threads pass on every batch and every error, in order."""

from __future__ import annotations

import random
import re
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from shengjing.errors import DataFormatError
from shengjing.ingest import pipeline, quality, standardize
from shengjing.ingest.pipeline import BatchProcessor, TargetField, WriteBehind, process_in_order, statistics_columns
from shengjing.ingest.readers import open_source
from shengjing.ingest.standardize import load_rules

TIMES = [
    "2024-02-29 10:00:00", "2023-02-29 10:00:00", "2024-04-31 00:00:00", "2024-01-01T23:59:59",
    "2024-01-01 24:00:00", "2024-01-01 23:60:00", "2024-01-01 23:59:60", "2024-1-01 10:00:00",
    "2024-01-01", "２０２４-01-01 10:00:00", "2024-01-01 10:00:00Z", "2024/01/01 10:00:00",
    "2024-01-01:10:00:00", "2024-13-01 10:00:00", "0000-01-01 00:00:00", "x", "", "  ", None,
]  # fmt: skip
DATES = ["2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2024-00-10", "2024-1-1", " 2024-01-01", None]


def _parses(value: str | None, fmt: str) -> bool:
    """The reference: a blank is no type failure; otherwise the text must be exactly a real date and time."""
    if value is None or not value.strip():
        return True
    if not value.isascii():
        return False
    try:
        return datetime.strptime(value.replace("T", " ", 1), fmt).strftime(fmt) == value.replace("T", " ", 1)
    except ValueError:
        return False


def test_dates_and_times_fail_exactly_where_a_strict_parse_fails() -> None:
    fields = [TargetField("t", "timestamp"), TargetField("d", "date")]
    dates = (DATES * 3)[: len(TIMES)]
    batch = pa.RecordBatch.from_pydict(
        {"t": TIMES, "d": dates}, schema=pa.schema([("t", pa.string()), ("d", pa.string())])
    )
    outcome = BatchProcessor(fields, None, None).process(batch, first_row=1)
    assert outcome.accepted.num_rows + outcome.quarantined.num_rows == len(TIMES)
    held = outcome.quarantined.to_pydict()
    failed = {(row, rule) for row, rule in zip(held["_row"], held["_rule"], strict=True)}
    for i, (t, d) in enumerate(zip(TIMES, dates, strict=True)):
        t_ok, d_ok = _parses(t, "%Y-%m-%d %H:%M:%S"), _parses(d, "%Y-%m-%d")
        expected = None if t_ok and d_ok else ("type:t" if not t_ok else "type:d")
        assert (i + 1, expected) in failed if expected else all(r != i + 1 for r, _ in failed), (t, d)
    accepted = outcome.accepted.to_pydict()
    assert datetime(2024, 1, 1, 23, 59, 59) in accepted["t"]  # "T" between date and time casts like a space


@pytest.mark.parametrize(("value", "data_type"), [*((t, "timestamp") for t in TIMES), *((d, "date") for d in DATES)])
def test_a_batch_where_every_value_casts_takes_the_same_decision(value: str | None, data_type: str) -> None:
    """Alone in its batch a value goes through the fast path (one Arrow cast) unless the cast refuses it."""
    batch = pa.RecordBatch.from_pydict({"v": [value]}, schema=pa.schema([("v", pa.string())]))
    outcome = BatchProcessor([TargetField("v", data_type)], None, None).process(batch, first_row=1)
    fmt = "%Y-%m-%d %H:%M:%S" if data_type == "timestamp" else "%Y-%m-%d"
    assert outcome.accepted.num_rows == int(_parses(value, fmt)), value


def _decimal_reference(value: str | None) -> tuple[bool, Decimal | None]:
    """(type failure, typed value) as the catalog defines a decimal: up to 20 digits, a dot and up to 4 more."""
    if value is None or not value.strip():
        return False, None
    if re.fullmatch(r"[+-]?[0-9]{1,20}(\.[0-9]{1,4})?", value) is None:
        return True, None
    return False, Decimal(value).quantize(Decimal("0.0001"))


def _decimal_texts(rng: random.Random, count: int) -> list[str]:
    def plain() -> str:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 1, 2, 3, 11, 12, 20, 21])))
        fraction = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 6)))
        sign = rng.choice(["", "", "-", "+"])
        return sign + digits + ("." + fraction if fraction or rng.random() < 0.1 else "")

    def noise() -> str:
        return "".join(rng.choice("0123456789.+-e ") for _ in range(rng.randrange(0, 6)))

    return [plain() if rng.random() < 0.8 else noise() for _ in range(count)]


def test_decimals_parse_exactly_as_the_pattern_and_a_decimal_parse_say() -> None:
    rng = random.Random(11)
    texts = _decimal_texts(rng, 3000)
    clean = [f"{rng.randrange(-(10**11), 10**11)}.{rng.randrange(10**4):04d}" for _ in range(3000)]
    clean += [f"{rng.randrange(10**6)}", "0.5", "-0.00", "+7.25", "99999999999.9999", "-99999999999.9999", ""]
    present = pipeline.quality.present
    assert pipeline._parse_decimal(pa.array(clean), present(pa.array(clean))) is not None  # the fast path ran
    batches = [texts, clean, [*clean[:50], "1 "], [*clean[:50], "123456789012.5"], *([t] for t in texts[:500])]
    for values in batches:
        column = pa.array(values, pa.string())
        for part in (column, column.slice(1)):
            failed, typed = pipeline.parse(part, "decimal")
            expected = [_decimal_reference(v) for v in part.to_pylist()]
            assert failed.tolist() == [f for f, _ in expected], values[:5]
            assert typed.to_pylist() == [d for _, d in expected], values[:5]


def test_blank_is_what_strip_calls_empty_on_slices_too() -> None:
    values = ["", " ", "\u3000", " a", "\u00a0", None, "abc", "\t\n", "\u2003x", "\u2003", "a ", "沈阳", "\x1c"]
    column = pa.array(values)
    for start in range(len(values)):
        part = column.slice(start)
        expected = [v is not None and not v.strip() for v in values[start:]]
        assert quality.blank(part).tolist() == expected
        assert quality.present(part).tolist() == [v is not None and bool(v.strip()) for v in values[start:]]


def test_fullwidth_forms_are_found_by_the_byte_scan_wherever_they_are() -> None:
    rules = load_rules("fields: {x: [fullwidth_to_halfwidth]}")
    values = ["沈阳", "ＡＢＣ１２３", "路\u3000口", "二〇二四", "abc", None, "（和平区）"]
    column = pa.array(values)
    for start in range(len(values)):
        result = rules.apply(pa.RecordBatch.from_arrays([column.slice(start)], names=["x"]))
        expected = [
            None if v is None else v.translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20})
            for v in values[start:]
        ]
        assert result.batch.column("x").to_pylist() == expected


def test_the_trim_tables_know_every_character_arrow_trims() -> None:
    code_points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    spaces = pc.utf8_is_space(pa.array([chr(c) for c in code_points])).to_pylist()
    assert {chr(c) for c, space in zip(code_points, spaces, strict=True) if space} == set(standardize._WHITESPACE)


def test_trim_and_upper_on_the_rows_that_need_it_equal_the_whole_column_kernels() -> None:
    """Whitespace at either end, CJK characters whose UTF-8 ends like a space's (倀 is E5 80 80, U+3000 is
    E3 80 80), lower-case letters anywhere: each slice gives what Arrow's kernel gives on the whole column."""
    values = [
        " a", "a ", "a", "\u3000沈阳\u3000", "倀", "倀 ", "\u00a0x", "x\u2029", "\x1cb", "", None, "11010519491231002x",
        "ABC", "乙\u205f", "\t", "和平区", "沈阳市\u1680",
    ]  # fmt: skip
    column = pa.array(values)
    trim, upper = load_rules("fields: {x: [trim]}"), load_rules("fields: {x: [upper]}")
    for start in range(len(values)):
        part = pa.RecordBatch.from_arrays([column.slice(start)], names=["x"])
        assert trim.apply(part).batch.column("x").to_pylist() == pc.utf8_trim_whitespace(part.column("x")).to_pylist()
        assert upper.apply(part).batch.column("x").to_pylist() == pc.ascii_upper(part.column("x")).to_pylist()
        changed = sum(v != v.strip(standardize._WHITESPACE) for v in values[start:] if v is not None)
        assert trim.apply(part).changed["x"] == changed


PATTERNS = [
    "^2101[0-9]{12}$", "^[A-Z]{2}\\d{6}$", "^[a-c-]{2}$", "^\\-x$", "^[0-9A-HJ-NP-RTUWXY]{18}$", "^ab:c/d_e$",
    "^[0-9]+$", "^a.b$", "^[^0-9]{3}$", "^(?i)ab$", "^[男女]$", "^ab$|^cd$",
]  # fmt: skip


@pytest.mark.parametrize("regex", PATTERNS)
def test_fixed_width_patterns_match_where_re2_matches(regex: str) -> None:
    rng = random.Random(regex)
    alphabet = "0123456789ABCDEFXYZabcxyz-:/_ .男"
    values = ["2101" + "".join(rng.choice("0123456789") for _ in range(12)) for _ in range(200)]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))) for _ in range(2000)]
    values += ["-x", "ab:c/d_e", "AB123456", "ab", "AB", "男", "a-", "--", "", " ", None]
    column = pa.array(values, pa.string())
    expected = quality._mask(pc.match_substring_regex(column, regex)) & quality.present(column)
    assert (quality.pattern_failures(column, regex).failed == (quality.present(column) & ~expected)).all()
    assert (quality.fixed_layout(regex) is None) == (PATTERNS.index(regex) >= 6)  # the first six take the fast path


@pytest.mark.parametrize("unique", [False, True])
def test_batches_processed_two_at_a_time_come_out_in_order(unique: bool) -> None:
    """Row numbers, order and, with a unique rule (which makes the batches go one by one), the first occurrence
    of a key across batches all come out as if the batches had been processed one after another."""
    keys = [f"k{i % 700}" for i in range(2000)]  # every key after row 700 repeats an earlier one
    rules = [{"kind": "unique", "key": ["k"]}] if unique else [{"kind": "pattern", "field": "k", "regex": "^k1"}]
    checker = quality.QualityChecker(quality.load_rules(rules))
    assert checker.stateful == unique
    processor = BatchProcessor([TargetField("k", "string")], None, checker)
    column = pa.array(keys)
    batches = [pa.RecordBatch.from_arrays([column.slice(i, 37)], names=["k"]) for i in range(0, len(keys), 37)]
    outcomes = list(process_in_order(processor, batches))
    assert [batch for batch, _ in outcomes] == batches
    accepted = [k for _, outcome in outcomes for k in outcome.accepted.column("k").to_pylist()]
    held = [row for _, outcome in outcomes for row in outcome.quarantined.column("_row").to_pylist()]
    if unique:
        assert accepted == keys[:700] and held == list(range(701, 2001))
    else:
        assert accepted == [k for k in keys if k.startswith("k1")]
        assert held == [i + 1 for i, k in enumerate(keys) if not k.startswith("k1")]


def _csv(path: Path, rows: int, ragged_at: int | None = None) -> Path:
    lines = ["a,b", *(f"{i},x" if i != ragged_at else f"{i},x,extra" for i in range(rows))]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_read_ahead_hands_over_every_batch_and_the_error_after_them(tmp_path: Path) -> None:
    source = open_source(_csv(tmp_path / "ok.csv", 5000), batch_rows=100, block_size=4096)
    assert sum(b.num_rows for b in source.batches()) == 5000 == source.rows_read
    source = open_source(_csv(tmp_path / "ragged.csv", 5000, ragged_at=4000), batch_rows=100, block_size=4096)
    seen = 0
    with pytest.raises(DataFormatError) as raised:
        for batch in source.batches():
            seen += batch.num_rows
    assert raised.value.details["line"] == 4002 and 3000 < seen <= 4000  # header is line 1, row 4000 is line 4002


def test_small_blocks_join_into_whole_batches_and_rows_read_before_an_error_come_first(tmp_path: Path) -> None:
    source = open_source(_csv(tmp_path / "ok.csv", 5000), batch_rows=1500, block_size=4096)
    sizes = [b.num_rows for b in source.batches()]
    assert sizes == [1500, 1500, 1500, 500]  # blocks of 4 KiB hold ~500 rows: joined, and cut where needed
    assert pa.Table.from_batches(list(source.batches())).column("a").to_pylist() == [str(i) for i in range(5000)]
    source = open_source(_csv(tmp_path / "ragged.csv", 5000, ragged_at=4000), batch_rows=3000, block_size=4096)
    seen = []
    with pytest.raises(DataFormatError):
        for batch in source.batches():
            seen.append(batch.num_rows)
    assert seen[0] == 3000 and 0 < sum(seen[1:]) <= 1000  # the rows before the ragged one, though short of a batch


def test_a_reader_left_early_stops_its_thread(tmp_path: Path) -> None:
    before = threading.active_count()
    batches = open_source(_csv(tmp_path / "ok.csv", 5000), batch_rows=100, block_size=4096).batches()
    next(batches)
    batches.close()
    assert threading.active_count() == before


def test_write_behind_writes_in_order_and_raises_a_write_error(tmp_path: Path) -> None:
    schema = pa.schema([("n", pa.int64()), ("kind", pa.string())])
    with WriteBehind(tmp_path / "ok.parquet", schema) as writer:
        for start in range(0, 1000, 100):
            numbers = list(range(start, start + 100))
            writer.write_batch(pa.RecordBatch.from_pydict({"n": numbers, "kind": ["a"] * 100}, schema=schema))
    assert pq.read_table(tmp_path / "ok.parquet")["n"].to_pylist() == list(range(1000))
    # The repeated column got a dictionary, the distinct one did not (judged on the first batch).
    encodings = pq.ParquetFile(tmp_path / "ok.parquet").metadata.row_group(0)
    assert "RLE_DICTIONARY" in encodings.column(1).encodings
    assert "RLE_DICTIONARY" not in encodings.column(0).encodings
    with WriteBehind(tmp_path / "empty.parquet", schema):
        pass
    assert pq.read_table(tmp_path / "empty.parquet").schema == schema
    wrong = pa.RecordBatch.from_pydict({"m": ["x"]})
    # The schema mismatch happens on the writer's thread; it surfaces here, on leaving the block.
    with pytest.raises(ValueError, match="schema"), WriteBehind(tmp_path / "bad.parquet", schema) as writer:
        writer.write_batch(wrong)


def test_statistics_for_numbers_and_sorted_text_only() -> None:
    batch = pa.RecordBatch.from_pydict(
        {"n": [3, 1, 2], "sorted": ["a", "b", "b"], "unsorted": ["b", "a", "c"], "with_null": ["a", None, "b"]}
    )
    assert statistics_columns(batch) == ["n", "sorted", "with_null"]


def test_write_behind_writes_statistics_where_they_can_prune(tmp_path: Path) -> None:
    schema = pa.schema([("n", pa.int64()), ("id", pa.string()), ("name", pa.string())])
    with WriteBehind(tmp_path / "s.parquet", schema) as writer:
        writer.write_batch(pa.RecordBatch.from_pydict({"n": [2, 1], "id": ["1", "2"], "name": ["b", "a"]}, schema))
    row_group = pq.ParquetFile(tmp_path / "s.parquet").metadata.row_group(0)
    stats = {row_group.column(i).path_in_schema: row_group.column(i).statistics for i in range(3)}
    assert (stats["n"].min, stats["n"].max, stats["id"].min, stats["id"].max) == (1, 2, "1", "2")
    assert stats["name"] is None
