"""Graceful degradation: the LLM words the answer when it can, the offline writer when it cannot.

Each attempt goes through the process's circuit breaker; transient failures are retried with
back-off; a permanent failure, exhausted retries or an open circuit hand the brief to the
offline writer, and the run's metadata says so. The LLM's text is also refused when it quotes a
dollar figure the engine did not produce.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from netra.agents.llm.base import AnswerBrief, AnswerWriter
from netra.agents.llm.offline import compose
from netra.agents.money import dollar_figures
from netra.core.resilience import CircuitBreaker, CircuitOpen, classify, retry_async


class ResilientWriter:
    def __init__(
        self,
        primary: AnswerWriter | None,
        fallback: AnswerWriter,
        breaker: CircuitBreaker,
        *,
        attempts: int = 3,
        base_delay_s: float = 0.2,
        max_delay_s: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._sleep = sleep

    @property
    def name(self) -> str:
        return self.primary.name if self.primary else self.fallback.name

    async def write(self, brief: AnswerBrief) -> tuple[str, dict[str, Any]]:
        """The answer and what produced it: ``{"writer", "degraded", "degraded_reason"?...}``."""
        if self.primary is None:
            return await self.fallback.write(brief), {"writer": self.fallback.name}
        primary = self.primary
        tries = 0

        async def attempt() -> str:
            nonlocal tries
            tries += 1
            return await self.breaker.call(lambda: primary.write(brief))

        try:
            text = await retry_async(
                attempt,
                attempts=self.attempts,
                base_delay_s=self.base_delay_s,
                max_delay_s=self.max_delay_s,
                sleep=self._sleep,
            )
        except CircuitOpen as exc:
            return await self._degrade(brief, "circuit_open", str(exc), tries)
        except Exception as exc:
            return await self._degrade(
                brief, f"llm_{classify(exc)}_error", f"{type(exc).__name__}: {exc}", tries
            )
        allowed = set(dollar_figures(compose(brief)))
        unknown = sorted(set(dollar_figures(text)) - allowed)
        if unknown:
            return await self._degrade(
                brief, "llm_unverified_figures", f"figures not from the engine: {unknown}", tries
            )
        return text, {"writer": primary.name, "degraded": False, "llm_attempts": tries}

    @property
    def can_call_tools(self) -> bool:
        return self.primary is not None and hasattr(self.primary, "chat")

    async def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        """One function-calling turn through the breaker (no retry: the caller's loop decides
        what a failure means, and the offline writer is always there)."""
        primary = self.primary
        if primary is None or not hasattr(primary, "chat"):
            raise RuntimeError("no language model configured")
        return await self.breaker.call(lambda: primary.chat(messages, tools))

    @property
    def can_classify(self) -> bool:
        return self.primary is not None and hasattr(self.primary, "classify")

    async def classify(self, text: str, labels: Sequence[str]) -> tuple[str | None, dict[str, Any]]:
        """The LLM's label for free text the rules could not place; (None, why) on failure.

        One attempt only: triage must stay quick, and "out of scope" is a safe answer."""
        classifier = self.primary
        if classifier is None or not hasattr(classifier, "classify"):
            return None, {}
        try:
            label = await self.breaker.call(lambda: classifier.classify(text, labels))
        except CircuitOpen:
            return None, {"classifier": "skipped", "classifier_reason": "circuit_open"}
        except Exception as exc:
            return None, {"classifier": "failed", "classifier_reason": f"llm_{classify(exc)}_error"}
        return label, {"classifier": classifier.name}

    async def _degrade(
        self, brief: AnswerBrief, reason: str, message: str, tries: int
    ) -> tuple[str, dict[str, Any]]:
        text = await self.fallback.write(brief)
        return text, {
            "writer": self.fallback.name,
            "degraded": True,
            "degraded_reason": reason,
            "degraded_detail": message[:300],
            "llm_attempts": tries,
            "circuit": self.breaker.state.value,
        }
