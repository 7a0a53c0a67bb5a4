"""The effective configuration of a `locust-llm run`, and where each value came from.

`plan_run()` resolves every setting the command shows or passes on: the `--llm-…` settings by
their one definition and precedence (harness.settings: flag > variable > scenario file >
default; the parent reads no locust.conf), and Locust's own host and load options by the same
precedence. Each value is read with a one-line error naming the flag or variable it came from
(catalogue CFG-08). The result is a `RunPlan`: the settings with their sources (for
`--print-config`, secrets redacted) and what the Locust child process needs. The child
re-reads the scenario through `--llm-scenario` and resolves the same table again
(harness.options), so this module passes on only the values that came from flags, plus
Locust's own load options.

Pure: standard library, PyYAML and the harness's pure modules only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks import check_api_key, normalise_base_url, read_api_key_file
from harness.errors import ConfigError
from harness.load.plan import DEFAULT_MAX_IN_FLIGHT, TRACE_TAIL_S, Stage
from harness.load.sweep import DEFAULT_BISECT_STEPS, SweepSpec
from harness.readers import Read
from harness.redact import redact_url
from harness.scenario import TIMEOUT_NAMES, Scenario, format_mix, parse_duration
from harness.settings import (
    DEFAULT_API_KEY_ENV,
    SETTING,
    SETTINGS,
    Kind,
    Layer,
    Raw,
    Resolved,
    Setting,
    key_source,
    known_variables,
    pick,
    resolve,
)
from harness.slo import check_goodput_gates, describe, with_default_failure_gate
from harness.strict_yaml import suggest
from harness.targets import check_metrics_names

#: where `locust-llm run` writes its reports unless told (plain Locust writes none)
DEFAULT_OUT = "llm-report"
#: `locust-llm`'s own flags that mean the same as a setting's `--llm-…` flag: (flag, dest)
ALIASES: Mapping[str, tuple[str, str]] = {
    "model": ("--model", "model"),
    "protocol": ("--protocol", "protocol"),
    "metrics_url": ("--metrics-url", "metrics_url"),
    "max_tokens": ("--max-tokens", "max_tokens"),
    "mix": ("--mode", "mode"),
    "out": ("--out", "out"),
    "rate": ("--rate", "rate"),
    "arrival": ("--arrival", "arrival"),
    "burstiness": ("--burstiness", "burstiness"),
    "warmup": ("--warmup", "warmup"),
    "max_schedule_lag": ("--max-schedule-lag", "max_schedule_lag"),
}
#: `--mode` as the `--llm-mix` it stands for
MODE_MIX = {
    "stream": "stream=1,batch=0",
    "batch": "stream=0,batch=1",
    "both": "stream=1,batch=1",
    "paired": "stream=1,batch=1",
}
#: settings `locust-llm` hands the child itself (the scenario path, the report folder)
_PASSED_BY_RUN = frozenset({"scenario", "out"})
#: settings of a sweep only: not shown for a plain run
_SWEEP_ONLY = frozenset({"sweep", "stage_time", "sweep_points"})
_LOCUST_TIMESPAN = re.compile(r"(\d+h)?(\d+m)?(\d+s)?")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of `--print-config`: its key, how it is shown (redacted) and where it came
    from."""

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
    settings: tuple[Row, ...]
    warnings: tuple[str, ...]

    @property
    def run_time(self) -> str:
        """The run time as Locust takes it: whole seconds (Locust's granularity)."""
        return f"{max(1, math.ceil(self.run_time_s - 1e-9))}s"


