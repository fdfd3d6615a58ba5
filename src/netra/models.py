"""Every table's model imported in one place, for Alembic and for tests that build schemas."""

from netra.auth import invitations as auth_invitations  # noqa: F401
from netra.auth import models as auth_models  # noqa: F401
from netra.billing import models as billing_models  # noqa: F401
from netra.chat import models as chat_models  # noqa: F401
from netra.core.audit import AuditEvent
from netra.core.db import Base
from netra.reports import models as reports_models  # noqa: F401
from netra.usage import models as usage_models  # noqa: F401

__all__ = ["AuditEvent", "Base"]
