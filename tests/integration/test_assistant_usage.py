"""A conversation through the real server (WebSocket, worker, PostgreSQL, Redis) with a language
model configured: the second turn is resolved against the first (the worker hands the pipeline
the thread's history), and the model's own calls are counted where the organisation sees them
(``GET /api/v1/assistant/usage``, and each answer's metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from netra.agents.money import usd
from netra.apps.all_in_one import create_app
from netra.demo.workload import generate, write
from support.accounts import bearer, signup
from support.conversation import demo_records, report_of
from support.fake_openai import USAGE, Script, fake_openai
from support.realtime import Client, live_server

SEED, N = 4, 2000


async def test_two_turns_with_the_model_and_its_own_usage(pg_settings: Any, tmp_path: Path) -> None:
    frame, labels = generate(N, SEED)
    usage_file = tmp_path / "usage.csv"
    write(frame, labels, usage_file)
    report = report_of(demo_records(N, SEED))
    ranked = sorted(report["findings"], key=lambda f: f["savings_usd"], reverse=True)
    first, second = ranked[0], ranked[1]
    total = usd(report["total_cost_usd"])
    both = usd(first["savings_usd"] + second["savings_usd"])
    script = Script([
        {"tool_calls": [("run_analysis", {})]},
        {"content": f"You spent {total}. The first finding saves {usd(first['savings_usd'])}."},
        {"tool_calls": [("estimate_savings", {"findings": [1, 2]})]},
        {"content": f"Doing both would save {both}."},
    ])  # fmt: skip
    with fake_openai(script) as url:
        settings = pg_settings(llm_base_url=url, llm_api_key="sk-test", llm_model="gpt-4o-mini")
        async with live_server(create_app(settings)) as srv:
            async with httpx.AsyncClient(base_url=srv.url, timeout=60) as http:
                owner = await signup(http)
                who = bearer(owner["access_token"])
                up = await http.post(
                    "/api/v1/usage/upload",
                    files={"file": ("usage.csv", usage_file.read_bytes())},
                    headers=who,
                )
                assert up.status_code == 200 and up.json()["accepted"] == N, up.text
                client = await Client.connect(srv.ws_url, owner["access_token"])
                ack = await client.ask("where is my money going and how do I cut it?")
                final = (await client.events_until_final(ack["run_id"], wait_s=60))[-1]
                assert final["payload"]["status"] == "succeeded", final
                assert final["payload"]["result"]["text"].startswith(f"You spent {total}.")
                ack2 = await client.ask("how much if we do the first two?",
                                        thread_id=ack["thread_id"])  # fmt: skip
                events = await client.events_until_final(ack2["run_id"], wait_s=60)
                await client.close()
                assert events[-1]["payload"]["result"]["text"] == f"Doing both would save {both}."
                estimate = next(
                    e["payload"]["result"]
                    for e in events
                    if e["type"] == "tool_completed" and e["payload"]["tool"] == "estimate_savings"
                )
                # "The first two" are the first answer's findings, in the order it showed them.
                assert [f["title"] for f in estimate["findings"]] == [first["title"],
                                                                     second["title"]]  # fmt: skip
                # The model saw the first turn in its memory.
                assert first["title"] in script.requests[2]["messages"][0]["content"]

                messages = (
                    await http.get(f"/api/v1/threads/{ack['thread_id']}/messages", headers=who)
                ).json()["messages"]
                answers = [m for m in messages if m["role"] == "assistant"]
                assert [m["meta"]["llm_usage"]["calls"] for m in answers] == [2, 2]
                seen = (await http.get("/api/v1/assistant/usage", headers=who)).json()
                assert seen["runs"] == 2
                [model] = seen["by_model"]
                assert model["model"] == "gpt-4o-mini" and model["calls"] == 4
                assert model["input_tokens"] == 4 * USAGE["prompt_tokens"]
                assert model["output_tokens"] == 4 * USAGE["completion_tokens"]
                assert seen["cost_usd"] == model["cost_usd"] and model["cost_usd"] > 0
                # Another organisation sees none of it.
                other = bearer((await signup(http))["access_token"])
                theirs = (await http.get("/api/v1/assistant/usage", headers=other)).json()
                assert theirs["runs"] == 0 and theirs["by_model"] == []