class CommandLine:
    """`locust-llm`'s flags and environment as the settings they give, each resolved once
    (`setting()`), and the `--print-config` rows shown."""

    def __init__(self, args: Any, environ: Mapping[str, str], scenario: Scenario | None):
        self.args = args
        self.environ = environ
        self.scenario = scenario
        self.resolved: dict[str, Resolved] = {}
        self.rows: list[Row] = []

    def setting(self, name: str, default: str | None = None) -> Resolved:
        """The setting `name` (harness.settings): flag > variable > scenario > default."""
        resolved = self.resolved.get(name)
        if resolved is None:
            setting = SETTING[name]
            given = self.given(setting)
            resolved = resolve(setting, given, self.scenario, default=default)
            self.resolved[name] = resolved
        return resolved

    def given(self, setting: Setting) -> list[Raw]:
        """The setting's flag (or its alias) and variable, where given."""
        names = (ALIASES[setting.name],) if setting.name in ALIASES else ()
        if setting.name == "paired" and getattr(self.args, "mode", None) == "paired":
            return [Raw(Layer.FLAG, True, "--mode", "--mode paired")]
        flag, value = _one_flag(self.args, *names, (setting.flag, setting.dest))
        given = []
        if value is not None:
            value = MODE_MIX[value] if flag == "--mode" else value
            given.append(Raw(Layer.FLAG, value, flag, flag))
        if setting.env_var in self.environ:
            variable = setting.env_var
            given.append(Raw(Layer.ENV, self.environ[variable], variable, f"env {variable}"))
        return given

    def locust_option(
        self, flag: str, dest: str, variable: str, key: str, read: Read, default: Any
    ) -> Resolved:
        """One of Locust's own options (`--host`, `--users`, …), by the same precedence."""
        given = []
        value = getattr(self.args, dest, None)
        if value is not None:
            given.append(Raw(Layer.FLAG, value, flag, flag))
        if variable in self.environ:
            given.append(Raw(Layer.ENV, self.environ[variable], variable, f"env {variable}"))
        from_file = self.scenario.file_setting(key) if self.scenario is not None else None
        return pick(given, read, from_file=from_file, default=default, default_where=flag)

    def add(self, key: str, shown: str, source: str) -> None:
        self.rows.append(Row(key, shown, source))


