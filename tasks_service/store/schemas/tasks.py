"""A task's shape (002's field names): what a client may send, and what it is shown.

``TaskUpdate`` declares every writable field once, with PATCH's meaning (absent: left
as it is; ``null`` clears, where a field can be empty); ``TaskCreate`` adds what only a
create takes and makes subject and category required. ``TaskPublic`` is the REST form.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema
from pydantic_core import PydanticCustomError

from tasks_service.core.assignments import CompletionRule
from tasks_service.core.documented import DAY_PATTERN, FreeObject
from tasks_service.core.statuses import (
    APPROVAL_ONLY,
    WORK_ONLY,
    TaskCategory,
    TaskImpact,
    TaskStatus,
)
from tasks_service.core.validation import (
    FIRST_YEAR,
    LAST_YEAR,
    ONE_LINE_PATTERN,
    EffortMinutes,
    Id,
    InputModel,
    Integral,
    LabelName,
    LongText,
    Minutes,
    Moment,
    OneLine,
    Subject,
)
from tasks_service.store.schemas.shape import (
    PublicModel,
    Ref,
    SubjectRef,
    field_names,
    pick,
    readonly_fields,
)

#: A label is a word or a few: letters, digits and ``_ - . : + @``, spaces between. Not
#: ``/`` (``DELETE /tasks/:id/labels/:name`` names it in a path), ``,`` (``?labels=a,b``
#: lists them), nor ``%``, ``?``, ``#``, quotes or control characters; it starts with a
#: letter or digit, so ``..`` is not one.
_LABEL = re.compile(r"\w[\w .:+@-]*")


def _label_characters(name: str) -> str:
    if not _LABEL.fullmatch(name):
        raise PydanticCustomError(
            "invalid_format",
            "a label has letters, digits, spaces and _ - . : + @ only, and starts with a "
            "letter or digit",
        )
    return name


Label = Annotated[
    LabelName,
    AfterValidator(_label_characters),
    # (``\w`` as Python and the Rust regex engine read it: a letter or digit of any script)
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^ *\w[\w .:+@-]*$"}
    ),
]
#: The longest label name (``core.validation.LabelName``, the column's length).
MAX_LABEL_LENGTH = 100
Labels = Annotated[list[Label], Field(max_length=50)]
#: A task's links in its workflow's plan (``predecessor_ids`` / ``successor_ids``).
TaskIds = Annotated[list[Id], Field(max_length=1000)]
Source = Annotated[str, StringConstraints(max_length=30), OneLine]
SourceId = Annotated[str, StringConstraints(max_length=128), OneLine]
#: People given an assignment each (``core.assignments``): an approval task's approvers.
PersonIds = Annotated[list[Id], Field(max_length=100)]
RequiredApprovals = Annotated[StrictInt, Field(ge=1, le=100), Integral]
#: Box's item (a file of theirs: this service keeps its id as a reference).
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=64), OneLine]
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: Any) -> Any:
    """A day is a ``"YYYY-MM-DD"`` string (pydantic would also read a number as a Unix
    time, and a date-time at midnight as its day); a ``date`` from the Python API."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise PydanticCustomError("invalid_date", 'must be a date "YYYY-MM-DD"')
    return value


def _in_our_years(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "out_of_range", f"must be between the years {FIRST_YEAR} and {LAST_YEAR}"
        )
    return value


#: A day without a time (Trackops' ``due_on``).
Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_in_our_years),
    WithJsonSchema({"type": "string", "pattern": f"^{DAY_PATTERN}$"}),
]
_AddressLine = Annotated[str, StringConstraints(max_length=255), OneLine]


def _zip_code(value: Any) -> str | int:
    """A zip or postal code as given: a text, or a whole number (Trackops' example sends
    80202), of up to 20 characters or digits. One check for both, so that an error
    names ``address.zip`` rather than each type it might have been."""
    if isinstance(value, float) and value.is_integer():  # 80202.0 is JSON's 80202
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError("invalid_type", "must be a text or a whole number")
    if isinstance(value, int) and value < 0:
        raise PydanticCustomError("invalid_value", "a number cannot be negative")
    if len(str(value)) > 20:
        raise PydanticCustomError("too_long", "should have at most 20 characters")
    return value


#: (``OneLine`` runs first: it refuses control characters in a text.)
ZipCode = Annotated[
    str | int,
    PlainValidator(_zip_code),
    OneLine,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": 20, "pattern": ONE_LINE_PATTERN},
                {"type": "integer", "minimum": 0, "maximum": 10**20 - 1},
            ]
        }
    ),
]


