"""Scenario files: the YAML a team commits, validated into one frozen `Scenario`.

docs/design.md holds the keys others rely on (add keys, never rename them); docs/scenario.md
is the reference of every key. `load_scenario(path, environ)` walks the YAML node tree
(harness.strict_yaml) key by key and raises `ConfigError` with one line —
``scenario.yaml:4:8: target.model: expected a string, got boolean false (…)`` — for the
first problem: YAML 1.1 traps, duplicate or unknown keys (with a suggestion), wrong types
and ranges, unset environment variables, unreadable prompt or key files (catalogue
CFG-01…CFG-04, CFG-06, CFG-09). Nothing is sent before this passes. Durations are strings
with a unit (`500ms`, `15s`, `5m`) and become float seconds once, here.

The API key never appears in a scenario: `target.api_key_env` names the variable that holds
it, or `target.api_key_file` a file; either is resolved into a `Secret` whose repr is
``Secret('***')``. The environment is passed in (a Mapping), never read from os.environ.

Pure: standard library and PyYAML only.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks import check_api_key, normalise_base_url, read_api_key_file
from harness.errors import MODES, ConfigError
from harness.load.goodput import LIMIT_KEYS, GoodputLimits
from harness.load.plan import Stage, parse_rate
from harness.load.schedule import PROCESSES
from harness.prompts import Prompt, messages_from_node
from harness.protocols.registry import protocol_names
from harness.slo import (
    FAILURE_RATIO,
    GOODPUT,
    LATENCY_METRICS,
    METRICS,
    MIN_METRICS,
    PERCENTILES,
    SLO,
)
from harness.strict_yaml import Node, read_yaml
from harness.targets import (
    ANY_MODEL,
    MAX_TARGETS,
    TargetSpec,
    check_metrics_url,
    check_target_name,
    check_vias,
)
from harness.workload.config import read_prompts_section
from harness.workload.source import Workload

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)\s*$")
_UNIT_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ENDPOINTS = ("chat", "completions")
#: the wire protocols `target.protocol` may name (harness.protocols.registry)
PROTOCOLS = protocol_names()
TIMEOUT_NAMES = ("connect", "header", "ttft", "stall", "total")
DEFAULT_TIMEOUTS = {
    "connect": "10s",
    "header": "60s",
    "ttft": "120s",
    "stall": "60s",
    "total": "600s",
}
"""Request deadlines when neither the scenario nor an option sets them."""
#: Keys the harness sets in every body itself; extra_body may not override them.
_RESERVED_BODY_KEYS = {
    "model": "target.model",
    "messages": "prompts",
    "prompt": "prompts",
    "stream": "mix",
    "max_tokens": "request.max_tokens",
    "temperature": "request.temperature",
    "top_p": "request.top_p",
}
#: the Scenario attribute holding each setting a file may give, by its key path: the
#: `--llm-…` settings' (harness.settings) and Locust's own host and load options; the
#: `timeouts.<name>` keys are `Scenario.timeouts`
_SETTING_ATTRIBUTES = {
    "target.base_url": "base_url",
    "target.endpoint": "endpoint",
    "target.protocol": "protocol",
    "target.metrics_url": "metrics_url",
    "target.models": "models",
    "target.api_key_env": "api_key_env",
    "target.api_key_file": "api_key_file",
    "request.max_tokens": "max_tokens",
    "request.temperature": "temperature",
    "mix": "mix",
    "load.users": "users",
    "load.spawn_rate": "spawn_rate",
    "load.run_time": "run_time",
    "load.rate": "rate",
    "load.arrival": "arrival",
    "load.burstiness": "burstiness",
    "load.seed": "seed",
    "load.max_schedule_lag": "max_schedule_lag",
    "load.warmup": "warmup",
    "goodput": "goodput",
    "mix.paired": "paired",
}
_TOP_KEYS = (
    "name",
    "target",
    "targets",
    "request",
    "prompts",
    "mix",
    "load",
    "timeouts",
    "slos",
    "pricing",
    "mock",
    "goodput",
)


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


class Secret:
    """A secret value (the API key) that never prints: ``repr`` is ``Secret('***')``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million tokens, input (prompt) and output (completion)."""

    input_per_mtok: float
    output_per_mtok: float


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario file. Unset keys are None (or empty): defaults live elsewhere.

    `origins` maps each key path that the file set (``load.users``) to where
    (``scenario.yaml:7:10``), for `--print-config`; `warnings` are one-line notes to show
    before the run (a stripped URL suffix, a spawn rate above the user count, …).
    """

    path: str
    name: str | None = None
    # target
    base_url: str | None = None
    protocol: str | None = None
    endpoint: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    api_key: Secret | None = None
    models: tuple[str, ...] = ()
    #: `target.metrics_url`, as the setting reads it: (("", URL),) or ()
    metrics_url: tuple[tuple[str, str], ...] = ()
    #: `targets:`: endpoints compared side by side (harness.targets); () for one target
    targets: tuple[TargetSpec, ...] = ()
    # request
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    # prompts
    prompts: tuple[Prompt, ...] | None = None
    prompts_source: str | None = None
    #: what is sent when the scenario's prompts are more than a list (harness.workload)
    workload: Workload | None = None
    # mix and load
    mix: Mapping[str, int] | None = None
    users: int | None = None
    spawn_rate: float | None = None
    run_time: str | None = None
    #: open loop (harness.load.plan): requests per second, arrival process, its knobs
    rate: float | None = None
    arrival: str | None = None
    burstiness: float | None = None
    seed: int | None = None
    max_in_flight: int | None = None
    max_schedule_lag: float | None = None
    warmup: float | None = None
    stages: tuple[Stage, ...] = ()
    #: `mix: paired`: each prompt in both modes at the same due time
    paired: bool | None = None
    # timeouts (seconds), only those the file sets
    timeouts: Mapping[str, float] = field(default_factory=dict)
    slos: tuple[SLO, ...] = ()
    pricing: Mapping[str, Price] = field(default_factory=dict)
    #: per-request limits of goodput (harness.load.goodput)
    goodput: GoodputLimits | None = None
    #: arguments of `python -m harness.mock` when the scenario runs against the embedded mock
    mock_args: tuple[str, ...] | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def file_setting(self, key: str) -> tuple[Any, str] | None:
        """The value this file gives the setting at key path `key` (``request.max_tokens``,
        harness.settings `Setting.scenario_key`) and where (``scenario.yaml:3:15``); None
        when the file leaves it unset."""
        value: Any
        if key.startswith("timeouts."):
            value = self.timeouts.get(key.removeprefix("timeouts."))
        else:
            value = getattr(self, _SETTING_ATTRIBUTES[key])
        if value is None or value == ():
            return None
        keys = ("target.model", "target.models") if key == "target.models" else (key,)
        where = next((self.origins[k] for k in keys if k in self.origins), self.path)
        return value, where


