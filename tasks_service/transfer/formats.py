"""Task files: the REST form of tasks as JSON or CSV, and files read back as create bodies.

JSON is a list of task objects as ``GET /v1/tasks`` shows them. CSV has one column per
field, a reference (``team``, ``member``...) as its id column (``team_id``), lists and
objects as JSON text, ``true``/``false``, and an empty cell for nothing. Every field
list derives from the task's shape (``store.schemas.tasks``): what a create takes is
what a file may give, what a client cannot write is left out when read back.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import IO, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from tasks_service.core.errors import TaskError
from tasks_service.store.schemas import trackops
from tasks_service.store.schemas.tasks import TASK_READONLY, TaskCreate, TaskPublic

FORMATS = ("json", "csv")


class FileRefused(TaskError):
    """The file as a whole cannot be read (not a JSON list, a CSV header naming no
    field): nothing of it is imported."""

    code = "invalid_file"


def _plain_type(annotation: Any) -> Any:
    """``X | None`` is ``X``, ``Annotated[X, ...]`` too; ``list[str]`` is ``list``."""
    while get_origin(annotation) in (Union, UnionType, Annotated):
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        else:
            annotation = next(a for a in get_args(annotation) if a is not type(None))
    return get_origin(annotation) or annotation


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


#: The references a task shows as objects (``{"id", "name"}``), by field.
REFERENCES = tuple(
    name
    for name, info in TaskPublic.model_fields.items()
    if _is_model(_plain_type(info.annotation))
)
#: What a create takes, by name and by alias (``source_id``, ``sourceID``).
_WRITABLE = {
    key: info
    for name, info in TaskCreate.model_fields.items()
    for key in {name, info.alias or name}
}
#: A reference that goes back in as a create's id field (``team`` -> ``team_id``). Not
#: ``calendar``: it shows the calendar in use (its team's, workflow's...), while
#: ``calendar_id`` chooses one for the task itself.
CARRIED = {
    name: f"{name}_id" for name in REFERENCES if f"{name}_id" in _WRITABLE and name != "calendar"
}
#: A reference's CSV column: its id (``calendar`` keeps its name, see ``CARRIED``).
COLUMNS = {name: name if name == "calendar" else f"{name}_id" for name in REFERENCES}
#: What an import leaves out: what a client cannot write (also as its CSV column).
IGNORED = (TASK_READONLY - set(CARRIED)) | {COLUMNS[n] for n in REFERENCES if n not in CARRIED}


def _cell_kind(info: Any) -> str:
    kind = _plain_type(info.annotation)
    if kind is bool:
        return "boolean"
    if kind is int:
        return "integer"
    return "json" if kind in (list, dict) or _is_model(kind) else "text"


#: How a CSV cell reads, by the column's field: text, a whole number, true/false, JSON.
CELL_KINDS = {name: _cell_kind(info) for name, info in _WRITABLE.items()}
CELL_KINDS |= {theirs: CELL_KINDS[ours] for theirs, ours in trackops.RENAMED.items()}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# -- writing ------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class TaskWriter:
    """Tasks in their REST form to a JSON list or CSV rows, as they come."""

    def __init__(self, out: IO[str], fmt: str, fields: Sequence[str]) -> None:
        self.out, self.fmt, self.fields, self.count = out, fmt, tuple(fields), 0
        self.rows = csv.writer(out)
        if fmt == "csv":
            self.rows.writerow([COLUMNS.get(name, name) for name in self.fields])
        else:
            out.write("[")

    def write(self, items: Sequence[dict[str, Any]]) -> None:
        for item in items:
            if self.fmt == "csv":
                self.rows.writerow([self._cell(name, item[name]) for name in self.fields])
            else:
                shown = {name: item[name] for name in self.fields}
                self.out.write(("," if self.count else "") + "\n")
                self.out.write(json.dumps(shown, ensure_ascii=False))
            self.count += 1

    def _cell(self, name: str, value: Any) -> str:
        if name in COLUMNS:
            return "" if value is None else str(value["id"])
        return _csv_cell(value)

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A row of the file as a create body (``errors``: why it cannot be one)."""

    row: int
    line: int | None
    body: Any
    errors: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, row: int, line: int | None, body: Any, errors: list[dict[str, str]]) -> Row:
        if isinstance(body, dict) and body.get("labels") == []:
            # a new task has none: not giving them spares its create a write of its own
            body = {name: value for name, value in body.items() if name != "labels"}
        return cls(row, line, body, errors)


def _error(name: str, code: str, message: str) -> dict[str, str]:
    return {"field": name, "code": code, "message": message}


