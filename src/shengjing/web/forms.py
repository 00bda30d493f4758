"""Console forms: run a service call and turn a refusal into a message for the page, in the viewer's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from shengjing.errors import NotFound, PermissionDenied, ShengjingError
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


def act(call: Callable[[], T], *, page_kinds: tuple[str, ...]) -> tuple[T | None, str | None, ShengjingError | None]:
    """Run a service call as a form does: ``(result, None, None)``, or the refusal's message in the viewer's
    language. A refusal that is not about the form (no permission, or no such object of ``page_kinds``: the page
    itself is gone) gets the error page; the rest is told beside the form."""
    refusals: list[ShengjingError] = []

    def keeping_refusal() -> T:
        try:
            return call()
        except ShengjingError as exc:
            refusals.append(exc)
            raise

    result, message = attempt(keeping_refusal)
    refusal = refusals[0] if refusals else None
    if isinstance(refusal, PermissionDenied) or (
        isinstance(refusal, NotFound) and refusal.details.get("kind") in page_kinds
    ):
        raise refusal
    return result, message, refusal
