"""Idempotency-Keys of synchronous writes (``commands.replays``), without HTTP: one key
space per account with the durable commands' keys, and keys forgotten after
``TASKS_IDEMPOTENCY_RETENTION``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasks_service.commands import replays
from tasks_service.commands.operations import do_record_operation
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import IdempotencyKeyReused, IdempotencyRequestInFlight
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from tasks_service.store.models.operations import IdempotentRequest
from tests.helpers import AccountInfo


def test_a_claimed_key_replays_its_answer_and_refuses_another_request(
    settings, account: AccountInfo
) -> None:
    with session_scope(settings) as session:
        assert replays.do_claim(session, account.account_id, "k1", "hash-a") is None
    with session_scope(settings) as session, pytest.raises(IdempotencyRequestInFlight):
        replays.do_claim(session, account.account_id, "k1", "hash-a")
    with session_scope(settings) as session:
        replays.do_record_answer(session, account.account_id, "k1", 201, {"id": 7}, {})
    with session_scope(settings) as session:
        earlier = replays.do_claim(session, account.account_id, "k1", "hash-a")
        assert earlier is not None
        assert (earlier.status_code, earlier.body) == (201, {"id": 7})
    with session_scope(settings) as session, pytest.raises(IdempotencyKeyReused) as reused:
        replays.do_claim(session, account.account_id, "k1", "hash-b")
    assert set(reused.value.to_dict()) == {"message", "code", "errors"}


def test_one_key_space_with_durable_commands(settings, account: AccountInfo) -> None:
    with session_scope(settings) as session:
        do_record_operation(
            session,
            account.account_id,
            account.admin_id,
            "task.create",
            {"data": {"subject": "x", "category": "implementation"}},
            idempotency_key="shared",
            fingerprint="durable",
        )
    with session_scope(settings) as session, pytest.raises(IdempotencyKeyReused):
        replays.do_claim(session, account.account_id, "shared", "sync")
    with session_scope(settings) as session:
        replays.do_claim(session, account.account_id, "sync-first", "sync")
    with session_scope(settings) as session, pytest.raises(IdempotencyKeyReused):
        do_record_operation(
            session,
            account.account_id,
            account.admin_id,
            "task.create",
            {"data": {"subject": "y", "category": "implementation"}},
            idempotency_key="sync-first",
            fingerprint="durable",
        )


def test_keys_are_forgotten_after_the_retention(settings, account: AccountInfo) -> None:
    old = utcnow() - timedelta(hours=25)
    with session_scope(settings) as session:
        replays.do_claim(session, account.account_id, "old", "h")
        replays.do_claim(session, account.account_id, "new", "h")
        session.get(IdempotentRequest, (account.account_id, "old")).created_at = old
        op, _ = do_record_operation(
            session,
            account.account_id,
            account.admin_id,
            "task.create",
            {"data": {"subject": "z", "category": "implementation"}},
            idempotency_key="old-op",
            fingerprint="f",
        )
        op.created_at, op.finished_at, op.status = old, old, "succeeded"
        session.add(op)
        op_id = op.id
    assert replays.prune_keys(settings) >= 2  # a day by default
    with session_scope(settings, write=False) as session:
        assert session.get(IdempotentRequest, (account.account_id, "old")) is None
        assert session.get(IdempotentRequest, (account.account_id, "new")) is not None
        assert session.get(Operation, op_id).idempotency_key is None
