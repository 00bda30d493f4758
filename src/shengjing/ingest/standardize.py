"""Standardization: per-field rules, declared as data (YAML), applied to Arrow record batches on ingest.

A rule set names, for each field, the rules to apply in order::

    version: 1
    fields:
      xm: [trim, fullwidth_to_halfwidth]
      sfzh: [trim, fullwidth_to_halfwidth, upper]
      csrq: [{date: {formats: ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日"], output: "%Y-%m-%d"}}]
      lxdh: [{phone: {region: CN, area_code: "024"}}]
      xzqh: [{district: {city: "210100"}}]
      xb: [{codelist: {list: GB/T 2261.1}}]

A rule is a bare name or a one-key mapping of name to options. Rules work on text: a non-text column is cast
to text first (an int64 sex column 1/2 comes out as the string codes "1"/"2"); dictionary-encoded columns are
standardized on their dictionary and keep their encoding.

A value that a rule cannot standardize (a date matching no format, an unknown district, a code not in the list,
a phone number of no known shape) keeps its original value — not the partly standardized one, so quarantine
shows what the department sent — and is marked in ``StandardizeResult.failures[field]`` with a reason code in
``StandardizeResult.reasons[field]``. Nulls and empty strings are never failures here: completeness is the
quality step's business.

Hot path: every rule is a few pyarrow.compute kernels over the column. Where no kernel exists (width folding,
alias lookups) the Python step runs once per *distinct* value among the candidate rows only, never per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shengjing.errors import DataFormatError, InvalidInput
from shengjing.ingest.buffers import first_bytes, string_buffers
from shengjing.ingest.codelists import CITIES, CODE_LISTS, lookup_key

# Why-code of a failure → (zh, en). Codes are stable: the quality step stores them with quarantined rows.
REASONS: Final[Mapping[str, tuple[str, str]]] = {
    "date_unparsed": ("日期不符合任何已声明的格式，或不是有效日期", "the date matches none of the declared formats"),
    "phone_unrecognized": ("电话号码不是可识别的手机、固话或服务号码", "the phone number has no recognized form"),
    "district_unknown": (
        "区县名称或代码不在该市的 GB/T 2260 代码表中",
        "the district is not in the city's GB/T 2260 list",
    ),
    "code_not_in_list": ("代码不在所引用的代码表中", "the value is not in the referenced code list"),
}

_StrArray = pa.StringArray | pa.LargeStringArray

# Columns are independent: their rules run on two threads (Arrow's kernels and numpy release the GIL), so a
# batch uses both cores. Shared with the pipeline's per-column type checks and casts.
COLUMN_THREADS: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest-column")


# --- Vectorized helpers ----------------------------------------------------------------------------------------

# U+FF01…U+FF5E are the full-width forms of ASCII ! … ~, offset by 0xFEE0; U+3000 is the ideographic space.
_FULLWIDTH_TABLE: Final = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_FULLWIDTH_CLASS: Final = "[\u3000\uff01-\uff5e]"


def _nonempty(values: pa.Array) -> pa.BooleanArray:
    """True where the value is a non-null, non-empty string (nulls become False, not null)."""
    return pc.fill_null(pc.not_equal(values, ""), False)


def _map_distinct(
    values: pa.Array, fn: Callable[[str], str | None], candidates: pa.BooleanArray
) -> tuple[pa.Array, np.ndarray | None]:
    """Apply ``fn`` once per distinct value among the candidate rows; None from ``fn`` means "cannot".

    Returns the new values (failed ones unchanged) and a failure mask, or None when nothing failed.
    """
    mask = pc.fill_null(candidates, False)
    if not pc.any(mask).as_py():
        return values, None
    encoded = values.filter(mask).dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    mapped = [fn(v) for v in distinct]
    new_dictionary = pa.array([v if m is None else m for v, m in zip(distinct, mapped, strict=True)], values.type)
    out = pc.replace_with_mask(values, mask, pc.take(new_dictionary, encoded.indices))
    failed_distinct = np.fromiter((m is None for m in mapped), dtype=bool, count=len(mapped))
    if not failed_distinct.any():
        return out, None
    failed = np.zeros(len(values), dtype=bool)
    failed[mask.to_numpy(zero_copy_only=False)] = failed_distinct[encoded.indices.to_numpy()]
    return out, failed


# Their UTF-8 forms start with a lead byte and one of its second bytes (EF BC/BD: U+FF00–U+FF7F, E3 80: U+3000–
# U+303F): a superset, which only sends a column down the exact path below.
_FULLWIDTH_UTF8: Final = ((0xEF, (0xBC, 0xBD)), (0xE3, (0x80,)))


def _may_hold_fullwidth(values: pa.Array) -> bool:
    """False when the column's bytes hold no full-width form: a numpy byte scan, ~100× cheaper than a regex."""
    if not pa.types.is_string(values.type):
        return True
    data = values.buffers()[2]
    if data is None:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    for lead, seconds in _FULLWIDTH_UTF8:
        at = np.flatnonzero(raw[:-1] == lead)
        if at.size and np.isin(raw[at + 1], seconds).any():
            return True
    return False


