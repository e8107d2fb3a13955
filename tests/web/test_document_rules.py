"""Each rule between fields that the OpenAPI document states in JSON Schema beside the
validator that holds a body to it: both are given the same bodies and must agree, so
that a change to one without the other fails here rather than only in a fuzz run.

Where the validator is a command's (a task's status against the category in the same
body, ``waiting_until`` beside a status), the bodies go through the REST API, with the
real worker. (``WorkflowUpdate``'s rules, a note and a completion reason going with a
change of status, are not here: the command decides them against the workflow's state
too, which no schema sees; ``tests/web/test_api_fuzz.py`` holds the document to them.)
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from tasks_service.core.errors import TaskError
from tasks_service.core.validation import validate
from tasks_service.store.schemas.box import BoxAssignTo
from tasks_service.store.schemas.calendars import CalendarCreate
from tasks_service.store.schemas.policies import EscalationLevel
from tasks_service.store.schemas.tasks import TaskCreate, TaskUpdate
from tests.helpers import Api

MONDAY = [{"weekday": "monday", "start": "09:00", "end": "17:00"}]
DUE_AT = "2026-12-03T10:00:00Z"

#: (model, body, accepted): the bodies each side is given, and what both must answer.
CASES: list[tuple[type[BaseModel], dict[str, Any], bool]] = [
    # one due date: a day or a moment
    (TaskUpdate, {}, True),
    (TaskUpdate, {"due_on": "2026-12-03"}, True),
    (TaskUpdate, {"due_at": DUE_AT}, True),
    (TaskUpdate, {"due_on": "2026-12-03", "due_at": DUE_AT}, False),
    (TaskUpdate, {"due_on": None, "due_at": DUE_AT}, False),
    # service hours, or around the clock; a subdivision's country
    (CalendarCreate, {"name": "A", "is_24x7": True}, True),
    (CalendarCreate, {"name": "A", "hours": MONDAY}, True),
    (CalendarCreate, {"name": "A"}, False),
    (CalendarCreate, {"name": "A", "hours": [], "is_24x7": False}, False),
    (CalendarCreate, {"name": "A", "is_24x7": True, "holiday_subdivision": "CA"}, False),
    (
        CalendarCreate,
        {"name": "A", "is_24x7": True, "holiday_country": "US", "holiday_subdivision": "CA"},
        True,
    ),
    # a percent level alone
    (EscalationLevel, {"percent": 50}, True),
    (EscalationLevel, {"percent": 50, "offset_minutes": 0}, True),
    (EscalationLevel, {"percent": 50, "offset_minutes": 5}, False),
    (EscalationLevel, {"percent": 50, "relative_to": "due_at"}, False),
    (EscalationLevel, {"offset_minutes": 5, "relative_to": "due_at"}, True),
    (EscalationLevel, {"percent": None, "relative_to": "due_at"}, True),
    # Box's person: by id or by login, one of them
    (BoxAssignTo, {"id": "12"}, True),
    (BoxAssignTo, {"login": "ann@example.com"}, True),
    (BoxAssignTo, {"id": None, "login": "ann@example.com"}, True),
    (BoxAssignTo, {"id": "12", "login": "ann@example.com"}, False),
    (BoxAssignTo, {"id": None, "login": None}, False),
    (BoxAssignTo, {}, False),
]


@pytest.fixture(scope="module")
def components(app: Flask) -> dict[str, Any]:
    document = app.test_client().get("/v1/openapi.json").get_json()
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


def _documented(components: dict[str, Any], model: type[BaseModel]) -> Draft202012Validator:
    """A validator of the model's schema as the document gives it (its input form)."""
    names = [n for n in (model.__name__, f"{model.__name__}-Input") if n in components]
    assert names, f"{model.__name__} is not in the document's components"
    root = {"$ref": f"#/components/schemas/{names[-1]}", "components": {"schemas": components}}
    return Draft202012Validator(root)


def _validates(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        validate(model, body)
    except TaskError:
        return False
    return True


@pytest.mark.parametrize(
    ("model", "body", "accepted"),
    CASES,
    ids=[f"{m.__name__}-{n}" for n, (m, _b, _a) in enumerate(CASES)],
)
def test_the_document_and_the_validator_agree(
    components: dict[str, Any], model: type[BaseModel], body: dict[str, Any], accepted: bool
) -> None:
    assert _documented(components, model).is_valid(body) is accepted, "the document"
    assert _validates(model, body) is accepted, "the validator"


LATER = "2030-01-01T09:00:00Z"
TASK = {"subject": "Ruled", "category": "implementation"}
APPROVAL = {"subject": "Ruled", "category": "approval"}

#: (body, accepted) of POST /v1/tasks.
CREATES: list[tuple[dict[str, Any], bool]] = [
    # a status the category in the same body has
    ({**APPROVAL, "status": "registered"}, True),
    ({**APPROVAL, "status": "completed"}, False),
    ({**APPROVAL, "status": "failed"}, False),
    ({**TASK, "status": "approved"}, False),
    ({**TASK, "status": "rejected"}, False),
    # waiting_until beside a status: only waiting_for's
    ({**TASK, "status": "waiting_for", "waiting_until": LATER}, True),
    ({**TASK, "status": "registered", "waiting_until": LATER}, False),
    ({**TASK, "status": "registered", "waiting_until": None}, True),
]


@pytest.mark.parametrize(("body", "accepted"), CREATES, ids=[str(n) for n in range(len(CREATES))])
def test_the_document_and_a_tasks_create_agree(
    components: dict[str, Any], api: Api, body: dict[str, Any], accepted: bool
) -> None:
    assert _documented(components, TaskCreate).is_valid(body) is accepted, "the document"
    answer = api.post("/v1/tasks", json=body)
    assert (answer.status_code in (200, 201, 202)) is accepted, answer.get_json()
    if not accepted:
        assert answer.status_code in (409, 422), answer.get_json()
