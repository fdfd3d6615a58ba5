"""The invitation e-mail: sent after the invitation is committed, when a sender is configured.

The sender is the one of ``core/email.py`` (SMTP with ``NETRA_SMTP_*``; in development without
SMTP, the log). Without one, the token is only in the API's answer (the inviter passes it on)
and this says so in the log. A failed e-mail never undoes the invitation: the inviter still has
the token.
"""

from __future__ import annotations

import structlog

from netra.auth.invitations import Invitation
from netra.core.email import Email, build_email_sender
from netra.core.runtime import Runtime

log = structlog.get_logger("netra.governance.invitations")


def invitation_text(runtime: Runtime, invitation: Invitation, token: str) -> tuple[str, str]:
    base = runtime.settings.public_url.rstrip("/")
    subject = "You are invited to Netra"
    body = (
        f"You have been invited to join an organisation on Netra as {invitation.role}.\n\n"
        f"Open {base}/?invitation={token} to create your account (valid until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC, usable once). The invitation code:\n\n"
        f"{token}\n"
    )
    return subject, body


async def send_invitation(runtime: Runtime, invitation: Invitation, token: str) -> bool:
    sender = build_email_sender(runtime.settings)
    if sender is None:
        log.info("no e-mail sender configured: invitation token only in the API answer",
                 invitation_id=invitation.id)  # fmt: skip
        return False
    subject, body = invitation_text(runtime, invitation, token)
    try:
        await sender.send(Email(to=invitation.email, subject=subject, text=body))
    except Exception as exc:
        log.warning("invitation e-mail failed", invitation_id=invitation.id, error=str(exc))
        return False
    return True
