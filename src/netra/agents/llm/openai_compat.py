"""An OpenAI-compatible chat-completions client that words the answer (httpx, no SDK).

It gets the offline writer's draft plus the figures it may use, and is told to reword, not to
compute. Errors are classified for the retry and the breaker: timeouts, connection failures,
429 and 5xx are transient; other statuses and malformed answers are permanent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from netra.agents.llm.base import AnswerBrief, LLMError
from netra.agents.llm.offline import compose
from netra.core.resilience import TRANSIENT_HTTP_STATUSES

SYSTEM_PROMPT = (
    "You are Netra, an assistant that explains an organisation's AI (LLM API) spend. "
    "Rewrite the DRAFT answer for the user's QUESTION so it reads naturally and stays specific. "
    "Rules: use only the dollar figures that appear in the DRAFT, written exactly as there "
    "(like $1,234.56); never compute, round or invent a number; keep every finding's feature "
    "and model names, the action plan's order, risks and verification steps; answer in "
    "Markdown; no preamble."
)

CLASSIFY_PROMPT = (
    "Classify the user's request to an assistant that analyses their organisation's AI (LLM "
    "API) spend. Answer with exactly one label and nothing else: "
)


class OpenAICompatWriter:
    """``POST {base_url}/chat/completions`` with a bearer key."""

    name = "openai_compat"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout_s)
        self._transport = transport

    def messages(self, brief: AnswerBrief, draft: str) -> list[dict[str, str]]:
        facts = {"intent": brief.intent, "focus": brief.focus, "data": brief.sufficiency}
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": f"QUESTION:\n{brief.question}\n\nCONTEXT:\n{json.dumps(facts)}\n\n"
                f"DRAFT:\n{draft}",
            },
        ]

    async def write(self, brief: AnswerBrief) -> str:
        return await self._complete(self.messages(brief, compose(brief)), temperature=0.2)

    async def classify(self, text: str, labels: Sequence[str]) -> str | None:
        """One of ``labels`` for a free-text request, or None when the answer is none of them."""
        messages = [
            {"role": "system", "content": CLASSIFY_PROMPT + ", ".join(labels) + "."},
            {"role": "user", "content": text[:4000]},
        ]
        answer = (await self._complete(messages, temperature=0.0)).strip().strip(".'\"`")
        answer = answer.lower().replace(" ", "_")
        return answer if answer in labels else None

    async def chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """One function-calling turn: the assistant message (``content`` and/or
        ``tool_calls``) and the call's ``usage`` (prompt and completion tokens)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
            "temperature": 0.0,
        }
        answer = await self._post(body)
        try:
            message = answer["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError("LLM answer is not a chat completion", transient=False) from exc
        if not isinstance(message, dict):
            raise LLMError("LLM answer is not a chat completion", transient=False)
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        return {"message": message, "usage": usage}

    async def _complete(self, messages: list[dict[str, str]], *, temperature: float) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
        }
        answer = await self._post(body)
        try:
            text = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError("LLM answer is not a chat completion", transient=False) from exc
        if not isinstance(text, str) or not text.strip():
            raise LLMError("LLM answer is empty", transient=False)
        return text.strip()

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
                response = await http.post(
                    f"{self.base_url}/chat/completions", json=body, headers=headers
                )
        except httpx.TimeoutException as exc:
            raise LLMError(f"LLM request timed out: {exc!r}", transient=True) from exc
        except httpx.TransportError as exc:
            raise LLMError(f"LLM unreachable: {exc!r}", transient=True) from exc
        if response.status_code != 200:
            raise LLMError(
                f"LLM answered HTTP {response.status_code}",
                transient=response.status_code in TRANSIENT_HTTP_STATUSES,
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise LLMError("LLM answer is not a chat completion", transient=False) from exc
        if not isinstance(answer, dict):
            raise LLMError("LLM answer is not a chat completion", transient=False)
        return answer
