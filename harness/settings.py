"""The one table of locust-llm's settings, and the one precedence that picks each value.

Every `--llm-…` setting is a `Setting` in `SETTINGS`: its name, how a value is read
(`read`, one of harness.readers: text in, a typed value out, or a one-line `ConfigError`
naming where the value came from), its default, help, whether Locust's web UI start dialog
shows it and whether it is secret, and the scenario key that may give it. Everything else is
derived from that entry:

- the option on Locust's parser (harness.options) and the same flag on `locust-llm run` and
  `demo` (harness.cli): `Setting.flag`, with its `dest` on the parsed options;
- its environment variable `Setting.env_var` (`known_variables()`: every `LOCUST_LLM_…` name a
  run reads) and its `locust.conf` key `Setting.conf_key`;
- its value in a run: `resolve()` applies the one precedence — flag > variable > locust.conf >
  scenario file > default (`Layer`) — for the `RunConfig` of the Locust process
  (harness.options) and for `locust-llm run --print-config` (harness.effective); the
  scenario's value comes from `Scenario.file_setting(Setting.scenario_key)`.

Pure: standard library and the harness's pure modules only (no Locust, gevent or HTTP).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.exporters.prometheus_config import DEFAULT_BUCKETS, DEFAULT_SCENARIO
from harness.load.plan import DEFAULT_ARRIVAL, parse_rate
from harness.load.schedule import PROCESSES
from harness.load.sweep import DEFAULT_AUTO_POINTS, parse_sweep
from harness.protocols.registry import DEFAULT_PROTOCOL, protocol_names
from harness.readers import (
    Read,
    one_of,
    read_buckets,
    read_duration,
    read_goodput,
    read_integer,
    read_label,
    read_metrics_urls,
    read_mix,
    read_models,
    read_port,
    read_positive_duration,
    read_positive_int,
    read_positive_number,
    read_switch,
    read_targets,
    read_temperature,
    read_text,
    read_timeout,
    read_variable_name,
)
from harness.scenario import DEFAULT_TIMEOUTS, TIMEOUT_NAMES

if TYPE_CHECKING:
    from harness.scenario import Scenario

DEFAULT_MAX_TOKENS = 128
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
#: how long preflight waits for a server that answers 503 (llama.cpp: "Loading model")
DEFAULT_PREFLIGHT_WAIT = "60s"
#: the longest back-off wait after consecutive instant failures (harness.retry.Backoff)
DEFAULT_BACKOFF_MAX = "5s"
#: stop a run whose every request failed for this long; 0: never
DEFAULT_ABORT_AFTER = "0"
#: how often the server's own metrics are scraped during a run (harness.server_watch)
DEFAULT_METRICS_INTERVAL = "5s"
#: `LOCUST_LLM_…` variables of the project's scripts and tests, not of a run (never warned
#: about): the image tag of scripts/ and compose, the real servers' cache, the web UI screenshot
PROJECT_VARIABLES = ("LOCUST_LLM_IMAGE", "LOCUST_LLM_CACHE", "LOCUST_LLM_SCREENSHOT")


class Kind(enum.StrEnum):
    """How Locust's parser takes a setting's value."""

    TEXT = "text"
    #: Locust's parser converts it (`type=int`)
    INT = "int"
    #: given or not, no value (`store_true`); a variable or locust.conf says true or false
    SWITCH = "switch"


class Layer(enum.IntEnum):
    """Where a value can come from, highest precedence first (docs/scenario.md)."""

    FLAG = 1
    ENV = 2
    CONF = 3
    SCENARIO = 4
    DEFAULT = 5


@dataclass(frozen=True, slots=True)
class Setting:
    """One `--llm-…` setting; its flag, variable and locust.conf key derive from `name`.

    `default` is the value as Locust's parser holds it (and `run --help` shows it).
    `scenario_key` is the scenario file's key for it (``request.max_tokens``): the file
    fills the setting when no flag, variable or locust.conf line gives it. An empty value
    (``--llm-model ""``, ``llm-model =``) means "not given" when `empty_is_unset` is true.
    """

    name: str
    help: str
    read: Read
    default: str | int | bool = ""
    kind: Kind = Kind.TEXT
    choices: tuple[str, ...] | None = None
    scenario_key: str | None = None
    #: shown in the start dialog of Locust's web UI (`include_in_web_ui`)
    web_ui: bool = False
    #: masked in the web UI (`is_secret`); no setting holds a key itself, by design
    secret: bool = False
    empty_is_unset: bool = False

    @property
    def flag(self) -> str:
        """``--llm-max-tokens``: on Locust's command line and on `locust-llm run`/`demo`."""
        return "--llm-" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """``llm_max_tokens``: the attribute of Locust's parsed options."""
        return "llm_" + self.name

    @property
    def env_var(self) -> str:
        """``LOCUST_LLM_MAX_TOKENS``."""
        return "LOCUST_LLM_" + self.name.upper()

    @property
    def conf_key(self) -> str:
        """``llm-max-tokens``: the key in locust.conf (Locust's long option name)."""
        return self.flag.removeprefix("--")


