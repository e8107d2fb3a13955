"""Whom an event about a task concerns: the people a notify list names (each once, in
order, enabled ones of the task's account only), and who hears of an event by default."""

from __future__ import annotations

import pytest

from tasks_service.commands import workflows
from tasks_service.identity import directory
from tasks_service.identity.audience import concerned, recipients
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task
from tasks_service.store.schemas.directory import PersonCreate, PersonUpdate
from tasks_service.store.schemas.workflows import WorkflowCreate
from tests.helpers import AccountInfo, World, make_account, utc


class People(World):
    def person(self, name: str, account_id: int | None = None) -> int:
        with session_scope(self.settings) as session:
            data = PersonCreate(name=name, primary_email=f"{name.lower()}@{self.account.slug}.x")
            return directory.do_create_person(
                session, account_id or self.account.account_id, data
            ).id

    def members(self, team_id: int, *people: int) -> None:
        with session_scope(self.settings) as session:
            for person_id in people:
                directory.do_add_team_member(session, self.account.account_id, team_id, person_id)

    def managed_by(self, manager_id: int) -> int:
        with session_scope(self.settings) as session:
            data = WorkflowCreate(subject="Change", manager_id=manager_id)
            return workflows.do_create_workflow(session, self.account.account_id, None, data).id


@pytest.fixture
def people(settings, account: AccountInfo) -> People:
    return People(settings, account)


def _of(people: People, task: Task, notify: list[str]) -> list[int]:
    with session_scope(people.settings, write=False) as session:
        return recipients(session, session.get(Task, task.id), notify)


def test_a_notify_list_names_each_enabled_person_once_in_order(people: People, settings) -> None:
    ann, bob, cyd = people.person("Ann"), people.person("Bob"), people.person("Cyd")
    team = people.team("Ops")
    people.members(team, bob, cyd)
    other_team = people.team("Net")
    people.members(other_team, ann)
    manager = people.person("Max")
    task = people.task(
        utc(2026, 11, 23, 9), people.managed_by(manager), team_id=team, member_id=bob
    )
    assert _of(people, task, ["member"]) == [bob]
    assert _of(people, task, ["team"]) == [bob, cyd]
    assert _of(people, task, ["manager", "member", "team"]) == [manager, bob, cyd]
    assert _of(people, task, [f"person:{ann}", f"team:{other_team}", "member"]) == [ann, bob]
    with session_scope(settings) as session:
        directory.do_update_person(
            session, people.account.account_id, cyd, PersonUpdate(disabled=True)
        )
    assert _of(people, task, ["team"]) == [bob]  # disabled people hear nothing
    stranger = people.person("Sam", make_account(settings).account_id)
    assert _of(people, task, [f"person:{stranger}"]) == []  # another account's


def test_by_default_the_member_or_else_the_team_and_for_overdue_the_manager(
    people: People,
) -> None:
    bob, cyd, manager = people.person("Bob"), people.person("Cyd"), people.person("Max")
    team = people.team("Ops")
    people.members(team, bob, cyd)
    flow = people.managed_by(manager)
    with_member = people.task(utc(2026, 11, 23, 9), flow, team_id=team, member_id=bob)
    team_only = people.task(utc(2026, 11, 23, 9), flow, team_id=team)
    with session_scope(people.settings, write=False) as session:
        assert concerned(session, session.get(Task, with_member.id), "task.alert") == [bob]
        assert concerned(session, session.get(Task, team_only.id), "task.alert") == [bob, cyd]
        overdue = concerned(session, session.get(Task, with_member.id), "task.overdue")
        assert overdue == [bob, manager]
