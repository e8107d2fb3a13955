"""Task templates and workflow templates: create, change, and what a template fills.

Admins write templates; the writes are small and synchronous (no operation queue, as
for teams). Every reference is checked against the account: a template's team and
member (the member in the team, as for a task), a workflow template's task templates.
A workflow template's plan is checked whole on every save (``store.schemas.templates``
for its own rules, here for the task templates it names), and its predecessor
relations for a cycle; a plan that breaks a rule is refused and nothing is stored.
``commands.instantiate`` turns a workflow template into a workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import TaskValidationError, field_error
from tasks_service.core.validation import MAX_ERRORS, provided
from tasks_service.identity.directory import is_team_member
from tasks_service.store import lookups
from tasks_service.store.models import Person, TaskTemplate, Team, WorkflowTemplate
from tasks_service.store.schemas.tasks import TaskCreate
from tasks_service.store.schemas.templates import (
    TASK_FIELDS_FROM_TEMPLATE,
    TaskTemplateCreate,
    TaskTemplateUpdate,
    WorkflowPlan,
    WorkflowTemplateCreate,
    WorkflowTemplateUpdate,
    numbered_phases,
    plan_cycle,
    plan_errors,
)

#: A task's assignee is one choice: a body that names its team or its member takes
#: neither from the template (the template's member may not be in the body's team).
_ASSIGNEE = ("team_id", "member_id")


def get_task_template(session: Session, account_id: int, template_id: int) -> TaskTemplate:
    """Raises: NotFound (also for another account's template)."""
    return lookups.get(session, TaskTemplate, account_id, template_id)


def get_workflow_template(session: Session, account_id: int, template_id: int) -> WorkflowTemplate:
    """Raises: NotFound (also for another account's template)."""
    return lookups.get(session, WorkflowTemplate, account_id, template_id)


# --- task templates --------------------------------------------------------------------


def _check_assignee(
    session: Session, account_id: int, team_id: int | None, member_id: int | None
) -> None:
    """The team and member exist in the account, and the member is in the team (the
    rule of a task's assignee, ``commands.task_change``). Raises: TaskValidationError."""
    lookups.check_ref(session, Team, account_id, team_id, "team_id")
    lookups.check_ref(session, Person, account_id, member_id, "member_id")
    if (
        team_id is not None
        and member_id is not None
        and not is_team_member(session, team_id, member_id)
    ):
        raise field_error(
            "member_id", "not_in_team", f"person {member_id} is not a member of team {team_id}"
        )


def do_create_task_template(
    session: Session, account_id: int, data: TaskTemplateCreate
) -> TaskTemplate:
    """Raises: TaskValidationError (an unknown team or member, a member not in the team)."""
    values = data.model_dump()
    _check_assignee(session, account_id, values["team_id"], values["member_id"])
    template = TaskTemplate(account_id=account_id, **values)
    session.add(template)
    session.flush()
    return template


def do_update_task_template(
    session: Session, account_id: int, template_id: int, data: TaskTemplateUpdate
) -> TaskTemplate:
    """Change the fields sent (``null`` clears). Raises: NotFound; TaskValidationError."""
    template = lookups.lock(session, TaskTemplate, account_id, template_id)
    changes = provided(data)
    if any(name in changes for name in _ASSIGNEE):
        team_id = changes.get("team_id", template.team_id)
        member_id = changes.get("member_id", template.member_id)
        _check_assignee(session, account_id, team_id, member_id)
    for key, value in changes.items():
        setattr(template, key, value)
    template.updated_at = utcnow()
    session.add(template)
    session.flush()
    return template


def fields_of(template: TaskTemplate) -> dict[str, Any]:
    """What the template fills on a new task: its values by ``TaskCreate`` field name,
    only the fields it has (none of its empty ones)."""
    values = {
        name: getattr(template, name)
        for name in TASK_FIELDS_FROM_TEMPLATE
        if name in TaskCreate.model_fields
    }
    return {name: value for name, value in values.items() if value is not None}


def usable_task_template(session: Session, account_id: int, template_id: int) -> TaskTemplate:
    """A task template a new task may be made from.
    Raises: TaskValidationError (``template_id``: ``not_found``, ``disabled``)."""
    template = lookups.find(session, TaskTemplate, account_id, template_id)
    if template is None:
        raise field_error("template_id", "not_found", f"no task template {template_id}")
    if template.disabled:
        raise field_error("template_id", "disabled", f"task template {template_id} is disabled")
    return template


def template_fields(session: Session, account_id: int, template_id: int) -> dict[str, Any]:
    """The ``TaskCreate`` field values the task template fills (``fields_of``), for a
    task created with ``template_id``. Raises: TaskValidationError (``template_id``:
    ``not_found`` for a missing or another account's template, ``disabled``)."""
    return fields_of(usable_task_template(session, account_id, template_id))


def with_template(
    session: Session, account_id: int, template_id: int, given: Mapping[str, Any]
) -> dict[str, Any]:
    """A new task's fields: the template's, then the body's (``given``) over them. The
    assignee is one choice: a body that gives ``team_id`` or ``member_id`` takes
    neither from the template. Raises: as ``template_fields``."""
    filled = template_fields(session, account_id, template_id)
    if any(name in given for name in _ASSIGNEE):
        for name in _ASSIGNEE:
            filled.pop(name, None)
    return {**filled, **given}


# --- workflow templates ----------------------------------------------------------------


def _refused(errors: list[dict[str, str]]) -> TaskValidationError:
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        errors = [
            *errors[:MAX_ERRORS],
            {"field": "body", "code": "too_many_errors", "message": f"and {more} more"},
        ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return TaskValidationError(f"Validation failed: {summary}", errors=errors)


def _task_template_errors(
    session: Session, account_id: int, plan: WorkflowPlan, kept: Iterable[int]
) -> list[dict[str, str]]:
    """The relations' task templates exist in the account (one query), and none that is
    disabled is added (one the template had already may stay)."""
    ids = {relation.task_template_id for relation in plan.task_template_relations}
    if not ids:
        return []
    found = dict(
        session.exec(
            select(TaskTemplate.id, TaskTemplate.disabled).where(
                col(TaskTemplate.account_id) == account_id, col(TaskTemplate.id).in_(ids)
            )
        ).all()
    )
    kept = set(kept)
    errors = []
    for i, relation in enumerate(plan.task_template_relations):
        template_id = relation.task_template_id
        field = f"task_template_relations.{i}.task_template_id"
        if template_id not in found:
            errors.append(
                {"field": field, "code": "not_found", "message": f"no task template {template_id}"}
            )
        elif found[template_id] and template_id not in kept:
            message = f"task template {template_id} is disabled"
            errors.append({"field": field, "code": "disabled", "message": message})
    return errors


def check_plan(
    session: Session, account_id: int, plan: WorkflowPlan, kept: Iterable[int] = ()
) -> None:
    """The whole plan holds: its own rules (``plan_errors``), its task templates
    (``kept``: those it had before, which may be disabled since), and no cycle.

    Raises: TaskValidationError, every bad place named; for a cycle, one error on
    ``task_template_relations`` with code ``dependency_cycle`` whose message names the
    cycle's task template ids in order (as ``commands.workflow_plan`` names a cycle of
    tasks).
    """
    errors = plan_errors(plan) + _task_template_errors(session, account_id, plan, kept)
    if errors:
        raise _refused(errors)
    cycle = plan_cycle(plan)
    if cycle is not None:
        path = " -> ".join(str(template_id) for template_id in cycle)
        message = f"the predecessor relations form a cycle: task templates {path}"
        raise field_error("task_template_relations", "dependency_cycle", message)


def plan_of(template: WorkflowTemplate) -> WorkflowPlan:
    """The template's plan as stored (checked when it was saved)."""
    return WorkflowPlan.model_validate(template.plan)


def do_create_workflow_template(
    session: Session, account_id: int, data: WorkflowTemplateCreate
) -> WorkflowTemplate:
    """Raises: TaskValidationError (the plan's rules, ``check_plan``)."""
    plan = WorkflowPlan(
        phases=numbered_phases(data.phases), task_template_relations=data.task_template_relations
    )
    check_plan(session, account_id, plan)
    template = WorkflowTemplate(
        account_id=account_id,
        subject=data.subject,
        category=data.category,
        instructions=data.instructions,
        disabled=data.disabled,
        plan=plan.model_dump(mode="json"),
    )
    session.add(template)
    session.flush()
    return template


def do_update_workflow_template(
    session: Session, account_id: int, template_id: int, data: WorkflowTemplateUpdate
) -> WorkflowTemplate:
    """Change the fields sent; ``phases`` and ``task_template_relations`` replace the
    template's, and the plan they make with the rest is checked whole.
    Raises: NotFound; TaskValidationError (``check_plan``)."""
    # locked: two changes of one plan (its phases, its relations) are each checked
    # against the other's outcome
    template = lookups.lock(session, WorkflowTemplate, account_id, template_id)
    changes = provided(data)
    phases = changes.pop("phases", None)
    relations = changes.pop("task_template_relations", None)
    if phases is not None or relations is not None:
        current = plan_of(template)
        plan = WorkflowPlan(
            phases=numbered_phases(phases) if phases is not None else current.phases,
            task_template_relations=(
                relations if relations is not None else current.task_template_relations
            ),
        )
        kept = [relation.task_template_id for relation in current.task_template_relations]
        check_plan(session, account_id, plan, kept)
        template.plan = plan.model_dump(mode="json")
    for key, value in changes.items():
        setattr(template, key, value)
    template.updated_at = utcnow()
    session.add(template)
    session.flush()
    return template


def usable_workflow_template(
    session: Session, account_id: int, template_id: int
) -> WorkflowTemplate:
    """A workflow template a new workflow may be made from.
    Raises: TaskValidationError (``template_id``: ``not_found``, ``disabled``)."""
    template = lookups.find(session, WorkflowTemplate, account_id, template_id)
    if template is None:
        raise field_error("template_id", "not_found", f"no workflow template {template_id}")
    if template.disabled:
        raise field_error("template_id", "disabled", f"workflow template {template_id} is disabled")
    return template


def workflow_fields(template: WorkflowTemplate) -> dict[str, Any]:
    """What a workflow template fills on a new workflow (``WorkflowCreate``'s names):
    its subject and category."""
    return {"subject": template.subject, "category": template.category}
