"""Every table's model imported in one place, for Alembic and for tests that build schemas."""

from netra.auth import models as auth_models  # noqa: F401
from netra.core.audit import AuditEvent
from netra.core.db import Base

__all__ = ["AuditEvent", "Base"]
