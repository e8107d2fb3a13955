"""Idempotency-Keys of synchronous writes: the first answer, replayed.

A durable command keeps its key on its ``Operation`` (``commands.operations``); a write
applied in the request itself (a person, a team, a webhook...) claims the key here
before it runs and records its answer after. The same key with the same request then
gets that answer again; with another request a 422; while the first is still running a
409. One key names one request per account, whichever table holds it.

Keys are kept ``TASKS_IDEMPOTENCY_RETENTION`` seconds at least (``prune_keys``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import IdempotencyKeyReused, IdempotencyRequestInFlight
from tasks_service.core.settings import Settings
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from tasks_service.store.models.operations import IdempotentRequest

KEY_FIELD = "Idempotency-Key"


def key_reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "this Idempotency-Key was used with a different request",
        errors=[
            {
                "field": KEY_FIELD,
                "code": "reused",
                "message": "already used with another method, path or body",
            }
        ],
    )


def in_flight(what: str) -> IdempotencyRequestInFlight:
    return IdempotencyRequestInFlight(
        "a request with this Idempotency-Key is still being processed",
        errors=[{"field": KEY_FIELD, "code": "in_flight", "message": what}],
    )


def key_in_operations(session: Session, account_id: int, key: str) -> bool:
    return (
        session.exec(
            select(Operation.id).where(
                Operation.account_id == account_id, Operation.idempotency_key == key
            )
        ).first()
        is not None
    )


def key_in_requests(session: Session, account_id: int, key: str) -> bool:
    return session.get(IdempotentRequest, (account_id, key)) is not None


def do_claim(
    session: Session, account_id: int, key: str, fingerprint: str
) -> IdempotentRequest | None:
    """Claim ``key`` for this request (None: go ahead), or the earlier answer to replay.

    Raises IdempotencyKeyReused for another request under the key (here or on an
    operation), IdempotencyRequestInFlight while the first one has no answer yet.
    """
    earlier = session.get(IdempotentRequest, (account_id, key))
    if earlier is None:
        if key_in_operations(session, account_id, key):
            raise key_reused()
        try:
            with session.begin_nested():
                session.add(
                    IdempotentRequest(
                        account_id=account_id, idempotency_key=key, request_hash=fingerprint
                    )
                )
            return None
        except IntegrityError:  # the same key arrived concurrently and won the insert
            earlier = session.get(IdempotentRequest, (account_id, key), populate_existing=True)
            if earlier is None:
                raise
    if earlier.request_hash != fingerprint:
        raise key_reused()
    if earlier.status_code is None:
        raise in_flight("the first request with this key has not answered yet")
    return earlier


def do_record_answer(
    session: Session,
    account_id: int,
    key: str,
    status_code: int,
    body: Any,
    headers: dict[str, str],
) -> None:
    """Keep the answer the claimed request got, to replay it."""
    session.execute(
        update(IdempotentRequest)
        .where(
            col(IdempotentRequest.account_id) == account_id,
            col(IdempotentRequest.idempotency_key) == key,
        )
        .values(status_code=status_code, body=body, headers=headers, finished_at=utcnow())
    )


def do_release(session: Session, account_id: int, key: str) -> None:
    """Give the key back: the request failed for a reason of ours (503, 500), so a
    retry with it must be free to run."""
    session.execute(
        delete(IdempotentRequest).where(
            col(IdempotentRequest.account_id) == account_id,
            col(IdempotentRequest.idempotency_key) == key,
            col(IdempotentRequest.status_code).is_(None),
        )
    )


def prune_keys(settings: Settings) -> int:
    """Forget keys older than ``idempotency_retention``: the answers kept for
    synchronous writes, and the keys on finished operations. Returns how many."""
    cutoff = utcnow() - timedelta(seconds=settings.idempotency_retention)
    with session_scope(settings) as session:
        answers = session.execute(
            delete(IdempotentRequest).where(col(IdempotentRequest.created_at) < cutoff)
        )
        keys = session.execute(
            update(Operation)
            .where(
                col(Operation.idempotency_key).is_not(None),
                col(Operation.finished_at).is_not(None),
                col(Operation.created_at) < cutoff,
            )
            .values(idempotency_key=None)
        )
    return int(getattr(answers, "rowcount", 0) or 0) + int(getattr(keys, "rowcount", 0) or 0)
