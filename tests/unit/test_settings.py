"""The one settings table: every setting reachable three ways with one value, and the docs.

Each `--llm-…` setting of `harness.settings.SETTINGS` must give the same value whether it
comes as a flag, as its `LOCUST_LLM_…` variable or as its `locust.conf` key — through Locust's
own parser (in a child interpreter: importing Locust monkey-patches this one) and through
`locust-llm run`'s. The option tables of the docs must name no setting the table lacks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from harness import readers
from harness.cli import build_parser
from harness.effective import CommandLine
from harness.load.plan import parse_rate
from harness.load.sweep import parse_sweep
from harness.scenario import TIMEOUT_NAMES
from harness.settings import SETTING, SETTINGS, Kind, Setting, known_variables

ROOT = Path(__file__).resolve().parents[2]

#: a value each reader accepts, unlike its setting's default (a new reader needs one here)
SAMPLES: dict[Any, str] = {
    readers.read_text: "some-value",
    readers.read_models: "tiny-model",
    readers.read_targets: "a=http://127.0.0.1:1/v1,b=http://127.0.0.1:2/v1",
    readers.read_positive_int: "16",
    readers.read_integer: "3",
    readers.read_temperature: "0.5",
    readers.read_mix: "stream=3,batch=1",
    readers.read_timeout: "7s",
    readers.read_duration: "7s",
    readers.read_switch: "true",
    readers.read_variable_name: "MY_LLM_KEY",
    readers.read_port: "9100",
    readers.read_label: "nightly",
    readers.read_buckets: "10ms,20ms,1s",
    readers.read_positive_number: "0.5",
    readers.read_positive_duration: "2s",
    readers.read_metrics_urls: "http://127.0.0.1:9/metrics",
    readers.read_goodput: "ttft=500ms,e2e=20s",
    parse_rate: "20/s",
    parse_sweep: "rates:1,2,4",
}


def sample(setting: Setting) -> str:
    if setting.choices is not None:
        return next((c for c in setting.choices if c != setting.default), setting.choices[0])
    assert setting.read in SAMPLES, f"give {setting.name}'s reader a sample in SAMPLES"
    return SAMPLES[setting.read]


#: Locust's parser with the harness loaded: each setting as a flag, a variable and a
#: locust.conf line; prints {name: {way: [option value repr, typed value repr]}}
_THREE_WAYS = r"""
import json, sys
from locust.argument_parser import get_parser
import harness.users  # registers the --llm-… options, as the locustfile's import does
from harness.options import resolve_option
from harness.settings import SETTINGS, Kind

samples = json.load(sys.stdin)
parser = get_parser(default_config_files=[])
found = {}
for s in SETTINGS:
    text = samples[s.name]
    flag = [s.flag] if s.kind is Kind.SWITCH else [s.flag, text]
    ways = {
        "flag": parser.parse_args(flag, env_vars={}),
        "env": parser.parse_args([], env_vars={s.env_var: text}),
        "conf": parser.parse_args(
            [], config_file_contents=f"{s.conf_key} = {text}\n", env_vars={}
        ),
        "none": parser.parse_args([], env_vars={}),
    }
    found[s.name] = {
        way: [repr(getattr(ns, s.dest)), repr(resolve_option(ns, s, None).value)]
        for way, ns in ways.items()
    }
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def through_locust() -> dict[str, dict[str, list[str]]]:
    samples = {s.name: sample(s) for s in SETTINGS}
    result = subprocess.run(
        [sys.executable, "-c", _THREE_WAYS],
        input=json.dumps(samples),
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "LOCUST_SKIP_MONKEY_PATCH": "1"},
        check=True,
    )
    found: dict[str, dict[str, list[str]]] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def through_locust_llm(setting: Setting, way: str) -> Any:
    """The typed value `locust-llm run` resolves from the setting given as a flag or variable."""
    text = sample(setting)
    if way == "flag":
        argv = [setting.flag] if setting.kind is Kind.SWITCH else [setting.flag, text]
        args = build_parser().parse_args(["run", *argv])
        return CommandLine(args, {}, None).setting(setting.name).value
    empty = types.SimpleNamespace()
    return CommandLine(empty, {setting.env_var: text}, None).setting(setting.name).value


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_a_setting_gives_one_value_as_flag_variable_and_locust_conf_key(
    setting: Setting, through_locust: dict[str, dict[str, list[str]]]
) -> None:
    ways = through_locust[setting.name]
    given = {way: ways[way] for way in ("flag", "env", "conf")}
    # Locust's parser holds the same value each way, and it is not the default
    assert len({option for option, _ in given.values()}) == 1, given
    if setting.choices is None or len(setting.choices) > 1:  # one choice is its default
        assert ways["none"][0] != ways["flag"][0], ways
    # the run's typed value is the same each way, in Locust and in `locust-llm run`
    typed = {value for _, value in given.values()}
    typed |= {repr(through_locust_llm(setting, way)) for way in ("flag", "env")}
    assert len(typed) == 1, (given, typed)


