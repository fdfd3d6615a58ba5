"""Sending e-mail: one small interface, an SMTP implementation, and a stand-in that logs.

``build_email_sender(settings)`` gives the SMTP sender when ``NETRA_SMTP_HOST`` is set;
otherwise, in development and test, a sender that logs that a message was not sent (never
its body: it may hold a one-time token), and ``None`` elsewhere (features that need e-mail
say so). Password resets use it; so can invitations.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog

from netra.core.errors import DependencyUnavailable
from netra.core.settings import Settings

log = structlog.get_logger("netra.email")


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str


class EmailSender(Protocol):
    async def send(self, message: Email) -> None:
        """Deliver ``message``; ``DependencyUnavailable`` when the mail server refuses."""
        ...


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host or ""
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = (
            settings.smtp_password.get_secret_value() if settings.smtp_password else None
        )
        self.sender = settings.smtp_from
        self.starttls = settings.smtp_starttls
        self.tls = settings.smtp_tls
        self.timeout_s = settings.smtp_timeout_s

    async def send(self, message: Email) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail.set_content(message.text)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password,
                use_tls=self.tls,
                start_tls=self.starttls if not self.tls else False,
                timeout=self.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("e-mail not sent", to_domain=message.to.rpartition("@")[2], error=str(exc))
            raise DependencyUnavailable("the mail server is unavailable") from exc


class LoggingSender:
    """Development without SMTP: says a message would have gone out (not what it said)."""

    async def send(self, message: Email) -> None:
        log.info("e-mail not sent: NETRA_SMTP_HOST is not set", to=message.to,
                 subject=message.subject)  # fmt: skip


def build_email_sender(settings: Settings) -> EmailSender | None:
    if settings.smtp_host:
        return SmtpSender(settings)
    return LoggingSender() if settings.is_dev else None
