"""How a setting's value is read: text (or what Locust's parser made of it) in, a typed
value out, or a one-line `ConfigError` naming where the value came from.

Each reader is `(value, where) -> value`; `where` is the flag or variable the value came
from (``--llm-max-tokens``, ``LOCUST_LLM_MAX_TOKENS``). The settings table
(harness.settings) gives each setting one. Pure: standard library and the harness's pure
modules only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from harness.errors import ConfigError
from harness.exporters.prometheus_config import check_scenario_name, parse_buckets, parse_port
from harness.load.goodput import EXAMPLE, LIMIT_KEYS, GoodputLimits
from harness.scenario import parse_duration, parse_mix
from harness.strict_yaml import suggest
from harness.targets import parse_metrics_urls, parse_targets_text

#: a setting's reader: (value as given, what an error names) -> the typed value
Read = Callable[[Any, str], Any]

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_text(value: Any, where: str) -> str:
    """Text, surrounding whitespace removed."""
    return str(value).strip()


def read_targets(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    """``NAME=URL[,NAME=URL…]``: the endpoints compared side by side (harness.targets)."""
    return parse_targets_text(str(value), where)


def read_metrics_urls(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    """``URL`` (the one target's Prometheus endpoint) or ``NAME=URL[,NAME=URL…]`` (one per
    target); empty: none."""
    if isinstance(value, tuple):  # the scenario's, already read
        return value
    return parse_metrics_urls(str(value), where)


def read_models(value: Any, where: str) -> tuple[str, ...]:
    """One model name (a scenario may list several); empty: none."""
    text = str(value).strip()
    return (text,) if text else ()


def read_positive_int(value: Any, where: str) -> int:
    """An integer of 1 or more."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise ConfigError(f"{where}: expected a positive integer, got {value}")
        return value
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}")
    return int(text)


def read_positive_number(value: Any, where: str) -> float:
    """A finite number above 0."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(f"{where}: expected a number above 0, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{where}: expected a number above 0, got {value!r}")
    return number


def read_integer(value: Any, where: str) -> int:
    """Any integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{where}: expected an integer, got {value!r}") from None


def read_temperature(value: Any, where: str) -> float | None:
    """A number from 0 to 2; empty: the server's default (None)."""
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and 0 <= number <= 2):
        raise ConfigError(f"{where}: expected a number from 0 to 2, got {text!r}")
    return number


def one_of(allowed: tuple[str, ...]) -> Read:
    """A reader of one of `allowed`, suggesting the one meant for a near miss."""

    def read_choice(value: Any, where: str) -> str:
        text = str(value).strip()
        if text not in allowed:
            listed = ", ".join(allowed)
            raise ConfigError(
                f"{where}: expected one of {listed}, got {value!r}{suggest(str(value), allowed)}"
            )
        return text

    return read_choice


def read_mix(value: Any, where: str) -> dict[str, int] | None:
    """User-class weights by mode, ``stream=3,batch=1``; empty: the locustfile's weights."""
    text = str(value).strip()
    return parse_mix(text, name=where) if text else None


def read_timeout(value: Any, where: str) -> float:
    """A duration (``500ms``, ``15s``, ``5m``; a bare number is seconds) above 0, in seconds."""
    seconds = parse_duration(value, name=where)
    if seconds <= 0:
        raise ConfigError(f"{where}: must be greater than 0")
    return seconds


def read_duration(value: Any, where: str) -> float:
    """A duration of 0 or more, in seconds (0: off)."""
    return parse_duration(value.strip() if isinstance(value, str) else value, name=where)


def read_positive_duration(value: Any, where: str) -> float:
    """A duration of at least half a second, in seconds."""
    seconds = read_duration(value, where)
    if seconds < 0.5:
        raise ConfigError(f"{where}: expected at least 0.5s, got {value!r}")
    return seconds


def read_switch(value: Any, where: str) -> bool:
    """On or off: given as a flag, or true/false (yes/no, on/off, 1/0) in a variable."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE + _FALSE:
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return text in _TRUE


def read_variable_name(value: Any, where: str) -> str:
    """The name of an environment variable (never its value: it may be a key)."""
    name = str(value).strip()
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: expected the name of an environment variable, such as OPENAI_API_KEY "
            "(the value is not shown)"
        )
    return name


def read_port(value: Any, where: str) -> int:
    """0 (off) or a TCP port."""
    return parse_port(value, where)


def read_label(value: Any, where: str) -> str:
    """A label value: 1-128 printable characters."""
    return check_scenario_name(str(value), where)


def read_buckets(value: Any, where: str) -> tuple[float, ...] | None:
    """Increasing bucket bounds, ``50ms,100ms,1s``; empty: the documented layout (None)."""
    text = str(value).strip()
    return parse_buckets(text, where) if text else None


def read_goodput(value: Any, where: str) -> GoodputLimits | None:
    """Goodput limits, ``ttft=500ms,tpot=50ms,e2e=20s`` (harness.load.goodput); empty: none."""
    text = str(value).strip()
    if not text:
        return None
    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, given = (p.strip() for p in part.partition("="))
        if not sep or not key:
            raise ConfigError(f"{where}: expected limits such as {EXAMPLE}, got {text!r}")
        if key not in LIMIT_KEYS:
            raise ConfigError(
                f"{where}: unknown limit {key!r} (expected one of {', '.join(LIMIT_KEYS)})"
                f"{suggest(key, LIMIT_KEYS)}"
            )
        if key in values:
            raise ConfigError(f"{where}: {key} is given twice")
        values[key] = read_timeout(given, f"{where}: {key}")
    try:
        return GoodputLimits.from_values(values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