def plan_run(
    args: Any,
    environ: Mapping[str, str],
    scenario: Scenario | None,
    *,
    default_users: int = 32,
    default_run_time: str = "60s",
    host_required: bool = True,
) -> RunPlan:
    """Resolve `locust-llm run`'s settings; `ConfigError` (one line) for a bad value.

    `args` carries the flags (None where not given): host, users, spawn_rate, run_time,
    mode, model, max_tokens, out, and each `--llm-…` setting by its dest (`llm_retries`).
    """
    p = CommandLine(args, environ, scenario)
    s = scenario
    label = Path(s.path).name if s else ""
    warnings = list(s.warnings) if s else []
    warnings += _unknown_variables(environ, known_variables())

    # target, or targets side by side
    host = p.locust_option("--host", "host", "LOCUST_HOST", "target.base_url", _read_url, None)
    targets = p.setting("targets")
    listed: tuple[tuple[str, str], ...] = targets.value or ()
    listed_source = targets.source
    if not listed and s is not None and s.targets:
        listed = tuple((t.name, t.base_url) for t in s.targets)
        listed_source = _origin(s, "targets")
    if listed:
        if host.value is not None:
            raise ConfigError(
                f"run: {host.where} names one target and the run has targets "
                f"({', '.join(n for n, _ in listed)}): list every endpoint in targets, or "
                "drop --host"
            )
        for name, url in listed:
            _read_url(url, f"target {name}")
        shown_targets = ", ".join(f"{n}={redact_url(u)}" for n, u in listed)
        p.add("targets", shown_targets, listed_source)
        host = Resolved(listed[0][1], listed[0][1], listed_source, targets.layer, "targets")
    elif host.value is None:
        where = f"set target.base_url in {label} or pass" if s else "pass"
        problem = f"no target: {where} --host URL (base URL up to and including /v1)"
        if host_required:
            raise ConfigError(f"run: {problem}")
        if s is None or s.mock_args is None:  # a scenario's `mock:` is its target
            warnings.append(problem)
    if host.value is None and s is not None and s.mock_args is not None:
        p.add("target.base_url", "the embedded mock (mock:)", _origin(s, "mock"))
    else:
        p.add("target.base_url", host.value or "—", host.source)
    protocol = p.setting("protocol")
    p.add("target.protocol", str(protocol.value), protocol.source)
    endpoint = p.setting("endpoint")
    p.add("target.endpoint", str(endpoint.value), endpoint.source)
    key_file, key_env = p.setting("api_key_file"), p.setting("api_key_env")
    p.add("target.api_key", *_api_key(environ, key_file, key_env))
    if key_file.layer is Layer.FLAG and key_env.layer is Layer.FLAG:
        warnings.append("--llm-api-key-env is not used: --llm-api-key-file gives the key")
    models = p.setting("model")
    shown = ", ".join(models.value) if models.value else "(the first model GET /v1/models lists)"
    p.add("target.models", shown, models.source)
    metrics = p.setting("metrics_url")
    check_metrics_names(metrics.value or (), tuple(n for n, _ in listed), metrics.where)
    if metrics.value:
        shown = ", ".join(f"{n}={redact_url(u)}" if n else redact_url(u) for n, u in metrics.value)
        p.add("target.metrics_url", shown, metrics.source)

    # request
    max_tokens = p.setting("max_tokens")
    p.add("request.max_tokens", str(max_tokens.value), max_tokens.source)
    temperature = p.setting("temperature")
    shown = "(server default)" if temperature.value is None else f"{temperature.value:g}"
    p.add("request.temperature", shown, temperature.source)
    if s is not None and s.top_p is not None:
        p.add("request.top_p", f"{s.top_p:g}", _origin(s, "request.top_p"))
    if s is not None and s.extra_body:
        origin = _origin(s, "request.extra_body")
        p.add("request.extra_body", ", ".join(sorted(s.extra_body)), origin)
    if s is not None and s.prompts_source:
        origin = _origin(s, "prompts", "prompts.inline", "prompts.file", "prompts.synthetic")
        p.add("prompts", s.prompts_source, origin)
    else:
        p.add("prompts", "the built-in everyday prompts (6)", "default")

    # mix
    mix = p.setting("mix")
    p.add("mix", format_mix(mix.value) if mix.value else MODE_MIX["both"], mix.source)
    paired = p.setting("paired")
    if paired.value:
        p.add("mix.paired", "each prompt in both modes at the same due time", paired.source)

    # load
    rate = p.setting("rate")
    sweep = p.setting("sweep")
    staged = bool(s is not None and s.stages)
    trace = s.workload.trace if s is not None and s.workload is not None else None
    open_loop = staged or bool(rate.value) or sweep.value is not None or trace is not None
    if sweep.value is not None:
        users, spawn_rate, run_time_s = _sweep_load(p, s, sweep)
    elif open_loop:
        users, spawn_rate, run_time_s = _open_loop_load(p, s, rate, default_run_time)
    else:
        users = p.locust_option(
            "--users", "users", "LOCUST_USERS", "load.users", _read_count, default_users
        )
        if getattr(args, "max_in_flight", None) is not None:
            raise ConfigError(
                "--max-in-flight: only with --rate (an open-loop run); a closed-loop run's "
                "in-flight cap is --users"
            )
        p.add("load.users", str(users.value), users.source)
        spawn = p.locust_option(
            "--spawn-rate", "spawn_rate", "LOCUST_SPAWN_RATE", "load.spawn_rate", _read_rate, None
        )
        spawn_rate, source = spawn.value, spawn.source
        if spawn_rate is None:
            spawn_rate, source = float(users.value), "default (all users at once)"
        p.add("load.spawn_rate", f"{spawn_rate:g}", source)
        run_time = p.locust_option(
            "--run-time", "run_time", "LOCUST_RUN_TIME", "load.run_time", _read_run_time,
            default_run_time,
        )  # fmt: skip
        run_time_s = parse_duration(run_time.value)
        p.add("load.run_time", run_time.value, run_time.source)
    warmup = p.setting("warmup")
    if warmup.value:
        p.add("load.warmup", f"{warmup.value:g}s (not counted)", warmup.source)
        staged_time = sum(st.duration_s or 0.0 for st in s.stages) if staged and s else None
        measured = staged_time if staged_time is not None else run_time_s
        if sweep.value is None and warmup.value >= measured:
            raise ConfigError(
                f"{warmup.where}: {warmup.value:g}s is not shorter than the run "
                f"({measured:g}s): nothing would be measured"
            )

    # timeouts
    for name in TIMEOUT_NAMES:
        timeout = p.setting(f"{name}_timeout")
        p.add(f"timeouts.{name}", f"{timeout.value:g}s", timeout.source)

    # goodput, slos, pricing, output
    goodput = p.setting("goodput")
    if goodput.value is not None:
        p.add("goodput", goodput.value.describe(), goodput.source)
    check_goodput_gates(s.slos if s else (), goodput.value is not None)
    if s is not None:
        for i, slo in enumerate(with_default_failure_gate(s.slos)):
            p.add(f"slos[{i}]", describe(slo), slo.origin or _origin(s, "slos"))
        for model, price in s.pricing.items():
            p.add(
                f"pricing.{model}",
                f"${price.input_per_mtok:g} input, ${price.output_per_mtok:g} output "
                "per million tokens",
                _origin(s, "pricing"),
            )
    out = p.setting("out", default=DEFAULT_OUT)
    p.add("out", out.value, out.source)

    # every other --llm-… setting, under its flag
    for setting in SETTINGS:
        if setting.scenario_key is not None or setting.name in _PASSED_BY_RUN:
            continue
        if setting.name in _SWEEP_ONLY and sweep.value is None:
            continue
        resolved = p.setting(setting.name)
        if setting.kind is Kind.SWITCH:
            shown = "true" if resolved.value else "false"
        else:
            shown = resolved.text or '""'
        if resolved.layer is not Layer.DEFAULT or shown not in ('""', "false"):
            p.add(setting.flag, shown, resolved.source)
    for setting in SETTINGS:  # every flag given reaches the child, shown above or not
        p.setting(setting.name)
    return RunPlan(
        host=host.value or "",
        users=int(users.value),
        spawn_rate=float(spawn_rate),
        run_time_s=run_time_s,
        out_dir=out.value,
        scenario_path=s.path if s else None,
        llm_args=_child_args(p.resolved),
        settings=tuple(p.rows),
        warnings=tuple(warnings),
    )


