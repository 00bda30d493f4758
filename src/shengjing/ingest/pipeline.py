"""One batch through the data path: header check, standardization, types, quality — nothing lost.

Every source row ends in exactly one of two places: the accepted batch (typed, standardized) or the
quarantine batch (its raw values as strings, with ``_row`` and the rule and reason in both languages).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shengjing.errors import DataFormatError
from shengjing.ingest import quality
from shengjing.ingest.buffers import first_bytes, string_buffers
from shengjing.ingest.standardize import COLUMN_THREADS, REASONS, RuleSet

_DECIMAL_SCALE: Final = 4
# The lake's column types for the catalog's field types. Decimals keep 4 places (money in 元 has 2).
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(24, _DECIMAL_SCALE),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "boolean": pa.bool_(),
}
# What a value must look like to be cast to the type without loss (RE2 syntax, anchored).
_TYPE_PATTERNS = {
    "integer": r"^[+-]?\d{1,18}$",
    "decimal": r"^[+-]?\d{1,20}(\.\d{1,4})?$",
    "boolean": r"^(?i)(true|false|1|0|是|否)$",
}
_BOOLEAN_TRUE = ["true", "1", "是"]
_TYPE_NAMES_ZH = {"integer": "整数", "decimal": "数值", "date": "日期", "timestamp": "日期时间", "boolean": "布尔值"}


@dataclass(frozen=True)
class TargetField:
    name: str
    data_type: str  # a catalog FieldType value


def check_header(columns: Sequence[str], fields: Sequence[TargetField], location: str) -> None:
    """The source must carry exactly the resource's fields (in any order): a changed header is an error."""
    expected, found = [f.name for f in fields], list(columns)
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    if missing or extra:
        raise DataFormatError(
            f"表头与数据资源的数据项不一致：缺少 {missing or '无'}，多出 {extra or '无'}。",
            f"The header does not match the resource's fields: missing {missing or 'none'}, extra {extra or 'none'}.",
            file=location,
            line=1,
            missing=missing,
            extra=extra,
        )


def target_schema(fields: Sequence[TargetField]) -> pa.Schema:
    return pa.schema([pa.field(f.name, ARROW_TYPES[f.data_type]) for f in fields])


def quarantine_schema(fields: Sequence[TargetField]) -> pa.Schema:
    """Quarantined rows keep their values as text, exactly as they came, so nothing is lost to a cast."""
    return quality.quarantine_schema(pa.schema([pa.field(f.name, pa.string()) for f in fields]))


@dataclass
class BatchOutcome:
    accepted: pa.RecordBatch
    quarantined: pa.RecordBatch
    quality: quality.QualityResult | None
    changed: dict[str, int] = field(default_factory=dict)


