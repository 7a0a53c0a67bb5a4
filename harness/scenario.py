"""Scenario values shared by every way of configuring a run: durations with units.

(The YAML scenario loader lands here too.) Pure: standard library only.
"""

from __future__ import annotations

import math
import re

from harness.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)\s*$")
_UNIT_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float | int, *, name: str = "duration") -> float:
    """Parse `500ms`, `15s`, `5m`, `1h` into float seconds.

    A bare number is seconds. Negative, infinite or unit-less garbage values raise
    `ConfigError` naming `name`, the value and the accepted form.
    """
    if isinstance(text, bool):
        raise ConfigError(f"{name}: expected a duration such as 500ms, 15s or 5m, got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _DURATION.match(text)
        if match is None:
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(
                    f"{name}: expected a duration such as 500ms, 15s or 5m, got {text!r}"
                ) from None
        else:
            value = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name}: expected a non-negative duration, got {text!r}")
    return value
