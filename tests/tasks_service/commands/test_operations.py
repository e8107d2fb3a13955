"""The durable command machinery, without HTTP or a broker."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from tasks_service.commands.operations import (
    do_apply_operation,
    do_claim_stale_operations,
    do_record_operation,
)
from tasks_service.core.clock import utcnow
from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation, Task
from tests.helpers import AccountInfo


def _record(
    settings, account: AccountInfo, kind: str, payload: dict, target_id: int | None = None
) -> int:
    with session_scope(settings) as session:
        op, replayed = do_record_operation(
            session, account.account_id, account.admin_id, kind, payload, target_id
        )
        assert not replayed
        return op.id


def _create(settings, account: AccountInfo, subject: str) -> int:
    """A pending task.create operation, not applied yet."""
    return _record(
        settings,
        account,
        "task.create",
        {"data": {"subject": subject, "category": "implementation"}},
    )


def test_applying_twice_is_a_no_op(settings, account: AccountInfo) -> None:
    op_id = _create(settings, account, "once")
    with session_scope(settings) as session:
        assert do_apply_operation(session, settings, op_id) == 1
    with session_scope(settings) as session:
        assert do_apply_operation(session, settings, op_id) == 0
        tasks = session.exec(select(Task).where(Task.account_id == account.account_id)).all()
        op = session.get(Operation, op_id)
    assert [t.subject for t in tasks] == ["once"]
    assert op.status == "succeeded"
    assert op.attempts == 1
    assert op.result["id"] == tasks[0].id


def test_a_later_operation_applies_the_earlier_ones_first(settings, account: AccountInfo) -> None:
    create = _create(settings, account, "v0")
    with session_scope(settings) as session:
        do_apply_operation(session, settings, create)
        task_id = session.get(Operation, create).result["id"]
    ids = [
        _record(settings, account, "task.update", {"data": {"subject": f"v{i}"}}, task_id)
        for i in (1, 2, 3)
    ]
    with session_scope(settings) as session:
        assert (
            do_apply_operation(session, settings, ids[1]) == 2
        )  # v1 then v2; v3 stays for its own message
    with session_scope(settings) as session:
        assert session.get(Task, task_id).subject == "v2"
        assert do_apply_operation(session, settings, ids[0]) == 0
        assert do_apply_operation(session, settings, ids[2]) == 1
    with session_scope(settings) as session:
        assert session.get(Task, task_id).subject == "v3"


def test_a_domain_error_fails_only_its_operation(settings, account: AccountInfo) -> None:
    create = _create(settings, account, "x")
    with session_scope(settings) as session:
        do_apply_operation(session, settings, create)
        task_id = session.get(Operation, create).result["id"]
    bad = _record(settings, account, "task.update", {"data": {"status": "approved"}}, task_id)
    good = _record(settings, account, "task.update", {"data": {"subject": "y"}}, task_id)
    with session_scope(settings) as session:
        assert do_apply_operation(session, settings, good) == 2
    with session_scope(settings) as session:
        assert session.get(Operation, bad).status == "failed"
        assert session.get(Operation, bad).error["errors"][0]["field"] == "status"
        assert session.get(Operation, good).status == "succeeded"
        assert session.get(Task, task_id).subject == "y"


def test_stale_operations_are_claimed_once_per_delay(settings, account: AccountInfo) -> None:
    op_id = _create(settings, account, "lost")
    with session_scope(settings) as session:
        op = session.get(Operation, op_id)
        op.updated_at = utcnow() - timedelta(seconds=120)
        session.add(op)
    with session_scope(settings) as session:
        assert (op_id, "task.create") in do_claim_stale_operations(session, older_than=60)
    with session_scope(settings) as session:
        assert op_id not in dict(do_claim_stale_operations(session, older_than=60))


def test_a_lone_rejected_operation_changes_nothing_and_is_recorded(
    settings, account: AccountInfo
) -> None:
    from tasks_service.commands.operations import apply_operation
    from tasks_service.store.models import TaskEvent

    create = _create(settings, account, "keep")
    apply_operation(settings, create)
    with session_scope(settings) as session:
        task_id = session.get(Operation, create).result["id"]
    bad = _record(
        settings,
        account,
        "task.update",
        {"data": {"subject": "changed", "status": "approved"}},
        task_id,
    )
    assert apply_operation(settings, bad) == 1
    assert apply_operation(settings, bad) == 0  # done: a redelivery changes nothing
    with session_scope(settings, write=False) as session:
        op = session.get(Operation, bad)
        task = session.get(Task, task_id)
        events = session.exec(select(TaskEvent).where(TaskEvent.task_id == task_id)).all()
    assert (op.status, op.attempts) == ("failed", 1)
    assert op.error["code"] == "validation_failed"
    assert task.subject == "keep"
    assert [e.action for e in events] == ["created"]


def test_a_missing_untargeted_operation_is_ignored(settings) -> None:
    from tasks_service.commands.operations import apply_operation

    assert apply_operation(settings, 2**31 - 1) == 0
