"""One webhook attempt over HTTP: the signed payload POSTed, no redirect followed."""

from __future__ import annotations

import json
from typing import Any

import requests

from tasks_service.core.clock import utcnow
from tasks_service.core.settings import Settings
from tasks_service.notify.transport.guard import UnsafeAddress, check_address
from tasks_service.notify.transport.outcome import Outcome
from tasks_service.notify.transport.signing import signed_headers
from tasks_service.store.models import Delivery, Webhook


def post(http: requests.Session, settings: Settings, delivery: Delivery, hook: Webhook) -> Outcome:
    """POST the delivery to its webhook; the receiver's answer (or the error) as an
    ``Outcome``. The address is checked again here, at every attempt."""
    if hook.disabled:
        return Outcome(error="refused: the webhook is disabled")
    try:
        check_address(hook.uri, settings.webhook_allow_private)
    except UnsafeAddress as exc:
        return Outcome(error=f"refused: {exc}")
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = signed_headers(hook.secret, f"msg_{delivery.id}", int(utcnow().timestamp()), body)
    try:
        response = http.post(
            hook.uri,
            data=body,
            headers=headers,
            timeout=settings.webhook_timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status=response.status_code, retry_after=retry_after(response.headers))


def retry_after(headers: Any) -> float | None:
    """A ``Retry-After`` in seconds (an HTTP date is not understood: None)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