def _text(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_timestamp(column.type):
        # A typed source's timestamps (Parquet, a database) as the catalog writes them: UTC, whole seconds. Arrow's
        # own text would be "…00.000000Z", which the layout check refuses. A value with a fraction of a second keeps
        # it, and is quarantined as written rather than cut short.
        try:
            seconds = pc.cast(column, pa.timestamp("s", tz="UTC" if column.type.tz else None))
        except pa.ArrowInvalid:
            return pc.cast(column, pa.string())
        return pc.strftime(seconds, format="%Y-%m-%d %H:%M:%S")
    return pc.cast(column, pa.string())


def _as_text(batch: pa.RecordBatch, fields: Sequence[TargetField]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([_text(batch.column(f.name)) for f in fields], names=[f.name for f in fields])


# Dates and times must be written exactly so (a space or "T" between date and time), checked on their bytes.
_LAYOUTS = {"date": quality.ISO_DATE_LAYOUT, "timestamp": quality.ISO_TIMESTAMP_LAYOUT}


def _shaped(values: pa.Array, present: np.ndarray, data_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Where a present value is written in the layout (years 0001–9999), and the byte matrix of the values."""
    ok, b = quality.layout_matches(values, _LAYOUTS[data_type], present)
    zero = ord("0")
    ok &= ~((b[:, 0] == zero) & (b[:, 1] == zero) & (b[:, 2] == zero) & (b[:, 3] == zero))
    return ok, b


def _real(b: np.ndarray, data_type: str) -> np.ndarray:
    """Where a shaped value names a real day and time (2024-02-30 and 24:00:00 do not)."""
    number = quality._digits
    ok = quality._real_dates(number(b[:, 0:4]), number(b[:, 5:7]), number(b[:, 8:10]))
    if data_type == "timestamp":
        ok &= (number(b[:, 11:13]) <= 23) & (number(b[:, 14:16]) <= 59) & (number(b[:, 17:19]) <= 59)
    return ok


def _parse_temporal(values: pa.Array, present: np.ndarray, data_type: str) -> tuple[np.ndarray, pa.Array]:
    """Type failures and the typed column of a date or timestamp column.

    Arrow's ISO 8601 cast checks the calendar and the clock, so on the usual batch, where every value is real,
    the shape check and one cast are all the work. Arrow accepts more layouts than the catalog's, hence the
    shape check first; when the cast refuses some value, the exact check (``_real``) finds which ones.
    """
    target = ARROW_TYPES[data_type]
    good, b = _shaped(values, present, data_type)
    try:
        typed = pc.cast(_nulls_except(values, good), target)
    except pa.ArrowInvalid:
        good &= _real(b, data_type)
        typed = pc.cast(_nulls_except(values, good), target)
    return present & ~good, typed


def _nulls_except(values: pa.Array, keep: np.ndarray) -> pa.Array:
    """``values`` with null wherever ``keep`` is False (no copy when it keeps everything)."""
    if keep.all():
        return values
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))


# Decimals with at most this many integer digits are exact through float64: the value times 10^4 is below 2^50,
# where a correctly rounded parse and one multiplication stay within 1/4 of the integer, so rounding finds it.
_FLOAT_EXACT_INTEGER_DIGITS: Final = 11


def _parse_decimal(values: pa.Array, present: np.ndarray) -> tuple[np.ndarray, pa.Array] | None:
    """Type failures and typed column of a plain decimal column, or None when the batch needs the general path.

    Same answers as the pattern and Arrow's decimal cast, at a third of the cost: the batch's bytes are counted
    (only digits, dots and signs; as many dots and signs as values that start with a sign or hold a dot, so no
    value has two or a misplaced one), each value's shape follows from its length and dot position, and the
    values are parsed as float64 and scaled to integers, exact for up to 11 integer digits.
    """
    found = string_buffers(values)
    if found is None or values.null_count or len(found[1]) == 0:
        return None
    offsets, data = found
    body = data[offsets[0] : offsets[-1]]
    dots, pluses, minuses = (int(np.count_nonzero(body == ord(c))) for c in ".+-")
    if np.count_nonzero((body - np.uint8(ord("0"))) > 9) != dots + pluses + minuses:
        return None  # some other byte: spaces, exponents, letters …
    lengths = np.diff(offsets)
    first = first_bytes(offsets, data)
    signed = present & ((first == ord("+")) | (first == ord("-")))
    dot = np.asarray(pc.find_substring(values, ".").to_numpy(zero_copy_only=False))
    has_dot = present & (dot >= 0)
    if np.count_nonzero(signed) != pluses + minuses or np.count_nonzero(has_dot) != dots:
        return None
    integer_digits = np.where(has_dot, dot, lengths) - signed
    fraction_digits = np.where(has_dot, lengths - dot - 1, 0)
    good = present & (integer_digits >= 1) & (integer_digits <= 20) & (~has_dot | (fraction_digits >= 1))
    good &= fraction_digits <= 4
    if (integer_digits[good] > _FLOAT_EXACT_INTEGER_DIGITS).any():
        return None
    floats = pc.cast(_nulls_except(values, good), pa.float64()).to_numpy(zero_copy_only=False)
    scaled = np.rint(np.nan_to_num(floats) * 10**_DECIMAL_SCALE).astype(np.int64)
    # decimal128 is two little-endian 64-bit words per value, the high one the sign extension of the low one
    words = np.empty((len(values), 2), dtype=np.int64)
    words[:, 0], words[:, 1] = scaled, scaled >> 63
    validity = pa.array(good, pa.bool_()).buffers()[1]
    typed = pa.Array.from_buffers(ARROW_TYPES["decimal"], len(values), [validity, pa.py_buffer(words)])
    return present & ~good, typed


def parse(values: pa.Array, data_type: str) -> tuple[np.ndarray, pa.Array]:
    """Type failures of a text column and its typed column (null where blank or failed).

    Blanks and nulls are not type failures: completeness is a quality rule's business.
    """
    present = quality.present(values)
    if data_type == "string":
        return np.zeros(len(values), dtype=bool), _nulls_except(values, present)
    if data_type in _LAYOUTS:
        return _parse_temporal(values, present, data_type)
    if data_type == "decimal" and (fast := _parse_decimal(values, present)) is not None:
        return fast
    pattern = _TYPE_PATTERNS[data_type]
    good = present & np.asarray(
        pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)
    )
    candidates = _nulls_except(values, good)
    if data_type == "boolean":
        truth = pc.is_in(pc.utf8_lower(candidates), value_set=pa.array(_BOOLEAN_TRUE))
        typed = pc.if_else(pc.is_null(candidates), pa.scalar(None, pa.bool_()), truth)
    else:
        typed = pc.cast(candidates, ARROW_TYPES[data_type])
    return present & ~good, typed


class BatchProcessor:
    """Runs each source batch through standardization, type checks and quality rules."""

    def __init__(
        self, fields: Sequence[TargetField], standardization: RuleSet | None, checker: quality.QualityChecker | None
    ) -> None:
        self.fields = list(fields)
        self.standardization = standardization
        self.checker = checker
        self.schema = target_schema(fields)
        self.quarantine = quarantine_schema(fields)

    def process(self, batch: pa.RecordBatch, first_row: int) -> BatchOutcome:
        raw = _as_text(batch, self.fields)
        text, changed = raw, {}
        stops = _EarlyStops(len(raw))
        if self.standardization is not None:
            result = self.standardization.apply(raw)
            text, changed = result.batch, dict(result.changed)
            for name, mask in result.failures.items():
                failed = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
                if not failed.any():
                    continue
                codes = result.reasons[name]
                for code, (zh, en) in REASONS.items():
                    with_code = np.asarray(pc.fill_null(pc.equal(codes, code), False).to_numpy(zero_copy_only=False))
                    stops.add(failed & with_code, f"standardize:{name}", name, zh, en)
        parsed = list(COLUMN_THREADS.map(lambda f: parse(text.column(f.name), f.data_type), self.fields))
        for f, (failed, _) in zip(self.fields, parsed, strict=True):
            zh = f"不是合法的{_TYPE_NAMES_ZH.get(f.data_type, f.data_type)}"
            stops.add(failed, f"type:{f.name}", f.name, zh, f"does not parse as {f.data_type}")
        typed = pa.RecordBatch.from_arrays([column for _, column in parsed], schema=self.schema)
        kept = np.flatnonzero(stops.reason < 0)
        early = stops.quarantine(raw, first_row, self.quarantine)
        # Most batches stop nothing: then the survivors are the batch itself, not a copy of it.
        everyone = len(kept) == len(raw)
        survivors = text if everyone else text.take(pa.array(kept, pa.int64()))
        typed_survivors = typed if everyone else typed.take(pa.array(kept, pa.int64()))
        quality_result = None
        accepted_rows = kept
        if self.checker is not None and len(survivors):
            quality_result = self.checker.check(survivors, first_row, typed=typed_survivors)
            late = quality_result.quarantined
            # The checker numbered rows by position among the survivors: map them back to source rows.
            positions = np.asarray(late.column(quality.ROW).to_numpy(), dtype=np.int64) - first_row
            late_rows = pa.array(kept[positions] + first_row, pa.int64())
            late = late.set_column(late.schema.get_field_index(quality.ROW), quality.ROW, late_rows)
            late_raw = raw.take(pa.array(kept[positions], pa.int64()))
            late = pa.RecordBatch.from_arrays(
                [*late_raw.columns, *(late.column(c) for c in quality.QUARANTINE_COLUMNS)], schema=self.quarantine
            )
            quarantined = pa.Table.from_batches([early, late], schema=self.quarantine).combine_chunks()
            accepted_rows = np.delete(kept, positions)
        else:
            quarantined = pa.Table.from_batches([early], schema=self.quarantine)
        accepted = typed if len(accepted_rows) == len(raw) else typed.take(pa.array(accepted_rows, pa.int64()))
        merged = quarantined.combine_chunks()
        out = merged.to_batches()[0] if merged.num_rows else _empty(self.quarantine)
        return BatchOutcome(accepted, out, quality_result, changed)


# Batches in flight at once. Two keep both cores busy: each batch waits at three points for its slowest
# column (standardize, parse, quality) and the other batch's columns fill that wait.
_BATCH_THREADS: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest-batch")


def process_in_order(
    processor: BatchProcessor, batches: Iterable[pa.RecordBatch]
) -> Iterator[tuple[pa.RecordBatch, BatchOutcome]]:
    """Each batch with its outcome, in source order. Two batches are processed at once unless a rule carries
    state from one batch to the next (``unique``: the first occurrence passes), which needs them one by one."""
    depth = 1 if processor.checker is not None and processor.checker.stateful else 2
    pending: deque[tuple[pa.RecordBatch, Future[BatchOutcome]]] = deque()
    first_row = 1
    try:
        for batch in batches:
            pending.append((batch, _BATCH_THREADS.submit(processor.process, batch, first_row)))
            first_row += batch.num_rows
            if len(pending) >= depth:
                done, outcome = pending.popleft()
                yield done, outcome.result()
        while pending:
            done, outcome = pending.popleft()
            yield done, outcome.result()
    finally:
        for _, outcome in pending:  # left early, on an error: no batch goes on working behind the caller's back
            if not outcome.cancel():
                outcome.exception()  # waits for it to finish


class _EarlyStops:
    """Rows stopped before the quality rules (standardization or type failures), each with its first reason."""

    def __init__(self, rows: int) -> None:
        self.reason = np.full(rows, -1, dtype=np.int64)  # index into self.labels; -1 while the row goes on
        self.labels: list[tuple[str, str, str, str]] = []  # (rule, field, reason_zh, reason_en)

    def add(self, failed: np.ndarray, rule: str, field: str, zh: str, en: str) -> None:
        first = failed & (self.reason < 0)  # a row keeps the first reason it was stopped for
        if first.any():
            self.reason[first] = len(self.labels)
            self.labels.append((rule, field, zh, en))

    def quarantine(self, raw: pa.RecordBatch, first_row: int, schema: pa.Schema) -> pa.RecordBatch:
        rows = np.flatnonzero(self.reason >= 0)
        which = pa.array(self.reason[rows], pa.int64())
        labels = [pa.array([label[k] for label in self.labels], pa.string()).take(which) for k in range(4)]
        row_numbers = pa.array(rows + first_row, pa.int64())
        return pa.RecordBatch.from_arrays(
            [*raw.take(pa.array(rows, pa.int64())).columns, row_numbers, *labels], schema=schema
        )


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


# Parquet dictionary-encodes a column whose first batch repeats its values this much (distinct / rows):
# below it a dictionary shrinks the file; above it (card and ID numbers, times) it costs ~40% of the write
# and is dropped by the writer anyway once the dictionary outgrows its page.
DICTIONARY_MAX_DISTINCT = 0.1


def dictionary_columns(batch: pa.RecordBatch) -> list[str]:
    """The columns worth a Parquet dictionary, judged on one batch."""
    rows = max(batch.num_rows, 1)
    return [
        name
        for name, column in zip(batch.schema.names, batch.columns, strict=True)
        if pc.count_distinct(column, mode="all").as_py() / rows <= DICTIONARY_MAX_DISTINCT
    ]


def statistics_columns(batch: pa.RecordBatch) -> list[str]:
    """The columns given min/max statistics, judged on one batch: every column but text that is not in order.

    Statistics let a reader skip row groups whose range a filter excludes. Numbers, dates and times get them:
    range filters on them are common. Text gets them only when the file is sorted by it (then an ID lookup
    skips most of the file); on unsorted text every row group spans nearly the whole range, so the statistics
    prune nothing, and computing them was a quarter of the Parquet write."""
    names = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_string(column.type) and len(column) > 1:
            ordered = pc.all(pc.greater_equal(column.slice(1), column.slice(0, len(column) - 1))).as_py()
            if ordered is False:
                continue
        names.append(name)
    return names


class WriteBehind:
    """A Parquet file written from a background thread: encoding and compressing one batch (Arrow releases the
    GIL) overlaps with processing the next. At most ``depth`` batches wait, so memory stays bounded. The writer
    opens on the first batch, which decides the dictionary-encoded columns and those with statistics; a file
    given no batch is written empty, with its schema. A write error is raised by the next ``write_batch`` or on
    leaving the block, as the same exception object."""

    _CLOSE = None

    def __init__(self, path: Path, schema: pa.Schema, depth: int = 2) -> None:
        self.path = path
        self.schema = schema
        self._writer: pq.ParquetWriter | None = None
        self._pending: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="ingest-write-behind", daemon=True)

    def _open(self, first: pa.RecordBatch | None) -> pq.ParquetWriter:
        if first is None or not first.num_rows:
            return pq.ParquetWriter(self.path, self.schema)
        return pq.ParquetWriter(
            self.path,
            self.schema,
            use_dictionary=dictionary_columns(first),
            write_statistics=statistics_columns(first),
        )

    def _drain(self) -> None:
        while (batch := self._pending.get()) is not self._CLOSE:
            if self._error is None:  # after a failure, batches are only taken off the queue so no one blocks
                try:
                    self._writer = self._writer or self._open(batch)
                    self._writer.write_batch(batch)
                except BaseException as exc:  # raised on the caller's thread
                    self._error = exc
        try:
            (self._writer or self._open(None)).close()
        except BaseException as exc:
            self._error = self._error or exc

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if self._error is not None:
            raise self._error
        self._pending.put(batch)

    def __enter__(self) -> WriteBehind:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pending.put(self._CLOSE)
        self._thread.join()
        if exc is None and self._error is not None:
            raise self._error
