"""What ``GET /operations/:id`` shows of a durable command."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from tasks_service.core.statuses import OperationStatus
from tasks_service.store.schemas.shape import PublicModel


class Progress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: int
    total: int


class OperationPublic(PublicModel):
    id: int
    kind: str
    status: OperationStatus
    result: dict[str, Any] | list[Any] | None
    error: dict[str, Any] | None
    progress: Progress | None  # of a background fan-out (a recompute)
    created_at: datetime
    finished_at: datetime | None
    # Seconds from its acceptance until it finished, or until now while pending.
    age_seconds: float
