"""Turning a validated write into a durable operation, and answering for it.

The route hands over a kind and a payload; this stores the operation, enqueues it on
the workers, waits up to ``TASKS_COMMAND_WAIT`` for the outcome, and answers 201/200
with the resource, the domain error, or 202 with ``Location: /v1/operations/<id>``.
A synchronous change that requested a recompute (``respond_with_recompute``) hands it
to the workers after its commit and names it in ``Operation-Location``.

What the answer promises under faults: a 503 means nothing is stored. Once the
operation is stored the answer is its outcome or a 202, never a 503: when the
database drops the connection at the commit, a fresh connection looks the operation
up by a token made before the insert (``_stored_after_all``); when it goes away while
the request waits, the answer is the 202. When no worker is alive to apply the command,
or too many wait in the queue, the request does not wait at all (``_attended``).

``idempotent`` gives a synchronous write (people, teams, webhooks...) the same
Idempotency-Key semantics as a durable command (``commands.replays``).
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from flask import Response, current_app, g, request
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tasks_service.commands import replays
from tasks_service.commands.operations import (
    do_record_operation,
    do_withdraw_operation,
    request_fingerprint,
    stored_by_token,
    success_status,
)
from tasks_service.core.clock import utcnow
from tasks_service.core.statuses import OperationStatus
from tasks_service.querying.serializers.operations import serialize_operation
from tasks_service.store import heartbeats, lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from web.errors import ApiError, error_response, status_for
from web.http import json_response, settings
from web.observe import request_id

log = structlog.get_logger(__name__)

#: The database went away (or its pool is exhausted): the outcome of a statement,
#: a commit included, is unknown.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
#: The headers of an answer that a replay gives again.
REPLAYED_HEADERS = ("Location", "Operation-Location")


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
    structlog.contextvars.bind_contextvars(account=actor.account_id)
    key = _idempotency_key()
    fingerprint = request_fingerprint(request.method, request.path, payload) if key else None
    token = secrets.token_hex(16)
    try:
        with session_scope(settings()) as session:
            op, replayed = do_record_operation(
                session,
                actor.account_id,
                actor.person_id,
                kind,
                payload,
                target_id,
                key,
                fingerprint,
                submit_token=token,
                request_id=request_id(),
            )
    except DATABASE_DOWN:
        # The commit (or a statement before it) lost its connection: the row may be
        # stored all the same. Find out before answering "nothing is stored".
        found = _stored_after_all(actor.account_id, token)
        if found is None:
            raise
        op, replayed = found, False
        recovered = True  # the wait bound went on finding out: hand it over, answer 202
    else:
        recovered = False
    if replayed:
        return outcome_response(op)
    assert op.id is not None
    log.info("operation.accepted", operation_id=op.id, kind=kind, **_task_of(op))
    try:
        current_app.extensions["submitter"].submit(op.id)
    except Exception as exc:
        # The broker is unreachable. Refuse the request and leave nothing behind:
        # withdraw the stored operation, unless a worker got it after all.
        log.warning("enqueue_failed", operation_id=op.id, error=str(exc).splitlines()[0])
        try:
            with session_scope(settings()) as session:
                withdrawn = do_withdraw_operation(session, op.id)
                if not withdrawn:
                    op = lookups.get(session, Operation, actor.account_id, op.id)
        except DATABASE_DOWN:
            # Stored, not enqueued, not withdrawn: the recovery sweep sends it.
            return outcome_response(op)
        if withdrawn:
            raise ApiError(
                503,
                "broker_unavailable",
                "the command queue is unavailable, try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        return outcome_response(op)
    if not (recovered or _wants_async()) and _attended():
        op = _wait(op)
    return outcome_response(op)


def _task_of(op: Operation) -> dict[str, int]:
    return {"task_id": op.target_id} if op.target_type == "task" and op.target_id else {}


def _stored_after_all(account_id: int, token: str) -> Operation | None:
    """The operation stored under ``token``, or None when it is certainly not stored.

    Asked on fresh connections (the pool drops the broken one) until one answers,
    within the request's wait bound; if none does, the outcome stays unknown and the
    client hears so (503 ``outcome_unknown``: retry with the same Idempotency-Key).
    """
    deadline = time.monotonic() + max(settings().command_wait, 2.0)
    while True:
        try:
            with session_scope(settings(), write=False) as session:
                return stored_by_token(session, account_id, token)
        except DATABASE_DOWN as exc:
            if time.monotonic() >= deadline:
                log.warning("commit_outcome_unknown", error=str(exc).splitlines()[0])
                raise ApiError(
                    503,
                    "outcome_unknown",
                    "the database went away while storing the command: it may or may not"
                    " be stored; retry with the same Idempotency-Key",
                    headers={"Retry-After": "5"},
                ) from None
            time.sleep(0.2)


def _wait(op: Operation) -> Operation:
    """The operation once finished, or as last known (pending: a 202) if the database
    cannot be read meanwhile: a stored operation is never answered with a 503."""
    assert op.id is not None
    try:
        finished: Operation = current_app.extensions["outcomes"].wait(
            op.id, settings().command_wait
        )
    except DATABASE_DOWN as exc:
        log.warning("outcome_unreadable", operation_id=op.id, error=str(exc).splitlines()[0])
        return op
    return finished


class _Attendance:
    """Whether commands are being consumed: some worker's heartbeat is fresh and the
    command queue is not backed up past ``TASKS_COMMAND_BACKLOG_LIMIT``.

    One heartbeat read and one queue-length read (Redis ``LLEN``, a count on the
    embedded broker) per process per second at most while the answer is yes; while it
    is no, each write asks again, so the first write after a worker starts waits.
    """

    CACHE_FOR = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def attended(self) -> bool:
        if time.monotonic() < self._until:
            return True
        verdict = self._look()
        if verdict:
            with self._lock:
                self._until = time.monotonic() + self.CACHE_FOR
        return verdict

    def _look(self) -> bool:
        stack = settings()
        try:
            with session_scope(stack, write=False) as session:
                since = heartbeats.age(session, stack, heartbeats.WORKER, utcnow())
            if since is None or since.total_seconds() > stack.worker_stale_after:
                log.info("commands_unattended", reason="no live worker")
                return False
            queued = int(current_app.extensions["submitter"].ping_broker())
        except Exception as exc:  # cannot tell: wait as before
            log.warning("attendance_unknown", error=str(exc).splitlines()[0])
            return True
        if queued > stack.command_backlog_limit:
            log.info("commands_unattended", reason="backlog", queued=queued)
            return False
        return True


def _attended() -> bool:
    attendance: _Attendance = current_app.extensions.setdefault("attendance", _Attendance())
    return attendance.attended()


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """A synchronous write with Idempotency-Key semantics (``commands.replays``): the
    same key and request replay the first answer; another request under the key is a
    422, one while the first still runs a 409. A 5xx answer (the database or broker
    away) gives the key back, so that the retry runs."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = _idempotency_key()
        if key is None:
            return view(*args, **kwargs)
        account_id = g.actor.account_id
        fingerprint = request_fingerprint(request.method, request.path, _body_for_fingerprint())
        with session_scope(settings()) as session:
            earlier = replays.do_claim(session, account_id, key, fingerprint)
            if earlier is not None:
                headers = {**(earlier.headers or {}), "Idempotent-Replayed": "true"}
                return json_response(earlier.body, earlier.status_code or 200, headers)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except Exception as exc:
            response = current_app.make_response(current_app.handle_user_exception(exc))
        try:
            with session_scope(settings()) as session:
                if response.status_code >= 500:
                    replays.do_release(session, account_id, key)
                else:
                    headers = response.headers
                    kept = {h: headers[h] for h in REPLAYED_HEADERS if h in headers}
                    replays.do_record_answer(
                        session, account_id, key, response.status_code, response.get_json(), kept
                    )
        except DATABASE_DOWN as exc:
            # The key stays claimed: a retry gets a 409 rather than a second write.
            log.warning("idempotency_record_failed", key=key, error=str(exc).splitlines()[0])
        return response

    return wrapper


def _body_for_fingerprint() -> Any:
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def outcome_response(op: Operation) -> Response:
    if op.status == OperationStatus.succeeded:
        status = success_status(op)
        if status == 204:
            return Response(status=204)
        return json_response(op.result, status)
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
