"""The effective configuration of a `locust-llm run`, and where each value came from.

Precedence (docs/scenario.md): defaults < scenario file < `LOCUST_*` environment < flags.
`plan_run()` resolves every setting the command shows or passes on, validating environment
variables with one-line errors that name the variable (catalogue CFG-08), and returns a
`RunPlan`: the settings with their sources (for `--print-config`, secrets redacted) and what
the Locust child process needs. The child re-reads the scenario through `--llm-scenario` and
applies the same precedence to the `--llm-…` options (harness.options), so this module passes
on only the values that came from flags, plus Locust's own load options.

The `--llm-…` options themselves are defined once, on Locust's parser (harness.options,
harness.users, the exporters); `locust-llm` reads that definition (`LlmOption`, listed by
harness.cli) so every one of them is a `run` flag under the same name and a known
`LOCUST_LLM_…` variable, with no second list to keep up to date.

Pure: standard library, PyYAML and harness.scenario only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks import check_api_key, normalise_base_url, read_api_key_file, redact_url
from harness.errors import ConfigError
from harness.scenario import (
    DEFAULT_TIMEOUTS,
    TIMEOUT_NAMES,
    Scenario,
    format_mix,
    parse_duration,
    parse_mix,
)
from harness.slo import describe, with_default_failure_gate
from harness.strict_yaml import suggest

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
#: `LOCUST_LLM_…` variables this module resolves itself; every other option's variable comes
#: from the option definitions passed to `plan_run` (`LlmOption.env_var`)
KNOWN_LLM_VARIABLES = (
    "LOCUST_LLM_SCENARIO",
    "LOCUST_LLM_MODEL",
    "LOCUST_LLM_MAX_TOKENS",
    "LOCUST_LLM_TEMPERATURE",
    "LOCUST_LLM_ENDPOINT",
    "LOCUST_LLM_MIX",
    "LOCUST_LLM_API_KEY_ENV",
    "LOCUST_LLM_API_KEY_FILE",
    *(f"LOCUST_LLM_{name.upper()}_TIMEOUT" for name in TIMEOUT_NAMES),
    "LOCUST_LLM_OUT",
)
#: `LOCUST_LLM_…` variables of the project's scripts and tests, not of a run (never warned about):
#: the image tag of scripts/ and compose, the real servers' cache folder, the web UI screenshot
PROJECT_VARIABLES = ("LOCUST_LLM_IMAGE", "LOCUST_LLM_CACHE", "LOCUST_LLM_SCREENSHOT")
#: `--llm-…` options this module resolves itself (shown under their scenario keys), by dest;
#: `llm_scenario` and `llm_out` are `locust-llm`'s own (the positional file, `--out`)
RESOLVED_HERE = frozenset(
    {
        "llm_scenario",
        "llm_model",
        "llm_max_tokens",
        "llm_temperature",
        "llm_endpoint",
        "llm_mix",
        "llm_api_key_env",
        "llm_api_key_file",
        "llm_out",
        *(f"llm_{name}_timeout" for name in TIMEOUT_NAMES),
    }
)
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOCUST_TIMESPAN = re.compile(r"(\d+h)?(\d+m)?(\d+s)?")


@dataclass(frozen=True, slots=True)
class LlmOption:
    """One `--llm-…` option as Locust's parser defines it (harness.cli reads the definition).

    `kind` is "flag" (no value: given or not), "int", "float" or "str"; `default` is how
    Locust's parser shows the default ("" when none).
    """

    flag: str
    dest: str
    env_var: str | None
    kind: str
    default: str
    choices: tuple[str, ...] | None
    help: str

    def check(self, value: str, where: str) -> str:
        """`value` as the child will parse it, or `ConfigError` naming `where` (one line)."""
        text = value.strip()
        if self.kind == "flag":
            if text.lower() not in _TRUE + _FALSE:
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            return "true" if text.lower() in _TRUE else "false"
        if self.kind == "int":
            try:
                int(text)
            except ValueError:
                raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if self.kind == "float":
            try:
                float(text)
            except ValueError:
                raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if self.choices is not None and text not in self.choices:
            listed = ", ".join(self.choices)
            raise ConfigError(
                f"{where}: expected one of {listed}, got {value!r}{suggest(text, self.choices)}"
            )
        return text


def known_variables(llm_options: Sequence[LlmOption] = ()) -> tuple[str, ...]:
    """Every `LOCUST_LLM_…` variable a run reads: this module's and the options' own."""
    names = dict.fromkeys(KNOWN_LLM_VARIABLES + PROJECT_VARIABLES)
    names.update(dict.fromkeys(o.env_var for o in llm_options if o.env_var))
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Setting:
    """One effective value: its key, how it is shown (redacted) and where it came from."""

    key: str
    shown: str
    source: str


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What `locust-llm run` starts: Locust's load options and the extra `--llm-…` flags."""

    host: str
    users: int
    spawn_rate: float
    run_time_s: float
    out_dir: str
    scenario_path: str | None
    llm_args: tuple[str, ...]
    settings: tuple[Setting, ...]
    warnings: tuple[str, ...]

    @property
    def run_time(self) -> str:
        """The run time as Locust takes it: whole seconds (Locust's granularity)."""
        return f"{max(1, math.ceil(self.run_time_s - 1e-9))}s"


