"""The one definition of the `--llm-…` options, and the run configuration built from them.

Registered on Locust's own parser (`init_command_line_parser`), so every option works from the
command line, `locust.conf`, `LOCUST_LLM_…` environment variables and the web UI's start dialog,
and reaches workers in distributed mode. `locust-llm` translates its own flags into these.

`--llm-scenario PATH` adds a scenario file (harness.scenario). Precedence, resolved once into
a frozen `RunConfig`: defaults < scenario file < `LOCUST_*` environment < command-line flags.
Options whose defaults the scenario may replace are registered with *marked* defaults
(`_DefaultInt`, `_DefaultStr`: the same values, but recognisably not given), so an option
that was given — even with its default value — wins over the file, and one that was not
lets the file speak.

The API key is never an option: only the *name* of the environment variable that holds it is
(`--llm-api-key-env`), or a file (`--llm-api-key-file`), so the key cannot show in the web UI,
`ps`, or Locust's option dumps. Each worker reads its own environment or file.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checks import check_api_key, read_api_key_file
from harness.client import Target, Timeouts
from harness.errors import MODES, ConfigError
from harness.prompts import Prompt
from harness.scenario import (
    DEFAULT_TIMEOUTS,
    TIMEOUT_NAMES,
    Price,
    Scenario,
    load_scenario,
    parse_duration,
    parse_mix,
)
from harness.slo import SLO, with_default_failure_gate

if TYPE_CHECKING:
    from locust.env import Environment

logger = logging.getLogger("locust_llm")

DEFAULT_MAX_TOKENS = 128
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
#: how long preflight waits for a server that answers 503 (llama.cpp: "Loading model")
DEFAULT_PREFLIGHT_WAIT = "60s"
#: the longest back-off wait after consecutive instant failures (harness.retry.Backoff)
DEFAULT_BACKOFF_MAX = "5s"
#: stop a run whose every request failed for this long; 0: never
DEFAULT_ABORT_AFTER = "0"


class _Default:
    """Marks an option value as the registered default, i.e. not given by the user."""

    __slots__ = ()


class _DefaultInt(int, _Default):
    __slots__ = ()


class _DefaultStr(str, _Default):
    __slots__ = ()


def is_given(value: Any) -> bool:
    """Whether an option value was given (flag, environment, locust.conf), not defaulted."""
    return value is not None and not isinstance(value, _Default)


def option_defaults() -> dict[str, Any]:
    """Every `--llm-…` option's default (by dest), as Locust's parser holds it.

    The defaults a scenario may replace are marked (`is_given()` is False for them).
    """
    defaults: dict[str, Any] = {
        "llm_scenario": "",
        "llm_model": "",
        "llm_max_tokens": _DefaultInt(DEFAULT_MAX_TOKENS),
        "llm_temperature": "",
        "llm_endpoint": _DefaultStr("chat"),
        "llm_mix": "",
        "llm_api_key_env": _DefaultStr(DEFAULT_API_KEY_ENV),
        "llm_api_key_file": "",
        "llm_out": "",
        "llm_preflight_wait": DEFAULT_PREFLIGHT_WAIT,
        "llm_backoff_max": DEFAULT_BACKOFF_MAX,
        "llm_abort_after": DEFAULT_ABORT_AFTER,
    }
    for name in TIMEOUT_NAMES:
        defaults[f"llm_{name}_timeout"] = _DefaultStr(DEFAULT_TIMEOUTS[name])
    return defaults


def add_llm_options(parser: Any) -> None:
    """Add the `--llm-…` options to a Locust argument parser."""
    # Locust's `include_in_web_ui` keywords work on the parser itself, not on argument groups
    group = parser
    defaults = option_defaults()
    group.add_argument(
        "--llm-scenario",
        default=defaults["llm_scenario"],
        help="A scenario YAML file (docs/scenario.md): target, request, prompts, mix, "
        "timeouts, SLOs, pricing. --llm-… options override it.",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--llm-model",
        default=defaults["llm_model"],
        help="Model name to request; empty: the first model GET /v1/models lists.",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-max-tokens",
        type=int,
        default=defaults["llm_max_tokens"],
        help=f"max_tokens of each request (default {DEFAULT_MAX_TOKENS}).",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-temperature",
        default=defaults["llm_temperature"],
        help="temperature of each request; empty: the server's default.",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-endpoint",
        choices=["chat", "completions"],
        default=defaults["llm_endpoint"],
        help="chat: /chat/completions (default); completions: /completions.",
        include_in_web_ui=True,
    )
    group.add_argument(
        "--llm-mix",
        default=defaults["llm_mix"],
        help="User-class weights by mode, e.g. stream=3,batch=1 (default: the scenario's "
        "mix, else the locustfile's weights).",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--llm-api-key-env",
        default=defaults["llm_api_key_env"],
        help="Name of the environment variable holding the API key (default "
        "OPENAI_API_KEY). Each worker reads its own environment.",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--llm-api-key-file",
        default=defaults["llm_api_key_file"],
        help="A file holding the API key (e.g. a mounted Kubernetes secret); each worker "
        "reads its own.",
        include_in_web_ui=False,
    )
    for name, what in (
        ("connect", "connecting"),
        ("header", "the response headers"),
        ("ttft", "the first token"),
        ("stall", "the next token once streaming"),
        ("total", "the whole response"),
    ):
        group.add_argument(
            f"--llm-{name}-timeout",
            default=defaults[f"llm_{name}_timeout"],
            help=f"Deadline for {what} (default {DEFAULT_TIMEOUTS[name]}).",
            include_in_web_ui=False,
        )
    group.add_argument(
        "--llm-out",
        default=defaults["llm_out"],
        help="Write summary.json, summary.md, report.html and junit.xml into this folder "
        "when the run ends.",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--llm-preflight-wait",
        default=defaults["llm_preflight_wait"],
        help="While GET /v1/models answers 503 (a server loading its model), wait and "
        f"check again for up to this long before giving up (default {DEFAULT_PREFLIGHT_WAIT}).",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--llm-backoff-max",
        default=defaults["llm_backoff_max"],
        help="After consecutive instant failures (refused, reset before the headers, a 5xx "
        "in under 50 ms) a user waits before its next request: exponential from 50ms with "
        f"jitter, up to this long (default {DEFAULT_BACKOFF_MAX}; 0: no back-off).",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--llm-abort-after",
        default=defaults["llm_abort_after"],
        help="Stop the run with exit code 1 once every request has failed for this long "
        "(from the first failure with no success since), e.g. 30s (default 0: never).",
        include_in_web_ui=False,
    )
    _register_init_listener()


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Validated LLM settings of a run, resolved once from Locust's parsed options.

    With `--llm-scenario`, the file fills what the options leave unset (`scenario` keeps
    it); `models` lists every model (`model` is the first), `prompts` replaces the user
    classes' default prompts, `mix` their weights by mode, `slos` and `pricing` judge and
    price the run when it ends. `warnings` are one-line notes to log before the run.
    """

    target: Target | None
    model: str
    max_tokens: int | None
    temperature: float | None
    chat: bool
    api_key: str | None
    timeouts: Timeouts
    out_dir: str
    models: tuple[str, ...] = ()
    top_p: float | None = None
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    prompts: tuple[Prompt, ...] | None = None
    mix: Mapping[str, int] | None = None
    slos: tuple[SLO, ...] = ()
    pricing: Mapping[str, Price] = field(default_factory=dict)
    scenario: Scenario | None = None
    warnings: tuple[str, ...] = ()
    #: `--llm-preflight-wait`, `--llm-backoff-max`, `--llm-abort-after` in seconds (0: off)
    preflight_wait_s: float = 60.0
    backoff_max_s: float = 5.0
    abort_after_s: float = 0.0

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

        scenario_path = str(get("llm_scenario", "") or "").strip()
        scenario = load_scenario(scenario_path, environ) if scenario_path else None
        warnings = list(scenario.warnings) if scenario else []

        base_url = host or (scenario.base_url if scenario else None)
        target = Target.parse(base_url) if base_url else None
        max_tokens = _max_tokens(get("llm_max_tokens", None), scenario)
        temperature = _temperature(str(get("llm_temperature", "") or "").strip(), scenario)
        endpoint = get("llm_endpoint", None)
        if not is_given(endpoint):
            endpoint = (scenario.endpoint if scenario else None) or "chat"
        model_option = str(get("llm_model", "") or "").strip()
        if model_option:
            models: tuple[str, ...] = (model_option,)
        else:
            models = scenario.models if scenario else ()
        api_key = _api_key(get, environ, scenario, warnings)
        mix_text = str(get("llm_mix", "") or "").strip()
        mix = parse_mix(mix_text) if mix_text else (scenario.mix if scenario else None)
        return cls(
            target=target,
            model=models[0] if models else "",
            max_tokens=max_tokens,
            temperature=temperature,
            chat=endpoint != "completions",
            api_key=api_key,
            timeouts=_timeouts(get, scenario),
            out_dir=str(get("llm_out", "") or ""),
            models=models,
            top_p=scenario.top_p if scenario else None,
            extra_body=dict(scenario.extra_body) if scenario else {},
            prompts=scenario.prompts if scenario else None,
            mix=mix,
            slos=with_default_failure_gate(scenario.slos) if scenario else (),
            pricing=dict(scenario.pricing) if scenario else {},
            scenario=scenario,
            warnings=tuple(warnings),
            preflight_wait_s=_duration(get, "preflight_wait", DEFAULT_PREFLIGHT_WAIT),
            backoff_max_s=_duration(get, "backoff_max", DEFAULT_BACKOFF_MAX),
            abort_after_s=_duration(get, "abort_after", DEFAULT_ABORT_AFTER),
        )

    def request_params(self) -> dict[str, Any]:
        """The sampling parameters merged into every request body (extra_body last)."""
        params: dict[str, Any] = {}
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.top_p is not None:
            params["top_p"] = self.top_p
        params.update(self.extra_body)
        return params


