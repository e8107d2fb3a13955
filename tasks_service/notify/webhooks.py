"""The ``/webhooks`` resource (admins): subscribers of task events, and what was sent
to them (``notify.delivery`` does the sending)."""

from __future__ import annotations

from sqlmodel import Session

from tasks_service.core.clock import utcnow
from tasks_service.core.errors import field_error
from tasks_service.core.settings import Settings
from tasks_service.core.validation import provided
from tasks_service.notify.transport.guard import UnresolvedHost, UnsafeAddress, check_address
from tasks_service.notify.transport.signing import new_secret
from tasks_service.store import lookups
from tasks_service.store.models import Webhook
from tasks_service.store.schemas.messages import WebhookCreate, WebhookUpdate


def _safe_uri(settings: Settings, uri: str) -> None:
    """Refuse a URI that reaches a non-public address. A host name that does not resolve
    yet is taken (its DNS may come later, as it often does when a receiver is set up):
    every send checks the address again, and one to a name that still does not resolve
    fails and is retried like any network error."""
    try:
        check_address(uri, settings.webhook_allow_private)
    except UnresolvedHost:
        return
    except UnsafeAddress as exc:
        raise field_error("uri", "unsafe_address", str(exc)) from None


def do_create_webhook(
    session: Session, settings: Settings, account_id: int, data: WebhookCreate
) -> Webhook:
    """Raises: TaskValidationError (an address webhooks must not reach)."""
    _safe_uri(settings, data.uri)
    hook = Webhook(account_id=account_id, secret=new_secret(), **data.model_dump())
    session.add(hook)
    session.flush()
    return hook


def do_update_webhook(
    session: Session, settings: Settings, account_id: int, webhook_id: int, data: WebhookUpdate
) -> Webhook:
    """Raises: NotFound; TaskValidationError."""
    hook = lookups.get(session, Webhook, account_id, webhook_id)
    changes = provided(data)
    if "uri" in changes:
        _safe_uri(settings, changes["uri"])
    for key, value in changes.items():
        setattr(hook, key, value)
    if changes.get("disabled") is False:  # enabled again: a fresh start
        hook.failing_since, hook.disabled_reason = None, None
    hook.updated_at = utcnow()
    session.add(hook)
    session.flush()
    return hook
