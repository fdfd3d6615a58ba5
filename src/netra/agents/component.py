"""The agents component: puts the agent pipeline in ``runtime.services[PIPELINE]`` at start-up.

Listed before the worker component so the worker finds it. The LLM writer is built from the
settings (``NETRA_LLM_BASE_URL``, ``_API_KEY``, ``_MODEL``, ``_TIMEOUT_S``); without a base URL
the offline writer answers alone.
"""

from __future__ import annotations

from netra.agents.contract import PIPELINE
from netra.agents.llm.offline import OfflineWriter
from netra.agents.llm.openai_compat import OpenAICompatWriter
from netra.agents.llm.resilient import ResilientWriter
from netra.agents.pipeline import AgentPipeline
from netra.core.component import Component
from netra.core.lifecycle import Degraded, Dependency
from netra.core.resilience import CircuitBreaker, CircuitState
from netra.core.runtime import Runtime
from netra.core.settings import Settings


def build_writer(settings: Settings) -> ResilientWriter:
    primary = None
    if settings.llm_base_url:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        primary = OpenAICompatWriter(
            base_url=settings.llm_base_url,
            api_key=key,
            model=settings.llm_model,
            timeout_s=settings.llm_timeout_s,
        )
    breaker = CircuitBreaker("llm", failure_threshold=5, reset_timeout_s=30.0)
    return ResilientWriter(primary, OfflineWriter(), breaker)


async def llm_health(writer: ResilientWriter) -> None:
    """Degraded while the LLM's circuit is open (answers come from the offline writer)."""
    if writer.breaker.state is not CircuitState.CLOSED:
        raise Degraded(
            f"the language model failed {writer.breaker.failures} times in a row; answers use "
            f"the offline writer (next trial in {writer.breaker.retry_after_s():.0f} s)"
        )


def build_pipeline(settings: Settings) -> AgentPipeline:
    return AgentPipeline(settings, build_writer(settings))


def component() -> Component:
    async def start(runtime: Runtime) -> None:
        pipeline = build_pipeline(runtime.settings)
        runtime.services.provide(PIPELINE, pipeline)
        if pipeline.writer.primary is not None:
            # Optional: without it the offline writer words the answers from the same figures.
            runtime.lifecycle.add(
                Dependency(
                    "llm",
                    check=lambda: llm_health(pipeline.writer),
                    required=False,
                    essential=False,
                    describe=str(runtime.settings.llm_base_url),
                )
            )

    return Component("agents", start=start, provides=(PIPELINE,))
