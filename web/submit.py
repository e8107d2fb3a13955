"""Turning a validated write into a durable operation, and answering for it.

The route hands over a kind and a payload; this stores the operation, enqueues it on
the workers, waits up to ``TASKS_COMMAND_WAIT`` for the outcome, and answers 201/200
with the resource, the domain error, or 202 with ``Location: /v1/operations/<id>``.
A synchronous change that requested a recompute (``respond_with_recompute``) hands it
to the workers after its commit and names it in ``Operation-Location``.
"""

from __future__ import annotations

from typing import Any

import structlog
from flask import Response, current_app, g, request
from pydantic import BaseModel

from tasks_service.commands.operations import (
    do_record_operation,
    do_withdraw_operation,
    is_created,
    request_fingerprint,
)
from tasks_service.core.statuses import OperationStatus
from tasks_service.querying.serializers.operations import serialize_operation
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from web.errors import ApiError, error_response, status_for
from web.http import json_response, settings

log = structlog.get_logger(__name__)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 255:
        raise ApiError(
            400,
            "invalid_header",
            "Idempotency-Key must be 1 to 255 characters",
            [
                {
                    "field": "Idempotency-Key",
                    "code": "invalid_value",
                    "message": "1 to 255 characters",
                }
            ],
        )
    return key


def _wants_async() -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(part.strip().lower() == "respond-async" for part in prefer.split(","))


def payload(model: BaseModel, **extra: Any) -> dict[str, Any]:
    """An operation's payload: the fields the client sent, as JSON, plus ``extra``."""
    return {"data": model.model_dump(mode="json", exclude_unset=True), **extra}


def submit(kind: str, payload: dict[str, Any], target_id: int | None = None) -> Response:
    actor = g.actor
    key = _idempotency_key()
    fingerprint = request_fingerprint(request.method, request.path, payload) if key else None
    with session_scope(settings()) as session:
        op, replayed = do_record_operation(
            session, actor.account_id, actor.person_id, kind, payload, target_id, key, fingerprint
        )
    if replayed:
        return outcome_response(op)
    assert op.id is not None
    try:
        current_app.extensions["submitter"].submit(op.id)
    except Exception as exc:
        # The broker is unreachable. Refuse the request and leave nothing behind:
        # withdraw the stored operation, unless a worker got it after all.
        log.warning("enqueue_failed", operation_id=op.id, error=str(exc).splitlines()[0])
        with session_scope(settings()) as session:
            withdrawn = do_withdraw_operation(session, op.id)
            if not withdrawn:
                op = lookups.get(session, Operation, actor.account_id, op.id)
        if withdrawn:
            raise ApiError(
                503,
                "broker_unavailable",
                "the command queue is unavailable, try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        return outcome_response(op)
    if not _wants_async():
        op = current_app.extensions["outcomes"].wait(op.id, settings().command_wait)
    return outcome_response(op)


def outcome_response(op: Operation) -> Response:
    if op.status == OperationStatus.succeeded:
        return json_response(op.result, 201 if is_created(op) else 200)
    if op.status == OperationStatus.failed:
        error = op.error or {}
        return error_response(status_for(error), error)
    return json_response(serialize_operation(op), 202, {"Location": f"/v1/operations/{op.id}"})


def respond_with_recompute(body: object, op: Operation | None) -> Response:
    """The response to a change; hands its recompute (if any) to the workers. If the
    broker is down the operation stays pending and the recovery sweep sends it."""
    if op is None:
        return json_response(body)
    try:
        current_app.extensions["submitter"].submit_fanout(op.id)
    except Exception as exc:
        log.warning("enqueue_failed", operation_id=op.id, error=str(exc).splitlines()[0])
    return json_response(body, headers={"Operation-Location": f"/v1/operations/{op.id}"})
