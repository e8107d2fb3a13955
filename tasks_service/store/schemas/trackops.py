"""Trackops' task bodies (001) read in this service's shape (002's names), so that the
example request of Trackops' documentation works as it is on ``POST /v1/tasks``.

A create body is Trackops' when it names a field of Trackops that 4me's tasks do not
have (``TRACKOPS_OWN``): ``title``, ``body``, ``due_on``, ``users_list``, ``calendar_id``,
``casefile_id``, ``subject_id``, ``case_service_id`` or ``address``. Its names are read as
ours (``RENAMED``: ``title`` is ``subject``, ``body`` is ``instructions``, ``users_list``
is ``assignee_ids``), and it needs no ``category`` (``implementation`` unless it names
one, or a template that gives one). The other Trackops fields are fields of ours under
the same name. Any task body, create or change, may give Trackops' statuses
(``BODY_STATUSES``), as a list's ``?status=`` may.

A body is validated once, after it is read so (``validate_create``,
``validate_update``), and its errors name each field as the client sent it:
``title``, ``users_list.0``, ``body``. Sending one field under both names (``title``
and ``subject``) is an error naming Trackops' name.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from pydantic import BaseModel

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.statuses import TRACKOPS_STATUSES, TaskCategory, TaskStatus
from tasks_service.core.validation import validate
from tasks_service.store.schemas.tasks import TaskCreate, TaskUpdate, task_create_model

M = TypeVar("M", bound=BaseModel)

#: Trackops' names of fields that this service names otherwise: theirs -> ours.
RENAMED: Final = {"title": "subject", "body": "instructions", "users_list": "assignee_ids"}
#: The fields of Trackops' create body that 4me's tasks do not have: one of them makes a
#: create body Trackops'. (``alert_at`` and ``status`` are 4me's too.)
TRACKOPS_OWN: Final = frozenset(
    {
        *RENAMED,
        "due_on",
        "calendar_id",
        "casefile_id",
        "subject_id",
        "case_service_id",
        "address",
    }
)
#: Trackops' statuses in a body, each as one status of 002: the first of those it stands
#: for in a list's ``?status=`` (``statuses.TRACKOPS_STATUSES``): ``none`` is
#: registered, ``needs_action`` assigned, ``complete`` completed (``in_progress`` is
#: 002's own).
BODY_STATUSES: Final = {
    name: TaskStatus(statuses[0]) for name, statuses in TRACKOPS_STATUSES.items()
}


def is_trackops(body: Any) -> bool:
    """Whether a create body is Trackops' (it names one of ``TRACKOPS_OWN``)."""
    return isinstance(body, dict) and not TRACKOPS_OWN.isdisjoint(body)


def validate_create(body: Any, readonly: frozenset[str] = frozenset()) -> TaskCreate:
    """A create body, 4me's or Trackops', held to its shape (``task_create_model``: a
    template's fills what it does not give). Raises: TaskValidationError, naming the
    fields as sent."""
    trackops = is_trackops(body)
    data, sent_as, errors = _read(body)
    if trackops and isinstance(data, dict):
        if "subject" not in data:
            sent_as["subject"] = "title"  # it is missing: Trackops calls it title
        if data.get("template_id") is None:
            data.setdefault("category", TaskCategory.implementation.value)
    return _validated(task_create_model(data), data, readonly, sent_as, errors)


def sent_as(body: Any) -> dict[str, str]:
    """For each field a body sent under Trackops' name, that name (ours -> theirs):
    what a refusal by the command (a person of ``users_list`` who is not the
    account's) names the field by."""
    return _read(body)[1]


def validate_update(body: Any, readonly: frozenset[str] = frozenset()) -> TaskUpdate:
    """A change, in 4me's names or Trackops'. Raises: TaskValidationError, naming the
    fields as sent."""
    data, sent_as, errors = _read(body)
    return _validated(TaskUpdate, data, readonly, sent_as, errors)


def _read(body: Any) -> tuple[Any, dict[str, str], list[dict[str, str]]]:
    """The body in our names; for each field renamed, the name the client sent it by
    (ours -> theirs); and the fields sent under both names (each kept under ours)."""
    if not isinstance(body, dict):
        return body, {}, []  # ``validate`` says what a body must be
    data = dict(body)
    sent_as: dict[str, str] = {}
    errors = []
    for theirs, ours in RENAMED.items():
        if theirs not in data:
            continue
        value = data.pop(theirs)
        if ours in data:
            message = f"is {ours} by another name: send one of {theirs} and {ours}"
            errors.append({"field": theirs, "code": "invalid_value", "message": message})
            continue
        data[ours] = value
        sent_as[ours] = theirs
    status = data.get("status")
    if isinstance(status, str) and status in BODY_STATUSES:
        data["status"] = BODY_STATUSES[status].value
    return data, sent_as, errors


def _validated(
    model: type[M],
    data: Any,
    readonly: frozenset[str],
    sent_as: dict[str, str],
    errors: list[dict[str, str]],
) -> M:
    """``validate``, with every error (``errors`` first) naming its field as sent."""
    try:
        result = validate(model, data, readonly)
    except TaskValidationError as exc:
        errors = [*errors, *(_as_sent(error, sent_as) for error in exc.errors)]
    if errors:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise TaskValidationError(f"Validation failed: {summary}", errors=errors)
    return result


def _as_sent(error: dict[str, str], sent_as: dict[str, str]) -> dict[str, str]:
    """An error about one of our fields, named as the client sent it (``assignee_ids.0``
    is ``users_list.0``)."""
    first, dot, rest = error["field"].partition(".")
    if first not in sent_as:
        return error
    return {**error, "field": f"{sent_as[first]}{dot}{rest}"}