def _fullwidth_to_halfwidth(values: pa.Array) -> pa.Array:
    # A RE2 character-class scan finds the few rows with full-width characters; only their distinct values
    # go through str.translate. Clean columns cost one byte search.
    if not _may_hold_fullwidth(values):
        return values
    candidates = pc.match_substring_regex(values, _FULLWIDTH_CLASS)
    out, _ = _map_distinct(values, lambda v: v.translate(_FULLWIDTH_TABLE), candidates)
    return out


# What Arrow's utf8_trim_whitespace strips (tests/ingest/test_fast_paths.py checks this against utf8_is_space
# over every code point): ASCII controls and space, U+0085, NBSP, U+1680, U+2000–U+200A, U+2028/9, U+202F,
# U+205F and the ideographic space U+3000.
_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# A value may need trimming (or be blank: quality.blank) when its first byte can start a whitespace character,
# or its last one (two, for the multi-byte ones) can end one. A superset: such rows are looked at exactly.
WHITESPACE_FIRST_BYTES: Final = np.zeros(256, dtype=np.bool_)
_TRIM_LAST: Final = np.zeros(256, dtype=np.bool_)
_TRIM_LAST_TWO: Final = np.zeros(1 << 16, dtype=np.bool_)
for _encoded in (c.encode() for c in _WHITESPACE):
    WHITESPACE_FIRST_BYTES[_encoded[0]] = True
    if len(_encoded) == 1:
        _TRIM_LAST[_encoded[0]] = True
    else:
        _TRIM_LAST_TWO[_encoded[-2] << 8 | _encoded[-1]] = True


def _may_need_trim(values: pa.Array) -> np.ndarray:
    """Rows whose value may start or end with whitespace; every row if that cannot be told."""
    found = string_buffers(values)
    if found is None:
        return np.ones(len(values), dtype=np.bool_)
    offsets, data = found
    if len(data) == 0:
        return np.zeros(len(values), dtype=np.bool_)
    starts, ends = offsets[:-1], offsets[1:]
    # Empty rows and one-byte rows read a neighbour's bytes here: harmless, as empty rows are masked out
    # and a one-byte row that looks like the end of a multi-byte space is only trimmed exactly.
    first = first_bytes(offsets, data)
    last = data[np.maximum(ends - 1, 0)]
    before = data[np.maximum(ends - 2, 0)].astype(np.uint16)
    may = WHITESPACE_FIRST_BYTES[first] | _TRIM_LAST[last] | _TRIM_LAST_TWO[before << 8 | last]
    return may & (ends > starts)


