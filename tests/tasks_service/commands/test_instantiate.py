"""A workflow made from a workflow template in one transaction (``commands.instantiate``):
its phases, one task per relation with the task template's fields, its phase, its
template, its links and its failure task; the first tasks assigned once it is
registered, the others registered until their predecessors finish; a workflow that
starts later assigns nothing yet; a template that no longer makes valid tasks stores
nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from tasks_service.commands import templates
from tasks_service.commands.instantiate import instantiate_workflow
from tasks_service.commands.workflows import do_create_workflow
from tasks_service.core.clock import utcnow
from tasks_service.core.errors import TaskValidationError
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import TaskStatus, WorkflowStatus
from tasks_service.identity import directory
from tasks_service.notify.outbox import Outbox
from tasks_service.store.db import session_scope
from tasks_service.store.models import Task, TaskDependency, Workflow, WorkflowPhase
from tasks_service.store.schemas.directory import TeamCreate
from tasks_service.store.schemas.templates import (
    TaskTemplateCreate,
    TaskTemplateUpdate,
    WorkflowTemplateCreate,
)
from tasks_service.store.schemas.workflows import WorkflowCreate
from tests.helpers import AccountInfo


def _setup(settings: Settings, account: AccountInfo) -> dict[str, int]:
    """A team with the admin in it; task templates order -> (install, cable) -> test,
    test failing to rollback; a workflow template of them in two phases."""
    me = account.account_id
    with session_scope(settings) as session:
        team = directory.do_create_team(session, me, TeamCreate(name="Racks"))
        assert team.id is not None
        directory.do_add_team_member(session, me, team.id, account.admin_id)

        def task_template(subject: str, **fields: Any) -> int:
            data = TaskTemplateCreate.model_validate(
                {"subject": subject, "category": "implementation", **fields}
            )
            made = templates.do_create_task_template(session, me, data)
            assert made.id is not None
            return made.id

        ids = {
            "order": task_template(
                "Order", team_id=team.id, member_id=account.admin_id, planned_duration=60
            ),
            "install": task_template("Install", team_id=team.id, impact="high"),
            "cable": task_template("Cable", team_id=team.id),
            "test": task_template("Test", category="approval", team_id=team.id),
            "rollback": task_template("Roll back"),  # nobody: it stays registered
        }
        plan = WorkflowTemplateCreate.model_validate(
            {
                "subject": "New rack",
                "phases": [{"name": "Build", "position": 2}, {"name": "Prepare", "position": 1}],
                "task_template_relations": [
                    {"task_template_id": ids["test"], "phase_name": "Build",
                     "predecessor_task_template_ids": [ids["install"], ids["cable"]],
                     "failure_task_template_id": ids["rollback"]},
                    {"task_template_id": ids["install"], "phase_name": "Build",
                     "predecessor_task_template_ids": [ids["order"]]},
                    {"task_template_id": ids["cable"], "phase_name": "Build",
                     "predecessor_task_template_ids": [ids["order"]]},
                    {"task_template_id": ids["order"], "phase_name": "Prepare"},
                    {"task_template_id": ids["rollback"]},
                ],
            }
        )  # fmt: skip
        template = templates.do_create_workflow_template(session, me, plan)
        assert template.id is not None
        return {**ids, "team": team.id, "template": template.id}


def _instantiate(settings: Settings, account: AccountInfo, template_id: int, **fields: Any) -> int:
    me = account.account_id
    with session_scope(settings) as session:
        data = WorkflowCreate.model_validate(
            {"subject": "Rack 12", "status": "being_created", **fields}
        )
        workflow = do_create_workflow(session, me, account.admin_id, data)
        template = templates.get_workflow_template(session, me, template_id)
        instantiate_workflow(session, Outbox(settings), me, account.admin_id, workflow, template)
        assert workflow.id is not None
        return workflow.id


def _tasks(settings: Settings, workflow_id: int) -> dict[int, Task]:
    """The workflow's tasks by their task template."""
    with session_scope(settings, write=False) as session:
        rows = session.exec(
            select(Task).where(Task.workflow_id == workflow_id).order_by(col(Task.id))
        ).all()
        session.expunge_all()
        return {task.template_id or 0: task for task in rows}


