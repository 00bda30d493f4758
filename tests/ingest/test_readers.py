"""The streaming source layer, on real files generated in tmp_path (Faker zh_CN) and a real PostgreSQL table."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faker import Faker
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from shengjing.errors import DataFormatError
from shengjing.ingest.readers import (
    Source,
    SourceFormat,
    SourceUnreachable,
    detect_encoding,
    detect_format,
    open_source,
)

HEADER = ["编号", "姓名", "地址", "单位", "备注"]
# Outside GBK: 𠮷 (U+20BB7, CJK Ext B) and 䶮 (U+4DAE, CJK Ext A) exist only in GB18030.
BEYOND_GBK = "𠮷䶮"
PG_URL = os.environ.get("SHENGJING_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _rows(n: int, seed: int = 3) -> list[list[str]]:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return [[str(i), fake.name(), fake.address().replace("\n", " "), fake.company(), fake.sentence()] for i in range(n)]


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str, sep: str = ",") -> Path:
    lines = [sep.join(header), *(sep.join(r) for r in rows)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _read(source: Source) -> list[dict[str, str | None]]:
    return [row for batch in source.batches() for row in batch.to_pylist()]


def _no_value_in(exc: DataFormatError, *values: str) -> None:
    """Error messages name places, never contents."""
    shown = " ".join([exc.message_zh, exc.message_en, json.dumps(exc.details, ensure_ascii=False, default=str)])
    for v in values:
        assert v not in shown


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize(("encoding", "detected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")])
def test_csv_encodings_are_detected_and_read_identically(tmp_path: Path, encoding: str, detected: str) -> None:
    rows = _rows(400)
    path = _write_csv(tmp_path / f"people-{encoding}.csv", HEADER, rows, encoding)
    assert detect_encoding(path) == detected
    source = open_source(path, batch_rows=128)
    assert source.format is SourceFormat.CSV
    assert source.encoding == detected
    assert source.columns == HEADER  # the BOM is not part of the first name
    batches = list(source.batches())
    assert all(b.num_rows <= 128 for b in batches) and len(batches) >= 4
    assert all(t == pa.string() for b in batches for t in b.schema.types)
    got = [[r[h] for h in HEADER] for b in batches for r in b.to_pylist()]
    assert got == rows
    assert source.rows_read == 400
    assert source.bytes_read == source.total_bytes == path.stat().st_size


def test_gb18030_keeps_characters_outside_gbk(tmp_path: Path) -> None:
    rows = _rows(300)
    rows[5][1] = "王" + BEYOND_GBK
    rows[250][4] = f"生僻字{BEYOND_GBK}测试"
    gb = _write_csv(tmp_path / "gb18030.csv", HEADER, rows, "gb18030")
    utf = _write_csv(tmp_path / "utf8.csv", HEADER, rows, "utf-8")
    with pytest.raises(UnicodeEncodeError):
        BEYOND_GBK.encode("gbk")
    assert detect_encoding(gb) == "gb18030"
    assert _read(open_source(gb)) == _read(open_source(utf))
    assert _read(open_source(gb))[5]["姓名"] == "王" + BEYOND_GBK


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_header_longer_than_the_first_small_read_is_read_whole(tmp_path: Path, encoding: str) -> None:
    header = [f"字段{i:05d}" for i in range(8000)]  # ~100 KB: more than the block the header is first read from
    path = _write_csv(tmp_path / "wide.csv", header, [[str(i) for i in range(8000)]], encoding)
    source = open_source(path, encoding=encoding)
    assert source.columns == header
    assert _read(source)[0]["字段07999"] == "7999"


def test_encoding_override_bypasses_detection(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "gbk.csv", HEADER, _rows(50), "gbk")
    source = open_source(path, encoding="GBK")
    assert source.encoding == "gb18030"  # the superset reads every GBK byte sequence the same way
    assert len(_read(source)) == 50
    with pytest.raises(DataFormatError):
        open_source(path, encoding="no-such-codec")


def test_wrong_encoding_names_the_line_and_suggests_the_override(tmp_path: Path) -> None:
    # ASCII header and rows past the detection sample, then GBK bytes: detection says UTF-8, reading finds out.
    path = tmp_path / "mixed.csv"
    ascii_rows = [f"{i},name{i},addr,unit,note" for i in range(3000)]
    chinese = _rows(5)
    body = ("id,name,address,unit,note\n" + "\n".join(ascii_rows) + "\n").encode()
    body += ("\n".join(",".join(r) for r in chinese) + "\n").encode("gbk")
    path.write_bytes(body)
    source = open_source(path, sample_bytes=4096)
    assert source.encoding == "utf-8"
    with pytest.raises(DataFormatError) as info:
        _read(source)
    err = info.value
    assert err.details["line"] == 3002 and err.details["file"] == str(path)
    assert "--encoding" in err.message_en and "gb18030" in err.message_en and "3002" in err.message_zh
    _no_value_in(err, chinese[0][1])

    # An explicit but wrong override on a GBK file with a Chinese header: caught at open, on line 1.
    gbk = _write_csv(tmp_path / "gbk.csv", HEADER, _rows(10), "gbk")
    with pytest.raises(DataFormatError) as info:
        open_source(gbk, encoding="utf-8")
    assert info.value.details["line"] == 1 and "encoding" in info.value.message_en


# ---------------------------------------------------------------- formats


def test_detect_format_checks_extension_against_magic_bytes(tmp_path: Path) -> None:
    csv_path = _write_csv(tmp_path / "a.csv", HEADER, _rows(3), "utf-8")
    assert detect_format(csv_path) is SourceFormat.CSV
    fake_xlsx = tmp_path / "a.xlsx"
    fake_xlsx.write_bytes(csv_path.read_bytes())
    with pytest.raises(DataFormatError, match="named as xlsx"):
        detect_format(fake_xlsx)
    pq.write_table(pa.table({"a": [1]}), tmp_path / "p.csv")
    with pytest.raises(DataFormatError, match="content is parquet"):
        detect_format(tmp_path / "p.csv")
    pq.write_table(pa.table({"a": [1]}), tmp_path / "noext")
    assert detect_format(tmp_path / "noext") is SourceFormat.PARQUET


def test_tsv_and_file_url(tmp_path: Path) -> None:
    rows = _rows(100)
    rows[3][4] = "含,逗号的备注"  # a comma is plain data in TSV
    path = _write_csv(tmp_path / "people.tsv", HEADER, rows, "utf-8", sep="\t")
    source = open_source(path.as_uri())
    assert source.format is SourceFormat.TSV
    assert [[r[h] for h in HEADER] for r in _read(source)] == rows


def test_http_urls_ask_for_a_download_first() -> None:
    with pytest.raises(DataFormatError, match="download the file first"):
        open_source("https://data.example.gov.cn/people.csv")


def test_xlsx_first_sheet_named_sheet_and_dates(tmp_path: Path) -> None:
    rows = _rows(250)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("人口")
    sheet.append([f" {h} " for h in [*HEADER, "出生日期", "人数"]])  # header whitespace is stripped
    for i, r in enumerate(rows):
        sheet.append([*r, dt.date(1990, 1, 1) + dt.timedelta(days=i), i * 2])
    sheet.append([None] * 7)  # an empty row carries no data
    other = book.create_sheet("其他")
    other.append(["x"])
    other.append([1.5])
    path = tmp_path / "people.xlsx"
    book.save(path)

    source = open_source(path, batch_rows=100)
    assert source.format is SourceFormat.XLSX
    assert source.columns == [*HEADER, "出生日期", "人数"]
    batches = list(source.batches())
    assert [b.num_rows for b in batches] == [100, 100, 50]
    got = [r for b in batches for r in b.to_pylist()]
    assert got[0]["出生日期"] == "1990-01-01" and got[1]["出生日期"] == "1990-01-02"
    assert got[10]["人数"] == "20"
    assert [[r[h] for h in HEADER] for r in got] == rows
    assert source.bytes_read == source.total_bytes

    assert _read(open_source(path, sheet="其他")) == [{"x": "1.5"}]
    with pytest.raises(DataFormatError, match="no sheet"):
        open_source(path, sheet="不存在")


def test_jsonl(tmp_path: Path) -> None:
    rows = _rows(120)
    path = tmp_path / "people.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({**dict(zip(HEADER, r, strict=True)), "年龄": 30, "标签": ["a"]}, ensure_ascii=False))
            f.write("\n")
        f.write("\n")  # a blank line is skipped, not an error
    source = open_source(path, batch_rows=50)
    assert source.format is SourceFormat.JSONL
    assert source.columns == [*HEADER, "年龄", "标签"]
    got = _read(source)
    assert [b.num_rows for b in open_source(path, batch_rows=50).batches()] == [50, 50, 20]
    assert [[r[h] for h in HEADER] for r in got] == rows
    assert got[0]["年龄"] == "30" and got[0]["标签"] == '["a"]'


def test_parquet_keeps_and_exposes_its_types(tmp_path: Path) -> None:
    table = pa.table({"编号": pa.array(range(1000), pa.int64()), "姓名": [r[1] for r in _rows(1000)]})
    path = tmp_path / "people.parquet"
    pq.write_table(table, path, row_group_size=300)
    source = open_source(path, batch_rows=256)
    assert source.format is SourceFormat.PARQUET and source.encoding is None
    assert source.schema.field("编号").type == pa.int64()
    batches = list(source.batches())
    assert all(b.num_rows <= 256 for b in batches)
    assert pa.Table.from_batches(batches).equals(table)
    assert source.rows_read == 1000 and source.bytes_read == source.total_bytes


# ---------------------------------------------------------------- SQL


@pytest.fixture
def pg_table() -> Iterator[tuple[str, list[list[str]]]]:
    name = f"readers_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        engine.dispose()
        if os.environ.get("SHENGJING_TEST_POSTGRES_URL"):
            raise
        pytest.skip("PostgreSQL is not reachable and SHENGJING_TEST_POSTGRES_URL is unset")
    rows = _rows(1000)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE TABLE "{name}" (id integer PRIMARY KEY, name text, born date, score numeric(6,2))'))
        conn.execute(
            # The table name is our own uuid-based identifier; the values go in as bound parameters.
            text(f'INSERT INTO "{name}" VALUES (:id, :name, :born, :score)'),
            [
                {"id": int(r[0]), "name": r[1], "born": dt.date(2000, 1, 1) + dt.timedelta(days=i), "score": i / 4}
                for i, r in enumerate(rows)
            ],
        )
    try:
        yield name, rows
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.mark.postgres
def test_sql_table_streams_in_batches(pg_table: tuple[str, list[list[str]]]) -> None:
    name, rows = pg_table
    source = open_source(f"sql+{PG_URL}#{name}", batch_rows=300)
    assert source.format is SourceFormat.SQL
    assert source.columns == ["id", "name", "born", "score"]
    assert source.schema.field("id").type == pa.int64() and source.schema.field("born").type == pa.date32()
    batches = list(source.batches())
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    got = pa.Table.from_batches(batches).sort_by("id").to_pylist()
    assert [r["name"] for r in got] == [r[1] for r in rows]
    assert got[4]["born"] == dt.date(2000, 1, 5) and float(got[4]["score"]) == 1.0
    # The same table by a separate table= argument and schema.
    assert open_source(PG_URL, table=name, schema="public").columns == source.columns


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_database_url_names_the_host_not_the_password() -> None:
    port = _closed_port()
    with pytest.raises(SourceUnreachable) as info:
        open_source(f"sql+postgresql+psycopg://ingest:S3cret-pw@127.0.0.1:{port}/db#people")
    err = info.value
    assert isinstance(err, DataFormatError)
    assert f"127.0.0.1:{port}" in err.message_en and f"127.0.0.1:{port}" in err.message_zh
    _no_value_in(err, "S3cret-pw")
    assert "S3cret-pw" not in str(err) and err.__cause__ is None and err.__suppress_context__


# ---------------------------------------------------------------- bad input


def _ragged_file(tmp_path: Path) -> tuple[Path, int]:
    rows = _rows(1000)
    lines = [",".join(HEADER), *(",".join(r) for r in rows)]
    lines[101] += ",多余字段"  # too many fields on file line 102
    lines[501] = ",".join(rows[500][:3])  # too few fields on file line 502
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, len(rows)


def test_ragged_row_raises_with_its_line_number(tmp_path: Path) -> None:
    path, _ = _ragged_file(tmp_path)
    with pytest.raises(DataFormatError) as info:
        _read(open_source(path))
    err = info.value
    assert err.details["line"] == 102 and err.details["expected_fields"] == 5 and err.details["actual_fields"] == 6
    assert "line 102" in err.message_en and "第 102 行" in err.message_zh
    _no_value_in(err, "多余字段")


def test_ragged_rows_go_to_the_callback_and_nothing_is_lost(tmp_path: Path) -> None:
    path, rows_in = _ragged_file(tmp_path)
    bad: list[tuple[int, str]] = []
    source = open_source(path, batch_rows=64, block_size=4096, on_bad_row=lambda line, why: bad.append((line, why)))
    got = _read(source)
    assert [line for line, _ in bad] == [102, 502]
    assert "expected 5 fields, found 6" in bad[0][1] and "多余" not in bad[0][1]
    assert len(got) + len(bad) == rows_in
    assert source.rows_read == len(got) and source.bad_rows == 2
    assert got[99]["编号"] == "99" and got[100]["编号"] == "101"


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataFormatError, match="empty") as info:
        open_source(empty)
    assert info.value.details["file"] == str(empty)
    header_only = _write_csv(tmp_path / "header.csv", HEADER, [], "utf-8-sig")
    source = open_source(header_only)
    assert source.columns == HEADER
    assert _read(source) == [] and source.rows_read == 0


def test_duplicate_and_blank_header_names(tmp_path: Path) -> None:
    dup = _write_csv(tmp_path / "dup.csv", ["编号", "姓名", " 姓名 "], [["1", "张三", "李四"]], "utf-8")
    with pytest.raises(DataFormatError) as info:
        open_source(dup)
    assert info.value.details["fields"] == ["姓名"] and "姓名" in info.value.message_zh
    blank = _write_csv(tmp_path / "blank.csv", ["编号", " ", "姓名"], [["1", "x", "张三"]], "utf-8")
    with pytest.raises(DataFormatError) as info:
        open_source(blank)
    assert info.value.details["positions"] == [2]


def test_malformed_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps({"编号": str(i), "姓名": r[1]}, ensure_ascii=False) for i, r in enumerate(_rows(10))]
    lines[6] = '{"编号": "6", "姓名": "张三'  # truncated: file line 7
    lines.append('{"编号": "10", "住址": "沈阳"}')  # a field the first object did not have: line 11
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        _read(open_source(path))
    assert info.value.details["line"] == 7 and "line 7" in info.value.message_en
    _no_value_in(info.value, "张三")
    bad: list[tuple[int, str]] = []
    got = _read(open_source(path, on_bad_row=lambda line, why: bad.append((line, why))))
    assert [line for line, _ in bad] == [7, 11] and len(got) + len(bad) == len(lines)


# ---------------------------------------------------------------- bounded memory

_CHILD = textwrap.dedent(
    """
    import resource, sys, time
    from shengjing.ingest.readers import open_source
    source = open_source(sys.argv[1], block_size=1 << 20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    rows = sum(batch.num_rows for batch in source.batches())
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(rows, (after - before) * 1024, seconds, source.bytes_read, source.total_bytes)
    """
)


def bench_read(path: Path) -> dict[str, float]:
    """Read a CSV in a child process; its peak RSS growth, rows and time. A benchmark can call this on a big file."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True)
    rows, growth, seconds, read, total = out.stdout.split()
    return {
        "rows": int(rows),
        "rss_growth_bytes": int(growth),
        "seconds": float(seconds),
        "bytes_read": int(read),
        "total_bytes": int(total),
    }


def _big_csv(path: Path, target_bytes: int, encoding: str = "utf-8") -> int:
    """A CSV of about target_bytes: a block of Faker rows repeated with fresh ids, written quickly."""
    block = _rows(2000)
    rows = 0
    with path.open("wb") as f:
        f.write((",".join(HEADER) + "\n").encode(encoding))
        while f.tell() < target_bytes:
            chunk = "".join(f"{rows + i},{r[1]},{r[2]},{r[3]},{r[4]}\n" for i, r in enumerate(block))
            f.write(chunk.encode(encoding))
            rows += len(block)
    return rows


@pytest.mark.slow
def test_reading_a_big_csv_keeps_memory_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    started = time.perf_counter()
    rows = _big_csv(path, 120 << 20)
    result = bench_read(path)
    assert result["rows"] == rows
    assert result["bytes_read"] == result["total_bytes"] == path.stat().st_size
    # 120 MB in 1 MiB blocks: Arrow's read-ahead and pools cost ~40-55 MiB here (and ~46 MiB for 200 MB, so
    # it does not grow with the file); holding the whole file as Arrow strings would cost well over 120 MiB.
    assert result["rss_growth_bytes"] < 80 << 20, result
    assert time.perf_counter() - started < 15
