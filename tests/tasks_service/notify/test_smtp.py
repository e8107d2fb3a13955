"""Email over SMTP, in-process against a local server (aiosmtpd): what a mail holds, and
which answers are final (a refused recipient, a 5xx) and which are tried again (a 4xx,
a server that is down)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tasks_service.core.settings import Settings
from tasks_service.notify.transport.smtp import send_email
from tasks_service.store.models import Delivery
from tests.helpers import free_port


class Server:
    """A local SMTP server answering as told: accept, refuse the recipient, or fail the
    message with a code."""

    def __init__(self) -> None:
        self.rcpt_answer = "250 OK"
        self.data_answer = "250 OK"
        self.received: list[Any] = []
        outer = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, options) -> str:
                if outer.rcpt_answer.startswith("250"):
                    envelope.rcpt_tos.append(address)
                return outer.rcpt_answer

            async def handle_DATA(self, server, session, envelope) -> str:
                if outer.data_answer.startswith("250"):
                    outer.received.append(
                        message_from_bytes(envelope.content, policy=email_policy.default)
                    )
                return outer.data_answer

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture
def server() -> Iterator[Server]:
    smtp = Server()
    yield smtp
    smtp.controller.stop()


def _settings(port: int | None, host: str | None = "127.0.0.1") -> Settings:
    return Settings(smtp_host=host, smtp_port=port or 25, smtp_from="tasks@ops.example")


def _delivery() -> Delivery:
    return Delivery(
        id=41,
        account_id=1,
        key="k",
        event="task.alert",
        payload={"to": "ann@ops.example", "subject": "alert: #7 Backups", "data": {"id": 7}},
    )


def test_a_mail_is_sent_with_its_summary_and_the_event(server: Server) -> None:
    outcome = send_email(_settings(server.port), _delivery())
    assert (outcome.status, outcome.delivered, outcome.error) == (250, True, None)
    [mail] = server.received
    assert (mail["To"], mail["From"], mail["Subject"]) == (
        "ann@ops.example",
        "tasks@ops.example",
        "alert: #7 Backups",
    )
    assert mail["Message-ID"] == "<delivery-41@ops.example>"
    summary, _, event = mail.get_content().replace("\r\n", "\n").partition("\n\n")
    assert summary == "alert: #7 Backups"
    assert json.loads(event) == {"data": {"id": 7}}


def test_a_refused_recipient_is_final(server: Server) -> None:
    server.rcpt_answer = "550 no such mailbox"
    outcome = send_email(_settings(server.port), _delivery())
    assert (outcome.status, outcome.refused, outcome.retryable) == (550, True, False)
    assert server.received == []


def test_try_later_is_tried_again_and_a_permanent_failure_is_not(server: Server) -> None:
    server.data_answer = "451 try again later"
    later = send_email(_settings(server.port), _delivery())
    assert (later.delivered, later.retryable) == (False, True)
    assert "451" in (later.error or "")
    server.data_answer = "554 transaction failed"
    final = send_email(_settings(server.port), _delivery())
    assert (final.status, final.refused, final.retryable) == (554, True, False)


def test_a_server_that_is_down_is_tried_again() -> None:
    outcome = send_email(_settings(free_port()), _delivery())
    assert (outcome.status, outcome.retryable) == (None, True)
    assert outcome.error


def test_no_server_configured_is_final() -> None:
    outcome = send_email(_settings(None, host=None), _delivery())
    assert (outcome.refused, outcome.retryable) == (True, False)