class _Resolver:
    def __init__(self, environ: Mapping[str, str], scenario: Scenario | None) -> None:
        self.environ = environ
        self.scenario = scenario
        self.settings: list[Setting] = []
        self.label = Path(scenario.path).name if scenario else ""

    def file_origin(self, key: str) -> str:
        assert self.scenario is not None
        where = self.scenario.origins.get(key, self.scenario.path)
        return where

    def pick(
        self,
        key: str,
        *,
        flag: tuple[str, Any] | None,
        env: str | None,
        parse_env: Any,
        file_value: Any,
        default: Any,
        file_key: str | None = None,
    ) -> tuple[Any, str]:
        """The value and its source, highest precedence first."""
        if flag is not None and flag[1] is not None:
            return flag[1], flag[0]
        if env is not None and env in self.environ:
            return parse_env(env, self.environ[env]), f"env {env}"
        if file_value is not None and self.scenario is not None:
            return file_value, self.file_origin(file_key or key)
        return default, "default"

    def add(self, key: str, shown: str, source: str) -> None:
        self.settings.append(Setting(key, shown, source))


def plan_run(
    args: Any,
    environ: Mapping[str, str],
    scenario: Scenario | None,
    *,
    default_users: int = 32,
    default_run_time: str = "60s",
    host_required: bool = True,
    llm_options: Sequence[LlmOption] = (),
) -> RunPlan:
    """Resolve `locust-llm run`'s settings; `ConfigError` (one line) for a bad value.

    `args` carries the flags (None where not given): host, users, spawn_rate, run_time,
    mode, model, max_tokens, out, and each `--llm-…` option by its dest (`llm_retries`).
    `llm_options` are the `--llm-…` options Locust's parser defines: the ones this module
    does not resolve itself are checked, shown and passed on as they are.
    """
    r = _Resolver(environ, scenario)
    s = scenario
    llm_args: list[str] = []
    warnings = list(s.warnings) if s else []
    warnings += _unknown_variables(environ, known_variables(llm_options))

    # target
    host, source = r.pick(
        "target.base_url",
        flag=("--host", getattr(args, "host", None)),
        env="LOCUST_HOST",
        parse_env=_env_url,
        file_value=s.base_url if s else None,
        default=None,
    )
    if source == "--host":
        host = _flag_url(host)
    if host is None:
        where = f"set target.base_url in {r.label} or pass" if s else "pass"
        problem = f"no target: {where} --host URL (base URL up to and including /v1)"
        if host_required:
            raise ConfigError(f"run: {problem}")
        warnings.append(problem)
    r.add("target.base_url", host or "—", source)
    endpoint_flag = getattr(args, "llm_endpoint", None)
    if endpoint_flag is not None:
        endpoint_flag = _env_choice(("chat", "completions"))("--llm-endpoint", endpoint_flag)
        llm_args += ["--llm-endpoint", endpoint_flag]
    endpoint, source = r.pick(
        "target.endpoint",
        flag=("--llm-endpoint", endpoint_flag),
        env="LOCUST_LLM_ENDPOINT",
        parse_env=_env_choice(("chat", "completions")),
        file_value=s.endpoint if s else None,
        default="chat",
    )
    r.add("target.endpoint", str(endpoint), source)
    key_flags = [
        (flag, str(value).strip())
        for flag, value in (
            ("--llm-api-key-file", getattr(args, "llm_api_key_file", None)),
            ("--llm-api-key-env", getattr(args, "llm_api_key_env", None)),
        )
        if value is not None and str(value).strip()
    ]
    r.add("target.api_key", *_api_key(environ, s, dict(key_flags)))
    if len(key_flags) == 2:
        warnings.append("--llm-api-key-env is not used: --llm-api-key-file gives the key")
    for flag, value in key_flags:
        llm_args += [flag, value]
    model_name, model_flag = _one_flag(args, ("--model", "model"), ("--llm-model", "llm_model"))
    model_flag = str(model_flag).strip() if model_flag is not None else None
    models, source = r.pick(
        "target.models",
        flag=(model_name, (model_flag,) if model_flag else None),
        env="LOCUST_LLM_MODEL",
        parse_env=lambda _n, v: (v.strip(),) if v.strip() else None,
        file_value=(s.models or None) if s else None,
        default=None,
        file_key=_first_origin(s, ("target.model", "target.models")),
    )
    if model_flag:
        llm_args += ["--llm-model", model_flag]
    r.add(
        "target.models",
        ", ".join(models) if models else "(the first model GET /v1/models lists)",
        source,
    )

    # request
    max_tokens_name, max_tokens_flag = _one_flag(
        args, ("--max-tokens", "max_tokens"), ("--llm-max-tokens", "llm_max_tokens")
    )
    if isinstance(max_tokens_flag, str):
        max_tokens_flag = _env_int(max_tokens_name, max_tokens_flag)
    max_tokens, source = r.pick(
        "request.max_tokens",
        flag=(max_tokens_name, max_tokens_flag),
        env="LOCUST_LLM_MAX_TOKENS",
        parse_env=_env_int,
        file_value=s.max_tokens if s else None,
        default=128,
    )
    if source == max_tokens_name:
        llm_args += ["--llm-max-tokens", str(max_tokens)]
    r.add("request.max_tokens", str(max_tokens), source)
    temperature_text = str(getattr(args, "llm_temperature", None) or "").strip()
    temperature_flag = None
    if temperature_text:
        temperature_flag = _env_temperature("--llm-temperature", temperature_text)
        llm_args += ["--llm-temperature", f"{temperature_flag:g}"]
    temperature, source = r.pick(
        "request.temperature",
        flag=("--llm-temperature", temperature_flag),
        env="LOCUST_LLM_TEMPERATURE" if environ.get("LOCUST_LLM_TEMPERATURE") else None,
        parse_env=_env_temperature,
        file_value=s.temperature if s else None,
        default=None,
    )
    r.add(
        "request.temperature",
        "(server default)" if temperature is None else f"{temperature:g}",
        source,
    )
    if s is not None and s.top_p is not None:
        r.add("request.top_p", f"{s.top_p:g}", r.file_origin("request.top_p"))
    if s is not None and s.extra_body:
        r.add(
            "request.extra_body",
            ", ".join(sorted(s.extra_body)),
            r.file_origin("request.extra_body"),
        )
    if s is not None and s.prompts_source:
        origin = _first_origin(
            s, ("prompts", "prompts.inline", "prompts.file", "prompts.synthetic")
        )
        r.add("prompts", s.prompts_source, r.file_origin(origin))
    else:
        r.add("prompts", "the built-in everyday prompts (6)", "default")

    # mix
    mode_mix = {
        "stream": "stream=1,batch=0",
        "batch": "stream=0,batch=1",
        "both": "stream=1,batch=1",
    }
    mix_name, mix_flag = _one_flag(args, ("--mode", "mode"), ("--llm-mix", "llm_mix"))
    if mix_flag is not None:
        mix_flag = mode_mix[mix_flag] if mix_name == "--mode" else _env_mix(mix_name, mix_flag)
    mix, source = r.pick(
        "mix",
        flag=(mix_name, mix_flag),
        env="LOCUST_LLM_MIX",
        parse_env=_env_mix,
        file_value=format_mix(s.mix) if s and s.mix else None,
        default="stream=1,batch=1",
    )
    if source == mix_name:
        llm_args += ["--llm-mix", mix]
    r.add("mix", mix, source)

    # load
    users, source = r.pick(
        "load.users",
        flag=("--users", getattr(args, "users", None)),
        env="LOCUST_USERS",
        parse_env=_env_int,
        file_value=s.users if s else None,
        default=default_users,
    )
    r.add("load.users", str(users), source)
    spawn_rate, source = r.pick(
        "load.spawn_rate",
        flag=("--spawn-rate", getattr(args, "spawn_rate", None)),
        env="LOCUST_SPAWN_RATE",
        parse_env=_env_float,
        file_value=s.spawn_rate if s else None,
        default=None,
    )
    if spawn_rate is None:
        spawn_rate, source = float(users), "default (all users at once)"
    r.add("load.spawn_rate", f"{spawn_rate:g}", source)
    run_time, source = r.pick(
        "load.run_time",
        flag=("--run-time", getattr(args, "run_time", None)),
        env="LOCUST_RUN_TIME",
        parse_env=_env_run_time,
        file_value=s.run_time if s else None,
        default=default_run_time,
    )
    run_time_s = run_time if isinstance(run_time, float) else parse_duration(run_time)
    r.add("load.run_time", run_time if isinstance(run_time, str) else f"{run_time:g}s", source)

    # timeouts
    for name in TIMEOUT_NAMES:
        variable = f"LOCUST_LLM_{name.upper()}_TIMEOUT"
        option = f"--llm-{name}-timeout"
        given = getattr(args, f"llm_{name}_timeout", None)
        if given is not None:
            given = _env_duration(option, given)
            llm_args += [option, str(getattr(args, f"llm_{name}_timeout")).strip()]
        seconds, source = r.pick(
            f"timeouts.{name}",
            flag=(option, given),
            env=variable,
            parse_env=_env_duration,
            file_value=s.timeouts.get(name) if s else None,
            default=parse_duration(DEFAULT_TIMEOUTS[name]),
        )
        r.add(f"timeouts.{name}", f"{seconds:g}s", source)

    # slos, pricing, output
    if s is not None:
        for i, slo in enumerate(with_default_failure_gate(s.slos)):
            r.add(f"slos[{i}]", describe(slo), slo.origin or r.file_origin("slos"))
        for model, price in s.pricing.items():
            r.add(
                f"pricing.{model}",
                f"${price.input_per_mtok:g} input, ${price.output_per_mtok:g} output "
                "per million tokens",
                r.file_origin("pricing"),
            )
    out_name, out_flag = _one_flag(args, ("--out", "out"), ("--llm-out", "llm_out"))
    out, source = r.pick(
        "out",
        flag=(out_name, str(out_flag).strip() or None if out_flag is not None else None),
        env="LOCUST_LLM_OUT" if environ.get("LOCUST_LLM_OUT", "").strip() else None,
        parse_env=lambda _n, v: v.strip(),
        file_value=None,
        default="llm-report",
    )
    r.add("out", out, source)

    # every other --llm-… option: checked here (one line), applied by the child
    for spec in llm_options:
        if spec.dest in RESOLVED_HERE:
            continue
        given = getattr(args, spec.dest, None)
        if given is not None:
            if spec.kind == "flag":
                if given:
                    llm_args.append(spec.flag)
                r.add(spec.flag, "true" if given else "false", spec.flag)
            else:
                checked = spec.check(str(given), spec.flag)
                llm_args += [spec.flag, checked]
                r.add(spec.flag, checked or '""', spec.flag)
        elif spec.env_var and spec.env_var in environ:
            checked = spec.check(environ[spec.env_var], spec.env_var)
            r.add(spec.flag, checked or '""', f"env {spec.env_var}")
        elif spec.default not in ("", "false"):
            r.add(spec.flag, spec.default, "default")
    return RunPlan(
        host=host or "",
        users=int(users),
        spawn_rate=float(spawn_rate),
        run_time_s=run_time_s,
        out_dir=out,
        scenario_path=s.path if s else None,
        llm_args=tuple(llm_args),
        settings=tuple(r.settings),
        warnings=tuple(warnings),
    )