@dataclass(frozen=True, slots=True)
class Raw:
    """A value as one layer gives it, before it is read.

    `where` is what an error names (``--llm-max-tokens``, ``LOCUST_LLM_MAX_TOKENS``);
    `source` is what `--print-config` shows (``env LOCUST_LLM_MAX_TOKENS``).
    """

    layer: Layer
    value: Any
    where: str
    source: str


@dataclass(frozen=True, slots=True)
class Resolved:
    """An effective value: typed, as given (`text`, stripped), from where, on which layer."""

    value: Any
    text: str
    source: str
    layer: Layer
    #: what an error about this value names (the flag or variable, or the file's place)
    where: str


def pick(
    given: Iterable[Raw],
    read: Read,
    *,
    from_file: tuple[Any, str] | None,
    default: Any,
    default_where: str,
    empty_is_unset: bool = False,
) -> Resolved:
    """The one precedence: flag > variable > locust.conf > scenario file > default.

    `given` are the values found on the command line, in the environment or in
    locust.conf, in any order (Locust's parser merges those three itself: its value comes in
    as one `Raw`); `from_file` is the scenario's value, already read, and where it is. Only
    the value that wins is read, so a bad value that is overridden is no error. A `default`
    of None stays None.
    """
    for raw in sorted(given, key=lambda r: r.layer):
        if empty_is_unset and _is_empty(raw.value):
            continue
        value = read(raw.value, raw.where)
        return Resolved(value, _text(raw.value), raw.source, raw.layer, raw.where)
    if from_file is not None:
        value, where = from_file
        return Resolved(value, "", where, Layer.SCENARIO, where)
    value = None if default is None else read(default, default_where)
    return Resolved(value, _text(default), "default", Layer.DEFAULT, default_where)


def resolve(
    setting: Setting,
    given: Iterable[Raw],
    scenario: Scenario | None,
    *,
    default: str | int | bool | None = None,
) -> Resolved:
    """The value of `setting` (`pick`); `ConfigError` (one line, naming where the value came
    from) when the value that wins is bad. `default` replaces the table's (`locust-llm run`
    writes its reports to ./llm-report)."""
    from_file = None
    if scenario is not None and setting.scenario_key is not None:
        from_file = scenario.file_setting(setting.scenario_key)
    return pick(
        given,
        setting.read,
        from_file=from_file,
        default=setting.default if default is None else default,
        default_where=setting.flag,
        empty_is_unset=setting.empty_is_unset,
    )


def key_source(key_file: Resolved, key_env: Resolved) -> Resolved:
    """Which of `api_key_file` and `api_key_env` gives the API key: the one of higher
    precedence, the file on a tie (a file given either way wins over a variable's name)."""
    if key_file.value and key_file.layer <= key_env.layer:
        return key_file
    return key_env


