"""A local SMTP server that keeps what it receives: the outer edge of email."""

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from tests.helpers.processes import free_port


class SmtpSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = message_from_bytes(envelope.content, policy=email_policy.default)
                assert isinstance(message, EmailMessage)
                sink.messages.append(message)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def to(self, address_start: str) -> list[EmailMessage]:
        return [m for m in list(self.messages) if str(m["To"]).startswith(address_start)]

    def stop(self) -> None:
        self.controller.stop()
