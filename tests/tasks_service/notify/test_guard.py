"""The guard on where webhooks may go, in-process: every address a URI resolves to is
checked, private ranges refused unless allowed; a webhook naming one is a 422 on
``uri``."""

from __future__ import annotations

import pytest

from tasks_service.core.errors import TaskValidationError
from tasks_service.notify import webhooks
from tasks_service.notify.transport.guard import UnsafeAddress, check_address
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.messages import WebhookCreate


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://224.0.0.1/x",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
    ],
)
def test_unsafe_addresses_are_refused(uri: str, settings) -> None:
    with pytest.raises(UnsafeAddress):
        check_address(uri, allow_private=False)
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with session_scope(settings) as session, pytest.raises(TaskValidationError) as info:
        webhooks.do_create_webhook(
            session, strict, 1, WebhookCreate(uri=uri, events=["task.alert"])
        )
    assert info.value.errors[0]["field"] == "uri"
    check_address("http://93.184.216.34/hooks", allow_private=False)  # public: fine