def known_variables() -> tuple[str, ...]:
    """Every `LOCUST_LLM_…` variable a run reads, and the project's own."""
    return (*(s.env_var for s in SETTINGS), *PROJECT_VARIABLES)


def _is_empty(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


# ------------------------------------------------------------------ the table

_PROMETHEUS: tuple[Setting, ...] = (
    Setting(
        "prometheus_port",
        "Serve Prometheus metrics at http://HOST:PORT/metrics from the master (or the "
        "single local process); 0 (default): off.",
        read_port,
        default="0",
    ),
    Setting(
        "prometheus_host",
        "Address the metrics port binds (default 127.0.0.1). /metrics has no "
        "authentication: bind a private address.",
        read_text,
        default="127.0.0.1",
    ),
    Setting(
        "prometheus_linger",
        "Keep serving /metrics this long after the test ends (e.g. 15s), so Prometheus "
        "scrapes a short headless run's final figures; default 0.",
        read_duration,
        default="0",
    ),
    Setting(
        "scenario_name",
        "Value of the `scenario` label on every metric (default: default).",
        read_label,
        default=DEFAULT_SCENARIO,
    ),
    *(
        Setting(
            f"buckets_{family}",
            f"Bucket bounds of the {family} histogram, e.g. 50ms,100ms,250ms,1s (increasing; "
            "+Inf is added); empty: the documented layout.",
            read_buckets,
            empty_is_unset=True,
        )
        for family in DEFAULT_BUCKETS
    ),
)

_TIMEOUT_WHAT = {
    "connect": "connecting",
    "header": "the response headers",
    "ttft": "the first token",
    "stall": "the next token once streaming",
    "total": "the whole response",
}

_RUN: tuple[Setting, ...] = (
    Setting(
        "scenario",
        "A scenario YAML file (docs/scenario.md): target, request, prompts, mix, "
        "timeouts, SLOs, pricing. --llm-… options override it.",
        read_text,
        empty_is_unset=True,
    ),
    Setting(
        "targets",
        "Endpoints compared side by side, NAME=URL[,NAME=URL…]: each gets the same prompts "
        "on the same schedule (docs/targets.md); replaces the scenario's targets.",
        read_targets,
        empty_is_unset=True,
    ),
    Setting(
        "model",
        "Model name to request; empty: the first model GET /v1/models lists.",
        read_models,
        scenario_key="target.models",
        web_ui=True,
        empty_is_unset=True,
    ),
    Setting(
        "max_tokens",
        f"max_tokens of each request (default {DEFAULT_MAX_TOKENS}).",
        read_positive_int,
        default=DEFAULT_MAX_TOKENS,
        kind=Kind.INT,
        scenario_key="request.max_tokens",
        web_ui=True,
    ),
    Setting(
        "temperature",
        "temperature of each request; empty: the server's default.",
        read_temperature,
        scenario_key="request.temperature",
        web_ui=True,
        empty_is_unset=True,
    ),
    Setting(
        "protocol",
        "The wire protocol: openai (chat or completions, default), anthropic (Messages) or "
        "responses (OpenAI Responses); docs/protocols.md.",
        one_of(protocol_names()),
        default=DEFAULT_PROTOCOL,
        choices=protocol_names(),
        scenario_key="target.protocol",
        web_ui=True,
    ),
    Setting(
        "metrics_url",
        "The server's own Prometheus endpoint, e.g. http://127.0.0.1:8000/metrics (with "
        "targets: NAME=URL[,NAME=URL…]): scraped before, during and after the run; "
        "summary.json's server block (docs/server-metrics.md).",
        read_metrics_urls,
        scenario_key="target.metrics_url",
        web_ui=True,
        empty_is_unset=True,
    ),
    Setting(
        "metrics_interval",
        "How often the server's metrics are scraped during the run (default "
        f"{DEFAULT_METRICS_INTERVAL}; at least 0.5s).",
        read_positive_duration,
        default=DEFAULT_METRICS_INTERVAL,
        empty_is_unset=True,
    ),
    Setting(
        "endpoint",
        "chat: /chat/completions (default); completions: /completions.",
        one_of(("chat", "completions")),
        default="chat",
        choices=("chat", "completions"),
        scenario_key="target.endpoint",
        web_ui=True,
    ),
    Setting(
        "mix",
        "User-class weights by mode, e.g. stream=3,batch=1 (default: the scenario's "
        "mix, else the locustfile's weights).",
        read_mix,
        scenario_key="mix",
        empty_is_unset=True,
    ),
    Setting(
        "api_key_env",
        "Name of the environment variable holding the API key (default "
        "OPENAI_API_KEY). Each worker reads its own environment.",
        read_variable_name,
        default=DEFAULT_API_KEY_ENV,
        scenario_key="target.api_key_env",
        empty_is_unset=True,
    ),
    Setting(
        "api_key_file",
        "A file holding the API key (e.g. a mounted Kubernetes secret); each worker reads its own.",
        read_text,
        scenario_key="target.api_key_file",
        empty_is_unset=True,
    ),
    *(
        Setting(
            f"{name}_timeout",
            f"Deadline for {_TIMEOUT_WHAT[name]} (default {DEFAULT_TIMEOUTS[name]}).",
            read_timeout,
            default=DEFAULT_TIMEOUTS[name],
            scenario_key=f"timeouts.{name}",
        )
        for name in TIMEOUT_NAMES
    ),
    Setting(
        "out",
        "Write summary.json, summary.md, report.html, junit.xml and requests.jsonl.gz into "
        "this folder when the run ends.",
        read_text,
        empty_is_unset=True,
    ),
    Setting(
        "preflight_wait",
        "While GET /v1/models answers 503 (a server loading its model), wait and "
        f"check again for up to this long before giving up (default {DEFAULT_PREFLIGHT_WAIT}).",
        read_duration,
        default=DEFAULT_PREFLIGHT_WAIT,
        empty_is_unset=True,
    ),
    Setting(
        "backoff_max",
        "After consecutive instant failures (refused, reset before the headers, a 5xx "
        "in under 50 ms) a user waits before its next request: exponential from 50ms with "
        f"jitter, up to this long (default {DEFAULT_BACKOFF_MAX}; 0: no back-off).",
        read_duration,
        default=DEFAULT_BACKOFF_MAX,
        empty_is_unset=True,
    ),
    Setting(
        "abort_after",
        "Stop the run with exit code 1 once every request has failed for this long "
        "(from the first failure with no success since), e.g. 30s (default 0: never).",
        read_duration,
        default=DEFAULT_ABORT_AFTER,
        empty_is_unset=True,
    ),
    Setting(
        "retries",
        "Retry a request up to N times after rate limiting, 5xx, a refused connection or "
        "a reset before the first token (default 0: retries change the offered load).",
        read_integer,
        default=0,
        kind=Kind.INT,
        web_ui=True,
    ),
    Setting(
        "retry_max_backoff",
        "Longest wait between attempts; Retry-After is honoured up to it (default 10s).",
        read_duration,
        default="10s",
        empty_is_unset=True,
    ),
    Setting(
        "stream_fallback",
        "After a stream is reset, truncated or stalls, ask again without streaming "
        "(both requests are counted).",
        read_switch,
        default=False,
        kind=Kind.SWITCH,
    ),
    Setting(
        "no_preflight",
        "Skip the GET /v1/models check of the target before the users start.",
        read_switch,
        default=False,
        kind=Kind.SWITCH,
    ),
    Setting(
        "no_records",
        "Do not write requests.jsonl.gz (one line per request sent: its timings, tokens and "
        "outcome, never a prompt, an answer or a key; docs/records.md) into the --llm-out "
        "folder.",
        read_switch,
        default=False,
        kind=Kind.SWITCH,
    ),
)

_LOAD: tuple[Setting, ...] = (
    Setting(
        "rate",
        "Open loop: requests per second on one global arrival schedule, whatever the "
        "answers do (e.g. 20 or 20/s; default 0: closed loop, each user one request at a "
        "time). Locust's user count is then the most requests in flight at once.",
        parse_rate,
        default="0",
        scenario_key="load.rate",
        web_ui=True,
        empty_is_unset=True,
    ),
    Setting(
        "arrival",
        f"Open loop: how arrivals are spaced: {', '.join(PROCESSES)} (default {DEFAULT_ARRIVAL}).",
        one_of(PROCESSES),
        default=DEFAULT_ARRIVAL,
        choices=PROCESSES,
        scenario_key="load.arrival",
        web_ui=True,
    ),
    Setting(
        "burstiness",
        "Open loop, gamma arrivals: the gamma shape (1: Poisson; below 1 burstier, above 1 "
        "more regular; the gaps' coefficient of variation is 1/sqrt(burstiness)).",
        read_positive_number,
        default="1",
        scenario_key="load.burstiness",
        empty_is_unset=True,
    ),
    Setting(
        "seed",
        "Seed of the arrival schedule and of each arrival's mode (default 0: every run "
        "offers the same schedule).",
        read_integer,
        default=0,
        kind=Kind.INT,
        scenario_key="load.seed",
    ),
    Setting(
        "max_schedule_lag",
        "Open loop: a due request still waiting for a free slot this long after it was due "
        "is dropped (counted, never sent), e.g. 5s (default 0: it waits, and its schedule "
        "lag shows it).",
        read_duration,
        default="0",
        scenario_key="load.max_schedule_lag",
        empty_is_unset=True,
    ),
    Setting(
        "warmup",
        "The first seconds of the run, excluded from the figures, e.g. 30s (default 0).",
        read_duration,
        default="0",
        scenario_key="load.warmup",
        web_ui=True,
        empty_is_unset=True,
    ),
)

_SWEEP: tuple[Setting, ...] = (
    Setting(
        "sweep",
        "Run the stages of a sweep (locust-llm sweep sets it): auto, rates:R1,R2,… or "
        "concurrency:N1,N2,…; empty: no sweep.",
        parse_sweep,
        empty_is_unset=True,
    ),
    Setting(
        "stage_time",
        "A sweep's time per point (default 60s); its first --llm-warmup (default 10s, at "
        "most a fifth of it) is not counted.",
        read_duration,
        default="60s",
        empty_is_unset=True,
    ),
    Setting(
        "sweep_points",
        "An auto sweep's open-loop rates between the synchronous and the saturating point "
        f"(default {DEFAULT_AUTO_POINTS}).",
        read_positive_int,
        default=DEFAULT_AUTO_POINTS,
        kind=Kind.INT,
    ),
)

_PAIRED = Setting(
    "paired",
    "Open loop: send each prompt once in each mode at the same due time and report the "
    "per-prompt difference in first visible output (scenario mix: paired; locust-llm run "
    "--mode paired).",
    read_switch,
    default=False,
    kind=Kind.SWITCH,
    scenario_key="mix.paired",
)

_GOODPUT: tuple[Setting, ...] = (
    Setting(
        "goodput",
        "Goodput limits each request's own figures must meet to count, e.g. "
        "ttft=500ms,tpot=50ms,e2e=20s (keys ttft, tpot or itl, e2e, first_visible; "
        "docs/load.md); empty: no goodput figures.",
        read_goodput,
        scenario_key="goodput",
        empty_is_unset=True,
    ),
)

#: Every `--llm-…` setting, in the order Locust's parser, `run --help` and `--print-config`
#: list them (the exporter's first, as they always were).
SETTINGS: tuple[Setting, ...] = (*_PROMETHEUS, *_RUN, *_LOAD, _PAIRED, *_GOODPUT, *_SWEEP)
#: the same, by name
SETTING: Mapping[str, Setting] = {s.name: s for s in SETTINGS}
