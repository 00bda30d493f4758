"""Console forms: run a service call and turn a refusal into a message for the page, in the viewer's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from shengjing.errors import ShengjingError
from shengjing.web import i18n

T = TypeVar("T")


def attempt(call: Callable[[], T]) -> tuple[T | None, str | None]:
    """``(result, None)`` on success, ``(None, message)`` when the input or the rules refuse it."""
    try:
        return call(), None
    except ShengjingError as exc:
        return None, exc.message(i18n.locale_var.get())
    except ValidationError as exc:
        # Our validators write both languages into the message; pydantic prefixes it with "Value error, ".
        fields = ", ".join(
            ".".join(map(str, e["loc"])) + f" ({e['msg'].removeprefix('Value error, ')})" for e in exc.errors()
        )
        return None, i18n.gettext("输入有误：") + fields