def _rows_with_bytes(values: pa.Array, low: int, high: int) -> np.ndarray:
    """Rows whose bytes include one in [low, high]; every row if that cannot be told."""
    found = string_buffers(values)
    if found is None:
        return np.ones(len(values), dtype=np.bool_)
    offsets, data = found
    hits = np.flatnonzero((data[offsets[0] : offsets[-1]] - np.uint8(low)) <= high - low) + offsets[0]
    rows = np.zeros(len(values), dtype=np.bool_)
    rows[np.searchsorted(offsets, hits, side="right") - 1] = True
    return rows


def _apply_to(values: pa.Array, rows: np.ndarray, kernel: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``kernel`` applied to the given rows only; the array itself, uncopied, when there are none."""
    if not rows.any():
        return values
    if rows.all():
        return kernel(values)
    mask = pa.array(rows)
    return pc.replace_with_mask(values, mask, kernel(values.filter(mask)))


# --- Rules ----------------------------------------------------------------------------------------------------


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    reason: ClassVar[str | None] = None  # the reason code this rule reports when it cannot standardize a value

    def apply(self, values: pa.Array) -> tuple[pa.Array, pa.BooleanArray | np.ndarray | None]:
        """New values and a failure mask (None when the rule never fails or nothing failed)."""
        raise NotImplementedError


class Trim(_Rule):
    """Strip leading and trailing Unicode whitespace, including the ideographic space U+3000 and NBSP."""

    rule: Literal["trim"] = "trim"

    def apply(self, values: pa.Array) -> tuple[pa.Array, None]:
        return _apply_to(values, _may_need_trim(values), pc.utf8_trim_whitespace), None


class FullwidthToHalfwidth(_Rule):
    """Full-width ASCII forms (１２３ ＡＢＣ （） ，) and U+3000 to their half-width forms; nothing else.

    Deliberately not NFKC: NFKC also rewrites ① ² ㎡ ™ and CJK compatibility ideographs, which changes meaning.
    """

    rule: Literal["fullwidth_to_halfwidth"] = "fullwidth_to_halfwidth"

    def apply(self, values: pa.Array) -> tuple[pa.Array, None]:
        return _fullwidth_to_halfwidth(values), None


class Upper(_Rule):
    """Upper-case ASCII letters, e.g. the ID-number check letter x → X (run fullwidth_to_halfwidth first for ｘ)."""

    rule: Literal["upper"] = "upper"

    def apply(self, values: pa.Array) -> tuple[pa.Array, None]:
        return _apply_to(values, _rows_with_bytes(values, ord("a"), ord("z")), pc.ascii_upper), None


_DIRECTIVES: Final = re.compile(r"%(.)")
_ALLOWED_DIRECTIVES: Final = frozenset("YmdHMS%")
_SAMPLE: Final = datetime(2024, 11, 25, 13, 45, 30)  # every field distinct and two-digit: exposes swapped fields
_LEADING_ZEROS: Final = r"(^|[^0-9])0+([0-9])"


def _check_format(fmt: str) -> str:
    directives = _DIRECTIVES.findall(fmt)
    if not directives or not set(directives) <= _ALLOWED_DIRECTIVES:
        raise ValueError("a date format uses %Y %m %d %H %M %S and literal text only")
    text = _SAMPLE.strftime(fmt)
    parsed = pc.strptime(pa.array([text]), format=fmt, unit="s", error_is_null=True)
    if not parsed[0].is_valid or pc.strftime(parsed, format=fmt)[0].as_py() != text:
        raise ValueError("the date format does not read back what it writes")
    return fmt


class Date(_Rule):
    """Parse with the first matching format (strictly: 2024-02-30 fails) and write with ``output``.

    Zero-padding is optional in the input (2024/1/5 matches %Y/%m/%d). Arrow's strptime is lenient — it rolls
    2024-02-30 over to March 1 — so each parse is written back with the same format and compared to the input,
    leading zeros ignored; a value that does not read back is not a match.
    """

    rule: Literal["date"] = "date"
    formats: tuple[str, ...] = Field(min_length=1)
    output: str = "%Y-%m-%d"
    reason: ClassVar[str | None] = "date_unparsed"

    @field_validator("formats")
    @classmethod
    def _formats(cls, formats: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_format(f) for f in formats)

    @field_validator("output")
    @classmethod
    def _output(cls, output: str) -> str:
        return _check_format(output)

    def apply(self, values: pa.Array) -> tuple[pa.Array, pa.BooleanArray]:
        text = pc.utf8_trim_whitespace(values)
        nonempty = _nonempty(text)
        parsed = pa.nulls(len(values), pa.timestamp("s"))
        for fmt in self.formats:
            todo = pc.and_(nonempty, pc.is_null(parsed))  # each format only sees what earlier ones left
            if not pc.any(todo).as_py():
                break
            sub = text.filter(todo)
            ts = pc.strptime(sub, format=fmt, unit="s", error_is_null=True)
            # A rolled-over date (Feb 30 → Mar 1, Apr 31 → May 1) always lands on day 1–3, so only those are
            # written back and compared: the slow strftime runs on a tenth of the rows, not all of them.
            suspect = pc.fill_null(pc.less_equal(pc.day(ts), 3), False)
            if pc.any(suspect).as_py():
                written = pc.strftime(ts.filter(suspect), format=fmt)
                same = pc.equal(
                    pc.replace_substring_regex(written, _LEADING_ZEROS, r"\1\2"),
                    pc.replace_substring_regex(sub.filter(suspect), _LEADING_ZEROS, r"\1\2"),
                )
                bad = np.zeros(len(sub), dtype=bool)
                bad[suspect.to_numpy(zero_copy_only=False)] = ~same.to_numpy(zero_copy_only=False)
                ts = pc.if_else(pa.array(bad), None, ts)
            parsed = pc.replace_with_mask(parsed, todo, ts)
        ok = pc.is_valid(parsed)
        if self.output == "%Y-%m-%d":  # the ISO cast is several times faster than strftime
            written_all = parsed.cast(pa.date32()).cast(values.type)
        else:
            written_all = pc.strftime(parsed, format=self.output).cast(values.type)
        return pc.if_else(ok, written_all, values), pc.and_(pc.invert(ok), nonempty)


# Separators people type inside phone numbers: spaces, hyphens and dashes, brackets, dots, slashes.
_PHONE_SEPARATORS: Final = r"[\s\-‐‑–—－()（）.·/]"
_PHONE_VALID: Final = r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}|[48]00[0-9]{7}|1[0-9]{2,4}|9[0-9]{4})?$"


class Phone(_Rule):
    """Phone numbers to one form per kind (region CN):

    mobile → 13800138000 (no +86, no separators); landline → 024-23861234 (area code, hyphen, local number;
    +86 24 … gets its trunk 0 back); 400/800 → 4008123123; short service numbers (110, 12345, 95588) → digits.
    With ``area_code`` a bare 7–8 digit local number gets that area code. Anything else, including numbers with
    extensions, is a failure.
    """

    rule: Literal["phone"] = "phone"
    region: Literal["CN"] = "CN"
    area_code: str | None = Field(default=None, pattern=r"^0[1-9][0-9]{1,2}$")
    reason: ClassVar[str | None] = "phone_unrecognized"

    def apply(self, values: pa.Array) -> tuple[pa.Array, pa.BooleanArray]:
        d = pc.replace_substring_regex(_fullwidth_to_halfwidth(values), _PHONE_SEPARATORS, "")
        # +86 / 0086 before a landline area code drops the trunk 0: put it back, then drop the country code.
        d = pc.replace_substring_regex(d, r"^(?:\+|00)86([2-9])", r"0\1")
        d = pc.replace_substring_regex(d, r"^(?:\+|00)86", "")
        d = pc.replace_substring_regex(d, r"^86(1[3-9][0-9]{9})$", r"\1")
        # Area codes: 010 and 02x have three digits, all others four; the prefix alone decides, never the length.
        d = pc.replace_substring_regex(d, r"^(0[12][0-9])([2-9][0-9]{6,7})$", r"\1-\2")
        d = pc.replace_substring_regex(d, r"^(0[3-9][0-9]{2})([2-9][0-9]{6,7})$", r"\1-\2")
        if self.area_code:
            d = pc.replace_substring_regex(d, r"^([2-8][0-9]{6,7})$", rf"{self.area_code}-\1")
        ok = pc.fill_null(pc.match_substring_regex(d, _PHONE_VALID), True)
        return pc.if_else(ok, d, values), pc.invert(ok)


class District(_Rule):
    """District names to GB/T 2260 codes within ``city``: 沈阳市和平区 / 和平区 / 和平 / 210102 → 210102."""

    rule: Literal["district"] = "district"
    city: str
    reason: ClassVar[str | None] = "district_unknown"

    @field_validator("city")
    @classmethod
    def _city(cls, city: str) -> str:
        if city not in CITIES:
            raise ValueError(f"no district table for city code {city}; known: {', '.join(sorted(CITIES))}")
        return city

    def apply(self, values: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
        aliases, prefixes = _district_table(self.city)

        def resolve(value: str) -> str | None:
            key = lookup_key(value)
            if not key:
                return value
            for prefix in prefixes:
                if key.startswith(prefix) and len(key) > len(prefix):
                    key = key[len(prefix) :]
                    break
            return aliases.get(key)

        return _map_distinct(values, resolve, _nonempty(values))


@cache
def _district_table(city: str) -> tuple[dict[str, str], tuple[str, ...]]:
    table = CITIES[city]
    return table.aliases(), table.prefixes()


class CodeListRule(_Rule):
    """Values to the canonical codes of a code list: 男 / M / 1 / 男性 → 1 under GB/T 2261.1."""

    rule: Literal["codelist"] = "codelist"
    list_id: str = Field(alias="list")
    reason: ClassVar[str | None] = "code_not_in_list"

    @field_validator("list_id")
    @classmethod
    def _list(cls, list_id: str) -> str:
        if list_id not in CODE_LISTS:
            raise ValueError(f"unknown code list {list_id}; known: {', '.join(sorted(CODE_LISTS))}")
        return list_id

    def apply(self, values: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
        code_list = CODE_LISTS[self.list_id]

        def resolve(value: str) -> str | None:
            return code_list.resolve(value) if lookup_key(value) else value

        return _map_distinct(values, resolve, _nonempty(values))


Rule = Annotated[
    Trim | FullwidthToHalfwidth | Upper | Date | Phone | District | CodeListRule, Field(discriminator="rule")
]
RULES: Final[Mapping[str, type[_Rule]]] = {
    cls.model_fields["rule"].default: cls
    for cls in (Trim, FullwidthToHalfwidth, Upper, Date, Phone, District, CodeListRule)
}


# --- Rule sets ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StandardizeResult:
    """The standardized batch and, per field with rules: values changed, values failed, the failure mask and
    the reason code per row (null where the value did not fail)."""

    batch: pa.RecordBatch
    changed: dict[str, int]
    failed: dict[str, int]
    failures: dict[str, pa.BooleanArray]
    reasons: dict[str, pa.StringArray]

    def any_failure(self) -> pa.BooleanArray:
        """Rows with at least one field that could not be standardized: what quality may quarantine."""
        mask = np.zeros(self.batch.num_rows, dtype=bool)
        for failures in self.failures.values():
            mask |= failures.to_numpy(zero_copy_only=False)
        return pa.array(mask)


class RuleSet(BaseModel):
    """Rules per field, applied in order. Build it with :func:`load_rules` from YAML or a parsed document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    fields: dict[str, tuple[Rule, ...]] = Field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        """The YAML document as plain data: bare names for rules without options, as people write them."""
        fields: dict[str, list[Any]] = {}
        for name, rules in self.fields.items():
            entries: list[Any] = []
            for rule in rules:
                options = rule.model_dump(mode="json", by_alias=True, exclude={"rule"}, exclude_defaults=True)
                entries.append({rule.rule: options} if options else rule.rule)
            fields[name] = entries
        return {"version": self.version, "fields": fields}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_document(), allow_unicode=True, sort_keys=False, default_flow_style=None)

    def apply(self, batch: pa.RecordBatch) -> StandardizeResult:
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        changed: dict[str, int] = {}
        failed: dict[str, int] = {}
        failures: dict[str, pa.BooleanArray] = {}
        reasons: dict[str, pa.StringArray] = {}
        for name in self.fields:
            if name not in columns:
                raise DataFormatError(
                    f"标准化规则引用的字段“{name}”不在数据中。",
                    f"The standardization rules name field '{name}', which the data does not have.",
                    field=name,
                )
        done = COLUMN_THREADS.map(
            lambda item: _standardize_column(item[0], columns[item[0]], item[1]), self.fields.items()
        )
        for name, (column, fail_mask, reason, change_mask) in zip(self.fields, done, strict=True):
            columns[name] = column
            failures[name] = fail_mask
            reasons[name] = reason
            changed[name] = int(pc.sum(change_mask).as_py() or 0)
            failed[name] = int(pc.sum(fail_mask).as_py() or 0)
        out = pa.RecordBatch.from_arrays(
            list(columns.values()),
            schema=pa.schema(
                [batch.schema.field(n).with_type(c.type) for n, c in columns.items()], metadata=batch.schema.metadata
            ),
        )
        return StandardizeResult(out, changed, failed, failures, reasons)


