"""U3: configuration validation for staging and production."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest
from pydantic import SecretStr

from netra.core.settings import Settings, resolve_dev_secrets, validate_settings

STRONG = secrets.token_urlsafe(48)
FERNET_KEY = "q7bEN1nCiG3lQm8rMRuTOa1PzD0Ew2xUqFpK_6HnSNc="
PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEFh3ZGmQ9s7n5fS0Ymc3x2kq9S1hzc8wV0pK9yQ3Jd2
-----END PRIVATE KEY-----
"""


def sound(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "database_url": "postgresql+asyncpg://netra:pw@db.internal:5432/netra",
        "redis_url": "redis://cache.internal:6379/0",
        "jwt_private_key": SecretStr(PEM),
        "jwt_issuer": "https://auth.netra.example",
        "service_token": SecretStr(STRONG),
        "secrets_key": SecretStr(FERNET_KEY),
        "public_url": "https://app.netra.example",
        "allowed_origins": "https://app.netra.example",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_sound_production_settings_have_no_problems() -> None:
    assert validate_settings(sound()) == []


def test_empty_production_reports_every_problem_at_once() -> None:
    problems = validate_settings(Settings(env="production"))
    text = "\n".join(problems)
    for name in (
        "NETRA_DATABASE_URL",
        "NETRA_REDIS_URL",
        "NETRA_JWT_PRIVATE_KEY",
        "NETRA_JWT_ISSUER",
        "NETRA_SERVICE_TOKEN",
        "NETRA_PUBLIC_URL",
        "NETRA_ALLOWED_ORIGINS",
    ):
        assert name in text, name
    assert len(problems) >= 7


@pytest.mark.parametrize("env", ["staging", "production"])
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"database_url": "sqlite+aiosqlite:///x.db"}, "NETRA_DATABASE_URL"),
        ({"redis_url": "memory://"}, "NETRA_REDIS_URL"),
        ({"jwt_algorithm": "HS256", "jwt_secret": SecretStr("short")}, "NETRA_JWT_SECRET"),
        ({"jwt_algorithm": "HS256", "jwt_secret": SecretStr("changeme" * 5)}, "NETRA_JWT_SECRET"),
        ({"jwt_algorithm": "HS256", "jwt_secret": None}, "NETRA_JWT_SECRET"),
        ({"service_token": SecretStr("secret-secret-secret-secret-secret")}, "NETRA_SERVICE_TOKEN"),
        ({"service_token": None}, "NETRA_SERVICE_TOKEN"),
        ({"oauth_enabled": True}, "NETRA_OAUTH_CLIENT_ID"),
        ({"oauth_enabled": True, "oauth_client_id": "id"}, "NETRA_OAUTH_CLIENT_SECRET"),
        ({"public_url": "http://127.0.0.1:8000"}, "NETRA_PUBLIC_URL"),
        ({"public_url": "https://localhost"}, "NETRA_PUBLIC_URL"),
        ({"allowed_origins": "*"}, "NETRA_ALLOWED_ORIGINS"),
        ({"allowed_origins": "https://app.example,http://localhost:3000"}, "NETRA_ALLOWED_ORIGINS"),
        ({"llm_base_url": "https://llm.example/v1"}, "NETRA_LLM_API_KEY"),
    ],
)
def test_each_unsafe_value_is_named(env: str, override: dict[str, object], expected: str) -> None:
    problems = validate_settings(sound(env=env, **override))
    assert any(expected in p for p in problems), problems


def test_hs256_with_strong_secret_is_accepted() -> None:
    assert validate_settings(sound(jwt_algorithm="HS256", jwt_secret=SecretStr(STRONG))) == []


def test_development_accepts_embedded_defaults() -> None:
    assert validate_settings(Settings(env="development")) == []


def test_dev_secrets_generated_once_and_refused_outside_development(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dev = resolve_dev_secrets(Settings(env="development", data_dir=tmp_path))
    again = resolve_dev_secrets(Settings(env="development", data_dir=tmp_path))
    assert dev.jwt_private_key is not None and dev.service_token is not None
    assert dev.jwt_private_key.get_secret_value() == again.jwt_private_key.get_secret_value()  # type: ignore[union-attr]
    prod = resolve_dev_secrets(Settings(env="production", data_dir=tmp_path / "p"))
    assert prod.jwt_private_key is None and prod.service_token is None
    assert not (tmp_path / "p").exists()


def test_check_config_cli_exit_codes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"NETRA_ENV": "production", "PATH": "/usr/bin:/bin"}
    bad = subprocess.run(
        [sys.executable, "-m", "netra", "check-config"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2
    lines = bad.stdout.strip().splitlines()
    assert sum(line.startswith("NETRA_") for line in lines) >= 7
    good_env = {
        **env,
        "NETRA_DATABASE_URL": "postgresql+asyncpg://netra@db.internal/netra",
        "NETRA_REDIS_URL": "redis://cache.internal:6379/0",
        "NETRA_JWT_PRIVATE_KEY": PEM,
        "NETRA_JWT_ISSUER": "https://auth.netra.example",
        "NETRA_SERVICE_TOKEN": STRONG,
        "NETRA_SECRETS_KEY": FERNET_KEY,
        "NETRA_PUBLIC_URL": "https://app.netra.example",
        "NETRA_ALLOWED_ORIGINS": "https://app.netra.example",
        "NETRA_DATA_DIR": str(tmp_path),
    }
    good = subprocess.run(
        [sys.executable, "-m", "netra", "check-config"],
        env=good_env,
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0, good.stdout + good.stderr


@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_test_doubles_are_refused_outside_the_test_environment(env: str) -> None:
    problems = validate_settings(sound(env=env, placeholder_pipeline=True, test_step_delay_s=1.5))
    assert [p for p in problems if "NETRA_PLACEHOLDER_PIPELINE" in p or "TEST_STEP" in p] == [
        "NETRA_PLACEHOLDER_PIPELINE is a test double (only NETRA_ENV=test)",
        "NETRA_TEST_STEP_DELAY_S slows every run (only NETRA_ENV=test)",
    ]
    assert validate_settings(Settings(env="test", placeholder_pipeline=True)) == []
