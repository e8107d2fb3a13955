"""Domain errors: a machine-readable code and data, no HTTP status.

``web/errors.py`` is the one place that maps them onto status codes. The names of the
task errors and their attributes are those of the Canvas tasks API (000).
"""

from __future__ import annotations

from typing import Any


class TaskError(Exception):
    """An error raised for task-related (domain) errors."""

    code: str = "task_error"

    def __init__(self, message: str = "", **data: Any) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        body.update(self.data)
        return body


class NotFound(TaskError):
    """Raised when something (a person, team, workflow, operation...) does not exist in
    the account."""

    code = "not_found"


class TaskNotFound(NotFound):
    """Raised when a task cannot be found with the given criteria."""


class TaskValidationError(TaskError):
    """Raised when an inappropriate argument value is used to create/update a task."""

    code = "validation_failed"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        if code:
            self.code = code
        self.params = params or {}
        self.errors = errors or []
        if not self.errors and "field" in self.params:
            self.errors = [
                {"field": str(self.params["field"]), "code": self.code, "message": message}
            ]

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code, "errors": self.errors}


def field_error(field: str, code: str, message: str) -> TaskValidationError:
    """A validation error about one field."""
    return TaskValidationError(
        f"{field}: {message}",
        code="validation_failed",
        errors=[{"field": field, "code": code, "message": message}],
    )


class InvalidTaskStatusError(TaskError):
    """Raised when attempting an action on a task that is not in the expected status."""

    code = "invalid_status_transition"

    def __init__(self, action: str, expected_status: str, actual_status: str) -> None:
        super().__init__(
            f"cannot {action} a task that is {actual_status} (expected {expected_status})",
            action=action,
            expected_status=expected_status,
            actual_status=actual_status,
        )
        self.action = action
        self.expected_status = expected_status
        self.actual_status = actual_status


class PermissionDenied(TaskError):
    """The caller may not do this (admin only)."""

    code = "forbidden"


class Conflict(TaskError):
    """The request conflicts with the current state of a resource."""

    code = "conflict"


class IdempotencyKeyReused(TaskError):
    """The Idempotency-Key was used before with a different request."""

    code = "idempotency_key_reused"


class IdempotencyRequestInFlight(TaskError):
    """A request with this Idempotency-Key is still being processed."""

    code = "idempotency_request_in_flight"


class DatabaseNotReady(TaskError):
    """The database cannot serve this version of the service (unreachable, or its schema
    is not migrated): an operator's matter, said in one line."""

    code = "database_not_ready"


class DatabaseUnreachable(DatabaseNotReady):
    """The database server cannot be reached."""

    code = "database_unavailable"


class SchemaNotMigrated(DatabaseNotReady):
    """The database's schema is older (or newer) than this version of the service."""

    code = "schema_not_migrated"