def load_scenario(path: str | os.PathLike[str], environ: Mapping[str, str]) -> Scenario:
    """Read, validate and resolve a scenario file; `ConfigError` (one line) if anything is off.

    Relative paths in the file (prompts.file, target.api_key_file) are relative to the
    file's folder. `environ` supplies ``${NAME}`` references and the API key variable.
    """
    label = os.fspath(path)
    root = read_yaml(path)
    if root is None or root.kind == "null":
        raise ConfigError(
            f"{label}: the file is empty (or only comments); expected a mapping with keys "
            "such as target, load and slos"
        )
    if not root.is_mapping():
        raise root.error(
            f"expected a mapping of keys ({', '.join(_TOP_KEYS)}) at the top level, "
            f"{'got a list' if root.is_list() else 'got ' + root.kind + ' ' + repr(root.text)}"
        )
    return _Loader(label, Path(path).resolve().parent, environ).load(root)


class _Loader:
    def __init__(self, label: str, folder: Path, environ: Mapping[str, str]) -> None:
        self.label = label
        self.folder = folder
        self.environ = environ
        self.values: dict[str, Any] = {}
        self.origins: dict[str, str] = {}
        self.warnings: list[str] = []

    def set(self, key: str, value: Any, node: Node) -> None:
        self.values[key] = value
        self.origins[node.path] = node.where

    def warn(self, node: Node, text: str) -> None:
        self.warnings.append(f"{node.where}: {node.path}: {text}")

    def load(self, root: Node) -> Scenario:
        # top-level keys starting with x- are ignored: a place for &anchors (as in Compose)
        extensions = tuple(k for k in root.entries() if k.startswith("x-"))
        keys = root.mapping((*_TOP_KEYS, *extensions))
        if "name" in keys:
            self.set("name", keys["name"].string(environ=self.environ), keys["name"])
        sections = (
            ("target", self.target),
            ("targets", self.targets),
            ("request", self.request),
            ("prompts", self.prompts),
            ("mix", self.mix),
            ("load", self.load_section),
            ("timeouts", self.timeouts),
            ("slos", self.slos),
            ("pricing", self.pricing),
            ("mock", self.mock),
            ("goodput", self.goodput),
        )
        if "target" in keys and "targets" in keys:
            raise keys["targets"].error(
                "set target (one endpoint) or targets (several, side by side), not both"
            )
        for key, read in sections:
            if key in keys:
                read(keys[key])
        return Scenario(
            path=self.label,
            **self.values,
            origins=dict(self.origins),
            warnings=tuple(self.warnings),
        )

    # ---------------------------------------------------------------- target

    def target(self, node: Node) -> None:
        allowed = (
            "base_url",
            "protocol",
            "endpoint",
            "api_key_env",
            "api_key_file",
            "api_key",
            "model",
            "models",
            "metrics_url",
        )
        keys = node.mapping(allowed)
        if "api_key" in keys:
            raise keys["api_key"].error(
                "not allowed: the key itself never goes in a scenario; set api_key_env: NAME "
                "(the environment variable that holds it) or api_key_file: PATH"
            )
        if "base_url" in keys:
            value = keys["base_url"]
            url, notes = normalise_base_url(value.string(environ=self.environ), value)
            for note in notes:
                self.warn(value, note)
            self.set("base_url", url, value)
        if "protocol" in keys:
            self.set("protocol", keys["protocol"].choice(PROTOCOLS), keys["protocol"])
        if "endpoint" in keys:
            self.set("endpoint", keys["endpoint"].choice(ENDPOINTS), keys["endpoint"])
        if "model" in keys and "models" in keys:
            raise keys["models"].error("set model or models, not both")
        if "model" in keys:
            model = keys["model"]
            self.set("models", (model.string(environ=self.environ).strip(),), model)
        if "models" in keys:
            items = keys["models"].items(what="a list of model names")
            if not items:
                raise keys["models"].error("expected at least one model name")
            names = tuple(item.string(environ=self.environ).strip() for item in items)
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise items[i].error(f"model {name!r} is listed twice")
            self.set("models", names, keys["models"])
        if "api_key_env" in keys and "api_key_file" in keys:
            raise keys["api_key_file"].error("set api_key_env or api_key_file, not both")
        if "metrics_url" in keys:
            url = self.metrics_url(keys["metrics_url"])
            self.set("metrics_url", (("", url),), keys["metrics_url"])
        if "api_key_env" in keys:
            self.api_key_env(keys["api_key_env"])
        if "api_key_file" in keys:
            self.api_key_file(keys["api_key_file"])

    def targets(self, node: Node) -> None:
        items = node.items(what="a list of targets, each with name and base_url")
        if not items:
            raise node.error("expected at least one target")
        if len(items) > MAX_TARGETS:
            raise node.error(f"at most {MAX_TARGETS} targets, got {len(items)}")
        targets: list[TargetSpec] = []
        for item in items:
            target = self.one_target(item)
            if any(t.name == target.name for t in targets):
                raise item.error(f"target {target.name!r} is listed twice")
            targets.append(target)
        result = tuple(targets)
        try:
            check_vias(result, node.path)
        except ConfigError as exc:
            raise node.error(str(exc).removeprefix(f"{node.path}: ")) from None
        self.set("targets", result, node)

    def one_target(self, node: Node) -> TargetSpec:
        allowed = (
            "name",
            "base_url",
            "protocol",
            "endpoint",
            "api_key_env",
            "api_key_file",
            "api_key",
            "model",
            "models",
            "pricing",
            "metrics_url",
            "via",
        )
        keys = node.mapping(allowed, what="a mapping with name and base_url")
        for needed in ("name", "base_url"):
            if needed not in keys:
                raise node.error(f"missing key {needed!r}")
        if "api_key" in keys:
            raise keys["api_key"].error(
                "not allowed: the key itself never goes in a scenario; set api_key_env: NAME "
                "(the environment variable that holds it) or api_key_file: PATH"
            )
        name_node = keys["name"]
        try:
            name = check_target_name(name_node.string().strip(), "name")
        except ConfigError as exc:
            raise name_node.error(str(exc).removeprefix("name: ")) from None
        url_node = keys["base_url"]
        url, notes = normalise_base_url(url_node.string(environ=self.environ), url_node)
        for note in notes:
            self.warn(url_node, note)
        models: tuple[str, ...] = ()
        if "model" in keys and "models" in keys:
            raise keys["models"].error("set model or models, not both")
        if "model" in keys:
            models = (keys["model"].string(environ=self.environ).strip(),)
        if "models" in keys:
            model_items = keys["models"].items(what="a list of model names")
            if not model_items:
                raise keys["models"].error("expected at least one model name")
            models = tuple(i.string(environ=self.environ).strip() for i in model_items)
        if "api_key_env" in keys and "api_key_file" in keys:
            raise keys["api_key_file"].error("set api_key_env or api_key_file, not both")
        key_env: str | None = None
        key: Secret | None = None
        if "api_key_env" in keys:
            key_env, key = self.read_key_env(keys["api_key_env"])
        if "api_key_file" in keys:
            key = self.read_key_file(keys["api_key_file"])
        pricing: dict[str, Price] = {}
        if "pricing" in keys:
            pricing = self.target_pricing(keys["pricing"])
        metrics_url = self.metrics_url(keys["metrics_url"]) if "metrics_url" in keys else None
        return TargetSpec(
            name=name,
            base_url=url,
            api_key_env=key_env,
            api_key=key,
            models=models,
            protocol=keys["protocol"].choice(PROTOCOLS) if "protocol" in keys else None,
            endpoint=keys["endpoint"].choice(ENDPOINTS) if "endpoint" in keys else None,
            pricing=pricing,
            metrics_url=metrics_url,
            via=keys["via"].string().strip() if "via" in keys else None,
        )

    def metrics_url(self, node: Node) -> str:
        """A server's Prometheus endpoint: an http(s) URL with a host."""
        try:
            return check_metrics_url(node.string(environ=self.environ), "metrics_url")
        except ConfigError as exc:
            raise node.error(str(exc).removeprefix("metrics_url: ")) from None

    def target_pricing(self, node: Node) -> dict[str, Price]:
        """A target's prices: ``{input, output}`` for all its models, or by model."""
        entries = node.entries(what="a mapping: {input, output} or model name to prices")
        if set(entries) <= {"input", "output"}:
            return {ANY_MODEL: self.price(node)}
        return {model: self.price(value) for model, (_, value) in entries.items()}

    def price(self, value: Node) -> Price:
        keys = value.mapping(("input", "output"), what="a mapping with input and output")
        for needed in ("input", "output"):
            if needed not in keys:
                raise value.error(f"missing key {needed!r} (dollars per million {needed} tokens)")
        return Price(
            keys["input"].number(minimum=0.0, maximum=1_000_000.0),
            keys["output"].number(minimum=0.0, maximum=1_000_000.0),
        )

    def api_key_env(self, node: Node) -> None:
        name, key = self.read_key_env(node)
        self.set("api_key_env", name, node)
        self.values["api_key"] = key

    def read_key_env(self, node: Node) -> tuple[str, Secret]:
        name = node.string()  # never interpolated: ${X} here would put the key in its place
        if not _ENV_NAME.fullmatch(name):
            raise node.error(
                "expected the name of an environment variable, such as OPENAI_API_KEY "
                "(the value is not shown: it is not a valid name and may be a key)"
            )
        raw = self.environ.get(name)
        if raw is None:
            raise node.error(f"{name} is not set (it must hold the API key)")
        try:
            key, notes = check_api_key(raw, name)
        except ConfigError as exc:
            raise node.error(str(exc)) from None
        if key is None:
            raise node.error(f"{name} is set but empty")
        for note in notes:
            self.warn(node, note)
        return name, Secret(key)

    def api_key_file(self, node: Node) -> None:
        key = self.read_key_file(node)
        self.set("api_key_file", str(self.resolve_path(node)), node)
        self.values["api_key"] = key

    def read_key_file(self, node: Node) -> Secret:
        file = self.resolve_path(node)
        notes: list[str] = []
        try:
            key = read_api_key_file(file, warnings=notes)
        except ConfigError as exc:
            raise node.error(str(exc)) from None
        for note in notes:
            self.warn(node, note)
        return Secret(key)

    def resolve_path(self, node: Node) -> Path:
        file = Path(node.string(environ=self.environ))
        return file if file.is_absolute() else self.folder / file

    # ---------------------------------------------------------------- request

    def request(self, node: Node) -> None:
        keys = node.mapping(("max_tokens", "temperature", "top_p", "extra_body"))
        if "max_tokens" in keys:
            value = keys["max_tokens"]
            self.set("max_tokens", value.integer(minimum=1, maximum=10_000_000), value)
        if "temperature" in keys:
            value = keys["temperature"]
            self.set("temperature", value.number(minimum=0.0, maximum=2.0), value)
        if "top_p" in keys:
            value = keys["top_p"]
            self.set("top_p", value.number(above=0.0, maximum=1.0), value)
        if "extra_body" in keys:
            extra = keys["extra_body"]
            entries = extra.entries(what="a mapping of request body keys")
            for key, (key_node, _) in entries.items():
                if key in _RESERVED_BODY_KEYS:
                    raise key_node.error(
                        f"{key!r} is set by the harness; use {_RESERVED_BODY_KEYS[key]} instead"
                    )
            self.set("extra_body", extra.plain_value(), extra)

    # ---------------------------------------------------------------- prompts

    def prompts(self, node: Node) -> None:
        if node.is_list():
            prompts = self.inline_prompts(node)
            self.set("prompts", prompts, node)
            self.values["prompts_source"] = f"inline ({len(prompts)})"
            return
        # datasets, lengths, conversations, prefixes, traces (docs/workloads.md)
        section = read_prompts_section(
            node, resolve_path=self.resolve_path, duration=duration, inline=self.inline_prompts
        )
        if section.prompts is not None:
            self.set("prompts", section.prompts, node)
        self.set("workload", section.workload, node)
        self.values["prompts_source"] = section.described

    def inline_prompts(self, node: Node) -> tuple[Prompt, ...]:
        items = node.items(what="a list of prompts")
        if not items:
            raise node.error("expected at least one prompt")
        prompts: list[Prompt] = []
        for item in items:
            if item.is_list():
                prompts.append(messages_from_node(item))
            else:
                prompts.append(item.string())
        return tuple(prompts)

    # ---------------------------------------------------------------- mix, load, timeouts

    def mix(self, node: Node) -> None:
        if node.kind == "string":
            if node.text.strip() != "paired":
                raise node.error(
                    f"expected a mapping of weights such as {{stream: 1, batch: 1}}, or "
                    f"paired, got {node.text!r}"
                )
            # each prompt in both modes at the same due time (docs/load.md, "Paired")
            self.set("mix", dict.fromkeys(MODES, 1), node)
            self.set("paired", True, node)
            return
        keys = node.mapping(MODES, what="a mapping of user-class weights")
        weights = {mode: keys[mode].integer(minimum=0, maximum=1000) for mode in keys}
        if not any(weights.values()):
            raise node.error("every weight is 0; give stream or batch a weight above 0")
        self.set("mix", {mode: weights.get(mode, 0) for mode in MODES}, node)

    def load_section(self, node: Node) -> None:
        keys = node.mapping(
            (
                "users", "spawn_rate", "run_time", "rate", "arrival", "burstiness", "seed",
                "max_in_flight", "max_schedule_lag", "warmup", "stages",
            )
        )  # fmt: skip
        if "users" in keys:
            users = keys["users"]
            self.set("users", users.integer(minimum=1, maximum=1_000_000), users)
        if "spawn_rate" in keys:
            rate = keys["spawn_rate"]
            self.set("spawn_rate", rate.number(above=0.0, maximum=1_000_000.0), rate)
            users_value = self.values.get("users")
            if users_value is not None and self.values["spawn_rate"] > users_value:
                self.warn(
                    rate,
                    f"{rate.text} users/s is more than the {users_value} users: "
                    "they all start at once",
                )
        if "run_time" in keys:
            node_rt = keys["run_time"]
            duration(node_rt)
            self.set("run_time", node_rt.text.strip(), node_rt)
        if "rate" in keys:
            self.set("rate", _rate(keys["rate"]), keys["rate"])
            if "users" in keys:
                raise keys["users"].error(
                    "not with load.rate: an open-loop run's users are its in-flight pool; "
                    "set load.max_in_flight"
                )
        if "arrival" in keys:
            self.set("arrival", keys["arrival"].choice(PROCESSES), keys["arrival"])
        if "burstiness" in keys:
            value = keys["burstiness"]
            self.set("burstiness", value.number(above=0.0, maximum=1000.0), value)
        if "seed" in keys:
            self.set("seed", keys["seed"].integer(), keys["seed"])
        if "max_in_flight" in keys:
            value = keys["max_in_flight"]
            self.set("max_in_flight", value.integer(minimum=1, maximum=1_000_000), value)
        if "max_schedule_lag" in keys:
            value = keys["max_schedule_lag"]
            self.set("max_schedule_lag", duration(value), value)
        if "warmup" in keys:
            self.set("warmup", duration(keys["warmup"]), keys["warmup"])
        if "stages" in keys:
            stages = keys["stages"]
            items = stages.items(what="a list of stages")
            if not items:
                raise stages.error("expected at least one stage")
            parsed = tuple(_stage(item, last=i == len(items) - 1) for i, item in enumerate(items))
            self.set("stages", parsed, stages)
            for name in ("rate", "users", "run_time"):
                if name in keys:
                    raise keys[name].error(
                        "not with load.stages: each stage sets its own duration and rate or users"
                        if name != "run_time"
                        else "not with load.stages: the stages' durations are the run time"
                    )

    def timeouts(self, node: Node) -> None:
        keys = node.mapping(TIMEOUT_NAMES, what="a mapping of durations")
        values = {name: duration(keys[name]) for name in keys}
        stall, total = values.get("stall"), values.get("total")
        if stall is not None and total is not None and stall >= total:
            raise keys["stall"].error(
                f"{keys['stall'].text} must be less than timeouts.total ({keys['total'].text})"
            )
        for name in keys:
            self.origins[keys[name].path] = keys[name].where
        self.values["timeouts"] = values

    # ---------------------------------------------------------------- mock

    def mock(self, node: Node) -> None:
        """`mock:` runs the embedded mock (with its latency profile and faults) as the target,
        so a team can rehearse a slow or failing server from the same file."""
        keys = node.mapping(
            (
                "ttft",
                "itl",
                "tokens",
                "jitter",
                "seed",
                "model",
                "faults",
                "personality",
                "idle_timeout",
                "loading",
                "slots",
            )
        )
        if "base_url" in self.values:
            raise node.error("set target.base_url or mock, not both (mock is the target)")
        if "targets" in self.values:
            raise node.error(
                "set targets or mock, not both (mock is one target; start mocks with "
                "`locust-llm mock` and list their URLs in targets)"
            )
        args: list[str] = []
        personality = "openai"
        if "personality" in keys:
            personality = keys["personality"].choice(("openai", "vllm", "llama.cpp", "litellm"))
            args += ["--personality", personality]
        if "idle_timeout" in keys:
            idle = keys["idle_timeout"]
            if idle.text.strip() in ("off", "0"):
                args += ["--idle-timeout", "off"]
            else:
                duration(idle)
                args += ["--idle-timeout", idle.text.strip()]
        if "loading" in keys:
            loading = keys["loading"]
            if personality != "llama.cpp":
                raise loading.error("loading is llama.cpp's answer: set personality: llama.cpp")
            duration(loading)
            args += ["--loading", loading.text.strip()]
        if "slots" in keys:
            args += ["--slots", str(keys["slots"].integer(minimum=0, maximum=100_000))]
        for name in ("ttft", "itl", "jitter"):
            if name in keys:
                duration(keys[name])
                args += [f"--{name}", keys[name].text.strip()]
        if "tokens" in keys:
            args += ["--tokens", str(keys["tokens"].integer(minimum=1, maximum=100_000))]
        if "seed" in keys:
            args += ["--seed", str(keys["seed"].integer(minimum=0))]
        if "model" in keys:
            args += ["--model", keys["model"].string(environ=self.environ).strip()]
        elif self.values.get("models"):
            args += ["--model", self.values["models"][0]]
        if "faults" in keys:
            faults = keys["faults"]
            spec = _fault_spec(faults)
            from harness.mock.faults import parse_fault_spec  # the mock's own grammar

            try:
                parse_fault_spec(spec)
            except ValueError as exc:
                raise faults.error(str(exc)) from None
            args += ["--faults", spec]
        self.set("mock_args", tuple(args), node)

    # ---------------------------------------------------------------- slos, pricing

    def slos(self, node: Node) -> None:
        items = node.items(what="a list of SLOs")
        slos = tuple(_slo(item) for item in items)
        self.set("slos", slos, node)

    def goodput(self, node: Node) -> None:
        """`goodput: {ttft: 500ms, tpot: 50ms, e2e: 20s}`: the limits of a request that
        counts towards goodput (harness.load.goodput)."""
        keys = node.mapping(LIMIT_KEYS, what="a mapping of limits such as {ttft: 500ms}")
        values = {key: duration(value) for key, value in keys.items()}
        try:
            limits = GoodputLimits.from_values(values)
        except ValueError as exc:
            raise node.error(str(exc)) from None
        self.set("goodput", limits, node)

    def pricing(self, node: Node) -> None:
        prices: dict[str, Price] = {}
        for model, (_, value) in node.entries(what="a mapping of model name to prices").items():
            prices[model] = self.price(value)
        self.set("pricing", prices, node)


