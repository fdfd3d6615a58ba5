"""The agent pipeline: numbers from the analysis engine, words from an LLM or the offline writer.

- ``pipeline``: the supervisor (implements ``contract.Pipeline``): triage, then the sub-agents
  triage's verdict calls for, each emitting its own run events (``events.RunEmitter``).
- ``subagents``: triage, data, optimizer, actions, reporting, sharing one ``RunState`` per run.
- ``triage``: intent rules and data sufficiency; ``factory``: what each tier's runs may use.
- ``engine``: the engine as the agents see it; ``playbook``: findings turned into actions.
- ``llm/``: the provider interface, the offline writer, the OpenAI-compatible client, and the
  resilient wrapper (breaker, retries, fallback); ``component``: wiring into an app.
"""
