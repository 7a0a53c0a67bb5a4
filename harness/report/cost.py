"""The estimated cost of a run: tokens the server reported, times the scenario's prices.

`estimate_cost(tokens, pricing)` gives summary.json's ``"cost"``: per model, the input
(prompt) tokens from the server's `usage.prompt_tokens` and the output tokens of finished
requests (the server's `usage.completion_tokens`, else counted token-bearing chunks), each
times its price in dollars per million tokens, and the total. Models without a price are
listed as unpriced and left out of the total; partial output of failed requests is not
counted. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class PriceLike(Protocol):
    @property
    def input_per_mtok(self) -> float: ...

    @property
    def output_per_mtok(self) -> float: ...


def estimate_cost(
    tokens: Mapping[str, tuple[int, int]], pricing: Mapping[str, PriceLike]
) -> dict[str, Any] | None:
    """``{"currency": "USD", "total": …, "models": {…}, "unpriced": […]}``; None if no prices.

    `tokens` maps a model to (input tokens, output tokens).
    """
    if not pricing:
        return None
    models: dict[str, Any] = {}
    unpriced: list[str] = []
    total = 0.0
    for model in sorted(tokens):
        input_tokens, output_tokens = tokens[model]
        price = pricing.get(model)
        if price is None:
            unpriced.append(model)
            continue
        cost = (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6
        models[model] = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_per_mtok": price.input_per_mtok,
            "output_per_mtok": price.output_per_mtok,
            "cost": cost,
        }
        total += cost
    return {"currency": "USD", "total": total, "models": models, "unpriced": unpriced}


def format_dollars(amount: float) -> str:
    """``$12.35``, ``$0.0123``, ``$0.000012``: cents above a dollar, 3 significant digits below."""
    if amount >= 1:
        return f"${amount:,.2f}"
    if amount == 0:
        return "$0.00"
    return f"${amount:.3g}" if amount >= 1e-4 else f"${amount:.2e}"


def cost_line(cost: Mapping[str, Any] | None) -> str | None:
    """One sentence for Markdown and the terminal, or None without a cost."""
    if not isinstance(cost, Mapping):
        return None
    total = cost.get("total")
    if not isinstance(total, int | float):
        return None
    parts = []
    models = cost.get("models")
    if isinstance(models, Mapping):
        for model, entry in models.items():
            if isinstance(entry, Mapping):
                parts.append(
                    f"{model}: {entry.get('input_tokens', 0):,} input + "
                    f"{entry.get('output_tokens', 0):,} output tokens"
                )
    text = f"Estimated cost: {format_dollars(float(total))}"
    if parts:
        text += " (" + "; ".join(parts) + ")"
    unpriced = cost.get("unpriced")
    if isinstance(unpriced, list) and unpriced:
        text += f"; no price for {', '.join(str(m) for m in unpriced)}"
    return text + "."
