"""Commands on one task take effect in the order the API accepted them (DESIGN.md step 6),
whichever of several worker processes gets which message first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import col, select

from tasks_service.store.db import session_scope
from tasks_service.store.models import Operation, TaskEvent
from tests.helpers import AccountInfo, Api, wait_for

PATCHES = 60


def test_concurrent_patches_apply_in_acceptance_order(
    api: Api, account: AccountInfo, settings
) -> None:
    task = api.create_task(subject="v-start")
    path = f"/v1/tasks/{task['id']}"

    def patch(i: int) -> int:
        response = api.patch(
            path, json={"subject": f"v{i}", "note": f"n{i}"}, headers={"Prefer": "respond-async"}
        )
        assert response.status_code == 202, response.get_json()
        return int(response.get_json()["id"])

    with ThreadPoolExecutor(max_workers=12) as pool:
        op_ids = list(pool.map(patch, range(PATCHES)))
    assert len(set(op_ids)) == PATCHES

    def all_done() -> bool:
        with session_scope(settings, write=False) as session:
            statuses = session.exec(
                select(Operation.status).where(col(Operation.id).in_(op_ids))
            ).all()
        return all(s == "succeeded" for s in statuses)

    wait_for(all_done, timeout=60, what="all patches applied")
    with session_scope(settings, write=False) as session:
        events = session.exec(
            select(TaskEvent)
            .where(TaskEvent.task_id == task["id"], TaskEvent.action == "update")
            .order_by(col(TaskEvent.id))
        ).all()
        by_op = {
            op.id: op.payload["data"]["subject"]
            for op in session.exec(select(Operation).where(col(Operation.id).in_(op_ids)))
        }
    applied = [e.operation_id for e in events]
    # Each operation applied exactly once, in increasing id (= acceptance) order...
    assert applied == sorted(op_ids)
    # ... so the task ends with the value of the last accepted command.
    final = api.get(path).get_json()
    assert final["subject"] == by_op[max(op_ids)]
    notes = [n["text"] for n in api.get(f"{path}/notes?per_page=100").get_json()]
    assert notes == [f"n{by_op[i][1:]}" for i in sorted(op_ids)]
