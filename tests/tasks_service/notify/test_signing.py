"""Standard Webhooks signatures, in-process: what we sign, a receiver's library verifies;
any change to the id, the moment or the body breaks the signature."""

from __future__ import annotations

import base64
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from tasks_service.notify.transport.signing import new_secret, signed_headers

BODY = json.dumps({"type": "task.alert", "data": {"id": 7}}, separators=(",", ":")).encode()


def test_a_secret_is_24_random_bytes_as_standard_webhooks_writes_them() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24


def test_what_we_sign_a_receiver_verifies() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_42", int(time.time()), BODY)
    assert headers["webhook-id"] == "msg_42"
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert Verifier(secret).verify(BODY, headers) == json.loads(BODY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: ({**h, "webhook-id": "msg_43"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: (h, b.replace(b"7", b"8")),
    ],
    ids=["another id", "another moment", "another body"],
)
def test_any_change_breaks_the_signature(tamper) -> None:
    secret = new_secret()
    headers, body = tamper(signed_headers(secret, "msg_42", int(time.time()), BODY), BODY)
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body, headers)


def test_another_secret_does_not_verify() -> None:
    headers = signed_headers(new_secret(), "msg_42", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Verifier(new_secret()).verify(BODY, headers)
