"""The verifier remembers tokens it verified (auth/verifier.py): the same token again is not
verified again, but past its expiry or after a change of keys it is, and revocation is always
asked."""

from __future__ import annotations

from typing import Any

import pytest

from netra.auth import verifier as verifier_module
from netra.auth.keys import load_keys
from netra.auth.tokens import AccessClaims, decode_access_token, issue_access_token
from netra.auth.verifier import TokenVerifier
from netra.core.errors import Unauthenticated
from netra.core.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
def setup(monkeypatch: pytest.MonkeyPatch) -> tuple[TokenVerifier, str, list[str], list[str]]:
    settings = Settings(env="test", jwt_algorithm="HS256", jwt_secret="s" * 48)
    keys = load_keys(settings)
    token, _ = issue_access_token(keys, settings, user_id="u1", org_id="o1", tier="free",
                                  role="member")  # fmt: skip
    decoded: list[str] = []
    asked: list[str] = []

    def counting_decode(*args: Any, **kw: Any) -> AccessClaims:
        decoded.append(args[2])
        return decode_access_token(*args, **kw)

    async def not_revoked(db: Any, jti: str, **kw: Any) -> bool:
        asked.append(jti)
        return False

    monkeypatch.setattr(verifier_module, "decode_access_token", counting_decode)
    monkeypatch.setattr(verifier_module, "is_revoked", not_revoked)
    return TokenVerifier(settings, keys, db=None), token, decoded, asked  # type: ignore[arg-type]


async def test_a_token_verified_once_is_not_verified_again_but_revocation_is_asked(
    setup: tuple[TokenVerifier, str, list[str], list[str]],
) -> None:
    verifier, token, decoded, asked = setup
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert decoded == [token]
    assert len(asked) == 2  # revocation: every time


async def test_a_remembered_token_past_its_expiry_is_verified_afresh(
    setup: tuple[TokenVerifier, str, list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier, token, decoded, _ = setup
    claims = await verifier.verify(token)

    class Later:
        @staticmethod
        def time() -> float:
            return claims.exp + verifier.settings.jwt_leeway_s + 1.0

    monkeypatch.setattr(verifier_module, "time", Later)
    await verifier.verify(token)  # the decoder's own clock says it is still valid
    assert decoded == [token, token]


async def test_new_keys_forget_what_the_old_ones_verified(
    setup: tuple[TokenVerifier, str, list[str], list[str]],
) -> None:
    verifier, token, decoded, _ = setup
    await verifier.verify(token)
    other = load_keys(Settings(env="test", jwt_algorithm="HS256", jwt_secret="t" * 48))
    verifier.keys.verify_keys = list(other.verify_keys)  # a rotation that drops the old key
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)
    assert decoded == [token, token]
