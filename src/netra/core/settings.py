"""Settings: the one place that reads the environment.

Every name has the prefix ``NETRA_``. Outside development and test, :func:`validate_settings`
checks every critical setting and reports all problems at once; ``netra check-config`` prints them.
Development-only secrets (signing keys, service credential) are generated into the data
directory by :func:`resolve_dev_secrets`, called by the app factories, never at import time.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import PositiveFloat, PositiveInt, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "staging", "production"]
JwtAlgorithm = Literal["Ed25519", "RS256", "HS256"]
Tier = Literal["free", "early", "mid", "enterprise"]

TIERS: tuple[Tier, ...] = ("free", "early", "mid", "enterprise")

# Values that must never sign a production token, whatever their length.
PLACEHOLDER_SECRETS = (
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "default",
    "example",
    "placeholder",
    "dev-secret",
    "insecure",
    "xxxxxxxx",
)
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NETRA_", extra="ignore", frozen=True)

    env: Environment = "development"
    data_dir: Path = Path(".netra")
    database_url: str | None = None
    redis_url: str = "memory://"
    redis_prefix: str = "netra:"  # namespaces every key and channel (deployments, test sessions)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # default: the served origin, http://{host}:{port}
    allowed_origins: str | None = None  # comma-separated; default: the public URL's origin
    log_level: str = "INFO"
    # Middle collections per full one of the garbage collector in server processes
    # (core/gc_tuning.py; 0: Python's defaults).
    gc_full_threshold: int = 100
    # Interactive API docs (/docs, /openapi.json): default on in development and test only.
    docs_enabled: bool | None = None
    # Bearer token for /metrics and the details of /health/ready outside development.
    metrics_token: SecretStr | None = None

    # Database pool (PostgreSQL only).
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 10.0
    db_connect_retries: int = 3

    # Tokens.
    jwt_algorithm: JwtAlgorithm = "Ed25519"
    jwt_secret: SecretStr | None = None  # HS256
    jwt_private_key: SecretStr | None = None  # PEM, Ed25519 or RS256 (auth service)
    jwt_public_key: str | None = None  # PEM, for services that only verify
    jwt_jwks_url: str | None = None  # where verifying services fetch the public keys
    jwt_issuer: str = "netra-auth"
    jwt_audience: str = "netra-api"
    jwt_leeway_s: int = 5
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 7 * 24 * 3600

    # Fernet key(s) encrypting secrets at rest (webhook secrets); comma-separated, first
    # encrypts. Generated in development.
    secrets_key: SecretStr | None = None

    # Service-to-service credential (introspection) and where the auth service lives.
    service_token: SecretStr | None = None
    auth_service_url: str | None = None

    auth_housekeeping_interval_s: float = 3600.0  # expired revocations and sessions deleted
    invitation_ttl_s: int = 7 * 24 * 3600  # how long an invitation to join an org stays valid

    # API keys: a verified key is cached this long per replica (a revocation clears it at once
    # through the bus; the TTL bounds a lost message); last_used_at written at most this often
    # per key, across replicas.
    api_key_cache_ttl_s: float = 10.0
    # Oldest age of a replica's copy of the revocation denylist (reloaded every half of it and
    # on every revocation heard on the bus; unused while the bus is not heard). 0: no copy.
    revocation_cache_ttl_s: float = 10.0
    api_key_touch_interval_s: float = 60.0

    # Login throttling.
    login_max_failures: int = 5
    login_window_s: int = 900
    login_ip_max_failures: int = 50
    login_delay_base_s: float = 1.0  # per account, past login_max_failures: doubling delays
    login_delay_max_s: float = 60.0  # ... up to this (a delay, never a lock)
    register_ip_max: int = 100  # sign-ups (and reset requests) per client address and window
    register_window_s: int = 3600
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed; from any other peer the header is ignored.
    trusted_proxies: str = ""

    # Password hashing (argon2id). Default: OWASP's minimum profile (19 MiB, t=2, p=1), about
    # 22 ms per hash here; the library's default (64 MiB, t=3, p=4) took about 105 ms.
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1

    # OAuth / OpenID Connect.
    oauth_enabled: bool = False
    oauth_provider: str = "google"
    oauth_issuer: str = "https://accounts.google.com"
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_allowed_domains: str = ""  # comma-separated; empty: any verified email

    # E-mail (password resets, invitations): an SMTP server; unset: nothing is sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Netra <no-reply@localhost>"
    smtp_starttls: bool = True  # upgrade the connection (port 587)
    smtp_tls: bool = False  # implicit TLS (port 465)
    smtp_timeout_s: float = 10.0
    password_reset_ttl_s: int = 1800  # a reset token's lifetime (one use)

    # LLM wording (optional; the offline writer is the default).
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_provider: str = "openai"  # whose prices the LLM's own calls are counted at
    llm_timeout_s: float = 20.0

    # `netra upload`: the key (or access token) it sends as `Authorization: Bearer`.
    api_key: SecretStr | None = None

    # WebSocket.
    ws_heartbeat_interval_s: int = 25
    ws_heartbeat_timeout_s: int = 60
    ws_max_message_bytes: int = 65536
    ws_send_queue_max: int = 1000
    # Tier limits: the defaults are the table in tiers.py; each setting below that is
    # not None overrides its tier's default there (None: the table's number).
    ws_connections_free: PositiveInt | None = None
    ws_connections_early: PositiveInt | None = None
    ws_connections_mid: PositiveInt | None = None
    ws_connections_enterprise: PositiveInt | None = None
    ws_frame_rate_per_s: float = 5.0  # client frames per connection, refilled per second
    ws_frame_burst: int = 30  # and the burst a connection may send at once

    # Tier limits (overrides of tiers.py): concurrent runs per user and per
    # organisation, run timeout, usage records one run analyses, HTTP requests per minute.
    runs_free: PositiveInt | None = None
    runs_early: PositiveInt | None = None
    runs_mid: PositiveInt | None = None
    runs_enterprise: PositiveInt | None = None
    run_timeout_s: float = 300.0  # caps every tier's run timeout
    runs_org_free: PositiveInt | None = None
    runs_org_early: PositiveInt | None = None
    runs_org_mid: PositiveInt | None = None
    runs_org_enterprise: PositiveInt | None = None
    run_timeout_free_s: PositiveFloat | None = None
    run_timeout_early_s: PositiveFloat | None = None
    run_timeout_mid_s: PositiveFloat | None = None
    run_timeout_enterprise_s: PositiveFloat | None = None
    max_records_free: PositiveInt | None = None
    max_records_early: PositiveInt | None = None
    max_records_mid: PositiveInt | None = None
    max_records_enterprise: PositiveInt | None = None
    requests_per_min_free: PositiveInt | None = None
    requests_per_min_early: PositiveInt | None = None
    requests_per_min_mid: PositiveInt | None = None
    requests_per_min_enterprise: PositiveInt | None = None
    worker_concurrency: int = 4
    embedded_workers: bool = True
    run_heartbeat_s: float = 5.0  # a running run's worker refreshes its claim this often
    run_stale_after_s: float = 30.0  # a run whose worker was silent this long is taken over
    run_event_batch_max: int = 200  # run events written in one transaction under load
    worker_drain_s: float = 10.0  # at shutdown, runs in flight get this long to finish
    placeholder_pipeline: bool = False  # run the placeholder pipeline even when agents exist
    placeholder_step_delay_s: float = 0.05  # pause between the placeholder's events
    # agent_thinking events per placeholder run: bench/realtime.py raises it to load the
    # event path (worker -> store -> bus -> sockets) with many events per run.
    placeholder_thinking_events: PositiveInt = 1
    # Tests only (refused outside NETRA_ENV=test): each sub-agent pauses this long after its
    # agent_started, so a fault test can act while a run is mid-step.
    test_step_delay_s: float = 0.0
    run_max_attempts: int = 3  # executions of one run (its workers died) before it fails

    # Retention: rows older than this many days are deleted by a background job (0: kept).
    retention_usage_days: int = 400
    retention_run_events_days: int = 90
    retention_webhooks_days: int = 30
    retention_interval_s: float = 3600.0

    # Usage.
    usage_max_records_per_call: int = 10_000
    usage_max_body_bytes: int = 4 * 1024 * 1024  # POST /api/v1/usage; files go by upload
    upload_read_timeout_s: float = 30.0  # an upload sending no bytes this long gets 408
    otlp_max_body_bytes: int = 16 * 1024 * 1024  # POST /v1/traces, before and after gunzip
    # Tier limits (overrides of tiers.py): uploads in flight per user and per
    # organisation, analyses an organisation starts per minute.
    uploads_user_free: PositiveInt | None = None
    uploads_user_early: PositiveInt | None = None
    uploads_user_mid: PositiveInt | None = None
    uploads_user_enterprise: PositiveInt | None = None
    uploads_org_free: PositiveInt | None = None
    uploads_org_early: PositiveInt | None = None
    uploads_org_mid: PositiveInt | None = None
    uploads_org_enterprise: PositiveInt | None = None
    analyses_per_min_free: PositiveInt | None = None
    analyses_per_min_early: PositiveInt | None = None
    analyses_per_min_mid: PositiveInt | None = None
    analyses_per_min_enterprise: PositiveInt | None = None
    analysis_cache_ttl_s: int = 3600

    # Tier limits (overrides of tiers.py): budgets and webhooks an organisation keeps.
    budgets_max_free: PositiveInt | None = None
    budgets_max_early: PositiveInt | None = None
    budgets_max_mid: PositiveInt | None = None
    budgets_max_enterprise: PositiveInt | None = None
    webhooks_max_free: PositiveInt | None = None
    webhooks_max_early: PositiveInt | None = None
    webhooks_max_mid: PositiveInt | None = None
    webhooks_max_enterprise: PositiveInt | None = None
    # Webhook delivery: attempts with exponential back-off, per-request timeout, concurrency,
    # how long a claimed delivery stays reserved, how often pending ones are swept, drain time.
    webhook_max_attempts: int = 6
    webhook_retry_base_s: float = 2.0
    webhook_retry_max_s: float = 300.0
    webhook_timeout_s: float = 10.0
    webhook_concurrency: int = 16
    webhook_lease_s: float = 60.0
    webhook_sweep_interval_s: float = 15.0
    webhook_drain_s: float = 5.0
    # Fairness between organisations: requests in flight and tasks held per organisation,
    # attempts per organisation and minute, and the per-receiver circuit breaker.
    webhook_org_concurrency: int = 4
    webhook_org_backlog: int = 64
    webhook_org_attempts_per_min: int = 600
    webhook_breaker_failures: int = 5
    webhook_breaker_reset_s: float = 60.0
    # Development and test only: let webhooks reach receivers on loopback (SSRF filter).
    webhook_allow_loopback: bool = False

    demo: bool = False

    # Prices that override the genai-prices catalogue (TOML or JSON; docs/pricing.md).
    prices_file: Path | None = None

    # ---- derived values -------------------------------------------------------------

    @property
    def is_dev(self) -> bool:
        return self.env in ("development", "test")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'netra.db').resolve()}"

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        if not self.public_url:
            # Frozen model: set once, during validation, to the origin being served.
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")
        return self

    @property
    def origins(self) -> list[str]:
        if self.allowed_origins:
            return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        parsed = urlparse(self.public_url)
        served = [f"{parsed.scheme}://{parsed.netloc}"]
        if self.is_dev and parsed.hostname in ("127.0.0.1", "localhost"):
            # The same local server is reached by either name in a developer's browser.
            twin = "localhost" if parsed.hostname == "127.0.0.1" else "127.0.0.1"
            port = f":{parsed.port}" if parsed.port else ""
            served.append(f"{parsed.scheme}://{twin}{port}")
        return served

    @property
    def oauth_domains(self) -> list[str]:
        return [d.strip().lower() for d in self.oauth_allowed_domains.split(",") if d.strip()]


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and explicit overrides, for tests and the CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]


# ---- validation ---------------------------------------------------------------------


def _weak_secret(value: str | None) -> str | None:
    """Why a secret is unsafe, or None when it is acceptable."""
    if not value:
        return "is missing"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    lowered = value.lower()
    if any(p in lowered for p in PLACEHOLDER_SECRETS):
        return "looks like a placeholder"
    if len(set(value)) < 8:
        return "has too little variety to be random"
    return None


def _is_local(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1", "0.0.0.0") or host.endswith(".localhost")


def validate_settings(s: Settings) -> list[str]:
    """Every problem with the settings for their environment, one line each (empty when sound).

    Development and test accept the embedded defaults; staging and production accept none.
    The test doubles (placeholder pipeline, step delay) are refused everywhere but in test.
    """
    problems: list[str] = []
    if s.env != "test":
        if s.placeholder_pipeline:
            problems.append("NETRA_PLACEHOLDER_PIPELINE is a test double (only NETRA_ENV=test)")
        if s.test_step_delay_s:
            problems.append("NETRA_TEST_STEP_DELAY_S slows every run (only NETRA_ENV=test)")
    if s.run_max_attempts < 1:
        problems.append("NETRA_RUN_MAX_ATTEMPTS must be at least 1")
    if s.is_dev:
        return problems
    db = s.database_url or ""
    if not db:
        problems.append("NETRA_DATABASE_URL is missing (PostgreSQL required)")
    elif not db.startswith("postgresql"):
        problems.append("NETRA_DATABASE_URL must be a PostgreSQL URL (postgresql+asyncpg://...)")
    if not s.redis_url or s.redis_url.startswith("memory"):
        problems.append("NETRA_REDIS_URL is missing or memory:// (Redis required: redis://...)")
    elif not s.redis_url.startswith(("redis://", "rediss://")):
        problems.append("NETRA_REDIS_URL must start with redis:// or rediss://")

    if s.jwt_algorithm == "HS256":
        why = _weak_secret(s.jwt_secret.get_secret_value() if s.jwt_secret else None)
        if why:
            problems.append(f"NETRA_JWT_SECRET {why}")
    else:
        has_private = s.jwt_private_key is not None and bool(s.jwt_private_key.get_secret_value())
        if not (has_private or s.jwt_public_key or s.jwt_jwks_url):
            problems.append(
                f"NETRA_JWT_PRIVATE_KEY is missing ({s.jwt_algorithm} needs a PEM key; "
                "or NETRA_JWT_PUBLIC_KEY / NETRA_JWT_JWKS_URL for verify-only services)"
            )
    if not s.jwt_issuer or s.jwt_issuer in ("netra-auth",):
        problems.append("NETRA_JWT_ISSUER must be set to this deployment's issuer")
    why = _weak_secret(s.service_token.get_secret_value() if s.service_token else None)
    if why:
        problems.append(f"NETRA_SERVICE_TOKEN {why}")
    if s.argon2_memory_kib < 19456 or s.argon2_time_cost < 2:
        problems.append(
            "NETRA_ARGON2_MEMORY_KIB / NETRA_ARGON2_TIME_COST are below OWASP's minimum for "
            "argon2id (19456 KiB, time cost 2)"
        )

    if s.oauth_enabled:
        if not s.oauth_client_id:
            problems.append("NETRA_OAUTH_CLIENT_ID is missing (OAuth is enabled)")
        if not s.oauth_client_secret or not s.oauth_client_secret.get_secret_value():
            problems.append("NETRA_OAUTH_CLIENT_SECRET is missing (OAuth is enabled)")
        if not s.oauth_issuer.startswith("https://"):
            problems.append("NETRA_OAUTH_ISSUER must be an https:// URL")

    if not s.public_url or s.public_url == f"http://{s.host}:{s.port}":
        problems.append("NETRA_PUBLIC_URL is missing (the public https:// URL of the web app)")
    elif not s.public_url.startswith("https://"):
        problems.append("NETRA_PUBLIC_URL must be an https:// URL")
    elif _is_local(s.public_url):
        problems.append("NETRA_PUBLIC_URL must not point at localhost")

    if not s.allowed_origins:
        problems.append("NETRA_ALLOWED_ORIGINS is missing (comma-separated https origins)")
    else:
        for origin in s.origins:
            if "*" in origin:
                problems.append(f"NETRA_ALLOWED_ORIGINS must not contain a wildcard ({origin})")
            elif _is_local(origin):
                problems.append(f"NETRA_ALLOWED_ORIGINS must not contain localhost ({origin})")
            elif not origin.startswith("https://"):
                problems.append(f"NETRA_ALLOWED_ORIGINS must be https origins ({origin})")
    try:
        from netra.core.client_address import parse_proxies

        parse_proxies(s.trusted_proxies)
    except ValueError as exc:
        problems.append(f"NETRA_TRUSTED_PROXIES is not a list of addresses or networks: {exc}")
    from netra.core.secrets_box import key_problem

    why = key_problem(s.secrets_key.get_secret_value() if s.secrets_key else None)
    if why:
        problems.append(f"NETRA_SECRETS_KEY {why}")
    if s.webhook_allow_loopback:
        problems.append("NETRA_WEBHOOK_ALLOW_LOOPBACK is for development and test only")
    if s.llm_base_url and not (s.llm_api_key and s.llm_api_key.get_secret_value()):
        problems.append("NETRA_LLM_API_KEY is missing (NETRA_LLM_BASE_URL is set)")
    return problems


# ---- development secrets ------------------------------------------------------------


def resolve_dev_secrets(s: Settings) -> Settings:
    """Fill missing keys with development values kept in the data directory.

    Refused outside development and test: there, missing secrets are configuration errors.
    """
    if not s.is_dev:
        return s
    needs_key = s.jwt_algorithm != "HS256" and not (
        s.jwt_private_key or s.jwt_public_key or s.jwt_jwks_url
    )
    needs_secret = s.jwt_algorithm == "HS256" and not s.jwt_secret
    if not (needs_key or needs_secret or not s.service_token or not s.secrets_key):
        return s
    keydir = s.data_dir / "dev-secrets"
    keydir.mkdir(parents=True, exist_ok=True)
    updates: dict[str, object] = {}
    if needs_key:
        path = keydir / f"jwt-{s.jwt_algorithm.lower()}.pem"
        if not path.exists():
            path.write_text(_generate_private_key_pem(s.jwt_algorithm))
            path.chmod(0o600)
        updates["jwt_private_key"] = SecretStr(path.read_text())
    if needs_secret:
        updates["jwt_secret"] = SecretStr(_read_or_create(keydir / "jwt-secret"))
    if not s.service_token:
        updates["service_token"] = SecretStr(_read_or_create(keydir / "service-token"))
    if not s.secrets_key:
        from cryptography.fernet import Fernet

        path = keydir / "secrets-key"
        if not path.exists():
            path.write_text(Fernet.generate_key().decode())
            path.chmod(0o600)
        updates["secrets_key"] = SecretStr(path.read_text().strip())
    return s.model_copy(update=updates)


def _read_or_create(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _generate_private_key_pem(algorithm: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


__all__ = [
    "TIERS",
    "Environment",
    "Settings",
    "Tier",
    "load_settings",
    "resolve_dev_secrets",
    "validate_settings",
]
