"""Domain errors. They carry no HTTP knowledge: ``core/http_errors.py`` maps them to responses."""

from __future__ import annotations

from typing import Any, ClassVar, Literal


class NetraError(Exception):
    """Base of every error a user may see. ``code`` is the stable machine-readable name."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadInput(NetraError):
    code = "bad_request"


class ValidationFailed(NetraError):
    code = "validation_error"


class Unauthenticated(NetraError):
    code = "unauthenticated"


class Forbidden(NetraError):
    code = "forbidden"


class NotFound(NetraError):
    code = "not_found"


class Conflict(NetraError):
    code = "conflict"


class TooLarge(NetraError):
    code = "payload_too_large"


class UnsupportedMediaType(NetraError):
    """A body in a media type or content coding the endpoint does not read (OTLP: 415)."""

    code = "unsupported_media_type"


class RequestTimeout(NetraError):
    """The client stopped sending its request body (a read deadline passed)."""

    code = "request_timeout"


class RateLimited(NetraError):
    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: int,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after_s = max(1, int(retry_after_s))
        self.headers = dict(headers or {})  # e.g. the IETF RateLimit headers


LimitKind = Literal["count", "concurrency", "rate"]


class LimitReached(NetraError):
    """A tier limit was reached (``tiers.py`` decides them; ``check`` raises this).

    ``kind`` says whether waiting lifts it: a ``count`` (resources held) does not, a
    ``concurrency`` or ``rate`` does, after ``retry_after_s``. ``code`` is the contract's name for
    the refusal where one is fixed (``run_limit``), else it follows from the kind.
    """

    _CODES: ClassVar[dict[str, str]] = {
        "count": "forbidden",
        "concurrency": "rate_limited",
        "rate": "rate_limited",
    }

    def __init__(
        self,
        message: str,
        *,
        kind: LimitKind,
        limit: str,
        code: str | None = None,
        retry_after_s: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.kind = kind
        self.limit = limit
        self.code = code or self._CODES[kind]
        self.retry_after_s = None if retry_after_s is None else max(1, int(retry_after_s))


class DependencyUnavailable(NetraError):
    """A dependency (database, Redis, auth service) is down or its circuit is open."""

    code = "dependency_unavailable"


class ConfigurationError(NetraError):
    code = "configuration_error"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(problems))
        self.problems = problems