#: a staged run's Locust run time goes past the last stage by this much: the plan ends the
#: run itself, after the users are ready
STAGED_RUN_TIME_MARGIN_S = 30.0


def _open_loop_load(
    p: CommandLine, s: Scenario | None, rate: Resolved, default_run_time: str
) -> tuple[Resolved, float, float]:
    """An open-loop or staged run's Locust users (the in-flight pool), spawn rate (at once)
    and run time; its rows for `--print-config`."""
    args, environ = p.args, p.environ
    for flag, dest, variable in (("--users", "users", "LOCUST_USERS"),):
        if getattr(args, dest, None) is not None or variable in environ:
            where = flag if getattr(args, dest, None) is not None else variable
            raise ConfigError(
                f"{where}: not with an arrival rate: an open-loop run's users are its "
                "in-flight pool; set --max-in-flight (load.max_in_flight)"
            )
    users = _max_in_flight(p, s, DEFAULT_MAX_IN_FLIGHT)
    if s is not None and s.stages:
        p.add(
            "load.stages", " → ".join(_stage_row(st) for st in s.stages), _origin(s, "load.stages")
        )
        total = sum(st.duration_s or 0.0 for st in s.stages)
        if s.stages[-1].duration_s is None:
            raise ConfigError(
                f"{s.stages[-1].origin or 'load.stages'}: a headless run needs every stage's "
                "duration (the last one too)"
            )
        run_time_s = total + STAGED_RUN_TIME_MARGIN_S
    elif s is not None and s.workload is not None and s.workload.trace is not None:
        workload = s.workload
        assert workload.trace is not None
        p.add("load.trace", workload.trace.describe(workload.trace_speed), _origin(s, "prompts"))
        # the run ends with the trace (the plan's controller); Locust's time is a backstop
        run_time_s = (
            workload.trace.duration_s(workload.trace_speed)
            + TRACE_TAIL_S
            + STAGED_RUN_TIME_MARGIN_S
        )
    else:
        p.add("load.rate", f"{rate.value:g}/s", rate.source)
        run_time = p.locust_option(
            "--run-time", "run_time", "LOCUST_RUN_TIME", "load.run_time", _read_run_time,
            default_run_time,
        )  # fmt: skip
        run_time_s = parse_duration(run_time.value)
        p.add("load.run_time", run_time.value, run_time.source)
    p.add("load.max_in_flight", str(users.value), users.source)
    _arrival_rows(p)
    return users, float(max(int(users.value), 1000)), run_time_s


