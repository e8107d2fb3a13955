"""What one attempt to deliver a message gave."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """A status code, or an error; and a server's ``Retry-After``. An error that starts
    with ``refused`` is final (the message is not tried again)."""

    status: int | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused(self) -> bool:
        return self.error is not None and self.error.startswith("refused")

    @property
    def retryable(self) -> bool:
        """Network errors, timeouts, 429 and 5xx are worth another attempt."""
        return not self.refused and (
            self.status is None or self.status == 429 or self.status >= 500
        )
