"""The one place that maps errors onto HTTP: status codes and one JSON shape.

Every error body is ``{"message": ..., "code": ..., "errors": [{"field", "code",
"message"}]}`` (plus the data of the domain error, e.g. ``action``/``expected_status``
for an invalid status transition). A lost database or broker connection is a 503 with
``Retry-After``; nothing a client sends may become a 500.

A URL prefix with an error shape of its own (Box's API under ``/2.0``, the operator
page's HTML under ``/ops``) registers it with ``reshape_errors_under``: every error
there, those of paths no route matches included, is made in the shape above first and
rewritten on its way out, in one after-request hook for all prefixes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from flask import Flask, Response, current_app, jsonify, request
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from tasks_service.core.errors import TaskError

log = structlog.get_logger(__name__)

STATUS_BY_CODE: dict[str, int] = {
    "not_found": 404,
    "validation_failed": 422,
    "invalid_status_transition": 409,
    "forbidden": 403,
    "conflict": 409,
    "idempotency_key_reused": 422,
    "idempotency_request_in_flight": 409,
    "invalid_query": 400,
    "invalid_sort": 400,
    "internal_error": 500,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_failed",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the web layer itself (bad header, bad query...)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors = errors or []
        self.headers = headers or {}


def error_body(payload: dict[str, Any]) -> dict[str, Any]:
    body = dict(payload)
    body.setdefault("errors", [])
    return body


def status_for(error: dict[str, Any]) -> int:
    return STATUS_BY_CODE.get(str(error.get("code")), 422)


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    response = jsonify(error_body(body))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


#: Rewrites an error answer (its status and headers as made, its body in our shape).
Reshape = Callable[[Response, dict[str, Any]], Response]
_SHAPES = "error_shapes"


def reshape_errors_under(app: Flask, prefix: str, reshape: Reshape) -> None:
    """Answer every error of a path under ``prefix`` (the prefix itself or below it)
    as ``reshape`` makes it. Registering a prefix again replaces its shape."""
    shapes: dict[str, Reshape] = app.extensions.setdefault(_SHAPES, {})
    if not shapes:
        app.after_request(_reshape)
    shapes[prefix] = reshape


def _reshape(response: Response) -> Response:
    if response.status_code < 400 or not response.is_json:
        return response
    path = request.path
    for prefix, reshape in current_app.extensions[_SHAPES].items():
        if path == prefix or path.startswith(f"{prefix}/"):
            body = response.get_json(silent=True)
            return reshape(response, body) if isinstance(body, dict) else response
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        body = {"message": exc.message, "code": exc.code, "errors": exc.errors}
        return error_response(exc.status, body, exc.headers)

    @app.errorhandler(TaskError)
    def _domain_error(exc: TaskError) -> Response:
        body = exc.to_dict()
        return error_response(status_for(body), body)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = {
            404: "no such resource",
            405: "method not allowed on this resource",
            413: "the request body is larger than the limit of 1 MiB",
            500: "internal server error",
        }.get(status, exc.description or exc.name)
        headers = dict(exc.get_headers()) if status == 405 else {}
        headers.pop("Content-Type", None)
        return error_response(
            status, {"message": message, "code": _HTTP_CODES.get(status, "error")}, headers
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_down(exc: Exception) -> Response:
        log.warning("database_unavailable", error=str(exc).splitlines()[0])
        return error_response(
            503,
            {
                "message": "the database is unavailable, try again shortly",
                "code": "database_unavailable",
            },
            {"Retry-After": "5"},
        )

    @app.errorhandler(BrokerError)
    def _broker_down(exc: Exception) -> Response:
        log.warning("broker_unavailable", error=str(exc))
        return error_response(
            503,
            {
                "message": "the broker is unavailable, try again shortly",
                "code": "broker_unavailable",
            },
            {"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled_error")
        return error_response(500, {"message": "internal server error", "code": "internal_error"})
