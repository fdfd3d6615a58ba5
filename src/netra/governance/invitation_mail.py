"""The invitation e-mail: sent after the invitation is committed, when a sender is configured.

The sender is whatever a component provides as :data:`EMAIL_SENDER`: an object with
``async send(to: str, subject: str, body: str)`` (the SMTP sender, where configured). Without
one, the token is only in the API's answer (the inviter passes it on) and this says so in the
log. A failed e-mail never undoes
the invitation: the inviter still has the token.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from netra.auth.invitations import Invitation
from netra.core.runtime import Runtime
from netra.core.services import Service


class EmailSender(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


EMAIL_SENDER: Service[EmailSender] = Service("email_sender")

log = structlog.get_logger("netra.governance.invitations")


def invitation_text(runtime: Runtime, invitation: Invitation, token: str) -> tuple[str, str]:
    base = runtime.settings.public_url.rstrip("/")
    subject = "You are invited to Netra"
    body = (
        f"You have been invited to join an organisation on Netra as {invitation.role}.\n\n"
        f"Create your account at {base}/ with this invitation code (valid until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC, usable once):\n\n{token}\n"
    )
    return subject, body


async def send_invitation(runtime: Runtime, invitation: Invitation, token: str) -> bool:
    sender: EmailSender | None = runtime.services.get(EMAIL_SENDER)
    if sender is None:
        log.info("no e-mail sender configured: invitation token only in the API answer",
                 invitation_id=invitation.id)  # fmt: skip
        return False
    subject, body = invitation_text(runtime, invitation, token)
    try:
        await sender.send(invitation.email, subject, body)
    except Exception as exc:
        log.warning("invitation e-mail failed", invitation_id=invitation.id, error=str(exc))
        return False
    return True
