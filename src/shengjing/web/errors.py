"""How errors are answered: JSON with the code and both messages under /api, an HTML page in the console.

No route answers a bare 500: unexpected exceptions become ``internal_error`` with the request id, logged with
their traceback; validation errors name the field and never echo the value that was sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shengjing.errors import InvalidInput, NotAuthenticated, NotFound, ShengjingError
from shengjing.logs import get_logger
from shengjing.web.i18n import locale_var
from shengjing.web.templating import render

log = get_logger("shengjing.errors")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/healthz", "/metrics"))


def _answer(request: Request, error: ShengjingError, status: int) -> Response:
    request_id = getattr(request.state, "request_id", "")
    if _wants_json(request):
        return JSONResponse({"error": error.to_dict(), "request_id": request_id}, status_code=status)
    if isinstance(error, NotAuthenticated) and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return render(
        request,
        "error.html",
        {"error": error, "message": error.message(locale_var.get())},
        status_code=status,
    )


class MethodNotAllowed(ShengjingError):
    code = "method_not_allowed"
    http_status = 405


class MalformedRequest(ShengjingError):
    code = "malformed_request"
    http_status = 400


class InternalError(ShengjingError):
    code = "internal_error"
    http_status = 500


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def install(app: FastAPI) -> None:
    @app.exception_handler(ShengjingError)
    async def on_domain_error(request: Request, exc: ShengjingError) -> Response:
        return _answer(request, exc, exc.http_status)

    @app.exception_handler(RequestValidationError)
    @app.exception_handler(ValidationError)  # a shape built from request data inside a dependency or a door
    async def on_validation_error(request: Request, exc: RequestValidationError | ValidationError) -> Response:
        problems = [{"field": _field_path(e["loc"]), "type": e["type"], "message": e["msg"]} for e in exc.errors()]
        fields = "、".join(p["field"] for p in problems[:5])
        error = InvalidInput(f"输入有误：{fields}。", f"Invalid input: {fields}.", problems=problems)
        return _answer(request, error, 422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            error: ShengjingError = MalformedRequest(
                "请求体无法解析（应为合法的 JSON 或表单）。",
                "The request body cannot be parsed (JSON or a form expected).",
            )
        elif exc.status_code == 404:
            error = NotFound("页面或接口不存在。", "No such page or endpoint.", path=request.url.path)
        elif exc.status_code == 405:
            error = MethodNotAllowed("不支持该请求方法。", "Method not allowed.", method=request.method)
        else:
            error = ShengjingError("请求无法处理。", "The request could not be handled.", status=exc.status_code)
        return _answer(request, error, exc.status_code)

    @app.exception_handler(DataError)
    async def on_data_error(request: Request, exc: DataError) -> Response:
        # The database refused a value the schemas let through (a NUL byte, an out-of-range number).
        log.warning("database refused a value", path=request.url.path, error=type(exc.orig).__name__)
        error = InvalidInput("输入含有数据库无法保存的值。", "The input holds a value the database cannot store.")
        return _answer(request, error, 422)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        request_id = getattr(request.state, "request_id", "")
        error = InternalError(
            f"服务器内部错误，请将请求编号 {request_id} 告知管理员。",
            f"Internal error; please give the administrator request id {request_id}.",
        )
        return _answer(request, error, 500)
