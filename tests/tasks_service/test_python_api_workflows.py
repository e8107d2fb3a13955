"""Workflows that run themselves through the Python API (``tasks_service.workflows`` and
the Canvas-style ``tasks`` functions with their plan keywords), in-process, on both
backends."""

from __future__ import annotations

import pytest

from tasks_service import people, tasks, workflows
from tasks_service.core.errors import NotFound
from tasks_service.tasks import TaskValidationError


def test_the_module_example_runs(in_account) -> None:
    me = people.get_service_user()
    change = workflows.create_workflow("Replace the switch")
    order = tasks.create_task("Order", creator=me, assignee=me, workflow_id=change["id"])
    fit = tasks.create_task(
        "Fit", creator=me, assignee=me, workflow_id=change["id"], predecessor_ids=[order.id]
    )
    assert fit.xurrent_status == "registered"
    assert fit.predecessor_ids == [order.id]
    assert [t.id for t in workflows.predecessors_of(fit)] == [order.id]
    tasks.complete_task(order)
    assert tasks.get_task(fit.id).xurrent_status == "assigned"
    done = workflows.complete_workflow(change, "withdrawn", note="Not needed after all")
    assert done["status"] == "completed"
    assert done["completion_reason"] == "withdrawn"
    assert tasks.get_task(fit.id).xurrent_status == "canceled"
    assert [c.comment for c in tasks.get_task(fit.id).comments] == ["Not needed after all"]


def test_links_and_cycles(in_account) -> None:
    me = people.get_service_user()
    plan = workflows.create_workflow("Plan")
    a = tasks.create_task("A", creator=me, workflow_id=plan["id"])
    b = tasks.create_task("B", creator=me, workflow_id=plan["id"])
    assert workflows.link_tasks(a, b).predecessor_ids == [a.id]
    with pytest.raises(TaskValidationError) as refused:
        workflows.link_tasks(b, a)
    assert refused.value.errors[0]["code"] == "dependency_cycle"
    assert f"#{a.id}" in refused.value.errors[0]["message"]
    tasks.update_task(b, predecessor_ids=[])
    assert tasks.get_task(b.id).predecessor_ids == []
    workflows.link_tasks(a, b)
    assert workflows.unlink_tasks(a, b).predecessor_ids == []
    with pytest.raises(NotFound):
        workflows.unlink_tasks(a, b)
    assert {t.id for t in workflows.workflow_tasks(plan)} == {a.id, b.id}


def test_a_workflow_from_templates(in_account) -> None:
    me = people.get_service_user()
    build = workflows.create_task_template("Build", category="implementation", member_id=me.id)
    ship = workflows.create_task_template("Ship", category="implementation", member_id=me.id)
    release = workflows.create_workflow_template(
        "Release",
        phases=[{"name": "Make"}],
        task_template_relations=[
            {"task_template_id": build["id"], "phase_name": "Make"},
            {"task_template_id": ship["id"], "predecessor_task_template_ids": [build["id"]]},
        ],
    )
    made = workflows.create_workflow(template=release)
    assert made["subject"] == "Release"
    by_title = {t.title: t for t in workflows.workflow_tasks(made)}
    assert by_title["Build"].xurrent_status == "assigned"
    assert by_title["Ship"].xurrent_status == "registered"
    assert by_title["Ship"].predecessor_ids == [by_title["Build"].id]
    assert [p["name"] for p in workflows.list_phases(made)] == ["Make"]
    assert by_title["Build"].phase_id == workflows.list_phases(made)[0]["id"]
    workflows.create_phase(made, "Out")
    assert [p["name"] for p in workflows.list_phases(made)] == ["Make", "Out"]
    renamed = workflows.update_task_template(build, subject="Compile")
    assert renamed["subject"] == "Compile"
    with pytest.raises(TaskValidationError):
        workflows.update_workflow_template(
            release,
            task_template_relations=[
                {"task_template_id": build["id"], "predecessor_task_template_ids": [ship["id"]]},
                {"task_template_id": ship["id"], "predecessor_task_template_ids": [build["id"]]},
            ],
        )
    moved = workflows.update_workflow(made, subject="Release 2")
    assert workflows.get_workflow(moved)["subject"] == "Release 2"
