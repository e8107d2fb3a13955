"""Operations in their REST form (``store.schemas.operations``)."""

from __future__ import annotations

from typing import Any

from tasks_service.core.clock import iso, utcnow
from tasks_service.store.models import Operation


def serialize_operation(operation: Operation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "kind": operation.kind,
        "status": operation.status,
        "result": operation.result,
        "error": operation.error,
        "progress": (
            None
            if operation.progress_total is None
            else {"done": operation.progress_done or 0, "total": operation.progress_total}
        ),
        "created_at": iso(operation.created_at),
        "finished_at": iso(operation.finished_at),
        "age_seconds": round(
            ((operation.finished_at or utcnow()) - operation.created_at).total_seconds(), 3
        ),
    }
