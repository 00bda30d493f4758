"""One error hierarchy for the API, the CLI and the console.

Every error carries a stable code, an HTTP status, a CLI exit code and a message in Chinese and in English.
Messages never carry data values from the lake: they name things (a field, a file, a line), not contents.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ShengjingError(Exception):
    """Base of every error the platform reports on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1

    def __init__(self, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "details": self.details,
        }

    def message(self, locale: str) -> str:
        return self.message_en if locale.startswith("en") else self.message_zh


class InvalidInput(ShengjingError):
    code = "invalid_input"
    http_status = 422
    exit_code = 2


class DataFormatError(InvalidInput):
    """Input data that cannot be read as declared; ``details`` say where: file, line, field."""

    code = "data_format_error"


class NotAuthenticated(ShengjingError):
    code = "not_authenticated"
    http_status = 401
    exit_code = 3

    def __init__(self) -> None:
        super().__init__("请先登录。", "Please log in first.")


class InvalidCredentials(ShengjingError):
    code = "invalid_credentials"
    http_status = 401
    exit_code = 3

    def __init__(self) -> None:
        # One message for unknown user and wrong password, so the answer does not reveal which accounts exist.
        super().__init__("用户名或密码错误。", "Wrong username or password.")


class AccountLocked(ShengjingError):
    code = "account_locked"
    http_status = 423
    exit_code = 3


class AccountDisabled(ShengjingError):
    code = "account_disabled"
    http_status = 403
    exit_code = 3


class PermissionDenied(ShengjingError):
    code = "permission_denied"
    http_status = 403
    exit_code = 4

    def __init__(self, permission: str) -> None:
        super().__init__(
            f"没有权限：需要“{permission}”。",
            f"Permission denied: '{permission}' is required.",
            permission=permission,
        )


class CsrfFailed(ShengjingError):
    code = "csrf_failed"
    http_status = 403
    exit_code = 4

    def __init__(self) -> None:
        super().__init__(
            "表单已过期或来源无效，请刷新页面后重试。",
            "The form expired or did not come from this site; reload the page and try again.",
        )


class NotFound(ShengjingError):
    code = "not_found"
    http_status = 404
    exit_code = 5

    @classmethod
    def of(cls, kind_zh: str, kind_en: str, key: object) -> NotFound:
        return cls(f"找不到{kind_zh}：{key}。", f"No {kind_en} '{key}'.", kind=kind_en, key=str(key))


class Conflict(ShengjingError):
    code = "conflict"
    http_status = 409
    exit_code = 6


class ConfigurationError(ShengjingError):
    code = "configuration_error"
    http_status = 500
    exit_code = 7


class IntegrityBroken(ShengjingError):
    """A tamper-evident structure (the audit chain, a snapshot) does not verify."""

    code = "integrity_broken"
    http_status = 409
    exit_code = 8


class StorageFull(ShengjingError):
    """The disk under the lake or the var directory is full (ENOSPC): nothing was committed."""

    code = "storage_full"
    http_status = 507
    exit_code = 9
