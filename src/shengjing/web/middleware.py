"""Per-request plumbing, as plain ASGI middleware: request id, language, access log, metrics, security headers."""

from __future__ import annotations

import re
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shengjing.audit.service import new_request_id, request_id_var
from shengjing.logs import get_logger
from shengjing.web import i18n

log = get_logger("shengjing.http")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

SECURITY_HEADERS = {
    # No inline script or style anywhere in the console: everything comes from /static.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "shengjing_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "shengjing_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=registry,
        )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, default_locale: str) -> None:
        self.app = app
        self.metrics = metrics
        self.default_locale = default_locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        given = conn.headers.get("x-request-id", "")
        request_id = given if _VALID_REQUEST_ID.match(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        locale = i18n.choose_locale(conn.cookies.get(i18n.LOCALE_COOKIE), self.default_locale)
        id_token, locale_token = request_id_var.set(request_id), i18n.locale_var.set(locale)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                # Pages and API answers are per user and may carry a secret shown once (a new token): never
                # cache them, so the Back button cannot bring one back. Static assets may be cached.
                if not scope["path"].startswith("/static/"):
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], route_path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route_path).observe(elapsed)
            principal = scope.get("state", {}).get("principal")
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route_path,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                user=getattr(principal, "username", None),
            )
            request_id_var.reset(id_token)
            i18n.locale_var.reset(locale_token)