def test_a_template_becomes_a_workflow(settings: Settings, account: AccountInfo) -> None:
    ids = _setup(settings, account)
    workflow_id = _instantiate(settings, account, ids["template"])
    tasks = _tasks(settings, workflow_id)
    assert set(tasks) == {ids[k] for k in ("order", "install", "cable", "test", "rollback")}
    with session_scope(settings, write=False) as session:
        workflow = session.get(Workflow, workflow_id)
        assert workflow is not None
        assert workflow.template_id == ids["template"]
        # its first task was assigned: the workflow runs
        assert workflow.status == WorkflowStatus.in_progress
        phases = session.exec(
            select(WorkflowPhase).where(WorkflowPhase.workflow_id == workflow_id)
        ).all()
        by_name = {phase.name: phase for phase in phases}
        assert sorted((p.position, p.name) for p in phases) == [(1, "Prepare"), (2, "Build")]
        links = session.exec(
            select(TaskDependency).where(TaskDependency.workflow_id == workflow_id)
        ).all()
        by_id = {task.id: template for template, task in tasks.items()}
        assert sorted((by_id[d.predecessor_id], by_id[d.successor_id]) for d in links) == sorted(
            [
                (ids["order"], ids["install"]),
                (ids["order"], ids["cable"]),
                (ids["install"], ids["test"]),
                (ids["cable"], ids["test"]),
            ]
        )
    order, install, test = tasks[ids["order"]], tasks[ids["install"]], tasks[ids["test"]]
    # the task template's fields
    assert (order.subject, order.planned_duration, order.member_id) == (
        "Order",
        60,
        account.admin_id,
    )
    assert (install.impact, install.team_id) == ("high", ids["team"])
    assert test.category == "approval"
    # each task after its predecessors: ids in the plan's order
    assert 0 < (order.id or 0) < (install.id or 0) < (test.id or 0)
    assert order.phase_id == by_name["Prepare"].id
    assert {tasks[ids[k]].phase_id for k in ("install", "cable", "test")} == {by_name["Build"].id}
    assert tasks[ids["rollback"]].phase_id is None
    assert test.failure_task_id == tasks[ids["rollback"]].id
    assert all(task.failure_task_id is None for k, task in tasks.items() if k != ids["test"])
    # the first task is assigned; the others wait for their predecessors (or an assignee)
    assert order.status == TaskStatus.assigned
    assert order.assigned_at is not None
    assert {k: t.status for k, t in tasks.items() if k != ids["order"]} == {
        ids[k]: TaskStatus.registered for k in ("install", "cable", "test", "rollback")
    }
    assert install.assigned_at is None


def test_a_workflow_that_starts_later_assigns_nothing_yet(
    settings: Settings, account: AccountInfo
) -> None:
    ids = _setup(settings, account)
    later = utcnow() + timedelta(days=3)
    workflow_id = _instantiate(settings, account, ids["template"], start_at=later.isoformat())
    tasks = _tasks(settings, workflow_id)
    assert len(tasks) == 5
    assert {task.status for task in tasks.values()} == {TaskStatus.registered}
    with session_scope(settings, write=False) as session:
        workflow = session.get(Workflow, workflow_id)
        assert workflow is not None
        assert workflow.status == WorkflowStatus.registered


def test_a_template_that_no_longer_makes_valid_tasks_stores_nothing(
    settings: Settings, account: AccountInfo
) -> None:
    ids = _setup(settings, account)
    me = account.account_id
    with session_scope(settings) as session:
        # the order's member leaves its team after the template was saved
        directory.do_remove_team_member(session, me, ids["team"], account.admin_id)
    with pytest.raises(TaskValidationError) as refused:
        _instantiate(settings, account, ids["template"], subject="Rack 13")
    assert refused.value.errors == [
        {
            "field": "template_id",
            "code": "not_in_team",
            "message": f"task template {ids['order']}: member_id: person {account.admin_id} "
            f"is not a member of team {ids['team']}",
        }
    ]
    with session_scope(settings, write=False) as session:
        made = session.exec(
            select(Workflow).where(Workflow.account_id == me, Workflow.subject == "Rack 13")
        ).all()
        assert made == []
    # a disabled workflow template makes no workflow either
    with session_scope(settings) as session:
        templates.do_update_task_template(
            session, me, ids["order"], TaskTemplateUpdate(member_id=None)
        )
        template = templates.get_workflow_template(session, me, ids["template"])
        template.disabled = True
        session.add(template)
    with pytest.raises(TaskValidationError) as disabled:
        _instantiate(settings, account, ids["template"])
    assert [(e["field"], e["code"]) for e in disabled.value.errors] == [("template_id", "disabled")]