def test_names_derive_from_the_setting_name() -> None:
    setting = SETTING["max_tokens"]
    assert (setting.flag, setting.dest, setting.env_var, setting.conf_key) == (
        "--llm-max-tokens",
        "llm_max_tokens",
        "LOCUST_LLM_MAX_TOKENS",
        "llm-max-tokens",
    )
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    assert len(set(known_variables())) == len(known_variables())


def test_the_web_ui_shows_the_request_settings_retries_and_the_open_loop_rate_only() -> None:
    shown = [s.flag for s in SETTINGS if s.web_ui]
    assert shown == [
        "--llm-model",
        "--llm-max-tokens",
        "--llm-temperature",
        "--llm-protocol",
        "--llm-metrics-url",
        "--llm-endpoint",
        "--llm-retries",
        "--llm-rate",
        "--llm-arrival",
        "--llm-warmup",
    ]


# ------------------------------------------------------------------ the docs' option tables

#: files with option tables, and what `<name>` stands for in a row
DOC_TABLES = ("README.md", "docs/scenario.md", "docs/prometheus.md", "docs/deploy.md")
_TOKEN = re.compile(r"`(--llm-[a-z<>-]+|LOCUST_LLM_[A-Z<>_]+)[^`]*`")


def _expand(token: str) -> list[str]:
    """`--llm-<name>-timeout` → every timeout's flag; `--llm-X` (any option) → none."""
    if token in ("--llm-X", "LOCUST_LLM_X"):
        return []
    if "<name>" in token:
        return [token.replace("<name>", name) for name in TIMEOUT_NAMES]
    if "<NAME>" in token:
        return [token.replace("<NAME>", name.upper()) for name in TIMEOUT_NAMES]
    if "<family>" in token:
        return [s.flag for s in SETTINGS if s.name.startswith("buckets_")]
    return [token]


def _table_rows() -> list[tuple[str, list[str]]]:
    rows = []
    for name in DOC_TABLES:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("|") and ("--llm-" in line or "LOCUST_LLM_" in line):
                named = [n for t in _TOKEN.findall(line) for n in _expand(t)]
                rows.append((f"{name}: {line}", named))
    return rows


def test_the_docs_option_tables_name_only_settings_of_the_table() -> None:
    flags = {s.flag for s in SETTINGS}
    variables = set(known_variables())
    rows = _table_rows()
    assert len(rows) > 30, "the option tables were not found"
    unknown = [
        (row, name)
        for row, names in rows
        for name in names
        if name not in (flags if name.startswith("--") else variables)
    ]
    assert not unknown, unknown


def test_the_precedence_table_pairs_each_scenario_key_with_its_settings_flag() -> None:
    """docs/scenario.md: a row `| request.max_tokens | … --llm-max-tokens | LOCUST_LLM_… |`
    names the flag and variable of the setting whose scenario key it is."""
    by_key = {s.scenario_key: s for s in SETTINGS if s.scenario_key}
    text = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    section = text.split("## Precedence and `--print-config`", 1)[1].split("\n## ", 1)[0]
    paired = set()
    for line in section.splitlines():
        key = re.match(r"\| `([a-z_.]+)(?:\(s\))?(?:\.<name>)?` \|", line)
        if key is None:
            continue
        named = {n for t in _TOKEN.findall(line) for n in _expand(t)}
        for scenario_key, setting in by_key.items():
            if scenario_key in (key.group(1), key.group(1) + "s") or (
                scenario_key.startswith(key.group(1) + ".") and "<name>" in line
            ):
                assert {setting.flag, setting.env_var} <= named, (line, setting.name)
                paired.add(setting.name)
    # every setting a scenario may give has its row (the key ones share "API key")
    assert {s.name for s in by_key.values()} - paired == {"api_key_env", "api_key_file"}
