"""One email attempt over SMTP."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage

from tasks_service.core.settings import Settings
from tasks_service.notify.transport.outcome import Outcome
from tasks_service.store.models import Delivery


def message_of(settings: Settings, delivery: Delivery) -> EmailMessage:
    """The mail of a delivery: its summary as the subject, the event as JSON below it."""
    payload = delivery.payload
    message = EmailMessage()
    message["From"], message["To"] = settings.smtp_from, payload["to"]
    message["Subject"] = payload.get("subject", delivery.event)
    message["Message-ID"] = f"<delivery-{delivery.id}@{settings.smtp_from.rpartition('@')[2]}>"
    body = {k: v for k, v in payload.items() if k not in ("to", "subject")}
    message.set_content(f"{message['Subject']}\n\n{json.dumps(body, indent=2, sort_keys=True)}\n")
    return message


def send_email(settings: Settings, delivery: Delivery) -> Outcome:
    """Send the mail. A refused recipient is final (like a 4xx); a server that is down
    or answers 4xx (try later) is retried; another 5xx is final."""
    if not settings.smtp_host:
        return Outcome(error="refused: no SMTP server is configured")
    message = message_of(settings, delivery)
    try:
        server = (settings.smtp_host, settings.smtp_port)
        with smtplib.SMTP(*server, timeout=settings.smtp_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return Outcome(status=550, error=f"refused: {exc}"[:500])
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:  # "try again later"
            return Outcome(error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500])
        return Outcome(status=exc.smtp_code, error=f"refused: {exc.smtp_error!r}"[:500])
    except (OSError, smtplib.SMTPException) as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome(status=250)
