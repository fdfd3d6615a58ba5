"""The tier request rate, wired to the limiter: the tier table decides the quota."""

from __future__ import annotations

from netra.core.ratelimit import REQUEST_LIMITER, RequestLimiter, build_limiter
from netra.core.runtime import Runtime
from netra.tiers import limits_for


def install_request_limiter(runtime: Runtime) -> RequestLimiter:
    """Every app's limiter (REST and /ws): Redis-shared with a local fallback, or local."""
    settings = runtime.settings
    limiter = RequestLimiter(
        build_limiter(runtime.cache), lambda tier: limits_for(settings, tier).requests_per_min
    )
    return runtime.services.provide(REQUEST_LIMITER, limiter)