def _json_body(item: Any) -> tuple[Any, list[dict[str, str]]]:
    """A task object (an export's, or a POST body, ``{"task": {...}}`` too) as a create
    body: what cannot be written left out, a reference object as its id field."""
    if isinstance(item, dict) and set(item) == {"task"} and isinstance(item["task"], dict):
        item = item["task"]
    if not isinstance(item, dict):
        return item, []  # ``validate`` says what a body must be
    body: dict[str, Any] = {}
    errors = []
    for name, value in item.items():
        if name in CARRIED:
            target = CARRIED[name]
            if value is not None and not (isinstance(value, dict) and "id" in value):
                errors.append(_error(name, "invalid_type", "must be an object with an id"))
                continue
            ref = None if value is None else value["id"]
            if target in item and item[target] != ref:
                errors.append(_error(target, "conflict", f"is not the id of {name}"))
                continue
            body[target] = ref
        elif name not in IGNORED:
            body[name] = value
    return body, errors


def read_json(text: str) -> list[Row]:
    """The items of a JSON list, each with the line it starts on.

    Raises: FileRefused (not JSON, or not a list)."""
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    space = re.compile(r"\s*")
    index = space.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("[", index):
        try:
            json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise FileRefused(f"the file is not JSON: {exc}") from None
        raise FileRefused("the file is not a JSON list of tasks ([{...}, ...])")
    rows: list[Row] = []
    line, seen = 1, 0
    index = space.match(text, index + 1).end()  # type: ignore[union-attr]
    while not text.startswith("]", index):
        line += text.count("\n", seen, index)
        seen = index
        try:
            item, index = decoder.raw_decode(text, index)
        except ValueError as exc:
            raise FileRefused(f"the file is not JSON: {exc}") from None
        body, errors = _json_body(item)
        rows.append(Row.of(len(rows) + 1, line, body, errors))
        index = space.match(text, index).end()  # type: ignore[union-attr]
        if text.startswith(",", index):
            index = space.match(text, index + 1).end()  # type: ignore[union-attr]
        elif not text.startswith("]", index):
            where = text.count("\n", 0, index) + 1
            raise FileRefused(f"the file is not JSON: ',' or ']' expected on line {where}")
    if text[index + 1 :].strip():
        raise FileRefused("the file is not JSON: more after the list's end")
    return rows


def _cell(name: str, text: str) -> tuple[Any, list[dict[str, str]]]:
    """A CSV cell as its field's JSON value; what does not read so goes to validation
    as it is (``"3x"`` for an id is refused there, as a POST's would be)."""
    kind = CELL_KINDS[name]
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", text.strip()):
        return int(text), []
    if kind == "boolean" and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true", []
    if kind == "json":
        try:
            return json.loads(text, parse_constant=_reject_constant), []
        except ValueError as exc:
            return None, [_error(name, "invalid_json", f"is not JSON text: {exc}")]
    return text, []


def _header(names: list[str]) -> list[str]:
    """Raises: FileRefused (an empty file, a column naming no field, one twice)."""
    if not names:
        raise FileRefused("the file is empty: a CSV file starts with a header of field names")
    unknown = [name for name in names if name not in CELL_KINDS and name not in IGNORED]
    if unknown:
        raise FileRefused(f"columns that are not fields of a task: {', '.join(unknown)}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise FileRefused(f"columns given twice: {', '.join(twice)}")
    return names


def read_csv(source: IO[str]) -> list[Row]:
    """The records of a CSV file (a header of field names first), each with the line it
    starts on; an empty cell is a field not given. A malformed record (cells that do
    not match the header, an open quote) is a row refused, the others go on.

    Raises: FileRefused (the header)."""
    reader = csv.reader(source, strict=True)
    try:
        names = _header(next(reader, []))
    except csv.Error as exc:
        raise FileRefused(f"the CSV header cannot be read: {exc}") from None
    rows: list[Row] = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            message = f"is not a CSV record: {exc}"
            rows.append(Row(len(rows) + 1, line, None, [_error("body", "malformed_csv", message)]))
            continue
        if not cells:
            continue  # a blank line
        if len(cells) != len(names):
            message = f"has {len(cells)} cells where the header names {len(names)} fields"
            rows.append(Row(len(rows) + 1, line, None, [_error("body", "malformed_csv", message)]))
            continue
        body, errors = {}, []
        for name, text in zip(names, cells, strict=True):
            if text != "" and name not in IGNORED:
                body[name], bad = _cell(name, text)
                errors += bad
        rows.append(Row.of(len(rows) + 1, line, body, errors))


def detect_format(name: str | None, text: str) -> str:
    """``json`` or ``csv``: by the file's suffix, else by what it starts with."""
    suffix = (name or "").rsplit(".", 1)[-1].lower()
    if suffix in FORMATS:
        return suffix
    return "json" if text.lstrip()[:1] in ("[", "{") else "csv"


def read_rows(text: str, fmt: str) -> list[Row]:
    """Raises: FileRefused."""
    return read_json(text) if fmt == "json" else read_csv(io.StringIO(text, newline=""))
