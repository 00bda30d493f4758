"""The streaming source layer of ingest: every source becomes an iterator of Arrow record batches.

``open_source`` takes a path, a ``file://`` URL or a SQL table (``sql+<sqlalchemy-url>#<table>``, or a
SQLAlchemy URL with ``table=``) and returns a :class:`Source` whose ``batches()`` yields ``pyarrow.RecordBatch``
objects of at most ``batch_rows`` rows, reading the input a block at a time so memory stays bounded whatever
the file size. Text formats (CSV, TSV, XLSX, JSON lines) yield every column as a string: standardization and
typing come later in the pipeline. Parquet and SQL keep their own types and expose them in ``Source.schema``.

http(s) URLs are not fetched: this layer does not download, so such a URL raises ``DataFormatError`` asking
for the file to be downloaded first.

Bad input never disappears silently. A ragged row (too many or too few fields), a malformed JSON line or an
XLSX row wider than its header raises ``DataFormatError`` naming the file and line — or, when the caller
passes ``on_bad_row(line_number, reason)``, is handed to that callback (so the pipeline can quarantine it)
while the good rows keep coming: rows in = ``rows_read`` + ``bad_rows``. Error messages name files, lines and
columns, never the data in them.
"""

from __future__ import annotations

import codecs
import datetime as dt
import decimal
import enum
import io
import json
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import charset_normalizer
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shengjing.errors import DataFormatError
from shengjing.ingest import transcode

__all__ = [
    "BadRowHandler",
    "Source",
    "SourceFormat",
    "SourceUnreachable",
    "detect_encoding",
    "detect_format",
    "open_source",
]

BadRowHandler = Callable[[int, str], None]
"""Called as ``on_bad_row(line_number, reason)``; the reason names counts and fields, never values."""

# Rows per batch handed to the data path: its per-batch cost (hundreds of Arrow and numpy calls) was a quarter of
# the ingest's time at 65,536 rows per batch. Parsers still read small blocks; batches join them (``_resized``).
DEFAULT_BATCH_ROWS = 262144
# Rows a source that builds batches from Python objects (XLSX, JSON lines, SQL) holds at once.
PYTHON_ROWS_AT_ONCE = 65536
DEFAULT_SAMPLE_BYTES = 1 << 20
# Arrow parses one block at a time; 4 MiB keeps memory small (Arrow holds several blocks ahead: ~35 MiB at
# 4 MiB, ~340 MiB at 16 MiB) while amortizing per-block overhead.
DEFAULT_BLOCK_SIZE = 4 << 20
_HEADER_BLOCK_SIZE = 64 << 10
# Batches read (parsed, decoded) ahead on a background thread while the caller works on the current one.
READ_AHEAD_BATCHES = 2

_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "euc_cn", "cp936", "ms936"}
_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


class SourceFormat(enum.StrEnum):
    CSV = "csv"
    TSV = "tsv"
    XLSX = "xlsx"
    JSONL = "jsonl"
    PARQUET = "parquet"
    SQL = "sql"


_EXTENSIONS: dict[str, SourceFormat] = {
    ".csv": SourceFormat.CSV,
    ".tsv": SourceFormat.TSV,
    ".tab": SourceFormat.TSV,
    ".xlsx": SourceFormat.XLSX,
    ".xlsm": SourceFormat.XLSX,
    ".jsonl": SourceFormat.JSONL,
    ".ndjson": SourceFormat.JSONL,
    ".parquet": SourceFormat.PARQUET,
    ".pq": SourceFormat.PARQUET,
}


class SourceUnreachable(DataFormatError):
    """A database source that refused the connection; the message names the host, never the password."""

    code = "source_unreachable"


# ---------------------------------------------------------------- detection


def _magic_format(head: bytes, tail: bytes) -> SourceFormat | None:
    if head.startswith(_ZIP_MAGIC):
        return SourceFormat.XLSX
    if head.startswith(_PARQUET_MAGIC) and tail.endswith(_PARQUET_MAGIC):
        return SourceFormat.PARQUET
    return None


