"""The route table of the OpenAPI document: for each Flask endpoint, what it takes and
what it answers, named by the models and list declarations the routes themselves use
(``store.schemas``, ``querying``). The paths, methods and path parameters come from the
app's url_map (``openapi.document``); a test holds the two to each other, so a route
added without its line here fails the suite instead of going undocumented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tasks_service.querying import assignment_resources as assigned
from tasks_service.querying import plan_resources, resources
from tasks_service.querying.filters import Extra, ResourceQuery
from tasks_service.querying.operations import OPERATION_QUERY
from tasks_service.store.schemas import (
    assignments,
    box,
    calendars,
    directory,
    messages,
    operations,
    phases,
    policies,
    tasks,
    templates,
    workflows,
)


@dataclass(frozen=True)
class Route:
    """One endpoint (all its methods but HEAD and OPTIONS).

    ``answer``: the resource it answers with, or ``shape`` (``many``: a page of them, filtered by
    ``query`` and ``extra``); ``body``: what it takes, or several shapes it takes;
    ``success``: its status once done; ``durable``: a command the workers apply, so it
    may answer 202 with the operation while pending.
    """

    summary: str
    tag: str
    answer: type[BaseModel] | None = None
    #: An answer that is no resource of its own, as a JSON schema (``{"unread": 3}``).
    shape: Mapping[str, Any] | None = None
    many: bool = False
    query: ResourceQuery | None = None
    extra: Extra | None = None
    body: tuple[type[BaseModel], ...] = ()
    wrapper: str | None = None
    success: int = 200
    durable: bool = False
    #: Answers 409 (a state that does not allow the change, a key in flight...).
    conflicts: bool = False
    public: bool = False  # no authentication
    box: bool = False  # Box's API: Box's error shape, the token alone
    #: The operator page: HTML for a browser, signed in with a cookie, forms (``fields``).
    page: bool = False
    fields: tuple[str, ...] = ()
    #: The success answer's media type (``/metrics`` answers Prometheus' text format).
    media: str = "application/json"
    #: The bearer token alone says who asks (an admin of any account): no account header.
    token_only: bool = False
    #: The body of each concrete path of an ``<any(...)>`` rule, by the value it fixes.
    body_for: Mapping[str, type[BaseModel]] | None = None


def _listing(tag: str, model: type[BaseModel], query: ResourceQuery, summary: str) -> Route:
    return Route(summary, tag, model, many=True, query=query)


def _create(
    tag: str,
    model: type[BaseModel],
    *body: type[BaseModel],
    wrapper: str | None = None,
    durable: bool = False,
    summary: str = "",
) -> Route:
    return Route(
        summary or f"Create a {tag[:-1]}",
        tag,
        model,
        body=body,
        wrapper=wrapper,
        success=201,
        durable=durable,
        conflicts=True,
    )


def _update(
    tag: str,
    model: type[BaseModel],
    *body: type[BaseModel],
    wrapper: str | None = None,
    durable: bool = False,
    summary: str = "",
) -> Route:
    return Route(
        summary or f"Update a {tag[:-1]}",
        tag,
        model,
        body=body,
        wrapper=wrapper,
        durable=durable,
        conflicts=True,
    )


TASK = tasks.TaskPublic
_TASKS = "tasks"


def _object(**properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


_COUNT = {"type": "integer", "minimum": 0}


def _box_collection(model: type[BaseModel]) -> dict[str, Any]:
    """Box's collection of a file's tasks or a task's assignments (not paged)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return _object(total_count=_COUNT, entries={"type": "array", "items": ref})


