"""Documents people write by hand (an authorization, a registration application): YAML, or JSON, which is YAML,
read into a pydantic model with errors that say where: the line of a YAML error, the path of a field that does
not validate."""

from __future__ import annotations

from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shengjing.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse_yaml_document(text: str, model: type[M], *, file: str, kind_zh: str, kind_en: str) -> M:
    """``text`` as a ``model``; InvalidInput naming ``file`` and the line or field otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidInput(
            f"{file} 第 {line} 行：YAML 格式错误。", f"{file}, line {line}: not valid YAML.", file=file, line=line
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{file}：应为{kind_zh}（键值对）。", f"{file}: expected {kind_en}.", file=file)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise InvalidInput(
            f"{file}：字段 {where} 有误：{error['msg']}。",
            f"{file}: {where}: {error['msg']}.",
            file=file,
            field=where,
        ) from None
