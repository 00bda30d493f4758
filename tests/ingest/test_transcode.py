"""GB18030 → UTF-8 through iconv (ingest/transcode.py) against Python's codec: the same text for every two-byte
sequence except the characters GB 18030-2022 moved out of the Private Use Area, errors at the right byte, and
characters cut by the reads' edges put back together."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from shengjing.errors import DataFormatError
from shengjing.ingest import transcode
from shengjing.ingest.readers import open_source

pytestmark = pytest.mark.skipif(transcode.open_gb18030(io.BytesIO()) is None, reason="the C library has no iconv")


def _decode(data: bytes, read_size: int = 1 << 16) -> str:
    stream = transcode.open_gb18030(io.BytesIO(data))
    assert stream is not None
    out = b""
    while chunk := stream.read(read_size):
        out += chunk
    return out.decode("utf-8")


def _private_use(text: str) -> bool:
    return len(text) == 1 and 0xE000 <= ord(text) <= 0xF8FF


def test_every_two_byte_sequence_decodes_as_pythons_codec_or_to_the_2022_standard_character() -> None:
    pairs = [bytes([lead, trail]) for lead in range(0x81, 0xFF) for trail in range(0x40, 0xFF) if trail != 0x7F]
    expected = [pair.decode("gb18030") for pair in pairs]  # every such pair is defined in GB18030
    decoded = _decode(b"\n".join(pairs)).split("\n")
    assert len(decoded) == len(pairs)
    moved = [(p.hex(), e, d) for p, e, d in zip(pairs, expected, decoded, strict=True) if e != d]
    assert all(_private_use(e) and not _private_use(d) for _, e, d in moved), moved
    assert len(moved) < 100 and ("a6d9", "\ue78d", "\ufe10") in moved  # ︐ PRESENTATION FORM FOR VERTICAL COMMA


def test_characters_cut_by_the_edge_of_a_read_are_joined() -> None:
    rng = random.Random(7)
    text = "".join(rng.choice(["沈", "阳", "a", ",", "\n", "𠀀", "€", "１"]) for _ in range(5000))
    data = text.encode("gb18030")
    for read_size in (4, 5, 7, 64, 1001):
        assert _decode(data, read_size) == text


@pytest.mark.parametrize(
    ("data", "offset"),
    [(b"abc\xff\xfe", 3), (b"ab\x81", 2), ("沈阳".encode("gb18030") + b"\x81\x30", 4), (b"x\x81\x7f", 1)],
)
def test_a_bad_or_cut_sequence_is_refused_at_its_byte(data: bytes, offset: int) -> None:
    stream = transcode.open_gb18030(io.BytesIO(data))
    assert stream is not None
    with pytest.raises(UnicodeDecodeError):
        while stream.read(1024):
            pass
    assert stream.failed_at == offset


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
