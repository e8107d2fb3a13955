"""Who an event about a task concerns: the people a notify list names, and whom an
event reaches when nobody is named."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tasks_service.core.assignments import PENDING
from tasks_service.identity.directory import team_members
from tasks_service.store import lookups
from tasks_service.store.models import Person, Task, TaskAssignment, Workflow


def pending_assignees(session: Session, task: Task) -> list[int]:
    """The people whose assignment of the task waits for them (``core.assignments``)."""
    if not task.assignee_count:
        return []
    query = select(TaskAssignment.person_id).where(
        TaskAssignment.task_id == task.id,
        col(TaskAssignment.status).in_([s.value for s in PENDING]),
    )
    return list(session.exec(query.order_by(col(TaskAssignment.id))).all())


def recipients(session: Session, task: Task, notify: list[str]) -> list[int]:
    """The people ``notify`` names for this task (``member``, ``team``, ``manager``,
    ``person:<id>``, ``team:<id>``): enabled ones of its account, each once, in order.
    ``member`` is whom the task is with: its member, and the people whose assignment
    of it waits for them."""
    people: list[int] = []
    for target in notify:
        if target == "member":
            people += [task.member_id] if task.member_id else []
            people += pending_assignees(session, task)
        elif target == "team":
            people += team_members(session, task.team_id)
        elif target == "manager":
            workflow = session.get(Workflow, task.workflow_id) if task.workflow_id else None
            people += [workflow.manager_id] if workflow and workflow.manager_id else []
        elif target.startswith("person:"):
            people.append(int(target.split(":", 1)[1]))
        elif target.startswith("team:"):
            people += team_members(session, int(target.split(":", 1)[1]))
    enabled = {
        person.id
        for person in (lookups.find(session, Person, task.account_id, p) for p in set(people))
        if person is not None and not person.disabled
    }
    return list(dict.fromkeys(p for p in people if p in enabled))


def concerned(session: Session, task: Task, event: str) -> list[int]:
    """Whom an event about a task concerns by default: its member and assignees (or,
    with none, its team's members); for ``task.overdue`` its workflow's manager too.
    (Escalation levels name their own recipients.) ``task.assigned`` about the task's
    team or member is theirs: each assignee hears of their own assignment
    (``commands.assignment_rules.announce``)."""
    if event == "task.assigned":
        return recipients(
            session, task, [f"person:{task.member_id}"] if task.member_id else ["team"]
        )
    with_someone = task.member_id or task.assignee_count
    notify = ["member"] if with_someone else ["team"]
    if event == "task.overdue":
        notify.append("manager")
    return recipients(session, task, notify)