def _max_tokens(value: Any, scenario: Scenario | None) -> int:
    if not is_given(value):
        if scenario is not None and scenario.max_tokens is not None:
            return scenario.max_tokens
        return DEFAULT_MAX_TOKENS
    try:
        max_tokens = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--llm-max-tokens: expected a positive integer, got {value!r}") from None
    if max_tokens <= 0:
        raise ConfigError(f"--llm-max-tokens: expected a positive integer, got {max_tokens}")
    return max_tokens


def _temperature(text: str, scenario: Scenario | None) -> float | None:
    if not text:
        return scenario.temperature if scenario else None
    try:
        temperature = float(text)
    except ValueError:
        raise ConfigError(f"--llm-temperature: expected a number in [0, 2], got {text!r}") from None
    if not (math.isfinite(temperature) and 0 <= temperature <= 2):
        raise ConfigError(f"--llm-temperature: expected a number in [0, 2], got {text!r}")
    return temperature


def _duration(get: Any, name: str, default: str) -> float:
    """A non-negative duration option `--llm-<name>` (0 allowed: off)."""
    value = get(f"llm_{name}", None)
    if value is None or (isinstance(value, str) and not value.strip()):
        value = default
    return parse_duration(
        value.strip() if isinstance(value, str) else value, name=f"--llm-{name.replace('_', '-')}"
    )


