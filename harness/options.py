"""The one definition of the `--llm-…` options, and the run configuration built from them.

Registered on Locust's own parser (`init_command_line_parser`), so every option works from the
command line, `locust.conf`, `LOCUST_LLM_…` environment variables and the web UI's start dialog,
and reaches workers in distributed mode. `locust-llm` translates its own flags into these.

The API key is never an option: only the *name* of the environment variable that holds it is
(`--llm-api-key-env`), so the key cannot show in the web UI, `ps`, or Locust's option dumps.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.client import Target, Timeouts
from harness.errors import ConfigError
from harness.scenario import parse_duration


def add_llm_options(parser: Any) -> None:
    """Add the `--llm-…` options to a Locust argument parser."""
    # Locust's `include_in_web_ui` keywords work on the parser itself, not on argument groups
    group = parser
    group.add_argument(
        "--llm-model",
        default="",
        help="Model name to request; empty: the first model GET /v1/models lists.",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-max-tokens",
        type=int,
        default=128,
        help="max_tokens of each request (default 128).",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-temperature",
        default="",
        help="temperature of each request; empty: the server's default.",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-endpoint",
        choices=["chat", "completions"],
        default="chat",
        help="chat: /chat/completions (default); completions: /completions.",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-api-key-env",
        default="OPENAI_API_KEY",
        help="Name of the environment variable holding the API key (default "
        "OPENAI_API_KEY). Each worker reads its own environment.",
        include_in_web_ui=False,
    )
    for name, default, what in (
        ("connect", "10s", "connecting"),
        ("header", "60s", "the response headers"),
        ("ttft", "120s", "the first token"),
        ("stall", "60s", "the next token once streaming"),
        ("total", "600s", "the whole response"),
    ):
        group.add_argument(
            f"--llm-{name}-timeout",
            default=default,
            help=f"Deadline for {what} (default {default}).",
            include_in_web_ui=False,
        )
    group.add_argument(
        "--llm-out",
        default="",
        help="Write summary.json and summary.md into this folder when the run ends.",
        include_in_web_ui=False,
    )


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Validated LLM settings of a run, resolved once from Locust's parsed options."""

    target: Target | None
    model: str
    max_tokens: int | None
    temperature: float | None
    chat: bool
    api_key: str | None
    timeouts: Timeouts
    out_dir: str

    @classmethod
    def from_options(
        cls,
        options: argparse.Namespace | None,
        host: str | None,
        environ: Mapping[str, str],
    ) -> RunConfig:
        """Build and validate; raises `ConfigError` with a one-line message naming the option."""

        def get(name: str, default: Any) -> Any:
            return getattr(options, name, default) if options is not None else default

        target = Target.parse(host) if host else None
        max_tokens = get("llm_max_tokens", 128)
        if max_tokens is not None:
            try:
                max_tokens = int(max_tokens)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"--llm-max-tokens: expected a positive integer, got {max_tokens!r}"
                ) from None
            if max_tokens <= 0:
                raise ConfigError(
                    f"--llm-max-tokens: expected a positive integer, got {max_tokens}"
                )
        temperature_text = str(get("llm_temperature", "") or "").strip()
        temperature: float | None = None
        if temperature_text:
            try:
                temperature = float(temperature_text)
            except ValueError:
                raise ConfigError(
                    f"--llm-temperature: expected a number in [0, 2], got {temperature_text!r}"
                ) from None
            if not (math.isfinite(temperature) and 0 <= temperature <= 2):
                raise ConfigError(
                    f"--llm-temperature: expected a number in [0, 2], got {temperature_text!r}"
                )
        timeouts = Timeouts(
            **{
                f"{name}_s": parse_duration(
                    get(f"llm_{name}_timeout", default), name=f"--llm-{name}-timeout"
                )
                for name, default in (
                    ("connect", "10s"),
                    ("header", "60s"),
                    ("ttft", "120s"),
                    ("stall", "60s"),
                    ("total", "600s"),
                )
            }
        )
        for name in ("connect_s", "header_s", "ttft_s", "stall_s", "total_s"):
            if getattr(timeouts, name) <= 0:
                option = "--llm-" + name.removesuffix("_s") + "-timeout"
                raise ConfigError(f"{option}: must be greater than 0")
        key_env = str(get("llm_api_key_env", "OPENAI_API_KEY") or "OPENAI_API_KEY")
        return cls(
            target=target,
            model=str(get("llm_model", "") or "").strip(),
            max_tokens=max_tokens,
            temperature=temperature,
            chat=get("llm_endpoint", "chat") != "completions",
            api_key=read_api_key(environ, key_env),
            timeouts=timeouts,
            out_dir=str(get("llm_out", "") or ""),
        )

    def request_params(self) -> dict[str, Any]:
        """The sampling parameters merged into every request body."""
        params: dict[str, Any] = {}
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params


def read_api_key(environ: Mapping[str, str], name: str) -> str | None:
    """The API key from environment variable `name`, checked before any request (CFG-09).

    Surrounding whitespace (a trailing newline from a Kubernetes secret file) is stripped;
    control or non-ASCII characters are rejected by position, never by printing the key.
    """
    raw = environ.get(name)
    if raw is None:
        return None
    key = raw.strip()
    if key.lower().startswith("bearer "):
        key = key[7:].strip()
    for position, char in enumerate(key):
        if not (0x21 <= ord(char) <= 0x7E):
            raise ConfigError(
                f"{name}: the API key contains U+{ord(char):04X} at position {position}; "
                "expected printable ASCII"
            )
    return key or None


def environ_snapshot() -> Mapping[str, str]:
    """The process environment (a seam for tests)."""
    return os.environ
