"""Random plans (hypothesis), on both backends, through the commands the workers run:
no cycle is ever accepted and every acyclic link is; after any sequence of completions
and cancellations the tasks that are assigned are exactly those a brute-force replay of
the rules says (every predecessor completed, approved or canceled)."""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import select

from tasks_service.commands import task_commands
from tasks_service.core.errors import TaskValidationError
from tasks_service.notify.outbox import Outbox
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task
from tasks_service.store.schemas.tasks import TaskUpdate
from tests.helpers import MONDAY_10, World

SATISFIED = {"completed", "canceled"}


def _reaches(edges: set[tuple[int, int]], start: int, goal: int) -> bool:
    """Depth first, written apart from the code under test."""
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(after for before, after in edges if before == node)
    return False


def _link(world: World, successor: int, predecessor: int) -> str | None:
    """Link through the command; the refusal's code, or None when it is stored."""
    try:
        with session_scope(world.settings) as session:
            task_commands.do_link_tasks(
                session,
                Outbox(world.settings),
                world.account.account_id,
                None,
                successor,
                predecessor,
                "predecessor",
            )
    except TaskValidationError as error:
        return str(error.errors[0]["code"])
    return None


plans = st.integers(min_value=2, max_value=7).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), min_size=1, max_size=14),
        st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(["completed", "canceled"]))),
    )
)


@hypothesis_settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
def test_random_plans_follow_the_rules(
    world: World, plan: tuple[int, list[tuple[int, int]], list[tuple[int, str]]]
) -> None:
    size, attempts, moves = plan
    account = world.account
    workflow_id = world.workflow(None)
    ids = [world.task(MONDAY_10, workflow_id, subject=f"T{i}").id or 0 for i in range(size)]
    accepted: set[tuple[int, int]] = set()
    for before, after in attempts:
        a, b = ids[before], ids[after]
        closes = a == b or _reaches(accepted, b, a)
        refused = _link(world, b, a)
        if closes:
            # a task to itself is a self_link; around a longer loop, a cycle
            assert refused == ("self_link" if a == b else "dependency_cycle"), (a, b, accepted)
        else:
            assert refused is None, f"{a} -> {b} refused ({refused}) over {accepted}"
            accepted.add((a, b))
    # everyone gets an assignee: those that wait stay registered
    for task_id in ids:
        world.update(task_id, MONDAY_10, member_id=account.admin_id)
    status = dict.fromkeys(ids, "registered")

    def expected_assigned() -> set[int]:
        return {
            t
            for t in ids
            if status[t] not in SATISFIED
            and all(status[p] in SATISFIED for p, s in accepted if s == t)
        }

    def assigned_now() -> set[int]:
        with session_scope(world.settings, write=False) as session:
            rows = session.exec(select(Task.id, Task.status).where(Task.id.in_(ids))).all()  # type: ignore[union-attr]
        return {task_id for task_id, s in rows if s == "assigned"}

    assert assigned_now() == expected_assigned()
    for index, new_status in moves:
        task_id = ids[index]
        if status[task_id] in SATISFIED:
            continue
        waiting = task_id not in expected_assigned()
        if waiting and new_status == "completed":
            new_status = "canceled"  # a waiting task can only be canceled
        with session_scope(world.settings) as session:
            task_commands.do_update_task(
                session,
                Outbox(world.settings),
                account.account_id,
                None,
                task_id,
                TaskUpdate(status=new_status),
            )
        status[task_id] = new_status
        assert assigned_now() == expected_assigned()
