"""The `--llm-…` options on Locust's parser, and the run configuration built from them.

Every option is registered from the one settings table (harness.settings), so each works
from the command line, `locust.conf`, its `LOCUST_LLM_…` variable and (where the table says
so) the web UI's start dialog, and reaches workers in distributed mode. `locust-llm` derives
its own flags from the same table.

`--llm-scenario PATH` adds a scenario file (harness.scenario). Precedence, resolved once into
a frozen `RunConfig` by the table's one rule (`harness.settings.resolve`): defaults < scenario
file < locust.conf < `LOCUST_*` environment < command-line flags (Locust's parser merges the
last three). Options whose defaults the scenario may replace are registered with *marked*
defaults (`_DefaultInt`, `_DefaultStr`: the same values, but recognisably not given), so an
option that was given — even with its default value — wins over the file, and one that was
not lets the file speak.

The API key is never an option: only the *name* of the environment variable that holds it is
(`--llm-api-key-env`), or a file (`--llm-api-key-file`), so the key cannot show in the web UI,
`ps`, or Locust's option dumps. Each worker reads its own environment or file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checks import check_api_key, read_api_key_file
from harness.errors import MODES, ConfigError
from harness.load.goodput import GoodputLimits
from harness.load.plan import DEFAULT_ARRIVAL, LoadPlan, Stage, build_plan
from harness.load.sweep import SweepSpec, initial_stages
from harness.prompts import Prompt
from harness.scenario import TIMEOUT_NAMES, Price, Scenario, load_scenario
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
    resolve,
)
from harness.slo import SLO, check_goodput_gates, with_default_failure_gate
from harness.target import Target, Timeouts
from harness.targets import RunTarget, TargetSpec, check_metrics_names, resolve_targets
from harness.workload.source import Workload

if TYPE_CHECKING:
    from locust.env import Environment

logger = logging.getLogger("locust_llm")


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


def _registered_default(setting: Setting) -> Any:
    """The default as Locust's parser holds it: marked where a scenario may replace it."""
    default = setting.default
    if setting.scenario_key is None or default == "":
        return default
    if isinstance(default, int) and not isinstance(default, bool):
        return _DefaultInt(default)
    return _DefaultStr(default)


def option_defaults() -> dict[str, Any]:
    """Every `--llm-…` option's default (by dest), as Locust's parser holds it.

    The defaults a scenario may replace are marked (`is_given()` is False for them).
    """
    return {setting.dest: _registered_default(setting) for setting in SETTINGS}


def add_llm_options(parser: Any) -> None:
    """Add every `--llm-…` option of the settings table to a Locust argument parser."""
    # Locust's `include_in_web_ui` keywords work on the parser itself, not on argument groups
    for setting in SETTINGS:
        kwargs: dict[str, Any] = {
            "help": setting.help,
            "env_var": setting.env_var,
            "include_in_web_ui": setting.web_ui,
            "is_secret": setting.secret,
        }
        if setting.kind is Kind.SWITCH:
            # None (not given) where a scenario may switch it on: False would win over it
            default = None if setting.scenario_key is not None else False
            kwargs.update(action="store_true", default=default)
        else:
            kwargs["default"] = _registered_default(setting)
            if setting.kind is Kind.INT:
                kwargs["type"] = int
            if setting.choices is not None:
                kwargs["choices"] = list(setting.choices)
        parser.add_argument(setting.flag, **kwargs)


def resolve_option(
    options: argparse.Namespace | None, setting: Setting, scenario: Scenario | None
) -> Resolved:
    """The setting's value for a run, from Locust's parsed options, the scenario, the default.

    Locust's parser has already applied flag > variable > locust.conf: its value, unless it
    is the registered default, is one candidate above the scenario (`Layer.CONF` stands for
    all three here).
    """
    value = getattr(options, setting.dest, None) if options is not None else None
    given = [Raw(Layer.CONF, value, setting.flag, "option")] if _given_for(setting, value) else []
    return resolve(setting, given, scenario)


