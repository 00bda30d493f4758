"""What a data model and a library declare, as the YAML documents the bureau files (and the demo ships).

A **data model** (数据模型) is logical: entities, their attributes (each pointing to a data element where the
bureau has one) and the relations between entities. A **library** is an instance of a model, built by a
declared pipeline over catalog resources:

- a *base* library (基础库) merges the records of one entity from several departments' resources into golden
  records: exact linking on a checked identifier, probabilistic linking (Splink) for the rest, survivorship
  rules per attribute, lineage of every attribute, and the conflicts between sources;
- a *theme* library (主题库) is one SQL query over base libraries and resources, written once and rendered
  for each engine.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shengjing.errors import InvalidInput

_NAME = r"^[a-z][a-z0-9_]{0,62}$"
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data models -------------------------------------------------------------------------------------------


class AttributeType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"


class Attribute(_Spec):
    name: str = Field(pattern=_NAME)
    title: str = Field(min_length=1, max_length=200)
    type: AttributeType = AttributeType.STRING
    data_element: str | None = None  # the catalog's data element (数据元) code
    description: str = ""


class Entity(_Spec):
    name: str = Field(pattern=_NAME)
    title: str = Field(min_length=1, max_length=200)
    key: str = Field(pattern=_NAME)
    attributes: list[Attribute] = Field(min_length=1)

    @model_validator(mode="after")
    def _key_is_an_attribute(self) -> Entity:
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError(f"entity {self.name}: an attribute is declared twice")
        if self.key not in names:
            raise ValueError(f"entity {self.name}: its key {self.key} is not one of its attributes")
        return self

    def attribute(self, name: str) -> Attribute:
        return next(a for a in self.attributes if a.name == name)


class Cardinality(StrEnum):
    ONE_TO_ONE = "1:1"
    ONE_TO_MANY = "1:n"
    MANY_TO_ONE = "n:1"
    MANY_TO_MANY = "n:n"


class Relation(_Spec):
    """``source.attribute`` refers to ``target``'s key; the target may be an entity of another model
    (``model.entity``), as a theme refers to the population library's persons."""

    name: str = Field(min_length=1, max_length=200)
    source: str
    attribute: str = Field(pattern=_NAME)
    target: str
    cardinality: Cardinality = Cardinality.MANY_TO_ONE


class DataModelSpec(_Spec):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["base", "theme"]
    description: str = ""
    entities: list[Entity] = Field(min_length=1)
    relations: list[Relation] = []

    @model_validator(mode="after")
    def _relations_resolve(self) -> DataModelSpec:
        entities = {e.name: e for e in self.entities}
        for relation in self.relations:
            source = entities.get(relation.source)
            if source is None:
                raise ValueError(f"relation {relation.name}: no entity {relation.source} in this model")
            if relation.attribute not in {a.name for a in source.attributes}:
                raise ValueError(f"relation {relation.name}: {relation.source} has no attribute {relation.attribute}")
            if "." not in relation.target and relation.target not in entities:
                raise ValueError(f"relation {relation.name}: no entity {relation.target} in this model")
        return self

    def entity(self, name: str) -> Entity:
        for entity in self.entities:
            if entity.name == name:
                return entity
        raise KeyError(name)


# --- libraries -----------------------------------------------------------------------------------------------


class Survivorship(StrEnum):
    """How a golden record's attribute is chosen among the values of its cluster's records (nulls never win)."""

    MOST_TRUSTED = "most_trusted"  # the source ranked most trusted; the most recent record among its records
    MOST_RECENT = "most_recent"  # the most recently updated record; the more trusted source on a tie
    MOST_COMPLETE = "most_complete"  # the longest value; then the more trusted source, then the more recent


class IdentifierCheck(StrEnum):
    RESIDENT_ID = "gb11643"  # 公民身份号码, ISO 7064 MOD 11-2 check digit
    CREDIT_CODE = "gb32100"  # 统一社会信用代码, MOD 31 check character
    PATTERN = "pattern"  # a number with a fixed layout and no public check character (licence numbers, 不动产单元号)


class Cleaning(StrEnum):
    """What is done to a value before it is compared and kept (the source's own value is not changed)."""

    TRIM = "trim"
    REMOVE_SPACES = "remove_spaces"  # also full-width spaces: 张 三 → 张三
    UPPER = "upper"
    ASCII_PARENTHESES = "ascii_parentheses"  # （ ） written as ( ) and back: one form, the full-width one


class Source(_Spec):
    resource: str = Field(pattern=_CODE)
    trust: int = Field(ge=1, le=9, description="1 is the most trusted source")
    record_key: str = Field(description="the column that identifies a record within the resource")
    updated_at: str | None = Field(None, description="the column that says when the record was last changed")
    columns: dict[str, str] = Field(description="attribute → the resource's column")
    constants: dict[str, str] = Field(
        default={}, description="attribute → the value every record of this source has (a register of one kind)"
    )

    @model_validator(mode="after")
    def _each_attribute_once(self) -> Source:
        both = set(self.columns) & set(self.constants)
        if both:
            raise ValueError(f"source {self.resource}: {sorted(both)} both a column and a constant")
        return self


class ComparisonKind(StrEnum):
    EXACT = "exact"
    LEVENSHTEIN = "levenshtein"
    JARO_WINKLER = "jaro_winkler"


class Normalization(_Spec):
    """What is done to a value for comparing and blocking only (the kept value is the cleaned one)."""

    strip_prefixes: list[str] = []  # the first that a value starts with is removed: 沈阳市, 沈阳
    replace: dict[str, str] = {}  # 有限责任公司 → 有限公司


