"""GB18030 (and so GBK and GB2312) to UTF-8 with the C library's iconv, as a readable binary stream.

Why not Python's codec: Arrow's CSV reader transcodes through it, and it holds the GIL for ~5 s per 10 million
rows, so the decoding cannot overlap with the rest of the ingest on a 2-core machine; glibc's iconv, called
through ctypes (which releases the GIL), does the same work in ~1.5 s of CPU on the reader's own thread. No
maintained Python package wraps iconv; this module is the ~60 lines that do.

The mapping is glibc's GB 18030-2022 one. It differs from Python's (GB 18030-2005) codec in the characters the
2022 edition moved from the Private Use Area to their standard code points (A6D9 → U+FE10 "︐" rather than
U+E78D, and so on) and in a few four-byte sequences of that move; every other sequence decodes the same
(tests/ingest/test_transcode.py compares every two-byte sequence). Where iconv is missing the caller falls back
to Python's codec (``open_gb18030`` returns None).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import io
from typing import Any, BinaryIO

_ICONV_FAILED = ctypes.c_size_t(-1).value


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


class Gb18030ToUtf8(io.RawIOBase):
    """Reads UTF-8 from a GB18030 stream. ``tell()`` is the position in the GB18030 stream, for progress bars.

    An undecodable sequence, or a character cut off by the end of the stream, raises UnicodeDecodeError and
    leaves its byte offset in the whole stream in ``failed_at``.
    """

    def __init__(self, raw: BinaryIO, handle: int) -> None:
        self._raw = raw
        self._handle: int | None = handle
        self._pending = b""  # input read but not yet converted: a character cut by the end of a read
        self._position = 0  # bytes of input converted so far
        self.failed_at: int | None = None  # byte offset of the first sequence that did not decode

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        while True:
            # A GB18030 character never takes more than 3/2 of its bytes in UTF-8: this much input always fits.
            chunk = self._raw.read(max(len(out) * 2 // 3 - len(self._pending), 4))
            data = self._pending + chunk
            if not data:
                return 0
            consumed, written, failure = self._convert(data, out)
            if failure == errno.EILSEQ or (failure == errno.EINVAL and not chunk):
                # A sequence GB18030 does not have, or a character cut off by the end of the stream.
                self.failed_at = self._position + consumed
                raise UnicodeDecodeError("gb18030", data, consumed, consumed + 1, f"bad sequence at {self.failed_at}")
            if failure == errno.E2BIG and written == 0:
                raise ValueError("read buffer too small for one character")
            self._pending = data[consumed:]
            self._position += consumed
            if written:
                return written

    def _convert(self, data: bytes, out: memoryview) -> tuple[int, int, int | None]:
        """(input bytes consumed, output bytes written, errno or None) of one iconv call; the GIL is released."""
        source = ctypes.c_void_p(ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value)  # no copy
        source_left = ctypes.c_size_t(len(data))
        target_buffer = (ctypes.c_char * len(out)).from_buffer(out)
        target = ctypes.c_void_p(ctypes.addressof(target_buffer))
        target_left = ctypes.c_size_t(len(out))
        args = (ctypes.byref(source), ctypes.byref(source_left), ctypes.byref(target), ctypes.byref(target_left))
        result = _LIBC.iconv(self._handle, *args)
        failure = ctypes.get_errno() if result == _ICONV_FAILED else None
        return len(data) - source_left.value, len(out) - target_left.value, failure

    def close(self) -> None:
        if self._handle is not None:
            _LIBC.iconv_close(self._handle)
            self._handle = None
        self._raw.close()
        super().close()


def open_gb18030(raw: BinaryIO) -> Gb18030ToUtf8 | None:
    """A UTF-8 view of a GB18030 stream, or None when the C library has no GB18030 converter."""
    if _LIBC is None:
        return None
    handle = _LIBC.iconv_open(b"UTF-8", b"GB18030")
    if handle is None or handle == _ICONV_FAILED:
        return None
    return Gb18030ToUtf8(raw, handle)
