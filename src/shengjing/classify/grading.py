"""Grading by a rule set declared as data: a field's category and level from its type, a resource's level from
its fields and from rules over the whole resource (scale, domain). Every result names the rule that decided it.

The rule set is a YAML document (``rulesets/default.yaml`` is the default; the data bureau edits and versions
its own). This module parses and checks it and applies it; it has no database and no permissions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shengjing.classify.detectors import InfoType
from shengjing.errors import InvalidInput

ColumnControl = Literal["plain", "group_by", "aggregate", "compare", "join", "masked", "hidden"]
PERSONAL = frozenset(InfoType) - {InfoType.NONE, InfoType.CREDIT_CODE}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelSpec(_Strict):
    code: str = Field(min_length=1, max_length=32)
    name_zh: str
    name_en: str
    grade: Literal["general", "important", "core"]


class TypeGrade(_Strict):
    category: str = Field(min_length=1, max_length=100)
    level: str
    sensitive: str | None = None  # the PIPL art. 28 kind, when the type is sensitive personal information


class Condition(_Strict):
    people_at_least: int | None = Field(default=None, ge=1)
    personal: bool | None = None
    words_any: list[str] = Field(default_factory=list)
    types_any: list[InfoType] = Field(default_factory=list)


class ResourceRule(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name_zh: str
    name_en: str
    when: Condition
    level: str
    lift_personal_fields: bool = False
    basis: str = ""


class RuleSet(_Strict):
    name: str = Field(min_length=1, max_length=200)
    basis: list[str] = Field(default_factory=list)
    levels: list[LevelSpec] = Field(min_length=1)
    types: dict[InfoType, TypeGrade]
    resource_rules: list[ResourceRule] = Field(default_factory=list)
    column_controls: dict[str, ColumnControl]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        codes = [level.code for level in self.levels]
        if len(set(codes)) != len(codes):
            raise ValueError("levels: each level code may appear once")
        missing = set(InfoType) - set(self.types)
        if missing:
            raise ValueError(f"types: no grade for {', '.join(sorted(missing))}")
        used = [(f"types.{t}", g.level) for t, g in self.types.items()] + [
            (f"resource_rules.{r.id}", r.level) for r in self.resource_rules
        ]
        for where, level in used:
            if level not in codes:
                raise ValueError(f"{where}: unknown level {level}")
        if set(self.column_controls) != set(codes):
            raise ValueError("column_controls: give one control for each level, and only for them")
        ids = [r.id for r in self.resource_rules]
        if len(set(ids)) != len(ids):
            raise ValueError("resource_rules: each id may appear once")
        return self

    def rank(self, level: str) -> int:
        return [lv.code for lv in self.levels].index(level)

    def deciding(self, candidates: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
        """The (level, rule) that decides among candidates: the highest level of this rule set; among equals, a
        resource rule (``resource:…``) names the reason better than one of the fields (``field:…``)."""
        known = [c for c in candidates if c[0] in {lv.code for lv in self.levels}]
        return max(known, key=lambda c: (self.rank(c[0]), c[1].startswith("resource:")), default=None)


def _invalid(zh: str, en: str, **details: Any) -> InvalidInput:
    return InvalidInput(f"分类分级规则集无效：{zh}", f"Invalid classification rule set: {en}", **details)


@lru_cache(maxsize=8)
def parse_ruleset(text: str) -> RuleSet:
    """A rule set from YAML text; errors say the line (YAML) or the path of the offending key (content).

    Kept per text: every classification and grading read asks for the rule set in force, and validating it costs
    a tenth of a second; the model is frozen, so one parsed copy serves them all (a failure is not kept)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise _invalid(f"第 {line} 行不是有效的 YAML。", f"line {line} is not valid YAML.", line=line) from exc
    if not isinstance(document, dict):
        raise _invalid("文档应为映射。", "the document must be a mapping.")
    try:
        return RuleSet.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'document'}: {err['msg']}"
            for err in exc.errors(include_input=False)
        )
        raise _invalid(problems, problems, problems=problems) from exc


@cache
def default_ruleset_text() -> str:
    return resources.files("shengjing.classify").joinpath("rulesets/default.yaml").read_text(encoding="utf-8")


# --- applying a rule set ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldGrade:
    category: str
    level: str
    rule: str  # which rule decided: ``type:id_number``, ``resource:minors`` …
    sensitive: str | None


def grade_type(rules: RuleSet, kind: InfoType) -> FieldGrade:
    grade = rules.types[kind]
    return FieldGrade(grade.category, grade.level, f"type:{kind.value}", grade.sensitive)


@dataclass(frozen=True)
class ResourceFacts:
    """What the resource rules look at."""

    text: str  # name, summary, tags and themes
    types: frozenset[InfoType]  # of its fields
    people: int | None  # distinct persons, estimated; None when it holds no identifying field
    people_estimate: str  # how ``people`` was estimated, for the evidence


@dataclass(frozen=True)
class ResourceGrade:
    level: str
    rule: str  # ``resource:scale-personal-information`` or ``field:id_number`` (the highest field)
    applied: list[str]  # every resource rule that applied
    fields: dict[str, FieldGrade]  # the field grades after the resource rules' lifts


def _applies(condition: Condition, facts: ResourceFacts) -> bool:
    if condition.people_at_least is not None and (facts.people or 0) < condition.people_at_least:
        return False
    if condition.personal is not None and condition.personal != bool(facts.types & PERSONAL):
        return False
    if condition.words_any and not any(w in facts.text for w in condition.words_any):
        return False
    return not condition.types_any or bool(facts.types & set(condition.types_any))


def grade_resource(
    rules: RuleSet, facts: ResourceFacts, fields: dict[str, tuple[InfoType, FieldGrade]]
) -> ResourceGrade:
    """The resource's level: the highest of its fields' levels and of the resource rules that apply. A rule with
    ``lift_personal_fields`` also raises its personal fields to its level (未成年人: every personal field → L4)."""
    applied = [r for r in rules.resource_rules if _applies(r.when, facts)]
    lifted = dict((name, grade) for name, (_, grade) in fields.items())
    for rule in applied:
        if not rule.lift_personal_fields:
            continue
        for name, (kind, grade) in fields.items():
            if kind in PERSONAL and rules.rank(rule.level) > rules.rank(lifted[name].level):
                lifted[name] = FieldGrade(grade.category, rule.level, f"resource:{rule.id}", grade.sensitive)
    candidates = [(g.level, f"field:{name}") for name, g in lifted.items()]
    level, rule = rules.deciding(candidates + [(r.level, f"resource:{r.id}") for r in applied]) or (
        rules.levels[0].code,
        "default",
    )
    return ResourceGrade(level, rule, [r.id for r in applied], lifted)