def _timeouts(get: Any, scenario: Scenario | None) -> Timeouts:
    seconds: dict[str, float] = {}
    for name in TIMEOUT_NAMES:
        option = f"--llm-{name}-timeout"
        value = get(f"llm_{name}_timeout", None)
        if not is_given(value) and scenario is not None and name in scenario.timeouts:
            seconds[name] = scenario.timeouts[name]
            continue
        if value is None:
            value = DEFAULT_TIMEOUTS[name]
        seconds[name] = parse_duration(value, name=option)
        if seconds[name] <= 0:
            raise ConfigError(f"{option}: must be greater than 0")
    return Timeouts(**{f"{name}_s": s for name, s in seconds.items()})


def _api_key(
    get: Any, environ: Mapping[str, str], scenario: Scenario | None, warnings: list[str]
) -> str | None:
    key_file = str(get("llm_api_key_file", "") or "").strip()
    key_env = get("llm_api_key_env", None)
    if key_file:
        return read_api_key_file(Path(key_file), "--llm-api-key-file", warnings)
    if is_given(key_env) and str(key_env).strip():
        return read_api_key(environ, str(key_env).strip(), warnings)
    if scenario is not None and scenario.api_key is not None:
        return scenario.api_key.reveal()
    return read_api_key(environ, DEFAULT_API_KEY_ENV, warnings)


