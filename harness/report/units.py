"""Units and absent figures as every report shows them: ``212.4 ms``, ``201 ms``, ``—``.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DASH = "—"
"""Shown for a figure that does not apply or has no data."""

MODE_TITLES = {"stream": "streaming", "batch": "batch"}
"""The modes as the reports name them."""


def format_duration(seconds: float) -> str:
    """A duration for the table: ``4.27 ms``, ``212.4 ms``, ``1.26 s``.

    Two decimals below 10 ms, one decimal up to 1 s, then seconds with two decimals.
    """
    ms = seconds * 1000.0
    if ms < 10.0 and round(ms, 2) < 10.0:
        return f"{ms:.2f} ms"
    if round(ms, 1) < 1000.0:
        return f"{ms:.1f} ms"
    return f"{seconds:.2f} s"


def format_duration_short(seconds: float) -> str:
    """A duration for a sentence, three significant digits: ``201 ms``, ``1.46 s``."""
    ms = seconds * 1000.0
    if round(ms) < 1000:
        if round(ms) >= 100:
            return f"{ms:.0f} ms"
        if round(ms, 1) >= 10.0:
            return f"{ms:.1f} ms"
        return f"{ms:.2f} ms"
    if round(seconds, 2) < 10.0:
        return f"{seconds:.2f} s"
    if round(seconds, 1) < 100.0:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def number_at(block: Any, key: str) -> float | None:
    """`block[key]` as a float when `block` is a mapping and the value a number (not a bool)."""
    if not isinstance(block, Mapping):
        return None
    value = block.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
