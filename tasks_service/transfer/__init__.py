"""An account's tasks to a file and back: export (JSON or CSV) and import.

Both speak the REST API's field names. An export is what ``GET /v1/tasks`` shows, every
field, walked page by page by keyset (each page starts after the last row of the one
before, so a deep page costs what the first does), filtered and sorted as ``?...`` would
be. JSON is a list of task objects; CSV has one column per field, a reference (team,
member...) as its id column (``team_id``), lists and objects as JSON text.

An import reads such a file (or any list of ``POST /v1/tasks`` bodies) and holds each
row to the same validation as a POST; the rows that pass are created through durable
commands, some hundreds per operation (``task.import``: ``commands.imports``), applied
in this process. Fields a client cannot write (``id``, ``created_at``...) are left out,
a reference object is read as its id field (``team`` -> ``team_id``), so an export goes
back in as the same tasks. A row's ``source`` + ``sourceID`` make it idempotent; the
summary (``ImportSummary``) says what was created, already there or refused, and why.

``formats`` (files and the REST form), ``exporting``, ``importing``.
"""

from tasks_service.transfer.exporting import PAGE_SIZE, export_tasks
from tasks_service.transfer.formats import FORMATS, IGNORED, FileRefused, detect_format
from tasks_service.transfer.importing import CHUNK_SIZE, ImportSummary, Refusal, import_tasks

__all__ = [
    "CHUNK_SIZE",
    "FORMATS",
    "IGNORED",
    "PAGE_SIZE",
    "FileRefused",
    "ImportSummary",
    "Refusal",
    "detect_format",
    "export_tasks",
    "import_tasks",
]
