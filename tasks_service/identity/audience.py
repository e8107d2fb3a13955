"""Who an event about a task concerns: the people a notify list names, and whom an
event reaches when nobody is named."""

from __future__ import annotations

from sqlmodel import Session

from tasks_service.identity.directory import team_members
from tasks_service.store import lookups
from tasks_service.store.models import Person, Task, Workflow


def recipients(session: Session, task: Task, notify: list[str]) -> list[int]:
    """The people ``notify`` names for this task (``member``, ``team``, ``manager``,
    ``person:<id>``, ``team:<id>``): enabled ones of its account, each once, in order."""
    people: list[int] = []
    for target in notify:
        if target == "member":
            people += [task.member_id] if task.member_id else []
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
    """Whom an event about a task concerns by default: its member (or, with none, its
    team's members); for ``task.overdue`` its workflow's manager too. (Escalation
    levels name their own recipients.)"""
    notify = ["member"] if task.member_id else ["team"]
    if event == "task.overdue":
        notify.append("manager")
    return recipients(session, task, notify)
