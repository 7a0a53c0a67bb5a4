"""The estimated cost of a run: tokens the server reported, times the scenario's prices.

`estimate_cost(tokens, pricing)` gives summary.json's ``"cost"``: per model, the input
(prompt) tokens from the server's `usage.prompt_tokens` and the output tokens of finished
requests (the server's `usage.completion_tokens`, else counted token-bearing chunks), each
times its price in dollars per million tokens, and the total. A price under ``"*"``
(`harness.targets.ANY_MODEL`: a target's one price for all its models) applies to every
model without its own. Models without a price are listed as unpriced and left out of the
total; partial output of failed requests is not counted. `per_1k_requests` divides a cost by
the finished requests; `cost_per_target_line` is the sentence of a run with targets, each at
its own prices. Pure: standard library and the pure layers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from harness.report.targets import target_entries
from harness.report.units import number_at
from harness.targets import ANY_MODEL


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
        price = pricing.get(model) or pricing.get(ANY_MODEL)
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


def per_1k_requests(total: float, finished: int) -> float | None:
    """The cost of 1,000 requests at this run's mix: `total` over `finished` requests (not
    cancelled) × 1,000; None without a finished request."""
    if finished <= 0:
        return None
    return 1000.0 * total / finished


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


# ------------------------------------------------------------------ cost per target


def cost_per_target(summary: Mapping[str, Any]) -> list[tuple[str, float | None, float | None]]:
    """(target, estimated cost, cost per 1,000 finished requests) of every target; None where
    the target has no price or no finished request."""
    out = []
    for name, entry in target_entries(summary).items():
        cost = entry.get("cost")
        total = number_at(cost, "total") if isinstance(cost, Mapping) else None
        out.append((name, total, number_at(entry, "cost_per_1k_requests")))
    return out


def cost_per_target_line(summary: Mapping[str, Any]) -> str | None:
    """``Estimated cost per target — fast: $0.0123 ($1.23 per 1,000 requests); slow: …; all
    targets: $0.0250.``; None when no target is priced."""
    rows = cost_per_target(summary)
    priced = [(name, total, per_1k) for name, total, per_1k in rows if total is not None]
    if not priced:
        return None
    parts = []
    for name, total, per_1k in rows:
        if total is None:
            parts.append(f"{name}: no price")
            continue
        shown = format_dollars(total)
        if per_1k is not None:
            shown += f" ({format_dollars(per_1k)} per 1,000 requests)"
        parts.append(f"{name}: {shown}")
    unpriced = _unpriced_models(summary)
    text = "Estimated cost per target — " + "; ".join(parts)
    if len(priced) > 1:
        text += f"; all targets: {format_dollars(sum(t for _, t, _ in priced if t is not None))}"
    if unpriced:
        text += "; no price for " + ", ".join(unpriced)
    return text + "."


def _unpriced_models(summary: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name, entry in target_entries(summary).items():
        cost = entry.get("cost")
        unpriced = cost.get("unpriced") if isinstance(cost, Mapping) else None
        if isinstance(unpriced, Sequence) and not isinstance(unpriced, str):
            found += [f"{name} {model}" for model in unpriced]
    return found