def detect_format(path: str | Path) -> SourceFormat:
    """The format from the file's extension, checked against its magic bytes (PK zip for XLSX, PAR1 for Parquet).

    A mismatch (an .xlsx that is not a zip, a .csv that is really a workbook) raises ``DataFormatError``; an
    unknown extension falls back to the magic bytes.
    """
    p = Path(path)
    size = _file_size(p)
    with p.open("rb") as f:
        head = f.read(8)
        f.seek(max(size - 4, 0))
        tail = f.read(4)
    by_magic = _magic_format(head, tail)
    by_ext = _EXTENSIONS.get(p.suffix.lower())
    if head.startswith(_OLE_MAGIC) or p.suffix.lower() == ".xls":
        raise DataFormatError(
            f"文件 {p.name} 是旧版 Excel（.xls）格式，请另存为 .xlsx 后再导入。",
            f"File {p.name} is a legacy Excel (.xls) workbook; save it as .xlsx and ingest that.",
            file=str(p),
        )
    if by_ext is None:
        if by_magic is None:
            raise DataFormatError(
                f"无法识别文件 {p.name} 的格式，请用 csv、tsv、xlsx、jsonl 或 parquet 扩展名，或显式指定格式。",
                f"Cannot tell the format of {p.name}; use a .csv, .tsv, .xlsx, .jsonl or .parquet name, "
                "or give the format explicitly.",
                file=str(p),
            )
        return by_magic
    binary = {SourceFormat.XLSX, SourceFormat.PARQUET}
    if (by_ext in binary and by_magic != by_ext) or (by_ext not in binary and by_magic is not None):
        found = by_magic.value if by_magic else "text"
        raise DataFormatError(
            f"文件 {p.name} 的扩展名是 {by_ext.value}，但内容是 {found}。",
            f"File {p.name} is named as {by_ext.value} but its content is {found}.",
            file=str(p),
        )
    return by_ext


