"""One batch through the data path: header check, standardization, types, quality — nothing lost.

Every source row ends in exactly one of two places: the accepted batch (typed, standardized) or the
quarantine batch (its raw values as strings, with ``_row`` and the rule and reason in both languages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shengjing.errors import DataFormatError
from shengjing.ingest import quality
from shengjing.ingest.standardize import REASONS, RuleSet

# The lake's column types for the catalog's field types. Decimals keep 4 places (money in 元 has 2).
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(24, 4),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "boolean": pa.bool_(),
}
# What a value must look like to be cast to the type without loss (RE2 syntax, anchored).
_TYPE_PATTERNS = {
    "integer": r"^[+-]?\d{1,18}$",
    "decimal": r"^[+-]?\d{1,20}(\.\d{1,4})?$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$",
    "boolean": r"^(?i)(true|false|1|0|是|否)$",
}
_BOOLEAN_TRUE = ["true", "1", "是"]
_TIME_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%d %H:%M:%S"}


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


def _as_text(batch: pa.RecordBatch, fields: Sequence[TargetField]) -> pa.RecordBatch:
    columns = [batch.column(f.name) for f in fields]
    return pa.RecordBatch.from_arrays(
        [c if pa.types.is_string(c.type) else pc.cast(c, pa.string()) for c in columns], names=[f.name for f in fields]
    )


def _type_failures(values: pa.Array, data_type: str) -> np.ndarray:
    pattern = _TYPE_PATTERNS.get(data_type)
    if pattern is None:
        return np.zeros(len(values), dtype=bool)
    blank = pc.equal(pc.utf8_trim_whitespace(values), "")
    ok = pc.match_substring_regex(values, pattern)
    if data_type in _TIME_FORMATS:
        # Arrow's strptime rolls 2024-02-30 over into March: a real date must print back as it was written.
        text = pc.replace_substring(values, "T", " ")
        parsed = pc.strptime(text, format=_TIME_FORMATS[data_type], unit="s", error_is_null=True)
        ok = pc.and_(ok, pc.equal(pc.strftime(parsed, format=_TIME_FORMATS[data_type]), text))
    ok = pc.or_(pc.fill_null(ok, False), blank)
    return ~np.asarray(pc.fill_null(ok, True).to_numpy(zero_copy_only=False), dtype=bool)


def _cast(values: pa.Array, data_type: str) -> pa.Array:
    target = ARROW_TYPES[data_type]
    blank = pc.equal(pc.utf8_trim_whitespace(values), "")
    values = pc.if_else(pc.fill_null(blank, False), pa.scalar(None, pa.string()), values)
    if data_type == "boolean":
        truth = pc.is_in(pc.utf8_lower(values), value_set=pa.array(_BOOLEAN_TRUE))
        return pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), truth)
    if data_type == "timestamp":
        values = pc.replace_substring(values, "T", " ")
    return pc.cast(values, target)


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
        reason_zh = np.full(len(raw), None, dtype=object)
        reason_en = np.full(len(raw), None, dtype=object)
        rule = np.full(len(raw), None, dtype=object)
        field_of = np.full(len(raw), None, dtype=object)
        if self.standardization is not None:
            result = self.standardization.apply(raw)
            text, changed = result.batch, dict(result.changed)
            for name, mask in result.failures.items():
                failed = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool) & (reason_en == None)  # noqa: E711
                codes = result.reasons[name].to_pylist()
                for i in np.flatnonzero(failed):
                    zh, en = REASONS[codes[i]]
                    reason_zh[i], reason_en[i], rule[i], field_of[i] = zh, en, f"standardize:{name}", name
        for f in self.fields:
            failed = _type_failures(text.column(f.name), f.data_type) & (reason_en == None)  # noqa: E711
            rule[failed], field_of[failed] = f"type:{f.name}", f.name
            reason_zh[failed], reason_en[failed] = f"不是合法的{f.data_type}值", f"does not parse as {f.data_type}"
        stopped = reason_en != None  # noqa: E711
        kept = np.flatnonzero(~stopped)
        early = self._quarantine(raw, np.flatnonzero(stopped), first_row, rule, field_of, reason_zh, reason_en)
        survivors = text.take(pa.array(kept, pa.int64()))
        quality_result = None
        if self.checker is not None and len(survivors):
            quality_result = self.checker.check(survivors, first_row)
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
            survivors = quality_result.accepted
        else:
            quarantined = pa.Table.from_batches([early], schema=self.quarantine)
        accepted = pa.RecordBatch.from_arrays(
            [_cast(survivors.column(f.name), f.data_type) for f in self.fields], schema=self.schema
        )
        merged = quarantined.combine_chunks()
        out = merged.to_batches()[0] if merged.num_rows else _empty(self.quarantine)
        return BatchOutcome(accepted, out, quality_result, changed)

    def _quarantine(
        self,
        raw: pa.RecordBatch,
        rows: np.ndarray,
        first_row: int,
        rule: np.ndarray,
        field_of: np.ndarray,
        reason_zh: np.ndarray,
        reason_en: np.ndarray,
    ) -> pa.RecordBatch:
        taken = pa.array(rows, pa.int64())
        extra = [
            pa.array(rows + first_row, pa.int64()),
            pa.array(rule[rows], pa.string()),
            pa.array(field_of[rows], pa.string()),
            pa.array(reason_zh[rows], pa.string()),
            pa.array(reason_en[rows], pa.string()),
        ]
        return pa.RecordBatch.from_arrays([*raw.take(taken).columns, *extra], schema=self.quarantine)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
