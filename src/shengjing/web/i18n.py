"""Console languages. Source strings are Chinese (the console is Chinese first); Babel catalogs give English."""

from __future__ import annotations

import functools
from contextvars import ContextVar
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
LOCALE_DIR = Path(__file__).with_name("locale")
LOCALE_COOKIE = "sj_lang"

locale_var: ContextVar[str] = ContextVar("locale", default="zh_CN")


@functools.cache
def translations(locale: str) -> NullTranslations:
    if locale == "zh_CN":
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def N_(message: str) -> str:
    """Mark a string for the catalog where it is declared; it is translated later, when shown."""
    return message


def gettext(message: str) -> str:
    return translations(locale_var.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(locale_var.get()).ngettext(singular, plural, n)


def pick(zh: str, en: str | None) -> str:
    """Choose between a stored Chinese and English label (names of roles, organizations, errors)."""
    return en if locale_var.get() == "en" and en else zh


def choose_locale(cookie: str | None, default: str) -> str:
    """The user's explicit choice (the language switch's cookie), else the deployment's default: the console
    is Chinese unless someone asks otherwise, whatever the browser's own language."""
    return cookie if cookie in LOCALES else default
