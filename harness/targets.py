"""The endpoints of a run compared side by side: `TargetSpec`, and reading `--llm-targets`.

A run has one target (`target:` or `--host`) or several (`targets:` in the scenario, or
``--llm-targets fast=http://…/v1,slow=http://…/v1`` / repeated ``locust-llm run --target
NAME=URL``). Every target gets the same prompts on the same schedule (docs/targets.md); each
has a name (a label in every report and metric), its base URL, its key's variable, its
models, protocol, prices and metrics URL, and `via`: the name of the target it fronts when it
is a gateway (its overhead is the difference). Pure: standard library and the pure core.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.errors import ConfigError
from harness.redact import redact_url
from harness.target import Target

if TYPE_CHECKING:
    from harness.scenario import Price, Secret

#: a target's name: a label value, a file-name part and a CLI word at once
TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: the key of a price that applies to every model of a target
ANY_MODEL = "*"
#: how many targets one run may compare (each multiplies the users needed)
MAX_TARGETS = 16


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One endpoint of a run. `base_url` is checked (harness.target.Target.parse); the key is
    resolved from `api_key_env` (or `api_key_file`) and never printed."""

    name: str
    base_url: str
    api_key_env: str | None = None
    api_key: Secret | None = None
    models: tuple[str, ...] = ()
    #: `openai`, `anthropic` or `responses`; None: the run's protocol
    protocol: str | None = None
    #: `chat` or `completions`; None: the run's endpoint
    endpoint: str | None = None
    #: dollars per million tokens, by model (`ANY_MODEL` for all of them); empty: the run's
    pricing: Mapping[str, Price] = field(default_factory=dict)
    #: the target's own Prometheus endpoint (the server's view)
    metrics_url: str | None = None
    #: this target is a gateway in front of the target of this name (gateway overhead)
    via: str | None = None

    def price_for(self, model: str) -> Price | None:
        """The price of `model` on this target: its own, else the target's any-model one."""
        return self.pricing.get(model) or self.pricing.get(ANY_MODEL)


def check_target_name(name: str, where: str) -> str:
    """`name` when it is a valid target name, else `ConfigError` naming `where`."""
    if not TARGET_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: target name {name!r}: expected letters, digits, '_', '.' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def parse_targets_text(text: str, where: str) -> tuple[tuple[str, str], ...]:
    """``fast=http://a/v1,slow=http://b/v1`` → (name, URL) pairs; () for an empty text.

    Names must be unique and valid (`check_target_name`); URLs are checked by the caller.
    """
    pairs: list[tuple[str, str]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, url = part.partition("=")
        if not sep or not url.strip():
            raise ConfigError(f"{where}: expected NAME=URL[,NAME=URL…], got {part!r}")
        name = check_target_name(name.strip(), where)
        if any(name == seen for seen, _ in pairs):
            raise ConfigError(f"{where}: target {name!r} is given twice")
        pairs.append((name, url.strip()))
    if len(pairs) > MAX_TARGETS:
        raise ConfigError(f"{where}: at most {MAX_TARGETS} targets, got {len(pairs)}")
    return tuple(pairs)


def check_vias(targets: tuple[TargetSpec, ...], where: str) -> None:
    """Every `via` names another target of the run; `ConfigError` otherwise."""
    names = [t.name for t in targets]
    for target in targets:
        if target.via is None:
            continue
        if target.via == target.name:
            raise ConfigError(f"{where}: target {target.name!r}: via names itself")
        if target.via not in names:
            raise ConfigError(
                f"{where}: target {target.name!r}: via {target.via!r} is not a target of "
                f"the run (targets: {', '.join(names)})"
            )


@dataclass(frozen=True, slots=True)
class RunTarget:
    """A target as a run uses it: its spec with the run's settings filled in (key, models,
    endpoint and prices the target does not set itself), its URL parsed."""

    name: str
    target: Target
    api_key: str | None
    models: tuple[str, ...]
    chat: bool
    protocol: str
    pricing: Mapping[str, Price]
    #: the variable the key came from, for preflight's "no key: set …"
    api_key_env: str
    metrics_url: str | None = None
    via: str | None = None

    @property
    def display(self) -> str:
        """The base URL without credentials: safe for logs, reports and labels."""
        return self.target.display


def resolve_targets(
    specs: tuple[TargetSpec, ...],
    *,
    api_key: str | None,
    api_key_env: str,
    models: tuple[str, ...],
    chat: bool,
    pricing: Mapping[str, Price],
    protocol: str = "openai",
) -> tuple[RunTarget, ...]:
    """The run's targets from their specs and the run-wide values they fall back to."""
    out: list[RunTarget] = []
    for spec in specs:
        chat_here = chat if spec.endpoint is None else spec.endpoint != "completions"
        out.append(
            RunTarget(
                name=spec.name,
                target=Target.parse(spec.base_url),
                api_key=spec.api_key.reveal() if spec.api_key is not None else api_key,
                models=spec.models or models,
                chat=chat_here,
                protocol=spec.protocol or protocol,
                pricing=dict(spec.pricing) if spec.pricing else dict(pricing),
                api_key_env=spec.api_key_env or api_key_env,
                metrics_url=spec.metrics_url,
                via=spec.via,
            )
        )
    return tuple(out)


def check_metrics_url(url: str, where: str) -> str:
    """`url` when it is an http(s) URL with a host (a server's Prometheus endpoint), else
    `ConfigError` naming `where`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{where}: expected an http:// or https:// URL of the server's Prometheus "
            f"metrics (such as http://127.0.0.1:8000/metrics), got {redact_url(url)!r}"
        )
    return url.strip()


def parse_metrics_urls(text: str, where: str) -> tuple[tuple[str, str], ...]:
    """``URL`` (the one target's) → (("", URL),); ``NAME=URL[,NAME=URL…]`` (targets) → the
    pairs; () for an empty text. Every URL is checked (`check_metrics_url`)."""
    text = text.strip()
    if not text:
        return ()
    if "=" not in text or "://" in text.partition("=")[0]:  # one URL (a query may hold "=")
        return (("", check_metrics_url(text, where)),)
    pairs = parse_targets_text(text, where)
    return tuple((name, check_metrics_url(url, f"{where}: target {name}")) for name, url in pairs)


def check_metrics_names(
    given: tuple[tuple[str, str], ...], targets: tuple[str, ...], where: str
) -> None:
    """`ConfigError` unless `given` (`parse_metrics_urls`) fits a run with these targets: one
    plain URL for a run with one target (no targets), NAME=URL naming targets otherwise."""
    if not targets:
        for name, _ in given:
            if name:
                raise ConfigError(
                    f"{where}: {name}=…: the run has one target: give its metrics URL alone"
                )
        return
    for name, _ in given:
        if not name:
            raise ConfigError(
                f"{where}: the run has targets ({', '.join(targets)}): give NAME=URL for each "
                "target whose metrics are scraped"
            )
        if name not in targets:
            raise ConfigError(
                f"{where}: {name!r} is not a target of the run (targets: {', '.join(targets)})"
            )


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs have the same scheme, host and port (a key for one may go to both)."""
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}
    try:
        port_a = pa.port or default.get(pa.scheme)
        port_b = pb.port or default.get(pb.scheme)
    except ValueError:
        return False
    return (pa.scheme, pa.hostname, port_a) == (pb.scheme, pb.hostname, port_b)