def _given_for(setting: Setting, value: Any) -> bool:
    """Whether an option's value was given. Locust's web UI keeps an option's type when its
    start dialog changes it (`type(old)(new)`), so a changed value can still carry the
    default's mark: it counts as given unless it is the default itself."""
    if is_given(value):
        return True
    return value is not None and str(value) != str(setting.default)


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
    #: the wire protocol (`--llm-protocol`, `target.protocol`; harness.protocols.registry)
    protocol: str = "openai"
    top_p: float | None = None
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    prompts: tuple[Prompt, ...] | None = None
    #: what the users send when the scenario's prompts are more than a list (harness.workload)
    workload: Workload | None = None
    mix: Mapping[str, int] | None = None
    slos: tuple[SLO, ...] = ()
    pricing: Mapping[str, Price] = field(default_factory=dict)
    scenario: Scenario | None = None
    warnings: tuple[str, ...] = ()
    #: `--llm-preflight-wait`, `--llm-backoff-max`, `--llm-abort-after` in seconds (0: off)
    preflight_wait_s: float = 60.0
    backoff_max_s: float = 5.0
    abort_after_s: float = 0.0
    #: `--llm-retries`, `--llm-retry-max-backoff` (harness.retry.RetryPolicy)
    retries: int = 0
    retry_max_backoff_s: float = 10.0
    #: `--llm-stream-fallback`
    stream_fallback: bool = False
    #: False with `--llm-no-preflight`
    preflight: bool = True
    #: the variable named for the key (`--llm-api-key-env`, `target.api_key_env`), for
    #: preflight's "no key: set …"
    api_key_env: str = DEFAULT_API_KEY_ENV
    #: `--llm-rate` and the rest of the load plan's settings (harness.load.plan)
    load: LoadSettings = field(default_factory=lambda: LoadSettings())
    #: `--llm-goodput` / the scenario's `goodput:`: the limits a request's own figures must
    #: meet to count towards goodput (harness.load.goodput); None: no goodput figures
    goodput: GoodputLimits | None = None
    #: the endpoints compared side by side (harness.targets); () for a run with one target
    targets: tuple[RunTarget, ...] = ()
    #: the one target's Prometheus endpoint (`--llm-metrics-url`, `target.metrics_url`); a
    #: run with targets has one per target (`RunTarget.metrics_url`)
    metrics_url: str | None = None
    #: how often the server's metrics are scraped during the run (`--llm-metrics-interval`)
    metrics_interval_s: float = 5.0

    @classmethod
    def from_options(
        cls,
        options: argparse.Namespace | None,
        host: str | None,
        environ: Mapping[str, str],
    ) -> RunConfig:
        """Build and validate; raises `ConfigError` with a one-line message naming the option."""
        scenario_path = resolve_option(options, SETTING["scenario"], None).value
        scenario = load_scenario(scenario_path, environ) if scenario_path else None
        warnings = list(scenario.warnings) if scenario else []

        def value(name: str) -> Any:
            return resolve_option(options, SETTING[name], scenario).value

        base_url = host or (scenario.base_url if scenario else None)
        target = Target.parse(base_url) if base_url else None
        max_tokens = value("max_tokens")
        temperature = value("temperature")
        endpoint = value("endpoint")
        models: tuple[str, ...] = value("model")
        key_env = resolve_option(options, SETTING["api_key_env"], scenario)
        api_key = _api_key(
            resolve_option(options, SETTING["api_key_file"], scenario),
            key_env,
            environ,
            scenario,
            warnings,
        )
        specs: tuple[TargetSpec, ...] = tuple(
            TargetSpec(name, url) for name, url in value("targets") or ()
        ) or (scenario.targets if scenario else ())
        targets = resolve_targets(
            specs,
            api_key=api_key,
            api_key_env=key_env.value,
            models=models,
            chat=endpoint != "completions",
            pricing=dict(scenario.pricing) if scenario else {},
            protocol=value("protocol"),
        )
        metrics = resolve_option(options, SETTING["metrics_url"], scenario)
        metrics_url, targets = _metrics_urls(metrics.value or (), metrics.where, targets)
        if targets:
            target = targets[0].target
        mix = value("mix")
        timeouts = Timeouts(**{f"{name}_s": value(f"{name}_timeout") for name in TIMEOUT_NAMES})
        goodput = value("goodput")
        check_goodput_gates(scenario.slos if scenario else (), goodput is not None)
        return cls(
            target=target,
            model=models[0] if models else "",
            max_tokens=max_tokens,
            temperature=temperature,
            chat=endpoint != "completions",
            protocol=value("protocol"),
            api_key=api_key,
            timeouts=timeouts,
            out_dir=value("out"),
            models=models,
            top_p=scenario.top_p if scenario else None,
            extra_body=dict(scenario.extra_body) if scenario else {},
            prompts=scenario.prompts if scenario else None,
            workload=scenario.workload if scenario else None,
            mix=mix,
            slos=with_default_failure_gate(scenario.slos) if scenario else (),
            pricing=dict(scenario.pricing) if scenario else {},
            scenario=scenario,
            warnings=tuple(warnings),
            preflight_wait_s=value("preflight_wait"),
            backoff_max_s=value("backoff_max"),
            abort_after_s=value("abort_after"),
            retries=value("retries"),
            retry_max_backoff_s=value("retry_max_backoff"),
            stream_fallback=value("stream_fallback"),
            preflight=not value("no_preflight"),
            api_key_env=key_env.value,
            load=LoadSettings.from_options(options, scenario),
            goodput=goodput,
            targets=targets,
            metrics_url=metrics_url,
            metrics_interval_s=value("metrics_interval"),
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


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """What decides a run's load plan besides Locust's own user count and run time."""

    rate_per_s: float = 0.0
    arrival: str = DEFAULT_ARRIVAL
    burstiness: float = 1.0
    seed: int = 0
    max_schedule_lag_s: float = 0.0
    warmup_s: float = 0.0
    #: the scenario's `load.stages` and `load.max_in_flight` (staged plans)
    stages: tuple[Stage, ...] = ()
    max_in_flight: int | None = None
    #: `--llm-sweep` (kind, values), its time per point and auto's number of rates
    sweep: tuple[str, tuple[float, ...]] | None = None
    stage_time_s: float = 60.0
    sweep_points: int = 6
    #: whether `arrival` was given (a sweep's points default to constant arrivals)
    arrival_given: bool = False
    #: `mix: paired` / `--llm-paired`
    paired: bool = False
    #: the scenario's trace (`prompts.trace`): its due times, its speed applied
    trace_times: tuple[float, ...] | None = None

    @classmethod
    def from_options(
        cls, options: argparse.Namespace | None, scenario: Scenario | None
    ) -> LoadSettings:
        """Resolved from Locust's options as they are now (the web UI's start dialog may
        have changed them since the run began)."""

        def value(name: str) -> Any:
            return resolve_option(options, SETTING[name], scenario).value

        return cls(
            rate_per_s=value("rate"),
            arrival=value("arrival"),
            burstiness=value("burstiness"),
            seed=value("seed"),
            max_schedule_lag_s=value("max_schedule_lag"),
            warmup_s=value("warmup"),
            stages=scenario.stages if scenario is not None else (),
            max_in_flight=scenario.max_in_flight if scenario is not None else None,
            sweep=value("sweep"),
            stage_time_s=value("stage_time"),
            sweep_points=value("sweep_points"),
            arrival_given=resolve_option(options, SETTING["arrival"], scenario).layer
            is not Layer.DEFAULT,
            paired=bool(value("paired")),
            trace_times=_trace_times(scenario),
        )

    def sweep_spec(self, *, users: int, modes: int = 1) -> SweepSpec | None:
        """The sweep this run is (None: not a sweep); `users` is the in-flight pool, `modes`
        the modes that run (the synchronous point has one user each)."""
        if self.sweep is None:
            return None
        kind, values = self.sweep
        warmup = self.warmup_s if self.warmup_s else min(10.0, self.stage_time_s / 5)
        if warmup >= self.stage_time_s:
            raise ConfigError(
                f"--llm-warmup: {warmup:g}s is not shorter than a sweep point "
                f"(--llm-stage-time {self.stage_time_s:g}s)"
            )
        return SweepSpec(
            kind=kind,
            values=values,
            stage_time_s=self.stage_time_s,
            warmup_s=warmup,
            max_in_flight=users,
            auto_points=self.sweep_points,
            sync_users=max(modes, 1),
        )

    def plan(
        self,
        *,
        users: int,
        run_time_s: float | None,
        mix: Mapping[str, int] | None,
        bisect: bool = False,
    ) -> LoadPlan | None:
        """The run's plan for `users` Locust users (the in-flight pool of an open stage);
        None for a plain closed-loop run. `bisect`: goodput limits are set, so a sweep
        searches the highest rate that meets them (its plan grows as it runs)."""
        active = sum(1 for w in (mix or {}).values() if w > 0)
        spec = self.sweep_spec(users=users, modes=active)
        if spec is not None and self.trace_times is not None:
            raise ConfigError(
                "a sweep draws its own arrivals: it cannot replay a trace (prompts.trace)"
            )
        if spec is not None:
            sweep_plan = LoadPlan(
                stages=initial_stages(spec),
                # constant unless asked: a short point of Poisson arrivals offers ±1/√n
                arrival=self.arrival if self.arrival_given else "constant",
                burstiness=self.burstiness,
                seed=self.seed,
                max_in_flight=users,
                max_schedule_lag_s=self.max_schedule_lag_s or None,
                dynamic=spec.kind == "auto" or bisect,
            )
            return sweep_plan.with_mode_weights(mix) if mix is not None else sweep_plan
        plan = build_plan(
            rate_per_s=self.rate_per_s,
            stages=self.stages,
            run_time_s=run_time_s,
            users=users,
            arrival=self.arrival,
            burstiness=self.burstiness,
            seed=self.seed,
            max_in_flight=self.max_in_flight if self.stages and self.max_in_flight else users,
            max_schedule_lag_s=self.max_schedule_lag_s,
            warmup_s=self.warmup_s,
            paired=self.paired,
            times=self.trace_times,
        )
        if plan is not None and mix is not None:
            plan = plan.with_mode_weights(mix)
        return plan


def _metrics_urls(
    given: tuple[tuple[str, str], ...], where: str, targets: tuple[RunTarget, ...]
) -> tuple[str | None, tuple[RunTarget, ...]]:
    """The one target's metrics URL, and the targets with the URLs `given` by name (which
    replace a target's own `metrics_url`); `ConfigError` for a URL that names no target."""
    check_metrics_names(given, tuple(t.name for t in targets), where)
    if not targets:
        return (given[0][1] if given else None), targets
    by_name = dict(given)
    return None, tuple(
        replace(t, metrics_url=by_name[t.name]) if t.name in by_name else t for t in targets
    )


def _trace_times(scenario: Scenario | None) -> tuple[float, ...] | None:
    workload = scenario.workload if scenario is not None else None
    if workload is None or workload.trace is None:
        return None
    return tuple(workload.trace.times(workload.trace_speed))


def _api_key(
    key_file: Resolved,
    key_env: Resolved,
    environ: Mapping[str, str],
    scenario: Scenario | None,
    warnings: list[str],
) -> str | None:
    given = key_source(key_file, key_env)
    if given.layer is Layer.SCENARIO:
        assert scenario is not None
        assert scenario.api_key is not None
        return scenario.api_key.reveal()  # the scenario loader read and checked it
    if given is key_file:
        return read_api_key_file(Path(given.value), "--llm-api-key-file", warnings)
    return read_api_key(environ, given.value, warnings)


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


def config_for(environment: Environment) -> RunConfig:
    """The run's `RunConfig`, built once per Locust environment."""
    config = _configs.get(environment)
    if config is None:
        config = RunConfig.from_options(
            environment.parsed_options, environment.host, environ_snapshot()
        )
        _configs[environment] = config
    return config


def forget_config(environment: Environment) -> None:
    """Drop the cached `RunConfig`: the next `config_for` reads the options as they are now
    (a test started from the web UI, whose start dialog may have changed them)."""
    _configs.pop(environment, None)


def apply_to_environment(environment: Environment, config: RunConfig) -> None:
    """Give Locust what the scenario decides: the host, user-class weights, prompts.

    Runs on Locust's `init` event (before any user starts). The target becomes the host
    when `--host` was not given; `mix` sets the weight of every LLM user class by its mode
    (a weight of 0 spawns none); scenario prompts replace the classes' default prompts (a
    locustfile's own `prompts` stay).
    """
    if not environment.host and config.targets:
        environment.host = config.targets[0].display  # Locust's own; each user has its target
    elif not environment.host and config.target is not None and config.scenario is not None:
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