ROUTES: dict[str, Route] = {
    # the root, health and readiness
    "meta.api_root": Route("The API root", "meta", shape={"type": "object"}, public=True),
    "meta.healthz": Route(
        "Liveness: the web process answers",
        "meta",
        shape=_object(status={"const": "ok"}),
        public=True,
    ),
    "meta.readyz": Route(
        "Readiness: database, broker and scheduler",
        "meta",
        shape=_object(
            status={"const": "ready"},
            checks={"type": "object", "additionalProperties": {"type": "string"}},
        ),
        public=True,
    ),
    "openapi.openapi_document": Route(
        "This document (OpenAPI 3.1)", "meta", shape={"type": "object"}, public=True
    ),
    "openapi.docs_page": Route("The API's documentation page (HTML)", "meta", public=True),
    "openapi.docs_asset": Route("A file of the documentation page", "meta", public=True),
    "observe.metrics": Route(
        "The service's metrics, in Prometheus' text format (an administrator's token)",
        "meta",
        shape={"type": "string"},
        media="text/plain; version=0.0.4; charset=utf-8",
        token_only=True,
    ),
    # the operator page (web.ops): HTML, its session a cookie
    "ops.overview": Route("The operator page of the account", "ops", page=True),
    "ops.sign_in_form": Route("The operator page's sign-in form", "ops", page=True, public=True),
    "ops.sign_in": Route(
        "Sign in with an admin's API token",
        "ops",
        page=True,
        public=True,
        fields=("token", "csrf"),
    ),
    "ops.sign_out": Route("Sign out", "ops", page=True, fields=("csrf",)),
    "ops.replay_all": Route(
        "Send every dead delivery again (tasks-service timers retry-dead)",
        "ops",
        page=True,
        fields=("csrf",),
    ),
    "ops.replay_webhook": Route(
        "Send a webhook's dead deliveries again", "ops", page=True, fields=("csrf",)
    ),
    "ops.enable_webhook": Route("Enable a disabled webhook", "ops", page=True, fields=("csrf",)),
    # tasks
    "v1.tasks.list_tasks": Route(
        "List tasks",
        _TASKS,
        TASK,
        many=True,
        query=resources.TASK_QUERY,
        extra=resources.TASK_TRACKOPS,
    ),
    "v1.tasks.list_task_view": Route(
        "List tasks through a predefined filter",
        _TASKS,
        TASK,
        many=True,
        query=resources.TASK_QUERY,
        extra=resources.TASK_TRACKOPS,
    ),
    "v1.tasks.create_task": _create(
        _TASKS,
        TASK,
        tasks.TaskCreate,
        tasks.TaskCreateFromTemplate,
        wrapper="task",
        durable=True,
    ),
    "v1.tasks.get_task": Route("Get a task", _TASKS, TASK),
    "v1.tasks.update_task": _update(
        _TASKS,
        TASK,
        tasks.TaskUpdate,
        wrapper="task",
        durable=True,
        summary="Update a task (an approver's status: that approver's decision)",
    ),
    "v1.tasks.list_linked": Route(
        "List a task's predecessors or successors",
        _TASKS,
        TASK,
        many=True,
        query=resources.TASK_QUERY,
        extra=resources.TASK_TRACKOPS,
    ),
    "v1.tasks.add_link": Route(
        "Link a task before or after this one",
        _TASKS,
        TASK,
        body_for={"predecessors": tasks.PredecessorCreate, "successors": tasks.SuccessorCreate},
        success=201,
        durable=True,
        conflicts=True,
    ),
    "v1.tasks.add_link_in_path": _create(
        _TASKS, TASK, durable=True, summary="Link a task before or after this one (4me's form)"
    ),
    "v1.tasks.remove_link": Route(
        "Unlink a task", _TASKS, success=204, durable=True, conflicts=True
    ),
    "v1.tasks.list_notes": _listing(
        _TASKS, tasks.NotePublic, resources.NOTE_QUERY, "List a task's notes"
    ),
    "v1.tasks.add_note": _create(
        _TASKS,
        tasks.NotePublic,
        tasks.NoteCreate,
        wrapper="note",
        durable=True,
        summary="Add a note to a task",
    ),
    "v1.tasks.list_labels": _listing(
        _TASKS, tasks.LabelPublic, resources.LABEL_QUERY, "List a task's labels"
    ),
    "v1.tasks.add_labels": Route(  # the task, with its labels: no new resource
        "Add labels to a task", _TASKS, TASK, body=(tasks.LabelsAdd,), durable=True, conflicts=True
    ),
    "v1.tasks.remove_label": Route(  # answers with the task, as adding does
        "Remove a label from a task", _TASKS, TASK, durable=True, conflicts=True
    ),
    "v1.tasks.list_events": _listing(
        _TASKS, tasks.EventPublic, resources.EVENT_QUERY, "List a task's events"
    ),
    "v1.tasks.task_escalations": _listing(
        _TASKS,
        policies.TaskEscalationPublic,
        resources.TASK_ESCALATION_QUERY,
        "List the escalation levels that fired for a task",
    ),
    # several people on a task
    "v1.assignments.list_approvals": _listing(
        "approvals",
        assignments.ApprovalPublic,
        assigned.APPROVAL_QUERY,
        "List an approval task's approvals",
    ),
    "v1.assignments.add_approval": _create(
        "approvals",
        assignments.ApprovalPublic,
        assignments.ApprovalCreate,
        wrapper="approval",
        durable=True,
        summary="Ask a person to approve",
    ),
    "v1.assignments.get_approval": Route(
        "Get an approval", "approvals", assignments.ApprovalPublic
    ),
    "v1.assignments.update_approval": _update(
        "approvals",
        assignments.ApprovalPublic,
        assignments.ApprovalUpdate,
        wrapper="approval",
        durable=True,
    ),
    "v1.assignments.remove_approval": Route(
        "Remove an approver", "approvals", success=204, durable=True, conflicts=True
    ),
    "v1.assignments.list_work_assignments": _listing(
        "assignments",
        assignments.AssignmentPublic,
        assigned.ASSIGNMENT_QUERY,
        "List a task's assignees",
    ),
    "v1.assignments.add_work_assignment": _create(
        "assignments",
        assignments.AssignmentPublic,
        assignments.AssignmentCreate,
        wrapper="assignment",
        durable=True,
        summary="Add an assignee",
    ),
    "v1.assignments.get_work_assignment": Route(
        "Get an assignment", "assignments", assignments.AssignmentPublic
    ),
    "v1.assignments.update_work_assignment": _update(
        "assignments",
        assignments.AssignmentPublic,
        assignments.AssignmentUpdate,
        wrapper="assignment",
        durable=True,
    ),
    "v1.assignments.remove_work_assignment": Route(
        "Remove an assignee", "assignments", success=204, durable=True, conflicts=True
    ),
    # workflows and their plans
    "v1.workflows.list_workflows": _listing(
        "workflows", workflows.WorkflowPublic, resources.WORKFLOW_QUERY, "List workflows"
    ),
    "v1.workflows.list_workflow_view": _listing(
        "workflows",
        workflows.WorkflowPublic,
        resources.WORKFLOW_QUERY,
        "List workflows through a predefined filter",
    ),
    "v1.workflows.create_workflow": _create(
        "workflows",
        workflows.WorkflowPublic,
        workflows.WorkflowCreate,
        workflows.WorkflowCreateFromTemplate,
        wrapper="workflow",
        durable=True,
    ),
    "v1.workflows.get_workflow": Route("Get a workflow", "workflows", workflows.WorkflowPublic),
    "v1.workflows.update_workflow": _update(
        "workflows",
        workflows.WorkflowPublic,
        workflows.WorkflowUpdate,
        wrapper="workflow",
        durable=True,
    ),
    "v1.workflows.list_workflow_tasks": Route(
        "List a workflow's tasks",
        "workflows",
        TASK,
        many=True,
        query=resources.TASK_QUERY,
        extra=resources.TASK_TRACKOPS,
    ),
    "v1.workflows.create_workflow_task": _create(
        "workflows",
        TASK,
        tasks.WorkflowTaskCreate,
        tasks.WorkflowTaskCreateFromTemplate,
        wrapper="task",
        durable=True,
        summary="Create a task in a workflow",
    ),
    "v1.phases.list_phases": _listing(
        "phases", phases.PhasePublic, plan_resources.PHASE_QUERY, "List a workflow's phases"
    ),
    "v1.phases.create_phase": _create(
        "phases", phases.PhasePublic, phases.PhaseCreate, wrapper="phase"
    ),
    "v1.phases.get_phase": Route("Get a phase", "phases", phases.PhasePublic),
    "v1.phases.update_phase": _update(
        "phases", phases.PhasePublic, phases.PhaseUpdate, wrapper="phase"
    ),
    "v1.phases.delete_phase": Route("Delete an empty phase", "phases", success=204, conflicts=True),
    "v1.templates.list_task_templates": _listing(
        "task_templates",
        templates.TaskTemplatePublic,
        plan_resources.TASK_TEMPLATE_QUERY,
        "List task templates",
    ),
    "v1.templates.create_task_template": _create(
        "task_templates",
        templates.TaskTemplatePublic,
        templates.TaskTemplateCreate,
        wrapper="task_template",
    ),
    "v1.templates.get_task_template": Route(
        "Get a task template", "task_templates", templates.TaskTemplatePublic
    ),
    "v1.templates.update_task_template": _update(
        "task_templates",
        templates.TaskTemplatePublic,
        templates.TaskTemplateUpdate,
        wrapper="task_template",
    ),
    "v1.templates.list_workflow_templates": _listing(
        "workflow_templates",
        templates.WorkflowTemplatePublic,
        plan_resources.WORKFLOW_TEMPLATE_QUERY,
        "List workflow templates",
    ),
    "v1.templates.create_workflow_template": _create(
        "workflow_templates",
        templates.WorkflowTemplatePublic,
        templates.WorkflowTemplateCreate,
        wrapper="workflow_template",
    ),
    "v1.templates.get_workflow_template": Route(
        "Get a workflow template", "workflow_templates", templates.WorkflowTemplatePublic
    ),
    "v1.templates.update_workflow_template": _update(
        "workflow_templates",
        templates.WorkflowTemplatePublic,
        templates.WorkflowTemplateUpdate,
        wrapper="workflow_template",
    ),
    # people, teams, the account
    "v1.people.me": Route("Get the person of the token", "people", directory.PersonPublic),
    "v1.people.update_me": _update(
        "people",
        directory.PersonPublic,
        directory.NotificationPreferences,
        wrapper="person",
        summary="Update one's own notification preferences",
    ),
    "v1.people.list_people": _listing(
        "people", directory.PersonPublic, resources.PERSON_QUERY, "List people"
    ),
    "v1.people.create_person": _create(
        "people",
        directory.PersonPublic,
        directory.PersonCreate,
        wrapper="person",
        summary="Create a person",
    ),
    "v1.people.get_person": Route("Get a person", "people", directory.PersonPublic),
    "v1.people.update_person": _update(
        "people",
        directory.PersonPublic,
        directory.PersonUpdate,
        wrapper="person",
        summary="Update a person",
    ),
    "v1.people.person_teams": _listing(
        "people", directory.TeamPublic, resources.TEAM_QUERY, "List a person's teams"
    ),
    "v1.teams.list_teams": _listing(
        "teams", directory.TeamPublic, resources.TEAM_QUERY, "List teams"
    ),
    "v1.teams.create_team": _create(
        "teams", directory.TeamPublic, directory.TeamCreate, wrapper="team"
    ),
    "v1.teams.get_team": Route("Get a team", "teams", directory.TeamPublic),
    "v1.teams.update_team": _update(
        "teams", directory.TeamPublic, directory.TeamUpdate, wrapper="team"
    ),
    "v1.teams.team_members": _listing(
        "teams", directory.PersonPublic, resources.PERSON_QUERY, "List a team's members"
    ),
    "v1.teams.add_member": _create(
        "teams",
        directory.PersonPublic,
        directory.MembershipCreate,
        summary="Add a person to a team",
    ),
    "v1.teams.remove_member": Route(
        "Remove a person from a team", "teams", success=204, conflicts=True
    ),
    "v1.account.get_account": Route("Get the account", "account", directory.AccountPublic),
    "v1.account.update_account": _update(
        "account",
        directory.AccountPublic,
        directory.AccountUpdate,
        wrapper="account",
        summary="Update the account",
    ),
    # calendars and escalation
    "v1.calendars.list_calendars": _listing(
        "calendars", calendars.CalendarPublic, resources.CALENDAR_QUERY, "List calendars"
    ),
    "v1.calendars.create_calendar": _create(
        "calendars", calendars.CalendarPublic, calendars.CalendarCreate, wrapper="calendar"
    ),
    "v1.calendars.get_calendar": Route("Get a calendar", "calendars", calendars.CalendarPublic),
    "v1.calendars.update_calendar": _update(
        "calendars", calendars.CalendarPublic, calendars.CalendarUpdate, wrapper="calendar"
    ),
    "v1.escalation_policies.list_policies": _listing(
        "escalation_policies",
        policies.EscalationPolicyPublic,
        resources.ESCALATION_POLICY_QUERY,
        "List escalation policies",
    ),
    "v1.escalation_policies.create_policy": _create(
        "escalation_policies",
        policies.EscalationPolicyPublic,
        policies.EscalationPolicyCreate,
        wrapper="escalation_policy",
        summary="Create an escalation policy",
    ),
    "v1.escalation_policies.get_policy": Route(
        "Get an escalation policy", "escalation_policies", policies.EscalationPolicyPublic
    ),
    "v1.escalation_policies.update_policy": _update(
        "escalation_policies",
        policies.EscalationPolicyPublic,
        policies.EscalationPolicyUpdate,
        wrapper="escalation_policy",
        summary="Update an escalation policy",
    ),
    # notifications: the feed and webhooks
    "v1.feed.my_notifications": Route(
        "List one's notifications",
        "notifications",
        messages.NotificationPublic,
        many=True,
        query=resources.NOTIFICATION_QUERY,
        extra=resources.NOTIFICATION_PARAMETERS,
    ),
    "v1.feed.my_unread_count": Route(
        "Count one's unread notifications", "notifications", shape=_object(unread=_COUNT)
    ),
    "v1.feed.mark_notification": _update(
        "notifications",
        messages.NotificationPublic,
        messages.NotificationUpdate,
        summary="Mark a notification read or unread",
    ),
    "v1.feed.mark_all_read": Route(
        "Mark all one's notifications read",
        "notifications",
        shape=_object(marked_read=_COUNT),
        body=(messages.NotificationsRead,),
    ),
    "v1.webhooks.list_webhooks": _listing(
        "webhooks", messages.WebhookPublic, resources.WEBHOOK_QUERY, "List webhooks"
    ),
    "v1.webhooks.create_webhook": _create(
        "webhooks", messages.WebhookCreated, messages.WebhookCreate, wrapper="webhook"
    ),
    "v1.webhooks.get_webhook": Route("Get a webhook", "webhooks", messages.WebhookPublic),
    "v1.webhooks.update_webhook": _update(
        "webhooks", messages.WebhookPublic, messages.WebhookUpdate, wrapper="webhook"
    ),
    "v1.webhooks.list_deliveries": _listing(
        "webhooks",
        messages.DeliveryPublic,
        resources.DELIVERY_QUERY,
        "List a webhook's deliveries",
    ),
    "v1.webhooks.retry_delivery": Route(
        "Send a delivery again",
        "webhooks",
        messages.DeliveryPublic,
        body=(messages.DeliveryRetry,),
        success=202,
        conflicts=True,
    ),
    # durable commands
    "v1.operations.list_all": _listing(
        "operations", operations.OperationPublic, OPERATION_QUERY, "List operations"
    ),
    "v1.operations.get_operation": Route(
        "Get an operation (a durable command) and its outcome",
        "operations",
        operations.OperationPublic,
    ),
    # Box's own API
    "box.tasks.create_task": Route(
        "Create a Box task on a file",
        "box",
        box.BoxTaskPublic,
        body=(box.BoxTaskCreate,),
        success=201,
        durable=True,
        conflicts=True,
        box=True,
    ),
    "box.tasks.get_task": Route("Get a Box task", "box", box.BoxTaskPublic, box=True),
    "box.tasks.update_task": Route(
        "Update a Box task",
        "box",
        box.BoxTaskPublic,
        body=(box.BoxTaskUpdate,),
        durable=True,
        conflicts=True,
        box=True,
    ),
    "box.tasks.delete_task": Route(
        "Delete a Box task (cancels it)",
        "box",
        success=204,
        durable=True,
        conflicts=True,
        box=True,
    ),
    "box.tasks.list_file_tasks": Route(
        "List a file's Box tasks", "box", shape=_box_collection(box.BoxTaskPublic), box=True
    ),
    "box.tasks.list_task_assignments": Route(
        "List a Box task's assignments",
        "box",
        shape=_box_collection(box.BoxAssignmentPublic),
        box=True,
    ),
    "box.task_assignments.create_assignment": Route(
        "Assign a Box task",
        "box",
        box.BoxAssignmentPublic,
        body=(box.BoxAssignmentCreate,),
        success=201,
        durable=True,
        conflicts=True,
        box=True,
    ),
    "box.task_assignments.get_assignment": Route(
        "Get a Box task assignment", "box", box.BoxAssignmentPublic, box=True
    ),
    "box.task_assignments.update_assignment": Route(
        "Resolve a Box task assignment",
        "box",
        box.BoxAssignmentPublic,
        body=(box.BoxAssignmentUpdate,),
        durable=True,
        conflicts=True,
        box=True,
    ),
    "box.task_assignments.delete_assignment": Route(
        "Remove a Box task assignment",
        "box",
        success=204,
        durable=True,
        conflicts=True,
        box=True,
    ),
}