def _arrival_rows(p: CommandLine) -> None:
    """`--print-config`'s rows of how open-loop arrivals are drawn and capped."""
    arrival = p.setting("arrival")
    p.add("load.arrival", str(arrival.value), arrival.source)
    burstiness = p.setting("burstiness")
    if arrival.value == "gamma" or burstiness.layer is not Layer.DEFAULT:
        p.add("load.burstiness", f"{burstiness.value:g}", burstiness.source)
    lag = p.setting("max_schedule_lag")
    shown = f"{lag.value:g}s (then dropped)" if lag.value else "none (requests wait)"
    p.add("load.max_schedule_lag", shown, lag.source)
    seed = p.setting("seed")
    p.add("load.seed", str(seed.value), seed.source)


#: a sweep's pool when --max-in-flight is not given
DEFAULT_SWEEP_MAX_IN_FLIGHT = 256


def _sweep_load(
    p: CommandLine, s: Scenario | None, sweep: Resolved
) -> tuple[Resolved, float, float]:
    """A sweep's Locust users (its in-flight pool, the auto sweep's saturating point), spawn
    rate and run time (the sweep ends the run itself after its last point)."""
    if s is not None and s.stages:
        raise ConfigError("sweep: the scenario sets load.stages; a sweep makes its own stages")
    users = _max_in_flight(p, s, DEFAULT_SWEEP_MAX_IN_FLIGHT)
    kind, values = sweep.value
    stage_time = p.setting("stage_time")
    points = len(values) if kind != "auto" else 2 + int(p.setting("sweep_points").value)
    points += DEFAULT_BISECT_STEPS  # a bisection may follow (with goodput limits)
    p.add("sweep", SweepSpec(kind, values).to_text(), sweep.source)
    p.add("sweep.stage_time", f"{stage_time.value:g}s", stage_time.source)
    p.add("load.max_in_flight", str(users.value), users.source)
    points_setting = p.setting("sweep_points")
    if kind == "auto" or points_setting.layer is not Layer.DEFAULT:
        p.add("sweep.points", str(points_setting.value), points_setting.source)
    _arrival_rows(p)
    rate = p.setting("rate")
    if rate.value:
        raise ConfigError(f"{rate.where}: not with a sweep (its points set the rates)")
    run_time_s = points * float(stage_time.value) + STAGED_RUN_TIME_MARGIN_S
    return users, float(max(int(users.value), 1000)), run_time_s


def _max_in_flight(p: CommandLine, s: Scenario | None, default: int) -> Resolved:
    """An open-loop run's pool: --max-in-flight > load.max_in_flight > `default`."""
    given = []
    if getattr(p.args, "max_in_flight", None) is not None:
        given.append(Raw(Layer.FLAG, p.args.max_in_flight, "--max-in-flight", "--max-in-flight"))
    from_file = None
    if s is not None and s.max_in_flight is not None:
        from_file = (s.max_in_flight, s.origins.get("load.max_in_flight", s.path))
    return pick(
        given, _read_count, from_file=from_file, default=default, default_where="--max-in-flight"
    )


def _stage_row(stage: Stage) -> str:
    text = stage.label
    if stage.duration_s is not None:
        text += f" {stage.duration_s:g}s"
    return text


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


