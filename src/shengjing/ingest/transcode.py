"""GB18030 (and so GBK and GB2312) to UTF-8 with the C library's iconv, one Arrow column at a time.

Why columns: GB18030 is ASCII-compatible and no byte of a multi-byte character is below 0x30, so a GB18030 CSV
splits into rows and fields on its bytes exactly as its UTF-8 twin does. Arrow therefore parses the file as
bytes (``binary`` columns), and only the columns that hold a byte ≥ 0x80 are transcoded — in a public-data
file mostly names, addresses and places, a small part of the bytes; numbers, codes and times are ASCII and are
already UTF-8. For 10 million bus-card trips, transcoding the whole stream took ~0.75 s of CPU; the two
columns with Chinese text take ~0.4 s.

Why not Python's codec: it holds the GIL while it decodes, so decoding could not overlap with the rest of the
ingest on a 2-core machine; iconv, called through ctypes (which releases the GIL), can. No maintained Python
package wraps iconv; this module is the few lines that do.

The mapping is glibc's GB 18030-2022 one. It differs from Python's (GB 18030-2005) codec in the characters the
2022 edition moved from the Private Use Area to their standard code points (A6D9 → U+FE10 "︐" rather than
U+E78D, and so on) and in a few four-byte sequences of that move; every other sequence decodes the same
(tests/ingest/test_transcode.py compares every two-byte sequence). Where iconv is missing, ``available()`` is
False and the reader uses Python's codec instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import itertools
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shengjing.ingest.buffers import string_buffers

_ICONV_FAILED = ctypes.c_size_t(-1).value
# Written after every value while a column is transcoded, to find the values again in the output: a NUL byte is
# never part of a GB18030 character and is the only thing iconv turns into a NUL. A column that holds NULs of
# its own is transcoded value by value instead.
_SEPARATOR = 0


def _load_iconv() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - every Linux and macOS has one
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    libc.iconv_open.restype = ctypes.c_void_p
    libc.iconv_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.iconv.restype = ctypes.c_size_t
    libc.iconv.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    libc.iconv_close.argtypes = [ctypes.c_void_p]
    return libc


_LIBC = _load_iconv()


def available() -> bool:
    """Whether the C library converts GB18030 to UTF-8."""
    if _LIBC is None:
        return False
    handle = _LIBC.iconv_open(b"UTF-8", b"GB18030")
    if handle is None or handle == _ICONV_FAILED:
        return False
    _LIBC.iconv_close(handle)
    return True


class UndecodableValue(ValueError):
    """A value of the column is not GB18030: ``index`` is its position in the column."""

    def __init__(self, index: int) -> None:
        super().__init__(f"value {index} is not GB18030")
        self.index = index


def _iconv(data: np.ndarray) -> tuple[np.ndarray, int | None]:
    """UTF-8 of GB18030 ``data`` (uint8) and None, or what was converted and the offset where conversion failed
    (a sequence GB18030 does not have, or a character cut off by the end). The GIL is released meanwhile."""
    handle = _LIBC.iconv_open(b"UTF-8", b"GB18030")
    try:
        # A GB18030 character never takes more than 3/2 of its bytes in UTF-8.
        out = np.empty(len(data) * 3 // 2 + 4, dtype=np.uint8)
        source, source_left = ctypes.c_void_p(data.ctypes.data), ctypes.c_size_t(len(data))
        target, target_left = ctypes.c_void_p(out.ctypes.data), ctypes.c_size_t(len(out))
        args = (ctypes.byref(source), ctypes.byref(source_left), ctypes.byref(target), ctypes.byref(target_left))
        result = _LIBC.iconv(handle, *args)
        failure = ctypes.get_errno() if result == _ICONV_FAILED else None
    finally:
        _LIBC.iconv_close(handle)
    written = out[: len(out) - target_left.value]
    if failure is None:
        return written, None
    if failure not in (errno.EILSEQ, errno.EINVAL):  # pragma: no cover - the output buffer always suffices
        raise OSError(failure, "iconv failed")
    return written, len(data) - source_left.value


def _has_high_bit(data: np.ndarray) -> bool:
    """Whether any byte is ≥ 0x80, eight bytes at a time."""
    whole = len(data) // 8 * 8
    words = np.bitwise_or.reduce(data[:whole].view(np.uint64)) if whole else 0
    rest = np.bitwise_or.reduce(data[whole:]) if whole < len(data) else 0
    return bool((int(words) | int(rest)) & 0x8080808080808080)


# A column whose batch has at most this share of distinct values is transcoded through its dictionary.
REPETITIVE_SHARE: Final = 0.25


class Gb18030Columns:
    """Transcodes the columns of a file batch after batch (``to_utf8``), remembering which columns repeat their
    values — districts, lines, stations, categories — so that only their distinct values go through iconv (a
    hash and a take cost ~40 % less than transcoding every value). A column is tried once and remembered."""

    def __init__(self) -> None:
        self._repetitive: dict[int, bool] = {}

    def to_utf8(self, column: int, values: pa.Array) -> pa.Array:
        text, repetitive = _to_utf8(values, through_dictionary=self._repetitive.get(column, True))
        if repetitive is not None:
            self._repetitive[column] = repetitive
        return text


def to_utf8(values: pa.Array) -> pa.Array:
    """A ``binary`` column of GB18030 text as a ``string`` column; raises UndecodableValue for a bad value.

    All-ASCII columns are only relabelled (no copy). Otherwise the values' bytes are transcoded in one iconv call,
    with a separator after each value to cut the output into the same values again.
    """
    return _to_utf8(values, through_dictionary=False)[0]


def _to_utf8(values: pa.Array, *, through_dictionary: bool) -> tuple[pa.Array, bool | None]:
    """``to_utf8``, first trying the column's dictionary if asked to; and whether the column proved repetitive
    (None when that was not tried: an ASCII column, or one with nulls)."""
    if values.null_count:
        text = to_utf8(pc.fill_null(values, b""))
        return pc.if_else(pc.is_valid(values), text, pa.scalar(None, pa.string())), None
    n = len(values)
    found = string_buffers(values)
    if found is None:  # no data buffer: every value is empty
        return values.view(pa.string()), None
    offsets, data = found
    body = data[offsets[0] : offsets[-1]]
    if not _has_high_bit(body):
        return values.view(pa.string()), None
    repetitive = None
    if through_dictionary:
        encoded = pc.dictionary_encode(values)
        if len(encoded.dictionary) <= REPETITIVE_SHARE * n:
            try:
                return to_utf8(encoded.dictionary).take(encoded.indices), True
            except UndecodableValue as bad:  # numbered in the dictionary: name its first row instead
                indices = encoded.indices.to_numpy(zero_copy_only=False)
                raise UndecodableValue(int(np.flatnonzero(indices == bad.index)[0])) from None
        repetitive = False
    separators_in = offsets[1:] - offsets[0] + np.arange(n)  # after each value, in the joined bytes
    joined = np.full(len(body) + n, _SEPARATOR, dtype=np.uint8)
    is_text = np.ones(len(joined), dtype=np.bool_)
    is_text[separators_in] = False
    joined[is_text] = body
    out, failed_at = _iconv(joined)
    if failed_at is not None:
        starts = offsets[:-1] - offsets[0] + np.arange(n)  # each value's first byte in ``joined``
        raise UndecodableValue(int(np.searchsorted(starts, failed_at, side="right")) - 1)
    is_separator = out == _SEPARATOR
    separators = np.flatnonzero(is_separator)
    if len(separators) != n:  # the column has NULs of its own
        return _one_by_one(body, offsets - offsets[0]), repetitive
    new_offsets = np.empty(n + 1, dtype=np.int32)
    new_offsets[0] = 0
    new_offsets[1:] = separators - np.arange(n)
    text = out[~is_separator]
    array = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(new_offsets), pa.py_buffer(text)])
    return array, repetitive


def _one_by_one(body: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """The slow way, for a column with NUL bytes: one iconv call per value."""
    texts = []
    for index, (start, end) in enumerate(itertools.pairwise(offsets)):
        text, failed_at = _iconv(body[start:end])
        if failed_at is not None:
            raise UndecodableValue(index)
        texts.append(text.tobytes())
    return pa.array(texts, pa.binary()).view(pa.string())