def _fault_spec(node: Node) -> str:
    """`faults:` as the mock's spec text: a string (`rate_limited:0.05,seed=7`), a mapping of
    fault name to probability or knob, or a list (a schedule such as `[ok, rate_limited]`)."""
    if node.is_mapping():
        return ",".join(f"{key}:{value.text.strip()}" for key, (_, value) in node.entries().items())
    if node.is_list():
        return ",".join(item.string() for item in node.items())
    return node.string()


def _rate(node: Node) -> float:
    """Requests per second: ``20``, ``20/s``, ``1200/m``."""
    try:
        return parse_rate(node.text if node.kind == "string" else node.number(minimum=0), "")
    except ConfigError as exc:
        raise node.error(str(exc).removeprefix(": ")) from None


def _stage(node: Node, *, last: bool) -> Stage:
    """One of `load.stages`: ``{duration: 2m, rate: 5/s}`` or ``{duration: 2m, users: 64}``,
    with optional ``ramp`` and ``warmup``."""
    keys = node.mapping(("duration", "rate", "users", "ramp", "warmup"), what="a stage")
    if ("rate" in keys) == ("users" in keys):
        raise node.error("a stage sets exactly one of rate (open loop) or users (closed loop)")
    if "duration" in keys:
        duration_s: float | None = duration(keys["duration"])
    elif last:
        duration_s = None
    else:
        raise node.error("missing key 'duration' (only the last stage may run until stopped)")
    ramp_s = duration(keys["ramp"]) if "ramp" in keys else 0.0
    warmup_s = duration(keys["warmup"]) if "warmup" in keys else 0.0
    for name, seconds in (("ramp", ramp_s), ("warmup", warmup_s)):
        if duration_s is not None and seconds > duration_s:
            raise keys[name].error(f"{name} is longer than the stage's duration")
    rate = _rate(keys["rate"]) if "rate" in keys else None
    if rate is not None and rate <= 0:
        raise keys["rate"].error("a stage's rate must be above 0")
    users = keys["users"].integer(minimum=1, maximum=1_000_000) if "users" in keys else None
    return Stage(duration_s, rate, users, ramp_s, warmup_s, origin=node.where)