def read_api_key(
    environ: Mapping[str, str], name: str, warnings: list[str] | None = None
) -> str | None:
    """The API key from environment variable `name`, checked before any request (CFG-09).

    Surrounding whitespace (a trailing newline from a Kubernetes secret file) is stripped;
    control or non-ASCII characters are rejected by position, never by printing the key.
    """
    raw = environ.get(name)
    if raw is None:
        return None
    key, notes = check_api_key(raw, name)
    if warnings is not None:
        warnings.extend(notes)
    return key


def environ_snapshot() -> Mapping[str, str]:
    """The process environment (a seam for tests)."""
    return os.environ


# ------------------------------------------------------------------ applying it to a run

_configs: weakref.WeakKeyDictionary[Any, RunConfig] = weakref.WeakKeyDictionary()
_listener_registered = False


def config_for(environment: Environment) -> RunConfig:
    """The run's `RunConfig`, built once per Locust environment."""
    config = _configs.get(environment)
    if config is None:
        config = RunConfig.from_options(
            environment.parsed_options, environment.host, environ_snapshot()
        )
        _configs[environment] = config
    return config


def apply_to_environment(environment: Environment, config: RunConfig) -> None:
    """Give Locust what the scenario decides: the host, user-class weights, prompts.

    Runs on Locust's `init` event (before any user starts). The target becomes the host
    when `--host` was not given; `mix` sets the weight of every LLM user class by its mode
    (a weight of 0 spawns none); scenario prompts replace the classes' default prompts (a
    locustfile's own `prompts` stay).
    """
    if not environment.host and config.target is not None and config.scenario is not None:
        environment.host = config.scenario.base_url
    default_prompts: Any = None
    users_module = sys.modules.get("harness.users")
    if users_module is not None:
        default_prompts = getattr(users_module, "DEFAULT_PROMPTS", None)
    for user_class in environment.user_classes:
        mode = getattr(user_class, "mode", None)
        if mode not in MODES:
            continue
        if config.mix is not None:
            user_class.weight = config.mix[str(mode)]
        if config.prompts and getattr(user_class, "prompts", None) is default_prompts:
            user_class.prompts = config.prompts  # type: ignore[attr-defined]


def _register_init_listener() -> None:
    """Hook `apply_to_environment` into Locust's init event, once per process."""
    global _listener_registered
    if _listener_registered:
        return
    _listener_registered = True
    from locust import events

    events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]


def _on_init(environment: Environment, **_: Any) -> None:
    if environment.parsed_options is None:
        return
    try:
        config = config_for(environment)
    except ConfigError as exc:
        # bad configuration: one line, exit 2, nothing sent (DESIGN.md §4)
        sys.stderr.write(f"locust-llm: error: {exc}\n")
        sys.exit(2)
    for warning in config.warnings:
        logger.warning("locust-llm: %s", warning)
    apply_to_environment(environment, config)