def _child_args(resolved: Mapping[str, Resolved]) -> tuple[str, ...]:
    """The `--llm-…` flags for the Locust child: every setting a flag gave, in table order
    (what came from a variable reaches the child through its environment)."""
    args: list[str] = []
    for setting in SETTINGS:
        given = resolved.get(setting.name)
        if given is None or given.layer is not Layer.FLAG or setting.name in _PASSED_BY_RUN:
            continue
        if setting.kind is Kind.SWITCH:
            args += [setting.flag] if given.value else []
        elif setting.name == "mix":
            args += [setting.flag, format_mix(given.value)]
        elif setting.name == "temperature":
            args += [setting.flag, repr(float(given.value))]
        else:
            args += [setting.flag, str(given.value) if setting.kind is Kind.INT else given.text]
    return tuple(args)


def _origin(scenario: Scenario, *keys: str) -> str:
    """Where the file sets the first of `keys` it has (the file itself when none)."""
    return next((scenario.origins[k] for k in keys if k in scenario.origins), scenario.path)


def _one_flag(args: Any, *names: tuple[str, str]) -> tuple[str, Any]:
    """The one of several flags with the same meaning that was given: (flag, value).

    (the first flag, None) when none was; `ConfigError` when two were, with different values.
    """
    given = [(flag, getattr(args, dest, None)) for flag, dest in names]
    given = [(flag, value) for flag, value in given if value is not None]
    if len({str(value) for _, value in given}) > 1:
        raise ConfigError(f"give {given[0][0]} or {given[1][0]}, not both")
    return given[0] if given else (names[0][0], None)


def _api_key(environ: Mapping[str, str], key_file: Resolved, key_env: Resolved) -> tuple[str, str]:
    """How the API key is shown and its source; never the key itself (catalogue SEC-04).

    The key file is read and checked as the child will read it; a variable is looked up.
    """
    given = key_source(key_file, key_env)
    if given is key_file:
        if given.layer is Layer.SCENARIO:  # the scenario loader read and checked it
            return f"Secret('***') from file {given.value}", given.source
        name, file_var = given.where, given.value
        read_api_key_file(Path(file_var), name)  # checked, never shown
        return f"Secret('***') from file {file_var}", given.source
    if given.layer is Layer.SCENARIO:  # the scenario loader checked the variable's key
        return f"Secret('***') from ${given.value}", given.source
    return _key_from_env(environ, given.value or DEFAULT_API_KEY_ENV), given.source


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


# ------------------------------------------------------------------ Locust's own options


def _read_url(value: str, where: str) -> str:
    """A base URL from `--host` or `LOCUST_HOST`, normalised (catalogue CFG-06)."""
    if where == "--host":
        try:
            normalised, _ = normalise_base_url(value)
        except ConfigError:
            raise ConfigError(
                f"base URL {redact_url(value.strip())!r}: expected http://host[:port]/v1 "
                "or https://host[:port]/v1"
            ) from None
        return normalised
    try:
        normalised, _ = normalise_base_url(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {str(exc).removeprefix('base URL: ')}") from None
    return normalised


def _read_count(value: Any, where: str) -> int:
    """Users: a flag's value is an int already (argparse); a variable's is checked here."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}")
    return int(text)


def _read_rate(value: Any, where: str) -> float:
    """Users per second: a flag's value is a float already; a variable's is checked here."""
    if isinstance(value, float):
        return value
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(f"{where}: expected a positive number, got {value!r}")
    return number


def _read_run_time(value: str, where: str) -> str:
    """A run time; a variable may use Locust's own form (``1h30m``, or bare seconds)."""
    if where == "--run-time":
        return value  # checked by the parser
    text = value.strip()
    match = _LOCUST_TIMESPAN.fullmatch(text)
    if text and match is not None and not text.isdigit():
        seconds = 0
        for group, unit in zip(match.groups(), (3600, 60, 1), strict=True):
            if group:
                seconds += int(group[:-1]) * unit
        if seconds > 0:
            return f"{seconds}s"
    try:
        valid = parse_duration(text, name=where) > 0
    except ConfigError:
        valid = False
    if not valid:
        raise ConfigError(f"{where}: expected a duration such as 500ms, 15s or 5m, got {text!r}")
    return text
