"""Webhooks (issue 6): subscribe to task events; see and replay deliveries. Admins."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.identity.accounts import require_admin
from tasks_service.notify import delivery, webhooks
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.messages import serialize_delivery, serialize_webhook
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Webhook
from tasks_service.store.schemas.messages import (
    WEBHOOK_READONLY,
    DeliveryRetry,
    WebhookCreate,
    WebhookUpdate,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent

bp = Blueprint("webhooks", __name__)


@bp.get("/webhooks")
def list_webhooks() -> Response:
    require_admin(actor())
    query = list_query(resources.WEBHOOK_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_webhooks(session, actor().account_id, query)
        return page_response(page, [serialize_webhook(h) for h in page.items])


@bp.post("/webhooks")
@idempotent
def create_webhook() -> Response:
    require_admin(actor())
    data = parse_body(WebhookCreate, WEBHOOK_READONLY, wrapper="webhook")
    with session_scope(settings()) as session:
        hook = webhooks.do_create_webhook(session, settings(), actor().account_id, data)
        return json_response(serialize_webhook(hook, with_secret=True), 201)


@bp.get("/webhooks/<id:webhook_id>")
def get_webhook(webhook_id: int) -> Response:
    require_admin(actor())
    with session_scope(settings(), write=False) as session:
        hook = lookups.get(session, Webhook, actor().account_id, webhook_id)
        return json_response(serialize_webhook(hook))


@bp.route("/webhooks/<id:webhook_id>", methods=["PATCH", "PUT"])
@idempotent
def update_webhook(webhook_id: int) -> Response:
    require_admin(actor())
    data = parse_body(WebhookUpdate, WEBHOOK_READONLY, wrapper="webhook")
    with session_scope(settings()) as session:
        hook = webhooks.do_update_webhook(session, settings(), actor().account_id, webhook_id, data)
        return json_response(serialize_webhook(hook))


@bp.get("/webhooks/<id:webhook_id>/deliveries")
def list_deliveries(webhook_id: int) -> Response:
    require_admin(actor())
    query = list_query(resources.DELIVERY_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_deliveries(session, actor().account_id, webhook_id, query)
        return page_response(page, [serialize_delivery(d) for d in page.items])


@bp.post("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/retry")
@idempotent
def retry_delivery(webhook_id: int, delivery_id: int) -> Response:
    require_admin(actor())
    parse_body(DeliveryRetry)
    with session_scope(settings()) as session:
        retried = delivery.do_retry(session, actor().account_id, webhook_id, delivery_id)
        return json_response(serialize_delivery(retried), 202)
