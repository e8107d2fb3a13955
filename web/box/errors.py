"""Box's error shape under ``/2.0``, for every error answer there: a refusal of the web
layer (401, 404 of a path that is no resource, 405, 415...), a body that does not
validate, a domain error, a failed operation, a 503.

Each is made in this service's one shape (``web.errors``) and rewritten on its way
out, in one place for all of them (``web.errors.reshape_errors_under``, so that paths
no route matches are covered too)::

    {"type": "error", "status": 404, "code": "not_found", "message": "no task 7",
     "context_info": {"code": "not_found", "errors": [{"reason", "name", "message"}]},
     "help_url": "...", "request_id": "..."}

``code`` is Box's for the status; ``context_info`` keeps this service's code, each field
error (``name`` the field, ``reason`` its code) and the domain error's data. Box's
statuses where they differ: a body that does not validate is a 400 ``bad_request``
(ours: 422), and so is a change that the state of a task or an assignment does not
allow (ours: 409 ``invalid_status_transition``).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, current_app

PREFIX = "/2.0"
HELP_URL = "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"

#: Box's ``code`` for a status (its client error codes); other statuses keep ours.
BOX_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    429: "too_many_requests",
    500: "internal_server_error",
    503: "unavailable",
}
#: Our statuses that Box gives as another one, by status and by our code.
_BOX_STATUS = {422: 400}
_BOX_STATUS_OF_CODE = {"invalid_status_transition": 400}
_OURS = ("message", "code", "errors")


def box_error(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """Our error ``body`` (answered with ``status``) in Box's shape."""
    code = str(body.get("code") or "error")
    status = _BOX_STATUS_OF_CODE.get(code, _BOX_STATUS.get(status, status))
    errors = body.get("errors") or []
    if not errors and body.get("field"):  # a domain error about one field (a NotFound)
        errors = [{"field": body["field"], "code": code, "message": body.get("message", "")}]
    context: dict[str, Any] = {
        "code": code,
        "errors": [
            {"reason": e.get("code"), "name": e.get("field"), "message": e.get("message")}
            for e in errors
            if isinstance(e, dict)
        ],
    }
    context.update({k: v for k, v in body.items() if k not in (*_OURS, "field")})
    return {
        "type": "error",
        "status": status,
        "code": BOX_CODES.get(status, code),
        "message": str(body.get("message") or ""),
        "context_info": context,
        "help_url": HELP_URL,
        "request_id": secrets.token_hex(8),
    }


def as_box_error(response: Response, body: dict[str, Any]) -> Response:
    """An error answer to a request under ``/2.0``, in Box's shape (its headers kept:
    ``WWW-Authenticate``, ``Allow``, ``Retry-After``)."""
    if body.get("type") == "error":
        return response
    boxed = box_error(response.status_code, body)
    response.status_code = boxed["status"]
    response.set_data(current_app.json.dumps(boxed))
    return response