def duration(node: Node) -> float:
    """A positive duration written with a unit: ``500ms``, ``15s``, ``5m``, ``1h``."""
    if node.kind != "string":
        number = node.kind in ("integer", "number") and node.is_plain
        hint = f' (write "{node.text}s" for seconds)' if number else ""
        raise node.expected("a duration with a unit such as 500ms, 15s or 5m", hint=hint)
    match = _DURATION.match(node.text)
    if match is None:
        raise node.error(
            f"expected a duration with a unit such as 500ms, 15s or 5m, got {node.text!r}"
        )
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise node.error(f"expected a duration greater than 0, got {node.text!r}")
    return seconds


def _slo(node: Node) -> SLO:
    keys = node.mapping(("name", "mode", "metric", "percentile", "max", "min"), what="a mapping")
    if "metric" not in keys:
        raise node.error(f"missing key 'metric' (one of {', '.join(METRICS)})")
    metric = keys["metric"].choice(METRICS)
    if metric in MIN_METRICS:
        return _minimum_slo(node, keys, metric)
    if "min" in keys:
        raise keys["min"].error(
            f"{metric} is gated by a max (min is for {' and '.join(MIN_METRICS)})"
        )
    if "max" not in keys:
        raise node.error("missing key 'max' (the limit)")
    mode = keys["mode"].choice(MODES) if "mode" in keys else None
    name = keys["name"].string() if "name" in keys else ""
    if metric == FAILURE_RATIO:
        if "percentile" in keys:
            raise keys["percentile"].error("a failure_ratio SLO has no percentile")
        limit = keys["max"].number(minimum=0.0, maximum=1.0)
        return SLO(FAILURE_RATIO, limit, mode, None, name, node.where)
    if mode is None:
        raise node.error(f"missing key 'mode' (stream or batch) for metric {metric}")
    if mode == "batch" and metric in ("ttft", "itl", "tpot"):
        raise keys["metric"].error(
            f"{metric} applies to streaming only (a batch answer arrives all at once); "
            "use first_visible or e2e for batch"
        )
    if "percentile" not in keys:
        allowed = ", ".join(str(p) for p in PERCENTILES)
        raise node.error(f"missing key 'percentile' (one of {allowed})")
    percentile = keys["percentile"].number()
    if percentile not in PERCENTILES:
        allowed = ", ".join(str(p) for p in PERCENTILES)
        raise keys["percentile"].error(
            f"expected one of {allowed} (the percentiles summary.json holds), "
            f"got {keys['percentile'].text}"
        )
    assert metric in LATENCY_METRICS
    return SLO(metric, duration(keys["max"]), mode, percentile, name, node.where)