def render_plan(plan: RunPlan, *, title: str) -> str:
    """The effective configuration as aligned text (for `--print-config`); no secrets."""
    width = max(len(s.key) for s in plan.settings)
    value_width = min(max(len(s.shown) for s in plan.settings), 60)
    lines = [title, ""]
    for setting in plan.settings:
        lines.append(
            f"  {setting.key.ljust(width)}  {setting.shown.ljust(value_width)}  {setting.source}"
        )
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def _first_origin(scenario: Scenario | None, keys: tuple[str, ...]) -> str:
    if scenario is None:
        return keys[0]
    return next((k for k in keys if k in scenario.origins), keys[0])


def _one_flag(args: Any, *names: tuple[str, str]) -> tuple[str, Any]:
    """The one of several flags with the same meaning that was given: (flag, value).

    (the first flag, None) when none was; `ConfigError` when two were, with different values.
    """
    given = [(flag, getattr(args, dest, None)) for flag, dest in names]
    given = [(flag, value) for flag, value in given if value is not None]
    if len({str(value) for _, value in given}) > 1:
        raise ConfigError(f"give {given[0][0]} or {given[1][0]}, not both")
    return given[0] if given else (names[0][0], None)


def _api_key(
    environ: Mapping[str, str], s: Scenario | None, flags: Mapping[str, str]
) -> tuple[str, str]:
    """How the API key is shown and its source; never the key itself (catalogue SEC-04).

    `flags`: `--llm-api-key-file` / `--llm-api-key-env` as given on the command line; a
    file wins over a variable name, as in the child (harness.options).
    """
    file_var, source = flags.get("--llm-api-key-file", ""), "--llm-api-key-file"
    if not file_var:
        file_var = environ.get("LOCUST_LLM_API_KEY_FILE", "").strip()
        source = "env LOCUST_LLM_API_KEY_FILE"
    name = source.removeprefix("env ")
    if file_var:
        read_api_key_file(Path(file_var), name)  # checked, never shown
        return f"Secret('***') from file {file_var}", source
    name_var, source = flags.get("--llm-api-key-env", ""), "--llm-api-key-env"
    if not name_var:
        name_var = environ.get("LOCUST_LLM_API_KEY_ENV", "").strip()
        source = "env LOCUST_LLM_API_KEY_ENV"
    if name_var:
        if not _ENV_NAME.fullmatch(name_var):
            raise ConfigError(
                f"{source.removeprefix('env ')}: expected the name of an environment variable, "
                "such as OPENAI_API_KEY (the value is not shown)"
            )
        return _key_from_env(environ, name_var), source
    if s is not None and s.api_key is not None:
        if s.api_key_file:
            return f"Secret('***') from file {s.api_key_file}", s.origins["target.api_key_file"]
        return f"Secret('***') from ${s.api_key_env}", s.origins["target.api_key_env"]
    return _key_from_env(environ, DEFAULT_API_KEY_ENV), "default"


