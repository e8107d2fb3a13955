"""A webhook's deliveries (``GET /v1/webhooks/:id/deliveries``) name each thing for what
it is: ``webhook_id`` the webhook's id, ``message_id`` the message's (the Standard
Webhooks ``webhook-id`` header of every attempt; its signed delivery is in
``tests/workers/test_webhooks.py``)."""

from __future__ import annotations

from tests.helpers import Api


def test_a_delivery_shows_its_webhook_and_its_message_id(api: Api) -> None:
    created = api.post(
        "/v1/webhooks", json={"uri": "http://127.0.0.1:9/x", "events": ["task.created"]}
    )
    assert created.status_code == 201, created.get_json()
    hook = created.get_json()
    api.create_task()
    [delivery] = api.get(f"/v1/webhooks/{hook['id']}/deliveries").get_json()
    assert delivery["event"] == "task.created"
    assert delivery["webhook_id"] == hook["id"]
    assert delivery["message_id"] == f"msg_{delivery['id']}"