def _canonical_encoding(name: str, *, file: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise DataFormatError(
            f"不认识的字符编码“{name}”（文件 {file}）。",
            f"Unknown character encoding '{name}' (file {file}).",
            file=file,
        ) from None
    if canonical in _GB_FAMILY:
        # GB18030 is the superset: decoding GBK/GB2312 bytes as GB18030 never loses a character.
        return "gb18030"
    return {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig"}.get(canonical, canonical)


def detect_encoding(path: str | Path, sample_bytes: int = DEFAULT_SAMPLE_BYTES) -> str:
    """The text encoding of a file, from a sample of at most ``sample_bytes`` bytes.

    Returns ``utf-8-sig`` for a UTF-8 BOM, ``utf-8`` for valid UTF-8 (and plain ASCII), ``gb18030`` whenever the
    detector sees the GB family (GB2312, GBK, GB18030), otherwise charset-normalizer's best guess. Pass an
    explicit encoding to ``open_source`` to bypass this.
    """
    p = Path(path)
    with p.open("rb") as f:
        sample = f.read(sample_bytes)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) == sample_bytes and b"\n" in sample:
        # A cut through a multi-byte character would look like a decoding error: stop at the last full line.
        sample = sample[: sample.rindex(b"\n") + 1]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    results = charset_normalizer.from_bytes(sample)
    best = results.best()
    if best is None:
        raise DataFormatError(
            f"无法识别文件 {p.name} 的字符编码，请显式指定（例如 gb18030 或 utf-8）。",
            f"Cannot detect the character encoding of {p.name}; give it explicitly (e.g. gb18030 or utf-8).",
            file=str(p),
        )
    # Short samples make the detector hesitate between CJK codecs; a Chinese platform prefers GB18030.
    if any(codecs.lookup(r.encoding).name in _GB_FAMILY for r in results):
        return "gb18030"
    return _canonical_encoding(best.encoding, file=str(p))


def _first_decode_error(path: Path, encoding: str, chunk: int = 1 << 20) -> tuple[int, int] | None:
    """(byte offset, line number) of the first byte sequence that does not decode, scanning in bounded chunks."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    lines = 1
    with path.open("rb") as f:
        while True:
            data = f.read(chunk)
            final = not data
            pending = decoder.getstate()[0] if hasattr(decoder, "getstate") else b""
            try:
                decoder.decode(data, final)
            except UnicodeDecodeError as exc:
                bad = max(offset - len(pending) + exc.start, 0)
                local = max(bad - offset, 0)
                return bad, lines + data[:local].count(b"\n")
            if final:
                return None
            offset += len(data)
            lines += data.count(b"\n")


def _encoding_error(path: Path, encoding: str, where: tuple[int, int] | None) -> DataFormatError:
    offset, line = where if where else (None, None)
    place_zh = f"第 {line} 行附近（字节偏移 {offset}）" if where else "某处"
    place_en = f"near line {line} (byte offset {offset})" if where else "somewhere"
    other = "gb18030" if encoding.startswith("utf") else "utf-8"
    return DataFormatError(
        f"文件 {path.name} 在{place_zh}不是有效的 {encoding} 编码；请用 encoding 参数（命令行 --encoding）"
        f"显式指定正确的编码，例如 {other}。",
        f"File {path.name} is not valid {encoding} {place_en}; give the right encoding explicitly with the "
        f"encoding option (--encoding on the command line), e.g. {other}.",
        file=str(path),
        line=line,
        byte_offset=offset,
        encoding=encoding,
    )


# ---------------------------------------------------------------- sources


_DONE = object()


def _read_ahead(batches: Iterator[pa.RecordBatch], depth: int) -> Iterator[pa.RecordBatch]:
    """Yield what ``batches`` yields, produced on a background thread at most ``depth`` items ahead.

    Arrow parses and transcodes with the GIL released, so the next block is read on the second core while the
    caller standardizes and checks this one. An exception in the reader is raised here, after the batches
    read before it; a caller that stops early stops the reader too. Memory stays bounded by ``depth``.
    """
    handoff: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: Any, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handoff.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not hand_over(batch):
                    return
            hand_over(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            hand_over(None, exc)
        finally:
            # The generator runs, and so is closed, on this thread: its files close here.
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=produce, name="ingest-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        reader.join()


def _resized(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of ``rows`` (the last may be shorter). Parsers read in blocks of a few MiB, which
    keeps their memory small; the data path works on fewer, larger batches, which spreads its per-batch cost
    (hundreds of Arrow and numpy calls) over more rows. Long blocks are cut by zero-copy slices."""
    pieces: list[pa.RecordBatch] = []

    def joined() -> pa.RecordBatch:
        return pieces[0] if len(pieces) == 1 else pa.concat_batches(pieces)

    held = 0
    try:
        try:
            for batch in batches:
                start = 0
                while start < batch.num_rows:
                    piece = batch.slice(start, rows - held)
                    pieces.append(piece)
                    held += piece.num_rows
                    start += piece.num_rows
                    if held == rows:
                        yield joined()
                        pieces, held = [], 0
        except Exception:
            if held:  # the rows read before an error still come first, as they would unjoined
                yield joined()
            raise
        if held:
            yield joined()
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # a reader stopped early closes its file now, on this thread


class Source:
    """One readable input. ``batches()`` starts a fresh pass each time it is called and updates the counters."""

    format: SourceFormat
    location: str
    columns: list[str]
    schema: pa.Schema
    encoding: str | None
    total_bytes: int | None
    bytes_read: int
    rows_read: int
    bad_rows: int

    def __init__(self, fmt: SourceFormat, location: str, batch_rows: int, on_bad_row: BadRowHandler | None) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be positive")
        self.format = fmt
        self.location = location
        self.batch_rows = batch_rows
        # Sources that build batches from Python rows hold at most this many at once (then joined up to batch_rows).
        self.chunk_rows = min(batch_rows, PYTHON_ROWS_AT_ONCE)
        self.on_bad_row = on_bad_row
        self.encoding = None
        self.total_bytes = None
        self.bytes_read = 0
        self.rows_read = 0
        self.bad_rows = 0

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.bytes_read = self.rows_read = self.bad_rows = 0
        for batch in _read_ahead(_resized(self._batches(), self.batch_rows), depth=READ_AHEAD_BATCHES):
            self.rows_read += batch.num_rows
            yield batch
        if self.total_bytes is not None:
            self.bytes_read = self.total_bytes

    def _batches(self) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def _bad(self, line: int | None, reason_zh: str, reason_en: str, **details: Any) -> None:
        """Report one bad row: to the callback if there is one, else as an error that stops the read."""
        if self.on_bad_row is not None:
            self.bad_rows += 1
            self.on_bad_row(line if line is not None else -1, reason_en)
            return
        name = Path(self.location).name
        where_zh = f"第 {line} 行" if line is not None else "某行"
        where_en = f"line {line}" if line is not None else "a line"
        raise DataFormatError(
            f"文件 {name} {where_zh}：{reason_zh}",
            f"File {name}, {where_en}: {reason_en}",
            file=self.location,
            line=line,
            **details,
        )


def _string_schema(names: Sequence[str]) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in names])