class Address(InputModel):
    """Trackops' address object (001), kept and shown as it was given."""

    address_1: _AddressLine | None = None
    address_2: _AddressLine | None = None
    address_3: _AddressLine | None = None
    city: _AddressLine | None = None
    # "the 2 or 3 character state or province code"; empty when it does not apply
    state: Annotated[str, StringConstraints(pattern=r"^([A-Za-z0-9]{2,3})?$")] | None = None
    zip: ZipCode | None = None
    country: Annotated[str, StringConstraints(pattern=r"^([A-Za-z]{2})?$")] | None = None


def _given(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"properties": properties, "required": list(properties)}


def _status_not(statuses: frozenset[TaskStatus]) -> dict[str, Any]:
    return {"properties": {"status": {"not": {"enum": sorted(s.value for s in statuses)}}}}


#: The rules between a body's own fields, as the document states them: one due date
#: (``TaskUpdate._one_due_date``); a status the category in the same body has
#: (``statuses.ensure_status_fits_category``); ``waiting_until`` beside a status only
#: with ``waiting_for`` (``task_change``). The same rules against what is stored (a
#: status alone, against the task's category) no schema can state.
_BODY_RULES: dict[str, Any] = {
    "allOf": [
        {"not": {"required": ["due_on", "due_at"]}},
        {
            "if": _given(category={"const": TaskCategory.approval.value}),
            "then": _status_not(WORK_ONLY),
            "else": {"if": _given(category={"type": "string"}), "then": _status_not(APPROVAL_ONLY)},
        },
        {
            "if": _given(waiting_until={"type": "string"}, status={"type": "string"}),
            "then": {"properties": {"status": {"const": TaskStatus.waiting_for.value}}},
        },
    ]
}


class TaskUpdate(InputModel):
    """Every field optional; only the fields sent are changed, ``null`` clears."""

    model_config = ConfigDict(**InputModel.model_config, json_schema_extra=_BODY_RULES)

    subject: Subject = None  # type: ignore[assignment]  # absent is fine, null is not
    category: TaskCategory = None  # type: ignore[assignment]
    impact: TaskImpact | None = None
    status: TaskStatus = None  # type: ignore[assignment]
    team_id: Id | None = None
    member_id: Id | None = None
    instructions: LongText | None = None
    note: LongText | None = None
    planned_duration: Minutes | None = None
    planned_effort: EffortMinutes | None = None
    start_at: Moment | None = None
    waiting_until: Moment | None = None
    due_at: Moment | None = None
    # Trackops' due date, a day: due at its end in the zone of the task's calendar
    # (``commands.task_commands.due_on_as_due_at``); ``due_at`` written another way.
    due_on: Day | None = None
    alert_at: Moment | None = None
    urgent: StrictBool = None  # type: ignore[assignment]
    work_hours_are_24x7: StrictBool = None  # type: ignore[assignment]
    # The calendar chosen for the task itself (Trackops' ``calendar_id``): it comes before
    # its team's, workflow's and account's (the one in use is shown as ``calendar``).
    calendar_id: Id | None = None
    source: Source | None = None
    source_id: SourceId | None = Field(default=None, alias="sourceID")
    custom_fields: FreeObject | None = None
    labels: Labels = None  # type: ignore[assignment]
    # Its place in its workflow's plan (``commands.workflow_plan``): the links given
    # replace the task's own (on create: its first); the failure task and the phase
    # are tasks and phases of the same workflow.
    predecessor_ids: TaskIds = None  # type: ignore[assignment]
    successor_ids: TaskIds = None  # type: ignore[assignment]
    failure_task_id: Id | None = None
    phase_id: Id | None = None
    # Its assignments (``core.assignments``): an approval task's quorum; Box's rule.
    required_approvals: RequiredApprovals = None  # type: ignore[assignment]
    completion_rule: CompletionRule | None = None
    # What other systems know it by: Box's item, Trackops' case, subject, case service
    # and address.
    item_id: ItemId | None = None
    casefile_id: Id | None = None
    subject_id: Id | None = None
    case_service_id: Id | None = None
    address: Address | None = None

    @model_validator(mode="after")
    def _one_due_date(self) -> TaskUpdate:
        if {"due_on", "due_at"} <= self.model_fields_set:
            raise PydanticCustomError(
                "invalid_value",
                "due_on (a day) and due_at (a moment) set the same due date: send one",
                {"field": "due_on"},
            )
        return self


class TaskCreate(TaskUpdate):
    """A new task: subject and category required, the rest as for an update; a task's
    workflow is chosen here only (``workflow_id``, or the path of a workflow's tasks)."""

    subject: Subject
    category: TaskCategory
    status: TaskStatus | None = None  # type: ignore[assignment]  # null: registered
    workflow_id: Id | None = None
    template_id: Id | None = None  # its fields fill what the body does not give
    urgent: StrictBool = False
    work_hours_are_24x7: StrictBool = False
    labels: Labels = []
    # People given an assignment each as it is made (Trackops' ``users_list``)
    assignee_ids: PersonIds = []


