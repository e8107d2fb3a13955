"""Input validation: every bad field named, with a code; nothing silently ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.validation import provided, validate
from tasks_service.store.schemas.tasks import TASK_READONLY, TaskCreate, TaskUpdate


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