def _as_text(name: str, column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataFormatError(
            f"字段“{name}”的类型无法作为文本进行标准化。",
            f"Field '{name}' has a type that cannot be standardized as text.",
            field=name,
        ) from exc


def _run_rules(values: pa.Array, rules: tuple[_Rule, ...]) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """Final values, failure mask, reason per row and change mask of one text array."""
    current = values
    failed: np.ndarray | None = None
    reason: pa.Array | None = None
    for rule in rules:
        current, rule_failed = rule.apply(current)
        if rule_failed is None:
            continue
        mask = rule_failed if isinstance(rule_failed, np.ndarray) else rule_failed.to_numpy(zero_copy_only=False)
        if not mask.any():
            continue
        first = mask if failed is None else mask & ~failed  # the first failing rule names the reason
        reason = pc.if_else(
            pa.array(first), pa.scalar(rule.reason, pa.string()), reason or pa.nulls(len(values), pa.string())
        )
        failed = mask if failed is None else failed | mask
    if failed is None:
        fail_mask = pa.array(np.zeros(len(values), dtype=bool))
        reason = pa.nulls(len(values), pa.string())
    else:
        fail_mask = pa.array(failed)
        current = pc.if_else(fail_mask, values, current)  # a failed value stays exactly as the department sent it
    assert reason is not None  # noqa: S101
    if current is values:  # the rules' fast paths hand back the very array when they change nothing
        return current, fail_mask, reason, pa.array(np.zeros(len(values), dtype=bool))
    change_mask = pc.fill_null(pc.not_equal(current, values), False)
    return current, fail_mask, reason, change_mask


def _standardize_column(
    name: str, column: pa.Array, rules: tuple[_Rule, ...]
) -> tuple[pa.Array, pa.BooleanArray, pa.StringArray, pa.BooleanArray]:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        # Rules are element-wise, so standardizing the dictionary standardizes every row that points into it.
        dictionary = _as_text(name, column.dictionary)
        values, fail, reason, change = _run_rules(dictionary, rules)
        indices = column.indices
        out = pa.DictionaryArray.from_arrays(indices, values)
        return (
            out,
            pc.fill_null(pc.take(fail, indices), False),
            pc.take(reason, indices),
            pc.fill_null(pc.take(change, indices), False),
        )
    return _run_rules(_as_text(name, column), rules)


# --- Loading ----------------------------------------------------------------------------------------------------


def _invalid(zh: str, en: str, **details: Any) -> InvalidInput:
    return InvalidInput(zh, en, **details)


def _parse_rule(field: str, index: int, entry: Any) -> _Rule:
    if isinstance(entry, str):
        name, options = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, options = next(iter(entry.items()))
        options = {} if options is None else options
    else:
        raise _invalid(
            f"字段“{field}”的第 {index + 1} 条规则格式错误：应为规则名或“规则名: 选项”。",
            f"Rule {index + 1} of field '{field}' must be a rule name or a one-key mapping 'name: options'.",
            field=field,
            rule_index=index,
        )
    if not isinstance(name, str) or name not in RULES:
        raise _invalid(
            f"字段“{field}”的第 {index + 1} 条规则名称未知。可用：{', '.join(RULES)}。",
            f"Rule {index + 1} of field '{field}' is unknown. Known rules: {', '.join(RULES)}.",
            field=field,
            rule=str(name),
            known=list(RULES),
        )
    if not isinstance(options, dict):
        raise _invalid(
            f"字段“{field}”的规则“{name}”的选项应为映射。",
            f"The options of rule '{name}' on field '{field}' must be a mapping.",
            field=field,
            rule=name,
        )
    try:
        return RULES[name].model_validate({**options, "rule": name})
    except ValidationError as exc:
        # The pydantic message texts describe the schema; the inputs (``input`` in errors()) are left out.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or name}: {err['msg']}" for err in exc.errors(include_input=False)
        )
        raise _invalid(
            f"字段“{field}”的规则“{name}”的选项无效：{problems}",
            f"Invalid options for rule '{name}' on field '{field}': {problems}",
            field=field,
            rule=name,
        ) from exc


