"""Unreachable database or broker: 503 with Retry-After, or 202 and nothing lost."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tasks_service.commands.operations import do_record_operation, recover_operations
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation
from tests.helpers import AccountInfo, Api, wait_for
from web.app import create_app
from workers.app import Submitter


def test_database_unreachable_is_503(settings, account: AccountInfo) -> None:
    if settings.is_embedded:
        broken = settings.model_copy(
            update={"database_url": "sqlite:////proc/no-such-dir/tasks.db"}
        )
    else:
        broken = settings.model_copy(
            update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
        )
    api = Api(create_app(broken).test_client(), account.token, account.slug)
    for response in (
        api.get("/v1/tasks"),
        api.post("/v1/tasks", json={"subject": "x", "category": "implementation"}),
    ):
        assert response.status_code == 503, response.get_json()
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["code"] == "database_unavailable"
    ready = api.get("/readyz")
    assert ready.status_code == 503
    assert {e["field"] for e in ready.get_json()["errors"]} == {"database"}


def test_broker_unreachable_is_503_and_stores_nothing(settings, account: AccountInfo) -> None:
    if settings.is_embedded:
        broken_broker = "sqlite:////proc/no-such-dir/broker.db"
    else:
        broken_broker = "redis://127.0.0.1:1/0"
    broken = settings.model_copy(update={"broker_url": broken_broker})
    api = Api(create_app(broken).test_client(), account.token, account.slug)
    body = {"subject": "not now", "category": "implementation"}
    response = api.post("/v1/tasks", json=body, headers={"Idempotency-Key": "retry-me"})
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["code"] == "broker_unavailable"
    with session_scope(settings, write=False) as session:
        left = session.exec(
            select(Operation).where(Operation.account_id == account.account_id)
        ).all()
    assert left == []  # refused: nothing stored, the same key can be used again
    ready = api.get("/readyz")
    assert ready.status_code == 503
    assert {e["field"] for e in ready.get_json()["errors"]} == {"broker"}


@pytest.mark.usefixtures("worker")
def test_operation_left_pending_is_recovered(settings, account: AccountInfo) -> None:
    """An accepted operation whose message is lost (never enqueued) is applied by the sweep."""
    with session_scope(settings) as session:
        op, _ = do_record_operation(
            session,
            account.account_id,
            account.admin_id,
            "task.create",
            {"data": {"subject": "kept", "category": "implementation"}},
        )
        op_id = op.id
    healthy = Submitter(settings)
    sweeping = settings.model_copy(update={"recovery_after": 0.5})

    def recovered() -> bool:
        # The recovery sweep, as beat runs it (``tasks.recover_operations``).
        recover_operations(sweeping, healthy.dispatch)
        with session_scope(settings, write=False) as session:
            return session.get(Operation, op_id).status == "succeeded"

    wait_for(recovered, timeout=30, interval=0.5, what="the stored operation to be applied")
