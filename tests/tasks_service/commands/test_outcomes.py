"""Waiting for operations: one look-up per tick per process, however many wait."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import event

from tasks_service.commands.operations import do_apply_operation, do_record_operation
from tasks_service.commands.outcomes import OutcomeWatcher
from tasks_service.store.db import get_engine, session_scope
from tests.helpers import AccountInfo

BODY = {"data": {"subject": "wait for me", "category": "implementation"}}


def _record(settings, account: AccountInfo) -> int:
    with session_scope(settings) as session:
        op, _ = do_record_operation(
            session, account.account_id, account.admin_id, "task.create", BODY
        )
        return op.id


def test_many_waiters_share_the_lookups(settings, account: AccountInfo) -> None:
    waiters, seconds = 8, 1.0
    ids = [_record(settings, account) for _ in range(waiters)]  # never applied
    watcher = OutcomeWatcher(settings)
    statements: list[str] = []
    lock = threading.Lock()

    def count(conn, cursor, statement, *args) -> None:
        if "operation" in statement.lower() and "select" in statement.lower():
            with lock:
                statements.append(statement)

    engine = get_engine(settings)
    event.listen(engine, "before_cursor_execute", count)
    try:
        with ThreadPoolExecutor(waiters) as pool:
            results = list(pool.map(lambda i: watcher.wait(i, seconds), ids))
    finally:
        event.remove(engine, "before_cursor_execute", count)
        watcher.stop()
    assert all(op.status == "pending" for op in results)
    # Each waiter reads its operation once, when woken or timed out; the watcher looks
    # all of them up at most once per 50 ms tick. Polling per request at 20/s would
    # have been 8 x 20 = 160 look-ups.
    ticks = seconds / settings.command_poll_interval
    assert len(statements) <= waiters + ticks + 5, len(statements)


def test_a_finished_operation_wakes_its_waiter(settings, account: AccountInfo) -> None:
    op_id = _record(settings, account)
    watcher = OutcomeWatcher(settings)
    outcome = {}

    def wait() -> None:
        outcome["op"] = watcher.wait(op_id, 10.0)
        outcome["woke"] = time.monotonic()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.3)
    with session_scope(settings) as session:
        do_apply_operation(session, settings, op_id)
    committed = time.monotonic()
    thread.join(10)
    watcher.stop()
    assert outcome["op"].status == "succeeded"
    assert outcome["op"].result["subject"] == "wait for me"
    # Woken by the notification (PostgreSQL) or the next tick (SQLite), not the timeout.
    assert outcome["woke"] - committed < 4 * settings.command_poll_interval