class TaskCreateFromTemplate(TaskCreate):
    """A new task made from a task template (``template_id``): the template fills what
    the body does not give, subject and category included."""

    subject: Subject = None  # type: ignore[assignment]
    category: TaskCategory = None  # type: ignore[assignment]
    template_id: Id


class WorkflowTaskCreate(TaskCreate):
    """``POST /v1/workflows/:id/tasks``: its workflow is the path's (``workflow_id`` is
    refused there, as readonly). The document's shape; the view holds the body to
    ``TaskCreate`` with ``workflow_id`` readonly."""

    workflow_id: SkipJsonSchema[None] = None


class WorkflowTaskCreateFromTemplate(TaskCreateFromTemplate):
    """``WorkflowTaskCreate`` from a task template."""

    workflow_id: SkipJsonSchema[None] = None


def task_create_model(body: Any) -> type[TaskCreate]:
    """The shape a create body is held to: ``TaskCreateFromTemplate`` when it names a
    template, else ``TaskCreate`` (subject and category required)."""
    named = isinstance(body, dict) and body.get("template_id") is not None
    return TaskCreateFromTemplate if named else TaskCreate


class NoteCreate(InputModel):
    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=65536),
        # not blank once stripped, no NUL (``validate``): as the document says
        Field(json_schema_extra={"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"}),
    ]


class LabelsAdd(InputModel):
    names: Annotated[list[Label], Field(min_length=1, max_length=50)]


class WorkflowRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    subject: str


class TaskPublic(PublicModel):
    """A task as the API shows it (002)."""

    id: int
    subject: str
    category: TaskCategory
    impact: TaskImpact | None
    status: TaskStatus
    team: Ref | None
    member: Ref | None
    workflow: WorkflowRef | None
    manager: Ref | None  # the workflow's
    created_by: Ref | None
    instructions: str | None
    planned_duration: int | None
    planned_effort: int | None
    urgent: bool
    work_hours_are_24x7: bool
    source: str | None
    source_id: str | None = Field(alias="sourceID")
    custom_fields: dict[str, Any] | None
    labels: list[str]
    start_at: datetime | None
    waiting_until: datetime | None
    assigned_at: datetime | None
    finished_at: datetime | None
    completion_target_at: datetime | None
    resolution_duration: int | None  # service minutes from assignment to finish
    calendar: Ref | None  # the one its target runs on (none: 24x7)
    overdue: bool
    due_at: datetime | None
    alert_at: datetime | None
    alert_sent_at: datetime | None
    phase: Ref | None
    failure_task: SubjectRef | None  # assigned when this one fails or is rejected
    template: SubjectRef | None
    anticipated_assignment_at: datetime | None
    required_approvals: int
    # approvers to add before the approvals can reach ``required_approvals``
    missing_approvers: int
    rejection_count: int
    completion_rule: CompletionRule | None
    item_id: str | None
    casefile_id: int | None
    subject_id: int | None
    case_service_id: int | None
    address: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class PredecessorCreate(InputModel):
    """``POST /tasks/:id/predecessors`` (4me's form: ``POST /tasks/:id/predecessors/:task_id``)."""

    predecessor_id: Id


class SuccessorCreate(InputModel):
    """``POST /tasks/:id/successors`` (4me's form: ``POST /tasks/:id/successors/:task_id``)."""

    successor_id: Id


class LabelPublic(PublicModel):
    """One of a task's labels (``GET /tasks/:id/labels``)."""

    name: str
    created_at: datetime


class NotePublic(PublicModel):
    id: int
    text: str
    person: Ref | None
    created_at: datetime


class EventPublic(PublicModel):
    """One change to a task: ``changes`` maps a field to ``[old, new]``."""

    id: int
    action: str
    person: Ref | None
    changes: dict[str, Any]
    created_at: datetime


#: Every field of a task's REST form: what ``?fields=`` may ask for.
TASK_FIELDS = field_names(TaskPublic)
#: Fields that collections of tasks show by default (002, "Collection Fields").
TASK_COLLECTION_FIELDS = pick(
    TaskPublic,
    (
        "id",
        "sourceID",
        "subject",
        "impact",
        "category",
        "status",
        "team",
        "member",
        "completion_target_at",
        "finished_at",
        "created_at",
        "updated_at",
    ),
)
#: 002's readonly task fields that this service does not show (yet).
_NOT_SHOWN_READONLY = ("new_assignment",)
TASK_READONLY = readonly_fields(TaskPublic, TaskCreate, also=_NOT_SHOWN_READONLY)
#: On a change: also the workflow, which only a create chooses.
TASK_UPDATE_READONLY = readonly_fields(
    TaskPublic,
    TaskUpdate,
    also=(*_NOT_SHOWN_READONLY, "workflow_id", "template_id", "assignee_ids"),
)
NOTE_READONLY = readonly_fields(NotePublic, NoteCreate)