def _check_header(raw: Sequence[Any], *, file: str) -> list[str]:
    """Header names stripped of whitespace and BOM; blank or duplicate names are refused, named by position."""
    names = [("" if n is None else str(n)).replace("\ufeff", "").strip() for n in raw]
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise DataFormatError(
            f"文件 {Path(file).name} 的表头第 {blank} 列没有列名。",
            f"File {Path(file).name}: the header has blank column names at positions {blank}.",
            file=file,
            line=1,
            positions=blank,
        )
    counts = Counter(names)
    dupes = sorted(n for n, k in counts.items() if k > 1)
    if dupes:
        raise DataFormatError(
            f"文件 {Path(file).name} 的表头有重复的列名：{'、'.join(dupes)}。",
            f"File {Path(file).name}: the header repeats column names {dupes}.",
            file=file,
            line=1,
            field=dupes[0],
            fields=dupes,
        )
    return names


class _NeedsDecodedText(Exception):
    """A GB18030 file read as bytes met a row that only a decoded read can report."""


class _CsvSource(Source):
    def __init__(
        self,
        path: Path,
        fmt: SourceFormat,
        encoding: str,
        batch_rows: int,
        block_size: int,
        on_bad_row: BadRowHandler | None,
    ) -> None:
        super().__init__(fmt, str(path), batch_rows, on_bad_row)
        self.path = path
        self.encoding = encoding
        self.total_bytes = _file_size(path)
        self.block_size = block_size
        self.delimiter = "\t" if fmt is SourceFormat.TSV else ","
        # Arrow strips a UTF-8 BOM itself and is fastest on its native UTF-8; other encodings are transcoded.
        self._arrow_encoding = "utf8" if encoding in {"utf-8", "utf-8-sig"} else encoding
        # GB18030 is parsed as bytes and its non-ASCII columns transcoded by iconv (see transcode.py).
        self._by_column = self._arrow_encoding == "gb18030" and transcode.available()
        self._raw_names = self._read_header()
        if any("\ufffd" in n for n in self._raw_names):
            # Arrow replaced undecodable header bytes: the header itself is in another encoding.
            raise _encoding_error(path, encoding, _first_decode_error(path, self._python_encoding()))
        self.columns = _check_header(self._raw_names, file=str(path))
        self.schema = _string_schema(self.columns)

    def _read_header(self) -> list[str]:
        try:
            # The first block is enough for the header; Arrow handles quoting and the BOM. A small block is read
            # (and, for GB18030, decoded by Python's codec) quickly; a header longer than that takes a full one.
            try:
                with self._open(block_size=_HEADER_BLOCK_SIZE) as reader:
                    return list(reader.schema.names)
            except pa.ArrowInvalid:
                with self._open() as reader:
                    return list(reader.schema.names)
        except (pa.ArrowInvalid, UnicodeDecodeError):
            # Arrow decodes ahead of the header, so the bad bytes may be further on: find them.
            where = _first_decode_error(self.path, self._python_encoding()) or (0, 1)
            raise _encoding_error(self.path, self.encoding or "utf-8", where) from None

    def _open(
        self,
        column_types: dict[str, pa.DataType] | None = None,
        f: Any = None,
        *,
        by_column: bool = False,
        block_size: int | None = None,
    ) -> pacsv.CSVStreamingReader:
        def invalid_row(row: pacsv.InvalidRow) -> str:
            self._pending.append((row.number, row.expected_columns, row.actual_columns))
            return "skip"

        self._pending: list[tuple[int | None, int, int]] = []
        return pacsv.open_csv(
            f if f is not None else str(self.path),
            read_options=pacsv.ReadOptions(
                # Read as bytes, the header cannot be decoded by Arrow: its names are the ones read before.
                encoding="utf8" if by_column else self._arrow_encoding,
                column_names=self._raw_names if by_column else None,
                skip_rows=1 if by_column else 0,
                block_size=min(block_size or self.block_size, self.block_size),
                # Single-threaded parsing is what gives the invalid-row handler its physical line numbers.
                use_threads=False,
            ),
            parse_options=pacsv.ParseOptions(
                # Arrow hands the handler a ragged row's text decoded as UTF-8, which GB18030 bytes are not: read
                # as bytes, a ragged row stops the read instead, and _batches reads on decoded.
                delimiter=self.delimiter,
                invalid_row_handler=None if by_column else invalid_row,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types or {}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )

    def _flush_bad_rows(self) -> None:
        pending, self._pending[:] = list(self._pending), []
        for line, expected, actual in pending:
            self._bad(
                line,
                f"应有 {expected} 个字段，实际 {actual} 个。",
                f"expected {expected} field{'s' if expected != 1 else ''}, found {actual}.",
                expected_fields=expected,
                actual_fields=actual,
            )

    def _batches(self) -> Iterator[pa.RecordBatch]:
        self._rows_done = 0
        if not self._by_column:
            yield from self._parse(by_column=False)
            return
        try:
            yield from self._parse(by_column=True)
        except _NeedsDecodedText:
            # A ragged row (see _open), or bytes Arrow cannot parse: read on from the row reached with the file
            # decoded by Python's codec, which reports either at its line.
            yield from self._parse(by_column=False)

    def _parse(self, *, by_column: bool) -> Iterator[pa.RecordBatch]:
        """Parse the file, skipping the ``_rows_done`` rows already yielded by an earlier pass."""
        types = {n: pa.binary() if by_column else pa.string() for n in self._raw_names}
        skip = self._rows_done
        transcoder = transcode.Gb18030Columns()
        with pa.OSFile(str(self.path), "rb") as f:
            reader: pacsv.CSVStreamingReader | None = None
            while True:
                try:
                    # Opening already parses the first block, so it can fail like any later read.
                    reader = reader or self._open(types, f, by_column=by_column)
                    batch = reader.read_next_batch()
                    columns = (
                        [transcoder.to_utf8(i, c) for i, c in enumerate(batch.columns)] if by_column else batch.columns
                    )
                except StopIteration:
                    self._flush_bad_rows()
                    return
                except transcode.UndecodableValue as bad:
                    raise self._undecodable(self._rows_done + bad.index + 1) from None
                except (pa.ArrowInvalid, UnicodeDecodeError):
                    if by_column:
                        raise _NeedsDecodedText from None
                    # Arrow's message may quote the data, so it is not passed on; find the place ourselves.
                    where = _first_decode_error(self.path, self._python_encoding())
                    if where is not None:
                        raise _encoding_error(self.path, self.encoding or "utf-8", where) from None
                    raise DataFormatError(
                        f"文件 {self.path.name} 在字节偏移 {f.tell()} 附近无法按 {self.format.value} 解析。",
                        f"File {self.path.name} cannot be parsed as {self.format.value} near byte offset {f.tell()}.",
                        file=str(self.path),
                        byte_offset=f.tell(),
                    ) from None
                self._flush_bad_rows()
                self.bytes_read = min(f.tell(), self.total_bytes or 0)
                batch = pa.RecordBatch.from_arrays(columns, schema=self.schema)
                if skip:
                    batch, skip = batch.slice(min(skip, batch.num_rows)), max(skip - batch.num_rows, 0)
                self._rows_done += batch.num_rows
                if batch.num_rows:
                    yield batch

    def _undecodable(self, row: int) -> DataFormatError:
        """The error for a value iconv refused in data row ``row``: at its byte and line when Python's codec
        finds the same bad bytes (it nearly always does), else at its row."""
        where = _first_decode_error(self.path, self._python_encoding())
        if where is not None:
            return _encoding_error(self.path, self.encoding or "utf-8", where)
        return DataFormatError(
            f"文件 {self.path.name} 的第 {row} 条记录不是有效的 {self.encoding} 编码。",
            f"Record {row} of file {self.path.name} is not valid {self.encoding}.",
            file=str(self.path),
            row=row,
            encoding=self.encoding,
        )

    def _python_encoding(self) -> str:
        return "utf-8" if self._arrow_encoding == "utf8" else self._arrow_encoding


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        # Excel has no date-only type: a midnight datetime is how a date cell arrives.
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _TellingFile(io.RawIOBase):
    """A read-only file wrapper whose position the progress bar can watch."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._f.readinto(buffer)  # type: ignore[attr-defined, no-any-return]

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()


class _XlsxSource(Source):
    def __init__(self, path: Path, sheet: str | None, batch_rows: int, on_bad_row: BadRowHandler | None) -> None:
        super().__init__(SourceFormat.XLSX, str(path), batch_rows, on_bad_row)
        self.path = path
        self.sheet = sheet
        self.total_bytes = _file_size(path)
        with self._rows() as (rows, _):
            header = next(rows, None)
        if header is None:
            raise DataFormatError(
                f"工作簿 {path.name} 的工作表是空的，没有表头。",
                f"Workbook {path.name}: the sheet is empty, there is no header row.",
                file=str(path),
            )
        header = list(header)
        while header and (header[-1] is None or str(header[-1]).strip() == ""):
            header.pop()  # Excel often reports formatted but empty columns past the data
        self.columns = _check_header(header, file=str(path))
        self.schema = _string_schema(self.columns)

    class _Open:
        def __init__(self, source: _XlsxSource) -> None:
            import openpyxl

            self._raw = source.path.open("rb")
            self.file = _TellingFile(self._raw)
            try:
                self.book = openpyxl.load_workbook(self.file, read_only=True, data_only=True)
            except Exception:
                self._raw.close()
                raise DataFormatError(
                    f"无法打开工作簿 {source.path.name}。",
                    f"Cannot open workbook {source.path.name}.",
                    file=str(source.path),
                ) from None
            if source.sheet is not None and source.sheet not in self.book.sheetnames:
                self.close()
                raise DataFormatError(
                    f"工作簿 {source.path.name} 中没有工作表“{source.sheet}”。",
                    f"Workbook {source.path.name} has no sheet '{source.sheet}'.",
                    file=str(source.path),
                    sheet=source.sheet,
                )
            ws = self.book[source.sheet] if source.sheet is not None else self.book.worksheets[0]
            self.rows: Iterator[tuple[Any, ...]] = ws.iter_rows(values_only=True)

        def close(self) -> None:
            self.book.close()
            self._raw.close()

        def __enter__(self) -> tuple[Iterator[tuple[Any, ...]], _TellingFile]:
            return self.rows, self.file

        def __exit__(self, *exc: object) -> None:
            self.close()

    def _rows(self) -> _XlsxSource._Open:
        return _XlsxSource._Open(self)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        width = len(self.columns)
        with self._rows() as (rows, f):
            next(rows, None)
            cols: list[list[str | None]] = [[] for _ in range(width)]
            for line, row in enumerate(rows, start=2):
                if all(v is None for v in row):
                    continue  # an empty row carries no data
                if len(row) > width and any(v is not None for v in row[width:]):
                    self._bad(
                        line,
                        f"有超出表头（{width} 列）的单元格。",
                        f"has cells beyond the {width} header columns.",
                        expected_fields=width,
                    )
                    continue
                for i in range(width):
                    cols[i].append(_cell_text(row[i]) if i < len(row) else None)
                if len(cols[0]) >= self.chunk_rows:
                    self.bytes_read = min(f.tell(), self.total_bytes or 0)
                    yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], schema=self.schema)
                    cols = [[] for _ in range(width)]
            if cols and cols[0]:
                yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], schema=self.schema)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class _JsonlSource(Source):
    def __init__(self, path: Path, encoding: str, batch_rows: int, on_bad_row: BadRowHandler | None) -> None:
        super().__init__(SourceFormat.JSONL, str(path), batch_rows, on_bad_row)
        self.path = path
        self.encoding = encoding
        self.total_bytes = _file_size(path)
        # The columns are the keys of the first object, in order; later objects may omit keys (null) but
        # an unexpected key is a bad row, so the schema is fixed before the first batch.
        self.columns = []
        with closing(self._objects(report=False)) as objects:
            for _, obj in objects:
                self.columns = _check_header(list(obj), file=str(path))
                break
        self.schema = _string_schema(self.columns)

    def _objects(self, *, report: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
        # Lines are split as bytes: b"\n" never occurs inside a UTF-8 or GB18030 multi-byte character.
        codec = "utf-8-sig" if self.encoding in {"utf-8", "utf-8-sig"} else self.encoding or "utf-8"
        with self.path.open("rb") as f:
            for line, raw in enumerate(f, start=1):
                self.bytes_read += len(raw)
                try:
                    text = raw.decode(codec)
                except UnicodeDecodeError as exc:
                    offset = self.bytes_read - len(raw) + exc.start
                    raise _encoding_error(self.path, self.encoding or "utf-8", (offset, line)) from None
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    if not report:
                        raise DataFormatError(
                            f"文件 {self.path.name} 第 {line} 行不是有效的 JSON（第 {exc.colno} 列）。",
                            f"File {self.path.name}, line {line}: not valid JSON (column {exc.colno}).",
                            file=str(self.path),
                            line=line,
                        ) from None
                    self._bad(line, f"不是有效的 JSON（第 {exc.colno} 列）。", f"not valid JSON (column {exc.colno}).")
                    continue
                if not isinstance(obj, dict):
                    if report:
                        self._bad(line, "不是 JSON 对象。", "is not a JSON object.")
                        continue
                    raise DataFormatError(
                        f"文件 {self.path.name} 第 {line} 行不是 JSON 对象。",
                        f"File {self.path.name}, line {line}: not a JSON object.",
                        file=str(self.path),
                        line=line,
                    )
                yield line, obj

    def _batches(self) -> Iterator[pa.RecordBatch]:
        known = set(self.columns)
        rows: list[dict[str, Any]] = []
        for line, obj in self._objects():
            extra = [k for k in obj if k not in known]
            if extra:
                self._bad(
                    line,
                    f"有表头之外的字段：{'、'.join(extra)}。",
                    f"has fields not in the first object: {extra}.",
                    fields=extra,
                )
                continue
            rows.append(obj)
            if len(rows) >= self.chunk_rows:
                yield self._to_batch(rows)
                rows = []
        if rows:
            yield self._to_batch(rows)

    def _to_batch(self, rows: list[dict[str, Any]]) -> pa.RecordBatch:
        arrays = [pa.array([_json_text(r.get(c)) for r in rows], pa.string()) for c in self.columns]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class _ParquetSource(Source):
    def __init__(self, path: Path, batch_rows: int) -> None:
        super().__init__(SourceFormat.PARQUET, str(path), batch_rows, None)
        self.path = path
        self.total_bytes = _file_size(path)
        try:
            meta = pq.ParquetFile(str(path))
        except (pa.ArrowInvalid, OSError):
            raise DataFormatError(
                f"无法读取 Parquet 文件 {path.name}。",
                f"Cannot read Parquet file {path.name}.",
                file=str(path),
            ) from None
        self.schema = meta.schema_arrow
        self.columns = list(self.schema.names)
        self._num_rows = meta.metadata.num_rows
        meta.close()

    def _batches(self) -> Iterator[pa.RecordBatch]:
        with pq.ParquetFile(str(self.path)) as f:
            seen = 0
            for batch in f.iter_batches(batch_size=self.batch_rows):
                seen += batch.num_rows
                # Parquet is read by row group, not by byte: report progress as the share of rows read.
                self.bytes_read = (self.total_bytes or 0) * seen // max(self._num_rows, 1)
                yield batch


def _arrow_type(sql_type: Any) -> pa.DataType:
    from sqlalchemy import types as t

    if isinstance(sql_type, t.Boolean):
        return pa.bool_()
    if isinstance(sql_type, t.Integer):
        return pa.int64()
    if isinstance(sql_type, t.Float):
        return pa.float64()
    if isinstance(sql_type, t.Numeric):
        p, s = getattr(sql_type, "precision", None), getattr(sql_type, "scale", None)
        # Without a declared precision the exact decimal is kept as text rather than rounded to a float.
        return pa.decimal128(p, s or 0) if p and p <= 38 else pa.string()
    if isinstance(sql_type, t.DateTime):
        return pa.timestamp("us", tz="UTC" if getattr(sql_type, "timezone", False) else None)
    if isinstance(sql_type, t.Date):
        return pa.date32()
    if isinstance(sql_type, t.Time):
        return pa.time64("us")
    if isinstance(sql_type, t.LargeBinary):
        return pa.binary()
    return pa.string()


def _sql_value(value: Any, typ: pa.DataType) -> Any:
    if value is None or not pa.types.is_string(typ) or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


class _SqlSource(Source):
    def __init__(
        self, url: str, table: str, db_schema: str | None, batch_rows: int, on_bad_row: BadRowHandler | None
    ) -> None:
        from sqlalchemy import MetaData, Table, create_engine, exc, make_url

        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise DataFormatError("数据库地址格式不正确。", "The database URL is malformed.") from None
        shown = parsed.render_as_string(hide_password=True)
        super().__init__(SourceFormat.SQL, f"{shown}#{table}", batch_rows, on_bad_row)
        if db_schema is None and "." in table:
            db_schema, table = table.split(".", 1)
        self.table_name = table
        self.db_schema = db_schema
        try:
            self.engine = create_engine(parsed)
        except (exc.ArgumentError, exc.NoSuchModuleError, ImportError):
            raise DataFormatError(
                f"不支持的数据库地址：{shown}。", f"Unsupported database URL: {shown}.", url=shown
            ) from None
        host = f"{parsed.host or 'localhost'}{f':{parsed.port}' if parsed.port else ''}"
        try:
            with self.engine.connect() as conn:
                self.table = Table(table, MetaData(), schema=db_schema, autoload_with=conn)
        except exc.NoSuchTableError:
            self.engine.dispose()
            raise DataFormatError(
                f"数据库 {host} 中没有表 {table}。",
                f"Table {table} does not exist in the database at {host}.",
                host=host,
                table=table,
            ) from None
        except exc.DBAPIError:
            self.engine.dispose()
            # Never chain the driver's error: the URL, and a password in it, must not leak into logs.
            raise SourceUnreachable(
                f"无法连接数据库 {host}（{shown}）：连接被拒绝或认证失败。",
                f"Cannot connect to the database at {host} ({shown}): refused or authentication failed.",
                host=host,
                url=shown,
            ) from None
        self.columns = [c.name for c in self.table.columns]
        self.schema = pa.schema([pa.field(c.name, _arrow_type(c.type)) for c in self.table.columns])

    def _batches(self) -> Iterator[pa.RecordBatch]:
        from sqlalchemy import select

        types = list(self.schema.types)
        try:
            with self.engine.connect() as conn:
                # A server-side cursor: the database hands over chunk_rows rows at a time, never the whole table.
                result = conn.execution_options(stream_results=True, yield_per=self.chunk_rows).execute(
                    select(self.table)
                )
                for part in result.partitions(self.chunk_rows):
                    arrays = [pa.array([_sql_value(row[i], typ) for row in part], typ) for i, typ in enumerate(types)]
                    yield pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        finally:
            self.engine.dispose()


# ---------------------------------------------------------------- entry point


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        raise DataFormatError(f"找不到文件 {path}。", f"File not found: {path}.", file=str(path)) from None


def _local_path(path_or_url: str | Path) -> Path:
    if isinstance(path_or_url, Path):
        return path_or_url
    parts = urlsplit(path_or_url)
    scheme = parts.scheme.lower()
    if scheme in {"http", "https", "ftp", "s3"}:
        raise DataFormatError(
            "不能直接从网络地址导入：请先下载文件，再导入本地文件。",
            "Cannot ingest from a network URL: download the file first, then ingest the local copy.",
            url=f"{parts.scheme}://{parts.hostname or ''}",
        )
    if scheme == "file":
        return Path(url2pathname(unquote(parts.path)))
    return Path(path_or_url)


def open_source(
    path_or_url: str | Path,
    *,
    format: SourceFormat | str | None = None,
    encoding: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    table: str | None = None,
    schema: str | None = None,
    sheet: str | None = None,
    on_bad_row: BadRowHandler | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    sample_bytes: int = DEFAULT_SAMPLE_BYTES,
) -> Source:
    """Open a file, ``file://`` URL or SQL table as a streaming :class:`Source`.

    - ``format``: override the detected format. ``encoding``: override the detected encoding (text formats).
    - SQL: ``sql+<sqlalchemy-url>#<table>``, or a SQLAlchemy URL with ``table=``; ``schema`` is the database
      schema holding the table (``public``…), also accepted as ``schema.table``.
    - ``sheet``: the XLSX worksheet (default: the first). ``on_bad_row(line, reason)``: receive bad rows
      instead of raising. ``block_size``: bytes Arrow parses at a time (CSV/TSV), which bounds memory.
    - http(s) URLs are refused with a "download first" ``DataFormatError``: this layer does not fetch.
    """
    text = str(path_or_url)
    if table is not None or text.startswith("sql+"):
        url = text.removeprefix("sql+")
        if table is None:
            url, sep, table = url.rpartition("#")
            if not sep or not table:
                raise DataFormatError(
                    "SQL 来源需要表名：sql+<数据库地址>#<表名>。",
                    "A SQL source needs a table: sql+<database-url>#<table>.",
                )
        return _SqlSource(url, table, schema, batch_rows, on_bad_row)

    path = _local_path(path_or_url)
    if not path.is_file():
        raise DataFormatError(f"找不到文件 {path.name}。", f"File not found: {path.name}.", file=str(path))
    size = _file_size(path)
    if size == 0:
        raise DataFormatError(
            f"文件 {path.name} 是空的（0 字节）。", f"File {path.name} is empty (0 bytes).", file=str(path)
        )
    fmt = SourceFormat(format) if format is not None else detect_format(path)
    if fmt is SourceFormat.SQL:
        raise DataFormatError("SQL 来源需要数据库地址和表名。", "A SQL source needs a database URL and a table.")
    if fmt is SourceFormat.PARQUET:
        return _ParquetSource(path, batch_rows)
    if fmt is SourceFormat.XLSX:
        return _XlsxSource(path, sheet, batch_rows, on_bad_row)
    enc = (
        _canonical_encoding(encoding, file=str(path))
        if encoding is not None
        else detect_encoding(path, sample_bytes=sample_bytes)
    )
    if fmt is SourceFormat.JSONL:
        return _JsonlSource(path, enc, batch_rows, on_bad_row)
    return _CsvSource(path, fmt, enc, batch_rows, block_size, on_bad_row)