class Comparison(_Spec):
    attribute: str = Field(pattern=_NAME)
    kind: ComparisonKind
    normalize: Normalization | None = None
    thresholds: list[float] = []
    term_frequency: bool = False
    # m and u probabilities of each level (the exact level first, "else" last) that training must not change:
    # for what the labelled pairs cannot teach (pairs sharing a valid ID never show a mistyped one).
    fixed_m: list[float] | None = None
    fixed_u: list[float] | None = None

    @model_validator(mode="after")
    def _levels(self) -> Comparison:
        if self.kind is ComparisonKind.EXACT and self.thresholds:
            raise ValueError(f"comparison {self.attribute}: exact takes no thresholds")
        if self.kind is not ComparisonKind.EXACT and not self.thresholds:
            raise ValueError(f"comparison {self.attribute}: {self.kind} needs thresholds")
        levels = 2 + len(self.thresholds)
        for given in (self.fixed_m, self.fixed_u):
            if given is not None and len(given) != levels:
                raise ValueError(f"comparison {self.attribute}: {levels} probabilities expected, one per level")
        return self


class Linking(_Spec):
    identifier: str = Field(pattern=_NAME, description="the attribute that links exactly when it is valid")
    check: IdentifierCheck
    pattern: str | None = Field(None, description="for check: pattern, the regular expression of a well-formed value")
    comparisons: list[Comparison] = Field(min_length=1)
    blocking: list[list[str]] = Field(min_length=1, description="each rule: attributes that must be equal")
    threshold: float = Field(0.99, gt=0, lt=1, description="match probability at which two records are linked")
    training_sample: int = Field(4000, ge=100, description="records whose every pair estimates the u probabilities")
    label_sample: int = Field(
        50_000, ge=100, description="about how many labelled records (of exact clusters) estimate the m probabilities"
    )

    @model_validator(mode="after")
    def _pattern_with_its_check(self) -> Linking:
        if (self.check is IdentifierCheck.PATTERN) != (self.pattern is not None):
            raise ValueError("a pattern is given exactly when the check is 'pattern'")
        if self.pattern is not None:
            if not self.pattern.startswith("^") or not self.pattern.endswith("$"):
                raise ValueError("the pattern must match the whole value: start it with ^ and end it with $")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"the pattern does not compile: {exc}") from None
        return self


class BaseLibrarySpec(_Spec):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["base"] = "base"
    model: str = Field(pattern=_CODE)
    entity: str = Field(pattern=_NAME)
    summary: str = ""
    themes: list[str] = []
    sources: list[Source] = Field(min_length=1)
    cleaning: dict[str, list[Cleaning]] = {}
    linking: Linking
    survivorship: dict[str, Survivorship]
    conflicts: list[str] = Field(default=[], description="attributes whose differing values are listed")

    @model_validator(mode="after")
    def _consistent(self) -> BaseLibrarySpec:
        attributes = set(self.survivorship)
        if self.linking.identifier not in attributes:
            raise ValueError(f"the identifier {self.linking.identifier} needs a survivorship rule")
        for source in self.sources:
            unknown = (set(source.columns) | set(source.constants)) - attributes
            if unknown:
                raise ValueError(f"source {source.resource}: no survivorship rule for {sorted(unknown)}")
        used = {c.attribute for c in self.linking.comparisons} | {a for rule in self.linking.blocking for a in rule}
        for name in (*used, *self.conflicts, *self.cleaning):
            if name not in attributes:
                raise ValueError(f"{name} is not an attribute of the library")
        if len({s.resource for s in self.sources}) != len(self.sources):
            raise ValueError("a resource is listed twice as a source")
        return self

    @property
    def attributes(self) -> list[str]:
        return list(self.survivorship)

    @property
    def inputs(self) -> list[str]:
        return [s.resource for s in self.sources]


class ThemeLibrarySpec(_Spec):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["theme"] = "theme"
    model: str = Field(pattern=_CODE)
    entity: str = Field(pattern=_NAME)
    summary: str = ""
    themes: list[str] = []
    inputs: dict[str, str] = Field(min_length=1, description="table name in the query → resource or library code")
    sql: str = Field(min_length=1, description="one SELECT in DuckDB's dialect over the input names")

    @field_validator("inputs")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.match(_NAME, name):
                raise ValueError(f"input name {name!r} must be lower-case letters, digits and _")
        return value


LibrarySpec = Annotated[BaseLibrarySpec | ThemeLibrarySpec, Field(discriminator="kind")]


class _LibraryDocument(_Spec):
    library: LibrarySpec


def _load(text: str, file: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidInput(
            f"{file} 不是合法的 YAML（第 {line} 行）：{exc}",
            f"{file} is not valid YAML (line {line}): {exc}",
            file=file,
        ) from None


def _invalid(file: str, exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return InvalidInput(
        f"{file} 的声明有误（{where}）：{first['msg']}",
        f"{file}: invalid declaration at {where}: {first['msg']}",
        file=file,
        field=where,
    )


def parse_model(text: str, *, file: str = "model.yaml") -> DataModelSpec:
    try:
        return DataModelSpec.model_validate(_load(text, file))
    except ValidationError as exc:
        raise _invalid(file, exc) from None


def parse_library(text: str, *, file: str = "library.yaml") -> BaseLibrarySpec | ThemeLibrarySpec:
    try:
        return _LibraryDocument.model_validate({"library": _load(text, file)}).library
    except ValidationError as exc:
        raise _invalid(file, exc) from None
