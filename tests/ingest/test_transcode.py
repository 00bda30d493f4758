"""GB18030 → UTF-8 through iconv, a column at a time (ingest/transcode.py), against Python's codec: the same text
for every two-byte sequence except the characters GB 18030-2022 moved out of the Private Use Area, values kept
apart (empty ones, NULs, nulls, slices), bad values refused at their index, and a bad file at its line."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from shengjing.errors import DataFormatError
from shengjing.ingest import transcode
from shengjing.ingest.readers import open_source

pytestmark = pytest.mark.skipif(not transcode.available(), reason="the C library has no GB18030 iconv")


def _column(values: list[bytes | None]) -> pa.Array:
    return pa.array(values, pa.binary())


def _private_use(text: str) -> bool:
    return len(text) == 1 and 0xE000 <= ord(text) <= 0xF8FF


def test_every_two_byte_sequence_decodes_as_pythons_codec_or_to_the_2022_standard_character() -> None:
    pairs = [bytes([lead, trail]) for lead in range(0x81, 0xFF) for trail in range(0x40, 0xFF) if trail != 0x7F]
    expected = [pair.decode("gb18030") for pair in pairs]  # every such pair is defined in GB18030
    decoded = transcode.to_utf8(_column(pairs)).to_pylist()
    assert len(decoded) == len(pairs)
    moved = [(p.hex(), e, d) for p, e, d in zip(pairs, expected, decoded, strict=True) if e != d]
    assert all(_private_use(e) and not _private_use(d) for _, e, d in moved), moved
    assert len(moved) < 100 and ("a6d9", "\ue78d", "\ufe10") in moved  # ︐ PRESENTATION FORM FOR VERTICAL COMMA


def test_values_stay_apart_whatever_they_hold() -> None:
    rng = random.Random(7)
    alphabet = ["沈", "阳", "a", ",", "\n", "𠀀", "€", "１", ""]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(3000)]
    column = _column([t.encode("gb18030") for t in texts])
    assert transcode.to_utf8(column).to_pylist() == texts
    assert transcode.to_utf8(column.slice(1000, 500)).to_pylist() == texts[1000:1500]
    with_nul = ["沈\x00阳", "", "\x00", "a"]
    assert transcode.to_utf8(_column([t.encode("gb18030") for t in with_nul])).to_pylist() == with_nul
    assert transcode.to_utf8(_column([None, "阳".encode("gb18030"), None])).to_pylist() == [None, "阳", None]


def test_repetitive_columns_go_through_their_dictionary_with_the_same_text_and_errors() -> None:
    rng = random.Random(3)
    places = ["沈阳北站", "中街", "青年大街", "a", ""]
    repetitive = [rng.choice(places) for _ in range(2000)]
    varied = [f"张{i}号" for i in range(2000)]
    columns = transcode.Gb18030Columns()
    for _ in range(2):  # the first batch decides, the second uses what was learnt
        for index, texts in enumerate([repetitive, varied]):
            column = _column([t.encode("gb18030") for t in texts])
            assert columns.to_utf8(index, column).to_pylist() == texts
    assert columns._repetitive == {0: True, 1: False}
    bad = [*(p.encode("gb18030") for p in repetitive[:200]), b"\xff\xfe", b"\xff\xfe"]
    with pytest.raises(transcode.UndecodableValue) as caught:
        columns.to_utf8(0, _column(bad))
    assert caught.value.index == 200 and columns._repetitive[0]  # the row, not the place in the dictionary


def test_an_ascii_column_is_only_relabelled() -> None:
    column = _column([b"2101", b"", b"1.00"])
    text = transcode.to_utf8(column)
    assert text.type == pa.string() and text.to_pylist() == ["2101", "", "1.00"]
    assert text.buffers()[2].address == column.buffers()[2].address


@pytest.mark.parametrize(
    ("values", "index"),
    [
        ([b"abc", b"\xff\xfe"], 1),
        ([b"ok", b"ab\x81", b"z"], 1),  # a character cut off by the end of its value
        (["沈阳".encode("gb18030"), b"x", "沈".encode("gb18030") + b"\x81\x30"], 2),
        ([b"x\x81\x7f"], 0),
    ],
)
def test_a_bad_or_cut_value_is_refused_at_its_index(values: list[bytes], index: int) -> None:
    with pytest.raises(transcode.UndecodableValue) as caught:
        transcode.to_utf8(_column(values))
    assert caught.value.index == index


def test_a_gb18030_file_with_a_bad_byte_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    lines = ["xm,dz", *(f"张{i},沈阳市和平区{i}号" for i in range(30000))]
    data = "\n".join(lines).encode("gb18030")
    bad_line = 25000
    at = sum(len((line + "\n").encode("gb18030")) for line in lines[: bad_line - 1])
    path.write_bytes(data[:at] + b"\xff" + data[at + 1 :])  # the first byte of that line's 张
    with pytest.raises(DataFormatError) as caught:
        for _ in open_source(path, encoding="gb18030", block_size=4096).batches():
            pass
    assert (caught.value.details["line"], caught.value.details["byte_offset"]) == (bad_line, at)


def test_a_gb18030_file_reads_as_its_utf8_twin_with_ragged_rows_at_their_lines(tmp_path: Path) -> None:
    lines = ["姓名,地址,金额", *(f"张{i},沈阳市和平区{i}号,{i}.50" for i in range(5000))]
    lines[3000] += ",多余"  # line 3001
    text = "\n".join(lines) + "\n"
    tables, bad = {}, {}
    for encoding in ("utf-8", "gb18030"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        found: list[int | None] = []
        source = open_source(path, encoding=encoding, block_size=4096, on_bad_row=lambda n, _, f=found: f.append(n))
        tables[encoding] = pa.Table.from_batches(list(source.batches()), schema=source.schema)
        bad[encoding] = found
    assert tables["gb18030"].equals(tables["utf-8"]) and tables["utf-8"].num_rows == 4999
    assert bad["gb18030"] == bad["utf-8"] == [3001]