def _key_from_env(environ: Mapping[str, str], name: str) -> str:
    raw = environ.get(name)
    if raw is None:
        return f"(none: ${name} is not set)"
    key, _ = check_api_key(raw, name)
    return f"Secret('***') from ${name}" if key else f"(none: ${name} is empty)"


def _unknown_variables(environ: Mapping[str, str], known: Sequence[str]) -> list[str]:
    notes = []
    for name in sorted(environ):
        if name.startswith("LOCUST_LLM_") and name not in known:
            hint = suggest(name, list(known))
            if hint:
                notes.append(f"environment variable {name} is not a locust-llm setting{hint}")
    return notes


def _flag_url(url: str) -> str:
    try:
        normalised, _ = normalise_base_url(url)
    except ConfigError:
        raise ConfigError(
            f"base URL {redact_url(url.strip())!r}: expected http://host[:port]/v1 "
            "or https://host[:port]/v1"
        ) from None
    return normalised


def _env_url(name: str, value: str) -> str:
    try:
        normalised, _ = normalise_base_url(value)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {str(exc).removeprefix('base URL: ')}") from None
    return normalised


def _env_int(name: str, value: str) -> int:
    text = value.strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    return int(text)


def _env_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(f"{name}: expected a positive number, got {value!r}")
    return number


def _env_temperature(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and 0 <= number <= 2):
        raise ConfigError(f"{name}: expected a number from 0 to 2, got {value!r}")
    return number


def _env_duration(name: str, value: str) -> float:
    try:
        seconds = parse_duration(value, name=name)
    except ConfigError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"{name}: expected a duration such as 500ms, 15s or 5m, got {value!r}")
    return seconds


def _env_run_time(name: str, value: str) -> str:
    text = value.strip()
    match = _LOCUST_TIMESPAN.fullmatch(text)
    if text and match is not None and not text.isdigit():
        seconds = 0
        for group, unit in zip(match.groups(), (3600, 60, 1), strict=True):
            if group:
                seconds += int(group[:-1]) * unit
        if seconds > 0:
            return f"{seconds}s"
    _env_duration(name, text)
    return text


def _env_choice(allowed: tuple[str, ...]) -> Any:
    def parse(name: str, value: str) -> str:
        if value.strip() not in allowed:
            listed = ", ".join(allowed)
            raise ConfigError(
                f"{name}: expected one of {listed}, got {value!r}{suggest(value, allowed)}"
            )
        return value.strip()

    return parse


def _env_mix(name: str, value: str) -> str:
    return format_mix(parse_mix(value, name=name))
