"""Box's shapes (003) of a task and a task assignment, under ``/2.0``: what a Box
client sends, and what it is shown.

Box's words for this service's things: a task on a file (``item``, an external
reference kept as the task's ``item_id``: this service has no files); ``action``
``review`` (an approval task) or ``complete`` (any other); ``message`` (the task's
instructions); an assignment's ``resolution_state`` (``core.assignments``). Ids are
strings of digits, as in Box (``"id": "123"``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tasks_service.core.assignments import CompletionRule
from tasks_service.core.statuses import TaskCategory
from tasks_service.core.validation import InputModel, LongText, Moment, OneLine
from tasks_service.store.schemas.shape import PublicModel, readonly_fields


class BoxAction(StrEnum):
    """What a Box task asks of its assignees: approve or reject (``review``), or do it
    (``complete``)."""

    review = "review"
    complete = "complete"

    @property
    def category(self) -> TaskCategory:
        """The task's category: a review is an approval task; a complete task is new
        work (``implementation``)."""
        return TaskCategory.approval if self is BoxAction.review else TaskCategory.implementation

    @classmethod
    def of(cls, category: TaskCategory | str) -> BoxAction:
        return cls.review if category == TaskCategory.approval else cls.complete


class BoxResolutionState(StrEnum):
    """An assignment's state as Box names it: ``incomplete`` until its person decides;
    ``approved`` / ``rejected`` (review) or ``completed`` (complete)."""

    incomplete = "incomplete"
    approved = "approved"
    rejected = "rejected"
    completed = "completed"


#: The resolution states each action allows (003, "Task actions").
RESOLUTION_STATES: dict[BoxAction, frozenset[BoxResolutionState]] = {
    BoxAction.review: frozenset(
        {BoxResolutionState.incomplete, BoxResolutionState.approved, BoxResolutionState.rejected}
    ),
    BoxAction.complete: frozenset({BoxResolutionState.incomplete, BoxResolutionState.completed}),
}


def _digits(value: str) -> str:
    if not value.isascii() or not value.isdigit():
        raise PydanticCustomError(
            "invalid_format", 'an id is a string of digits, e.g. "123"', {"given": value[:64]}
        )
    return value


#: One of this service's ids, written as Box writes ids: ``"123"``. A string of digits
#: that names no row (``"0"``, beyond any id) is not found (404), not malformed.
_DIGITS = r"^[0-9]+$"
BoxId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40),
    AfterValidator(_digits),
    Field(json_schema_extra={"pattern": _DIGITS}),
]
#: Box's file id (the task's ``item_id``, kept as given).
FileId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_digits),
    Field(json_schema_extra={"pattern": _DIGITS}),
]
Login = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), OneLine
]


def is_file_id(text: str) -> bool:
    """Whether ``text`` can be a file's id (a path's ``/files/:file_id``)."""
    return 1 <= len(text) <= 64 and text.isascii() and text.isdigit()


def row_id(box_id: str) -> int:
    """A Box id as this service's id (0 when it is no id at all: found nowhere)."""
    value = int(box_id)
    return value if str(value) == box_id else 0


class BoxItem(InputModel):
    """The file a task is on: ``{"type": "file", "id": "11446498"}``."""

    type: Literal["file"] = "file"
    id: FileId


class BoxTaskCreate(InputModel):
    """``POST /2.0/tasks``: a task on a file; ``review`` and ``all_assignees`` unless
    said otherwise (Box's defaults)."""

    item: BoxItem
    action: BoxAction = BoxAction.review
    message: LongText | None = None
    due_at: Moment | None = None
    completion_rule: CompletionRule = CompletionRule.all_assignees


class BoxTaskUpdate(InputModel):
    """``PUT /2.0/tasks/:id``: only what is sent changes; ``due_at: null`` clears it."""

    action: BoxAction = None  # type: ignore[assignment]  # absent is fine, null is not
    message: LongText | None = None
    due_at: Moment | None = None
    completion_rule: CompletionRule = None  # type: ignore[assignment]


class BoxTaskRef(InputModel):
    type: Literal["task"] = "task"
    id: BoxId


def _by_id_or_login(schema: dict[str, Any]) -> None:
    """The document's ``assign_to``: ``{"id"}`` or ``{"login"}`` (the other absent or
    null), as two shapes, which is what ``_one_of_them`` holds it to."""
    fields = schema.pop("properties")
    schema.pop("additionalProperties", None)
    text = {name: field["anyOf"][0] for name, field in fields.items()}  # (not its null)
    schema["anyOf"] = [
        {
            "type": "object",
            "properties": {given: text[given], other: {"type": "null"}},
            "required": [given],
            "additionalProperties": False,
        }
        for given, other in (("id", "login"), ("login", "id"))
    ]


class BoxAssignTo(InputModel):
    """The person to assign: by id, or by ``login`` (their primary email); one of them."""

    model_config = ConfigDict(**InputModel.model_config, json_schema_extra=_by_id_or_login)

    id: BoxId | None = None
    login: Login | None = None

    @model_validator(mode="after")
    def _one_of_them(self) -> BoxAssignTo:
        if (self.id is None) == (self.login is None):
            raise ValueError("give the person's id or their login (email), one of them")
        return self


class BoxAssignmentCreate(InputModel):
    """``POST /2.0/task_assignments``: ``{"task": {"id"}, "assign_to": {"id"} or {"login"}}``."""

    task: BoxTaskRef
    assign_to: BoxAssignTo


class BoxAssignmentUpdate(InputModel):
    """``PUT /2.0/task_assignments/:id``: the person's decision (``resolution_state``,
    one the task's action allows), with a ``message``."""

    message: LongText | None = None
    resolution_state: BoxResolutionState = None  # type: ignore[assignment]


class BoxFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["file"]
    id: str


class BoxUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["user"]
    id: str
    name: str
    login: str


class BoxAssignmentPublic(PublicModel):
    """A task assignment as Box shows it."""

    type: Literal["task_assignment"]
    id: str
    item: BoxFile | None
    assigned_to: BoxUser | None
    assigned_by: BoxUser | None
    message: str
    resolution_state: BoxResolutionState
    assigned_at: datetime | None
    completed_at: datetime | None
    reminded_at: datetime | None


class BoxAssignments(BaseModel):
    """A collection as Box shows one (no pages: Box's task lists have none)."""

    model_config = ConfigDict(extra="forbid")

    total_count: int
    entries: list[Any]


class BoxTaskPublic(PublicModel):
    """A task as Box shows it: ``is_completed`` once the task is finished."""

    type: Literal["task"]
    id: str
    item: BoxFile | None
    due_at: datetime | None
    action: BoxAction
    message: str
    completion_rule: CompletionRule | None
    is_completed: bool
    created_by: BoxUser | None
    created_at: datetime
    task_assignment_collection: BoxAssignments


BOX_TASK_READONLY = readonly_fields(BoxTaskPublic, BoxTaskCreate, BoxTaskUpdate)
BOX_ASSIGNMENT_READONLY = readonly_fields(
    BoxAssignmentPublic, BoxAssignmentCreate, BoxAssignmentUpdate
)
