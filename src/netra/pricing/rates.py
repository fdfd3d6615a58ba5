"""Per-token rates of one model at one date, and the pricing rules that are not in the
catalogue: the providers' published batch discount and Anthropic's one-hour cache writes.

- ``Rate``: USD per token below every long-context tier, and the (threshold, price) of each
  tier; the tier is decided by the prompt of ONE call (a row of ``requests`` calls uses its
  average call: ``input_tokens / requests``).
- One-hour cache writes: Anthropic charges 2x the base input price for a write with a one-hour
  lifetime, against 1.25x for the default five minutes (the catalogue's ``cache_write``). Claude
  models sold by other providers follow the same rule; every other model has one write price.
- Batch: where the catalogue has no batch price for a model at a date, the provider's published
  batch discount applies (50 % for OpenAI, Anthropic and Google, on every token type); any other
  provider's batch calls keep the interactive price.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Published batch discounts (share of the interactive price paid), by normalised provider.
PUBLISHED_BATCH_PRICE: dict[str, float] = {"openai": 0.5, "anthropic": 0.5, "google": 0.5}
ONE_HOUR_WRITE_FACTOR = 2.0  # x base input (Anthropic); five-minute writes are 1.25x


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per token: ``base`` below every tier, else the price of the highest tier crossed."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, prompt_tokens: float) -> float:
        price = self.base
        for start, tier_price in self.tiers:
            if prompt_tokens > start:
                price = tier_price
        return price

    def scaled(self, factor: float) -> Rate:
        return Rate(self.base * factor, tuple((s, p * factor) for s, p in self.tiers))


@dataclass(frozen=True, slots=True)
class Rates:
    input: Rate
    cache_read: Rate
    cache_write: Rate
    output: Rate
    cache_write_1h: Rate = field(default=Rate(-1.0))  # default: the same as cache_write

    def __post_init__(self) -> None:
        if self.cache_write_1h.base < 0:
            object.__setattr__(self, "cache_write_1h", self.cache_write)

    def scaled(self, factor: float) -> Rates:
        return Rates(
            self.input.scaled(factor),
            self.cache_read.scaled(factor),
            self.cache_write.scaled(factor),
            self.output.scaled(factor),
            self.cache_write_1h.scaled(factor),
        )

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        cached: int = 0,
        writes: int = 0,
        *,
        writes_1h: int = 0,
        requests: int = 1,
    ) -> float:
        """Price of a row of ``requests`` calls (scalar twin of the vectorised ``cost_expr``):
        the average call decides the tier. ``writes_1h`` is the part of ``writes`` written
        with a one-hour lifetime."""
        n = input_tokens / max(requests, 1)
        return (
            (input_tokens - cached - writes) * self.input.at(n)
            + cached * self.cache_read.at(n)
            + (writes - writes_1h) * self.cache_write.at(n)
            + writes_1h * self.cache_write_1h.at(n)
            + output_tokens * self.output.at(n)
        )


def has_one_hour_writes(provider: str, model: str) -> bool:
    """Anthropic's models (wherever sold) price one-hour cache writes apart."""
    return provider == "anthropic" or "claude" in model


def with_one_hour_writes(rates: Rates, provider: str, model: str) -> Rates:
    if not has_one_hour_writes(provider, model):
        return rates
    return Rates(
        rates.input,
        rates.cache_read,
        rates.cache_write,
        rates.output,
        rates.input.scaled(ONE_HOUR_WRITE_FACTOR),
    )