def rules_from_document(document: Any) -> RuleSet:
    """A rule set from an already parsed document (the console's editor posts JSON of the same shape)."""
    if not isinstance(document, dict):
        raise _invalid("标准化规则文档应为映射。", "A standardization rule document must be a mapping.")
    unknown = set(document) - {"version", "fields"}
    if unknown:
        raise _invalid(
            f"标准化规则文档含有未知的键：{', '.join(sorted(map(str, unknown)))}。",
            f"Unknown keys in the standardization rule document: {', '.join(sorted(map(str, unknown)))}.",
        )
    if document.get("version", 1) != 1:
        raise _invalid("不支持的标准化规则版本。", "Unsupported standardization rule version.", version=1)
    fields = document.get("fields") or {}
    if not isinstance(fields, dict):
        raise _invalid("“fields”应为字段名到规则列表的映射。", "'fields' must map field names to lists of rules.")
    parsed: dict[str, tuple[_Rule, ...]] = {}
    for field, entries in fields.items():
        if not isinstance(field, str) or not field:
            raise _invalid("字段名应为非空文本。", "Field names must be non-empty text.")
        if isinstance(entries, str | dict):
            entries = [entries]
        if not isinstance(entries, list):
            raise _invalid(
                f"字段“{field}”的规则应为列表。", f"The rules of field '{field}' must be a list.", field=field
            )
        parsed[field] = tuple(_parse_rule(field, i, e) for i, e in enumerate(entries))
    return RuleSet(version=1, fields=parsed)


def load_rules(source: str | Path | Mapping[str, Any]) -> RuleSet:
    """A rule set from YAML text, a path to a YAML file, or a parsed document. Errors are InvalidInput."""
    if isinstance(source, Mapping):
        return rules_from_document(dict(source))
    if isinstance(source, Path) or (
        "\n" not in source and source.endswith((".yaml", ".yml")) and Path(source).is_file()
    ):
        try:
            text = Path(source).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _invalid(
                "无法读取标准化规则文件。", "The standardization rule file cannot be read.", file=str(source)
            ) from exc
    else:
        text = source
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise _invalid(
            "标准化规则不是有效的 YAML。", "The standardization rules are not valid YAML.", line=line
        ) from exc
    return rules_from_document(document if document is not None else {})
