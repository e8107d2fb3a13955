"""Each resource's shape: input validation names every bad field, with a code, and
ignores nothing; the field lists derived from the shapes leave no field out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks_service.commands.task_change import PLAIN_FIELDS
from tasks_service.core.errors import TaskValidationError
from tasks_service.core.validation import provided, validate
from tasks_service.store.schemas.calendars import (
    CALENDAR_READONLY,
    CalendarCreate,
    CalendarPublic,
    CalendarUpdate,
)
from tasks_service.store.schemas.directory import (
    ACCOUNT_READONLY,
    PERSON_READONLY,
    TEAM_READONLY,
    AccountPublic,
    AccountUpdate,
    PersonCreate,
    PersonPublic,
    PersonUpdate,
    TeamCreate,
    TeamPublic,
    TeamUpdate,
)
from tasks_service.store.schemas.messages import (
    WEBHOOK_READONLY,
    WebhookCreate,
    WebhookCreated,
    WebhookUpdate,
)
from tasks_service.store.schemas.policies import ESCALATION_POLICY_READONLY as POLICY_READONLY
from tasks_service.store.schemas.policies import (
    EscalationPolicyCreate,
    EscalationPolicyPublic,
    EscalationPolicyUpdate,
)
from tasks_service.store.schemas.shape import field_names, pick
from tasks_service.store.schemas.tasks import (
    TASK_COLLECTION_FIELDS,
    TASK_FIELDS,
    TASK_READONLY,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)
from tasks_service.store.schemas.workflows import (
    WORKFLOW_READONLY,
    WorkflowCreate,
    WorkflowPublic,
    WorkflowUpdate,
)


def errors_of(model: type, data: object, readonly: frozenset[str] = frozenset()) -> dict[str, str]:
    with pytest.raises(TaskValidationError) as info:
        validate(model, data, readonly)
    return {e["field"]: e["code"] for e in info.value.errors}


def test_minimal_task_is_valid() -> None:
    data = validate(TaskCreate, {"subject": " Fix it ", "category": "implementation"})
    assert data.subject == "Fix it"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"category": "implementation"}, "subject", "missing"),
        ({"subject": "x" * 256, "category": "implementation"}, "subject", "too_long"),
        ({"subject": "x", "category": "nope"}, "category", "invalid_value"),
        (
            {"subject": "x", "category": "approval", "planned_duration": 0},
            "planned_duration",
            "out_of_range",
        ),
        (
            {"subject": "x", "category": "approval", "planned_duration": 600001},
            "planned_duration",
            "out_of_range",
        ),
        (
            {"subject": "x", "category": "approval", "planned_duration": "60"},
            "planned_duration",
            "invalid_type",
        ),
        ({"subject": "x", "category": "approval", "urgent": "yes"}, "urgent", "invalid_type"),
        (
            {"subject": "x", "category": "approval", "due_at": "2026-01-01T10:00:00"},
            "due_at",
            "invalid_value",
        ),
        ({"subject": "x", "category": "approval", "due_at": "tomorrow"}, "due_at", "invalid_value"),
        ({"subject": "x", "category": "approval", "bogus": 1}, "bogus", "unknown_field"),
        ({"subject": "x", "category": "approval", "sourceID": "s" * 129}, "sourceID", "too_long"),
        ({"subject": "x", "category": "approval", "team_id": 2**31}, "team_id", "out_of_range"),
        (
            {"subject": "x", "category": "approval", "due_at": "9999-12-31T23:59:59-05:00"},
            "due_at",
            "invalid_value",
        ),
    ],
)
def test_bad_fields_are_named(body: dict[str, object], field: str, code: str) -> None:
    assert errors_of(TaskCreate, body).get(field) == code


@pytest.mark.parametrize(
    "field", ["id", "created_at", "finished_at", "completion_target_at", "alert_sent_at"]
)
def test_readonly_fields_are_refused(field: str) -> None:
    body = {"subject": "x", "category": "implementation", field: "2026-01-01T00:00:00Z"}
    assert errors_of(TaskCreate, body, TASK_READONLY) == {field: "readonly"}


def test_all_errors_reported_at_once() -> None:
    found = errors_of(TaskCreate, {"subject": "", "category": "x", "impact": "huge"})
    assert set(found) == {"subject", "category", "impact"}


def test_dates_become_utc() -> None:
    data = validate(
        TaskCreate,
        {
            "subject": "x",
            "category": "implementation",
            "due_at": "2026-03-01T10:00:00+02:00",
            "alert_at": "2026-02-01",
        },
    )
    assert data.due_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert data.alert_at == datetime(2026, 2, 1, tzinfo=UTC)


def test_update_tracks_what_was_sent_and_refuses_null_for_required() -> None:
    data = validate(TaskUpdate, {"impact": None, "subject": "new"})
    assert provided(data) == {"impact": None, "subject": "new"}
    assert errors_of(TaskUpdate, {"subject": None}) == {"subject": "not_nullable"}


def test_body_must_be_an_object() -> None:
    assert errors_of(TaskCreate, [1, 2]) == {"body": "invalid_type"}


SHAPES = [
    (TaskPublic, (TaskCreate, TaskUpdate), TASK_READONLY),
    (WorkflowPublic, (WorkflowCreate, WorkflowUpdate), WORKFLOW_READONLY),
    (PersonPublic, (PersonCreate, PersonUpdate), PERSON_READONLY),
    (TeamPublic, (TeamCreate, TeamUpdate), TEAM_READONLY),
    (AccountPublic, (AccountUpdate,), ACCOUNT_READONLY),
    (CalendarPublic, (CalendarCreate, CalendarUpdate), CALENDAR_READONLY),
    (EscalationPolicyPublic, (EscalationPolicyCreate, EscalationPolicyUpdate), POLICY_READONLY),
    (WebhookCreated, (WebhookCreate, WebhookUpdate), WEBHOOK_READONLY),
]


@pytest.mark.parametrize(
    ("public", "writable", "readonly"), SHAPES, ids=lambda v: getattr(v, "__name__", "")
)
def test_every_shown_field_is_writable_or_refused_as_readonly(public, writable, readonly) -> None:
    """The readonly lists derive from the shapes: what a GET shows is either taken by an
    input model under that name or refused as readonly when sent, never ignored."""
    names = {name for model in writable for name in (*model.model_fields, *field_names(model))}
    assert not readonly & names
    for field in field_names(public):
        assert field in names or field in readonly, (public.__name__, field)
        if field not in names:
            assert errors_of(writable[-1], {field: None}, readonly) == {field: "readonly"}


def test_every_writable_task_field_is_applied() -> None:
    """A writable field is copied onto the task (``PLAIN_FIELDS``, derived), decided
    (status, assignee, the calendar chosen for it), or written apart (labels, note, the
    workflow, its links in the plan, the template that fills it, the people given an
    assignment each, ``due_on`` as ``due_at``): none is dropped."""
    handled = {"status", "team_id", "member_id", "calendar_id", "labels", "note", "workflow_id"}
    handled |= {"predecessor_ids", "successor_ids", "template_id", "assignee_ids", "due_on"}
    assert set(TaskCreate.model_fields) <= set(PLAIN_FIELDS) | handled
    assert not set(PLAIN_FIELDS) & handled


def test_a_collection_shows_only_fields_of_its_resource() -> None:
    assert set(TASK_COLLECTION_FIELDS) < set(TASK_FIELDS) == set(field_names(TaskPublic))
    with pytest.raises(ValueError, match="colour"):
        pick(TaskPublic, ["id", "colour"])