def _minimum_slo(node: Node, keys: dict[str, Node], metric: str) -> SLO:
    """``{metric: goodput, min: 5/s}`` or ``{metric: slo_attainment, min: 0.95}``, with an
    optional mode (absent: all modes together)."""
    for key in ("max", "percentile"):
        if key in keys:
            raise keys[key].error(f"a {metric} SLO has no {key} (it is gated by a min)")
    if "min" not in keys:
        what = "requests per second, e.g. 5/s" if metric == GOODPUT else "a share, e.g. 0.95"
        raise node.error(f"missing key 'min' ({what})")
    mode = keys["mode"].choice(MODES) if "mode" in keys else None
    name = keys["name"].string() if "name" in keys else ""
    if metric == GOODPUT:
        limit = _rate(keys["min"])
        if limit <= 0:
            raise keys["min"].error("a goodput SLO's min must be above 0")
    else:
        limit = keys["min"].number(minimum=0.0, maximum=1.0)
    return SLO(metric, limit, mode, None, name, node.where)


def parse_mix(text: str, *, name: str = "--llm-mix") -> dict[str, int]:
    """``stream=3,batch=1`` → {"stream": 3, "batch": 1}; a mode not named gets weight 0."""
    weights = dict.fromkeys(MODES, 0)
    for part in text.split(","):
        mode, sep, weight = (p.strip() for p in part.partition("="))
        if not sep or mode not in MODES:
            raise ConfigError(f"{name}: expected weights such as stream=1,batch=1, got {text!r}")
        if not weight.isdigit():
            raise ConfigError(f"{name}: expected an integer weight for {mode}, got {weight!r}")
        weights[mode] = int(weight)
        if weights[mode] > 1000:
            raise ConfigError(f"{name}: expected a weight from 0 to 1,000, got {weight}")
    if not any(weights.values()):
        raise ConfigError(f"{name}: every weight is 0; give stream or batch a weight above 0")
    return weights


def format_mix(mix: Mapping[str, int]) -> str:
    """{"stream": 3, "batch": 1} → ``stream=3,batch=1`` (the form `parse_mix` reads)."""
    return ",".join(f"{mode}={mix.get(mode, 0)}" for mode in MODES)
