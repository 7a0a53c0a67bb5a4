"""Scenario files: every bad input of catalogue §F is refused with one exact line.

Each case writes a `scenario.yaml` into a fresh folder (the test runs there, so messages
start with the relative file name) and asserts the whole message: file, line, column, key
path, the value as written, what is allowed, and for the YAML 1.1 traps what YAML made of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.checks import normalise_base_url
from harness.errors import ConfigError
from harness.scenario import (
    DEFAULT_TIMEOUTS,
    Price,
    Scenario,
    Secret,
    load_scenario,
    parse_duration,
    parse_mix,
)
from harness.slo import SLO
from harness.workload.lengths import LengthDist
from tests.conftest import ROOT

FILE = "scenario.yaml"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def load(text: str, environ: dict[str, str] | None = None) -> Scenario:
    Path(FILE).write_text(text, encoding="utf-8")
    return load_scenario(FILE, environ or {})


def error_of(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(text, environ)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- CFG-01: YAML 1.1 scalar traps -----------------------------------------------------------

YAML_TRAPS = [
    (
        "target:\n  model: no\n",
        "scenario.yaml:2:10: target.model: expected a string, got boolean false "
        '(unquoted no/yes/on/off are booleans in YAML 1.1; write "no")',
    ),
    (
        "request:\n  max_tokens: 1e3\n",
        "scenario.yaml:2:15: request.max_tokens: expected an integer, got string '1e3' "
        "(YAML 1.1 reads 1e3 as a string: it needs a dot and a signed exponent such as "
        "1.0e+3; write 1000)",
    ),
    (
        "request:\n  temperature: 1.0e3\n",
        "scenario.yaml:2:16: request.temperature: expected a number, got string '1.0e3' "
        "(YAML 1.1 reads 1.0e3 as a string: it needs a dot and a signed exponent such as "
        "1.0e+3; write 1000)",
    ),
    (
        "timeouts:\n  total: 30\n",
        "scenario.yaml:2:10: timeouts.total: expected a duration with a unit such as 500ms, "
        '15s or 5m, got integer 30 (write "30s" for seconds)',
    ),
    (
        "prompts:\n  synthetic: {input_tokens: 8, seed: 0755}\n",
        "scenario.yaml:2:38: prompts.synthetic.seed: expected an integer, got integer 0755 "
        "(YAML 1.1 reads a leading 0 as octal: 493; write 755)",
    ),
    (
        "load:\n  run_time: 12:30\n",
        "scenario.yaml:2:13: load.run_time: expected a duration with a unit such as 500ms, "
        "15s or 5m, got integer 12:30 (YAML 1.1 reads 12:30 as the base-60 number 750)",
    ),
    (
        "load:\n  users: 1_000\n",
        "scenario.yaml:2:10: load.users: expected an integer, got integer 1_000 "
        "(YAML 1.1 drops the underscores: 1000; write 1000)",
    ),
    (
        "load:\n  users: 0x1F\n",
        "scenario.yaml:2:10: load.users: expected an integer, got integer 0x1F "
        "(a hexadecimal literal, 31; write 31)",
    ),
    (
        "mix:\n  yes: 1\n",
        "scenario.yaml:2:3: mix: keys must be strings, got boolean true "
        '(unquoted no/yes/on/off are booleans in YAML 1.1; write "yes")',
    ),
    (
        "name: 2024-01-01\n",
        "scenario.yaml:1:7: name: expected a string, got date 2024-01-01",
    ),
    (
        "target:\n  model:\n",
        "scenario.yaml:2:9: target.model: expected a string, got null (an empty value or ~)",
    ),
]


@pytest.mark.parametrize(("text", "message"), YAML_TRAPS)
def test_yaml_1_1_traps_are_refused_with_what_yaml_made_of_them(text: str, message: str) -> None:
    assert error_of(text) == message


def test_quoted_values_are_the_strings_people_meant() -> None:
    scenario = load('target:\n  model: "no"\nload:\n  run_time: "30s"\n')
    assert scenario.models == ("no",)
    assert scenario.run_time == "30s"


# --- CFG-02: duplicate and unknown keys --------------------------------------------------------


def test_a_duplicate_key_names_both_lines() -> None:
    text = "load:\n  users: 10\n  spawn_rate: 1\n  run_time: 5s\n\n\n  users: 100\n"
    assert error_of(text) == "scenario.yaml:7:3: load: duplicate key 'users' (lines 2 and 7)"


def test_a_duplicate_top_level_key_names_both_lines() -> None:
    assert error_of("name: a\nname: b\n") == (
        "scenario.yaml:2:1: duplicate key 'name' (lines 1 and 2)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "request:\n  max_token: 64\n",
            "scenario.yaml:2:3: request: unknown key 'max_token' — did you mean 'max_tokens'? "
            "(allowed: max_tokens, temperature, top_p, extra_body)",
        ),
        (
            "mix:\n  strem: 1\n",
            "scenario.yaml:2:3: mix: unknown key 'strem' — did you mean 'stream'? "
            "(allowed: stream, batch)",
        ),
        (
            "targte:\n  model: m\n",
            "scenario.yaml:1:1: unknown key 'targte' — did you mean 'target'? (allowed: name, "
            "target, targets, request, prompts, mix, load, timeouts, slos, pricing, mock, goodput)",
        ),
        (
            "request:\n  n: 2\n",
            "scenario.yaml:2:3: request: unknown key 'n' "
            "(allowed: max_tokens, temperature, top_p, extra_body)",
        ),
    ],
)
def test_an_unknown_key_suggests_the_key_meant(text: str, message: str) -> None:
    assert error_of(text) == message


def test_keys_under_extra_body_pass_through() -> None:
    text = (
        "request:\n  extra_body:\n    max_tokenz: 3\n    chat_template_kwargs: "
        '{enable_thinking: false}\n    stop: ["\\n"]\n'
    )
    assert load(text).extra_body == {
        "max_tokenz": 3,
        "chat_template_kwargs": {"enable_thinking": False},
        "stop": ["\n"],
    }


def test_extra_body_may_not_replace_what_the_harness_sets() -> None:
    assert error_of("request:\n  extra_body: {stream: false}\n") == (
        "scenario.yaml:2:16: request.extra_body: 'stream' is set by the harness; use mix instead"
    )


def test_yaml_1_1_surprises_inside_extra_body_are_refused_too() -> None:
    assert error_of("request:\n  extra_body: {enable_thinking: off}\n") == (
        "scenario.yaml:2:33: request.extra_body.enable_thinking: expected a JSON value, got "
        'boolean false (unquoted no/yes/on/off are booleans in YAML 1.1; write "off")'
    )
    assert load("request:\n  extra_body: {enable_thinking: false, n: '1e3'}\n").extra_body == {
        "enable_thinking": False,
        "n": "1e3",
    }


def test_a_duplicate_key_inside_extra_body_is_refused() -> None:
    assert error_of("request:\n  extra_body:\n    seed: 1\n    seed: 2\n") == (
        "scenario.yaml:4:5: request.extra_body: duplicate key 'seed' (lines 3 and 4)"
    )


def test_merge_keys_are_refused_but_x_keys_hold_anchors() -> None:
    text = "x-base: &base {users: 1}\nload:\n  <<: *base\n"
    assert error_of(text) == (
        "scenario.yaml:3:3: load: merge keys (<<) are not supported; write the keys out"
    )
    assert load("x-base: &m mock-llm\ntarget:\n  model: *m\n").models == ("mock-llm",)


# --- CFG-03: file-level errors -------------------------------------------------------------


def test_a_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"^nope\.yaml: no such file$"):
        load_scenario("nope.yaml", {})


def test_a_directory() -> None:
    os.mkdir("dir.yaml")
    with pytest.raises(ConfigError, match=r"^dir\.yaml: is a directory, expected a YAML file$"):
        load_scenario("dir.yaml", {})


@pytest.mark.parametrize("text", ["", "# only a comment\n\n", "---\n"])
def test_an_empty_or_comment_only_file(text: str) -> None:
    assert error_of(text) == (
        "scenario.yaml: the file is empty (or only comments); expected a mapping with keys "
        "such as target, load and slos"
    )


def test_a_top_level_list() -> None:
    assert error_of("- target: x\n- load: y\n") == (
        "scenario.yaml:1:1: expected a mapping of keys (name, target, targets, request, prompts, "
        "mix, load, timeouts, slos, pricing, mock, goodput) at the top level, got a list"
    )


def test_tab_indentation() -> None:
    assert error_of("load:\n\tusers: 3\n") == (
        "scenario.yaml:2:1: YAML syntax error: a tab character; YAML indents with spaces only"
    )


def test_latin_1_bytes_name_the_byte_and_its_place() -> None:
    Path(FILE).write_bytes("name: démo\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_scenario(FILE, {})
    assert str(info.value) == "scenario.yaml:1:8: not UTF-8 (byte 0xe9); save the file as UTF-8"


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    Path(FILE).write_bytes("\ufeffname: démo\n".encode())
    assert load_scenario(FILE, {}).name == "démo"


def test_an_alias_bomb_is_refused_before_expansion() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[i]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    text = "x-bomb:\n" + "".join(f"  {line}\n" for line in levels)
    assert error_of(text) == (
        "scenario.yaml:6:6: the document expands to more than 100,000 values through aliases "
        "(*name); refusing to load it (an alias bomb?)"
    )


def test_an_oversized_file_is_refused_without_reading_it() -> None:
    with open(FILE, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(ConfigError) as info:
        load_scenario(FILE, {})
    assert str(info.value) == (
        "scenario.yaml: larger than 1,048,576 bytes, the most a scenario file may be; "
        "is this the right file?"
    )


def test_a_second_document() -> None:
    assert error_of("name: a\n---\nname: b\n") == (
        "scenario.yaml:2:1: YAML syntax error: a second document (---); a scenario is one document"
    )


def test_python_tags_are_refused() -> None:
    assert error_of("name: !!python/object/apply:os.system [echo hi]\n") == (
        "scenario.yaml:1:7: name: expected a string, got a list"
    )
    assert error_of("name: !!python/name:os.system x\n") == (
        "scenario.yaml:1:7: name: expected a string, got !!python/name:os.system x"
    )


# --- CFG-04: ranges and consistency --------------------------------------------------------

RANGES = [
    ("load:\n  users: 0\n", "2:10: load.users: expected an integer from 1 to 1,000,000, got 0"),
    ("load:\n  users: -1\n", "2:10: load.users: expected an integer from 1 to 1,000,000, got -1"),
    (
        "load:\n  spawn_rate: 0\n",
        "2:15: load.spawn_rate: expected a number greater than 0 and at most 1,000,000, got 0",
    ),
    (
        "load:\n  run_time: 0s\n",
        "2:13: load.run_time: expected a duration greater than 0, got '0s'",
    ),
    (
        "load:\n  run_time: -5s\n",
        "2:13: load.run_time: expected a duration with a unit such as 500ms, 15s or 5m, got '-5s'",
    ),
    (
        "load:\n  run_time: 10x\n",
        "2:13: load.run_time: expected a duration with a unit such as 500ms, 15s or 5m, got '10x'",
    ),
    (
        "request:\n  max_tokens: 0\n",
        "2:15: request.max_tokens: expected an integer from 1 to 10,000,000, got 0",
    ),
    (
        "request:\n  max_tokens: -4\n",
        "2:15: request.max_tokens: expected an integer from 1 to 10,000,000, got -4",
    ),
    (
        "request:\n  temperature: -0.1\n",
        "2:16: request.temperature: expected a number from 0 to 2, got -0.1",
    ),
    (
        "request:\n  temperature: 2.5\n",
        "2:16: request.temperature: expected a number from 0 to 2, got 2.5",
    ),
    (
        "request:\n  top_p: 1.5\n",
        "2:10: request.top_p: expected a number greater than 0 and at most 1, got 1.5",
    ),
    (
        "timeouts:\n  connect: 0s\n",
        "2:12: timeouts.connect: expected a duration greater than 0, got '0s'",
    ),
    (
        "timeouts:\n  stall: 10m\n  total: 5m\n",
        "2:10: timeouts.stall: 10m must be less than timeouts.total (5m)",
    ),
    (
        "slos:\n  - {mode: stream, metric: ttft, percentile: 101, max: 500ms}\n",
        "2:46: slos[0].percentile: expected one of 50, 90, 95, 99 (the percentiles "
        "summary.json holds), got 101",
    ),
    (
        "slos:\n  - {metric: failure_ratio, max: 1.5}\n",
        "2:34: slos[0].max: expected a number from 0 to 1, got 1.5",
    ),
    (
        "mix: {stream: 0, batch: 0}\n",
        "1:6: mix: every weight is 0; give stream or batch a weight above 0",
    ),
    ("mix: {stream: -1}\n", "1:15: mix.stream: expected an integer from 0 to 1,000, got -1"),
    (
        "load:\n  stages: [{users: 1, rate: 2}]\n",
        "2:12: load.stages[0]: a stage sets exactly one of rate (open loop) or users (closed loop)",
    ),
    (
        "load:\n  stages: [{rate: 2}, {users: 3}]\n",
        "2:12: load.stages[0]: missing key 'duration' (only the last stage may run until stopped)",
    ),
    (
        "load:\n  stages: [{duration: 5s, rate: 0}]\n",
        "2:33: load.stages[0].rate: a stage's rate must be above 0",
    ),
    (
        "load:\n  stages: [{duration: 5s, rate: 2, ramp: 10s}]\n",
        "2:42: load.stages[0].ramp: ramp is longer than the stage's duration",
    ),
    (
        "load:\n  rate: fast\n",
        "2:9: load.rate: expected a rate such as 20 or 20/s (requests per second), got 'fast'",
    ),
    (
        "load:\n  rate: 5\n  users: 3\n",
        "3:10: load.users: not with load.rate: an open-loop run's users are its in-flight "
        "pool; set load.max_in_flight",
    ),
]


@pytest.mark.parametrize(("text", "message"), RANGES)
def test_out_of_range_values_name_the_key_value_and_range(text: str, message: str) -> None:
    assert error_of(text) == f"scenario.yaml:{message}"


def test_a_spawn_rate_above_the_users_is_a_warning() -> None:
    scenario = load("load:\n  users: 4\n  spawn_rate: 8\n")
    assert scenario.warnings == (
        "scenario.yaml:3:15: load.spawn_rate: 8 users/s is more than the 4 users: "
        "they all start at once",
    )


SLO_ERRORS = [
    (
        "slos:\n  - {mode: stream, metric: ttf, percentile: 95, max: 500ms}\n",
        "2:28: slos[0].metric: expected one of ttft, itl, tpot, e2e, first_visible, "
        "failure_ratio, goodput, slo_attainment, got 'ttf' — did you mean 'ttft'?",
    ),
    (
        "slos:\n  - {mode: batch, metric: ttft, percentile: 95, max: 500ms}\n",
        "2:27: slos[0].metric: ttft applies to streaming only (a batch answer arrives all at "
        "once); use first_visible or e2e for batch",
    ),
    (
        "slos:\n  - {metric: ttft, percentile: 95, max: 1s}\n",
        "2:5: slos[0]: missing key 'mode' (stream or batch) for metric ttft",
    ),
    (
        "slos:\n  - {mode: stream, metric: ttft, max: 1s}\n",
        "2:5: slos[0]: missing key 'percentile' (one of 50, 90, 95, 99)",
    ),
    (
        "slos:\n  - {mode: stream, metric: ttft, percentile: 95}\n",
        "2:5: slos[0]: missing key 'max' (the limit)",
    ),
    (
        "slos:\n  - {mode: stream, metric: e2e, percentile: 95, max: 2}\n",
        "2:54: slos[0].max: expected a duration with a unit such as 500ms, 15s or 5m, got "
        'integer 2 (write "2s" for seconds)',
    ),
    (
        "slos:\n  - {metric: failure_ratio, percentile: 95, max: 0.1}\n",
        "2:41: slos[0].percentile: a failure_ratio SLO has no percentile",
    ),
    ("slos: {metric: e2e}\n", "1:7: slos: expected a list of SLOs, got a mapping"),
]


@pytest.mark.parametrize(("text", "message"), SLO_ERRORS)
def test_slo_mistakes_are_named(text: str, message: str) -> None:
    assert error_of(text) == f"scenario.yaml:{message}"


# --- CFG-06: URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("localhost:8000/v1", "got 'localhost:8000/v1' (no scheme)"),
        ("htp://x/v1", "got 'htp://x/v1' (scheme 'htp')"),
    ],
)
def test_a_base_url_needs_a_scheme(url: str, problem: str) -> None:
    assert error_of(f"target:\n  base_url: {url}\n") == (
        "scenario.yaml:2:13: target.base_url: expected http://host[:port]/v1 or "
        f"https://host[:port]/v1, {problem}"
    )


def test_a_bad_port_is_named_without_credentials() -> None:
    assert error_of("target:\n  base_url: http://u:secret@h:99999/v1\n") == (
        "scenario.yaml:2:13: target.base_url: bad port in 'http://***@h:99999/v1' "
        "(expected 1-65535)"
    )


@pytest.mark.parametrize(
    ("url", "normalised", "notes"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1", []),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1", []),
        (
            "http://h/v1/chat/completions",
            "http://h/v1",
            ["/chat/completions removed: the base URL ends before the endpoint"],
        ),
        ("http://h:8000", "http://h:8000", ["the path does not end in /v1; requests go to /…"]),
        (" http://h/v1\n", "http://h/v1", ["surrounding whitespace removed"]),
        (
            "http://user:pass@h/v1",
            "http://h/v1",
            ["credentials in the URL are not sent and were removed; use api_key_env"],
        ),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1", []),
        (
            "https://h/v1?key=SECRETQ",
            "https://h/v1",
            ["the query string is not sent and was removed"],
        ),
    ],
)
def test_base_urls_are_normalised_with_a_note_for_each_change(
    url: str, normalised: str, notes: list[str]
) -> None:
    assert normalise_base_url(url) == (normalised, notes)


def test_url_notes_become_warnings_with_their_position() -> None:
    scenario = load("target:\n  base_url: http://user:pass@h/v1/chat/completions\n")
    assert scenario.base_url == "http://h/v1"
    assert scenario.warnings == (
        "scenario.yaml:2:13: target.base_url: credentials in the URL are not sent and were "
        "removed; use api_key_env",
        "scenario.yaml:2:13: target.base_url: /chat/completions removed: the base URL ends "
        "before the endpoint",
    )
    assert "pass" not in repr(scenario)


# --- environment references and the API key (CFG-09) ------------------------------------


def test_an_unset_variable_reference_names_it() -> None:
    assert error_of("target:\n  base_url: ${LLM_BASE_URL}\n") == (
        "scenario.yaml:2:13: target.base_url: references ${LLM_BASE_URL}, which is not set"
    )


def test_variable_references_and_defaults_are_substituted() -> None:
    text = "target:\n  base_url: ${URL}\n  model: ${MODEL:-mock-llm}\nname: $${literal}\n"
    scenario = load(text, {"URL": "http://h:1/v1"})
    assert scenario.base_url == "http://h:1/v1"
    assert scenario.models == ("mock-llm",)
    assert scenario.name == "${literal}"


def test_the_key_itself_is_never_accepted_in_the_file() -> None:
    assert error_of("target:\n  api_key: sk-canary-5b1f0c9e2d7a4\n") == (
        "scenario.yaml:2:12: target.api_key: not allowed: the key itself never goes in a "
        "scenario; set api_key_env: NAME (the environment variable that holds it) or "
        "api_key_file: PATH"
    )


def test_a_key_given_as_the_variable_name_is_not_printed() -> None:
    message = error_of("target:\n  api_key_env: sk-canary-5b1f0c9e2d7a4\n")
    assert "canary" not in message
    assert message == (
        "scenario.yaml:2:16: target.api_key_env: expected the name of an environment "
        "variable, such as OPENAI_API_KEY (the value is not shown: it is not a valid name "
        "and may be a key)"
    )


def test_a_named_key_variable_must_be_set() -> None:
    assert error_of("target:\n  api_key_env: OPENAI_API_KEY\n") == (
        "scenario.yaml:2:16: target.api_key_env: OPENAI_API_KEY is not set (it must hold the "
        "API key)"
    )


@pytest.mark.parametrize(
    ("raw", "note"),
    [
        ("sk-abc\n", "K: surrounding whitespace removed from the API key"),
        ("sk-abc\r\n", "K: surrounding whitespace removed from the API key"),
        ("  sk-abc  ", "K: surrounding whitespace removed from the API key"),
        ("Bearer sk-abc", 'K: "Bearer " removed from the API key (the harness adds it)'),
    ],
)
def test_a_key_with_whitespace_or_bearer_is_cleaned_with_a_warning(raw: str, note: str) -> None:
    scenario = load("target:\n  api_key_env: K\n", {"K": raw})
    assert scenario.api_key == Secret("sk-abc")
    assert scenario.warnings == (f"scenario.yaml:2:16: target.api_key_env: {note}",)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("sk-ab\ncd", "U+000A at position 5; expected printable ASCII"),
        ("\u201csk-abcd\u201d", "U+201C at position 0 (smart quote?); expected printable ASCII"),
        ("sk-abé", "U+00E9 at position 5; expected printable ASCII"),
    ],
)
def test_a_key_with_control_or_non_ascii_characters_is_refused_by_position(
    raw: str, problem: str
) -> None:
    message = error_of("target:\n  api_key_env: K\n", {"K": raw})
    assert message == (f"scenario.yaml:2:16: target.api_key_env: K: the API key contains {problem}")
    assert "sk-ab" not in message


def test_an_empty_key_variable_is_refused() -> None:
    assert error_of("target:\n  api_key_env: K\n", {"K": " \n"}) == (
        "scenario.yaml:2:16: target.api_key_env: K is set but empty"
    )


def test_a_key_file_with_a_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("sk-from-file\n")
    scenario = load("target:\n  api_key_file: key\n")
    assert scenario.api_key == Secret("sk-from-file")
    assert scenario.api_key_file == str(tmp_path / "key")


def test_a_missing_key_file(tmp_path: Path) -> None:
    assert error_of("target:\n  api_key_file: key\n") == (
        f"scenario.yaml:2:17: target.api_key_file: no such file: {tmp_path / 'key'}"
    )


def test_the_secret_never_prints() -> None:
    secret = Secret("sk-canary")
    assert repr(secret) == str(secret) == "Secret('***')"
    assert f"{secret}" == "Secret('***')"
    assert secret.reveal() == "sk-canary"
    scenario = load("target:\n  api_key_env: K\n", {"K": "sk-canary"})
    assert "canary" not in repr(scenario)


# --- a complete scenario ------------------------------------------------------------------


FULL = """\
name: checkout-assistant
target:
  base_url: http://127.0.0.1:8000/v1
  protocol: openai
  endpoint: completions
  models: [small, large]
request:
  max_tokens: 64
  temperature: 0.2
  top_p: 0.9
  extra_body: {seed: 7}
prompts:
  - Say hello.
  - - {role: system, content: Be brief.}
    - {role: user, content: Say hello.}
mix: {stream: 3, batch: 1}
load: {users: 8, spawn_rate: 4, run_time: 2m}
timeouts: {connect: 2s, ttft: 10s, stall: 5s, total: 60s}
slos:
  - {mode: stream, metric: ttft, percentile: 95, max: 500ms}
  - {mode: batch, metric: e2e, percentile: 99, max: 15s, name: batch answers in time}
  - {metric: failure_ratio, max: 0.01}
pricing:
  small: {input: 0.15, output: 0.6}
"""


def test_a_complete_scenario_loads_into_typed_values() -> None:
    scenario = load(FULL)
    assert scenario.name == "checkout-assistant"
    assert scenario.base_url == "http://127.0.0.1:8000/v1"
    assert scenario.endpoint == "completions"
    assert scenario.models == ("small", "large")
    assert (scenario.max_tokens, scenario.temperature, scenario.top_p) == (64, 0.2, 0.9)
    assert scenario.extra_body == {"seed": 7}
    assert scenario.prompts == (
        "Say hello.",
        ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}),
    )
    assert scenario.mix == {"stream": 3, "batch": 1}
    assert (scenario.users, scenario.spawn_rate, scenario.run_time) == (8, 4.0, "2m")
    assert scenario.timeouts == {"connect": 2.0, "ttft": 10.0, "stall": 5.0, "total": 60.0}
    assert scenario.slos == (
        SLO("ttft", 0.5, "stream", 95, "", "scenario.yaml:20:5"),
        SLO("e2e", 15.0, "batch", 99, "batch answers in time", "scenario.yaml:21:5"),
        SLO("failure_ratio", 0.01, None, None, "", "scenario.yaml:22:5"),
    )
    assert scenario.pricing == {"small": Price(0.15, 0.6)}
    assert scenario.origins["load.users"] == "scenario.yaml:17:15"
    assert scenario.warnings == ()


def test_a_mix_that_names_one_mode_gives_the_other_weight_0() -> None:
    assert load("mix: {stream: 2}\n").mix == {"stream": 2, "batch": 0}


def test_prompts_from_a_jsonl_file(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "hi"}]}\n\n{"prompt": "hello"}\n"plain"\n'
    )
    scenario = load("prompts:\n  file: p.jsonl\n")
    assert scenario.prompts == (({"role": "user", "content": "hi"},), "hello", "plain")
    assert scenario.prompts_source == (
        f"jsonl {tmp_path / 'p.jsonl'}: 3 prompts of 3 lines, 0 with a requested output length"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "p.jsonl:2:2: not JSON (Expecting property name enclosed in double quotes)"),
        (
            '{"messages": [{"role": "robot", "content": "x"}]}',
            'p.jsonl:2: message 0: expected {"role": one of system, developer, user, '
            'assistant, tool, "content": "…"}',
        ),
        (
            '{"text": "x"}',
            'p.jsonl:2: expected {"messages": [{"role": …, "content": …}, …]}, '
            '{"prompt": "…"}, a string, or a list of messages',
        ),
    ],
)
def test_a_bad_jsonl_line_is_named_by_file_and_line(
    tmp_path: Path, line: str, message: str
) -> None:
    (tmp_path / "p.jsonl").write_text('"ok"\n' + line + "\n")
    assert error_of("prompts:\n  file: p.jsonl\n") == str(tmp_path / message)


def test_an_empty_prompt_file(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text("\n\n")
    assert error_of("prompts: {file: p.jsonl}\n") == (
        f"{tmp_path / 'p.jsonl'}: holds no prompts (expected one JSON object per line)"
    )


def test_synthetic_prompts_have_the_asked_length_and_are_reproducible() -> None:
    scenario = load("prompts:\n  synthetic: {input_tokens: 100, count: 5, seed: 3}\n")
    assert scenario.prompts is None  # made per request, sized by the calibration
    workload = scenario.workload
    assert workload is not None
    assert workload.input_tokens == LengthDist.fixed(100)
    items = [workload.item_at(k) for k in range(10)]
    assert len({str(i.prompt) for i in items}) == 5  # count: 5 distinct prompts
    assert items[0] == items[5] == workload.item_at(0)
    assert all(i.requested_input_tokens == 100 for i in items)
    assert len(str(items[0].prompt).split()) == 100  # assumed 1 token per word, no template
    other = load("prompts:\n  synthetic: {input_tokens: 100, count: 5, seed: 4}\n").workload
    assert other is not None
    assert other.item_at(0) != items[0]


def test_prompts_need_exactly_one_source() -> None:
    assert error_of("prompts: {inline: [a], synthetic: {input_tokens: 3}}\n") == (
        "scenario.yaml:1:10: prompts: expected exactly one of inline, file, synthetic, "
        "sharegpt or trace, got inline, synthetic"
    )


def test_model_and_models_are_exclusive() -> None:
    assert error_of("target:\n  model: a\n  models: [b]\n") == (
        "scenario.yaml:3:11: target.models: set model or models, not both"
    )


# --- small helpers ---------------------------------------------------------------------------


def test_parse_duration_keeps_its_behaviour() -> None:
    assert parse_duration("500ms") == pytest.approx(0.5)
    assert parse_duration(3) == 3.0
    assert DEFAULT_TIMEOUTS["total"] == "600s"


@pytest.mark.parametrize(
    ("text", "weights"),
    [("stream=3,batch=1", {"stream": 3, "batch": 1}), ("batch=2", {"stream": 0, "batch": 2})],
)
def test_parse_mix(text: str, weights: dict[str, int]) -> None:
    assert parse_mix(text) == weights


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stream", "--llm-mix: expected weights such as stream=1,batch=1, got 'stream'"),
        ("stream=x", "--llm-mix: expected an integer weight for stream, got 'x'"),
        ("stream=0", "--llm-mix: every weight is 0; give stream or batch a weight above 0"),
    ],
)
def test_parse_mix_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_mix(text)
    assert str(info.value) == message


# --- precedence: defaults < scenario file < LOCUST_* environment < flags -------------------

SMALL = """\
target:
  base_url: http://127.0.0.1:8000/v1
  model: file-model
  endpoint: completions
  api_key_env: FILE_KEY
request: {max_tokens: 64, top_p: 0.5, extra_body: {seed: 1}}
mix: {stream: 3, batch: 1}
load: {users: 8, run_time: 90s}
timeouts: {ttft: 5s}
slos:
  - {mode: stream, metric: ttft, percentile: 95, max: 500ms}
"""


def locust_options(**given: object) -> object:
    """Locust's parsed options: the registered defaults, plus what was given."""
    import argparse

    from harness.options import option_defaults

    Path(FILE).write_text(SMALL, encoding="utf-8")
    return argparse.Namespace(**{**option_defaults(), "llm_scenario": FILE, **given})


ENV = {"FILE_KEY": "sk-file", "OTHER_KEY": "sk-other"}


def test_the_scenario_fills_what_the_options_leave_unset() -> None:
    from harness.options import RunConfig

    config = RunConfig.from_options(locust_options(), None, ENV)  # type: ignore[arg-type]
    assert config.target is not None
    assert config.target.display == "http://127.0.0.1:8000/v1"
    assert (config.model, config.models) == ("file-model", ("file-model",))
    assert config.chat is False
    assert config.api_key == "sk-file"
    assert config.timeouts.ttft_s == 5.0
    assert config.timeouts.total_s == 600.0
    assert config.mix == {"stream": 3, "batch": 1}
    assert config.request_params() == {"max_tokens": 64, "top_p": 0.5, "seed": 1}
    assert [slo.title for slo in config.slos] == ["stream ttft p95", "failure_ratio"]


def test_an_option_that_was_given_wins_even_with_the_default_value() -> None:
    from harness.options import RunConfig

    options = locust_options(
        llm_max_tokens=128,
        llm_endpoint="chat",
        llm_model="flag-model",
        llm_ttft_timeout="2s",
        llm_api_key_env="OTHER_KEY",
        llm_mix="stream=1,batch=0",
    )
    config = RunConfig.from_options(options, "http://other:1/v1", ENV)  # type: ignore[arg-type]
    assert config.target is not None
    assert config.target.display == "http://other:1/v1"
    assert config.max_tokens == 128
    assert config.chat is True
    assert config.models == ("flag-model",)
    assert config.timeouts.ttft_s == 2.0
    assert config.api_key == "sk-other"
    assert config.mix == {"stream": 1, "batch": 0}


def test_without_a_scenario_the_options_behave_as_before() -> None:
    import argparse

    from harness.options import RunConfig, option_defaults

    config = RunConfig.from_options(argparse.Namespace(**option_defaults()), None, {})
    assert (config.max_tokens, config.chat, config.model, config.slos) == (128, True, "", ())
    assert config.timeouts.connect_s == 10.0
    assert config.request_params() == {"max_tokens": 128}


def test_a_bad_scenario_fails_the_run_config_in_one_line() -> None:
    import argparse

    from harness.options import RunConfig

    Path(FILE).write_text("load:\n  users: 0\n")
    with pytest.raises(ConfigError) as info:
        RunConfig.from_options(argparse.Namespace(llm_scenario=FILE), None, {})
    assert str(info.value) == (
        "scenario.yaml:2:10: load.users: expected an integer from 1 to 1,000,000, got 0"
    )


def test_the_mix_sets_user_class_weights_and_the_scenario_gives_the_host() -> None:
    import types

    from harness.options import RunConfig, apply_to_environment

    config = RunConfig.from_options(locust_options(), None, ENV)  # type: ignore[arg-type]
    stream = type("S", (), {"mode": "stream", "weight": 1})
    batch = type("B", (), {"mode": "batch", "weight": 1})
    other = type("O", (), {"weight": 5})
    environment = types.SimpleNamespace(host=None, user_classes=[stream, batch, other])
    apply_to_environment(environment, config)  # type: ignore[arg-type]
    assert (stream.weight, batch.weight, other.weight) == (3, 1, 5)  # type: ignore[attr-defined]
    assert environment.host == "http://127.0.0.1:8000/v1"


def plan(environ: dict[str, str] | None = None, scenario: bool = True, **flags: object) -> object:
    import types

    from harness.effective import plan_run

    args = types.SimpleNamespace(
        host=None, users=None, spawn_rate=None, run_time=None, mode=None, model=None,
        max_tokens=None, out=None,
    )  # fmt: skip
    vars(args).update(flags)
    loaded = load(SMALL, {**ENV, **(environ or {})}) if scenario else None
    return plan_run(args, {**ENV, **(environ or {})}, loaded)


def sources(result: object) -> dict[str, tuple[str, str]]:
    return {s.key: (s.shown, s.source) for s in result.settings}  # type: ignore[attr-defined]


def test_print_config_sources_follow_flag_env_file_default() -> None:
    assert sources(plan(users=4, environ={"LOCUST_USERS": "6"}))["load.users"] == ("4", "--users")
    assert sources(plan(environ={"LOCUST_USERS": "6"}))["load.users"] == ("6", "env LOCUST_USERS")
    assert sources(plan())["load.users"] == ("8", "scenario.yaml:8:15")
    assert sources(plan(scenario=False, host="http://h/v1"))["load.users"] == ("32", "default")


def test_the_plan_passes_on_only_what_flags_override() -> None:
    result = plan(model="m2", max_tokens=16, mode="stream", run_time="1.5m")
    assert result.llm_args == (  # type: ignore[attr-defined]
        "--llm-model", "m2", "--llm-max-tokens", "16", "--llm-mix", "stream=1,batch=0",
    )  # fmt: skip
    assert result.run_time == "90s"  # type: ignore[attr-defined]
    assert result.host == "http://127.0.0.1:8000/v1"  # type: ignore[attr-defined]
    assert plan().llm_args == ()  # type: ignore[attr-defined]


def test_the_plan_passes_a_temperature_on_at_full_precision() -> None:
    result = plan(llm_temperature="0.123456789")
    assert result.llm_args == ("--llm-temperature", "0.123456789")  # type: ignore[attr-defined]


def test_print_config_shows_the_key_redacted_with_its_source() -> None:
    from harness.effective import render_plan

    result = plan()
    assert sources(result)["target.api_key"] == (
        "Secret('***') from $FILE_KEY",
        "scenario.yaml:5:16",
    )
    text = render_plan(result, title="t")  # type: ignore[arg-type]
    assert "sk-file" not in text
    assert "  slos[1]  " in text
    assert "failure_ratio <= 0 (0% of finished requests)" in text


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LOCUST_USERS": ""}, "LOCUST_USERS: expected a positive integer, got ''"),
        ({"LOCUST_USERS": "ten"}, "LOCUST_USERS: expected a positive integer, got 'ten'"),
        ({"LOCUST_SPAWN_RATE": "-1"}, "LOCUST_SPAWN_RATE: expected a positive number, got '-1'"),
        (
            {"LOCUST_LLM_ENDPOINT": "chatt"},
            "LOCUST_LLM_ENDPOINT: expected one of chat, completions, got 'chatt' — did you "
            "mean 'chat'?",
        ),
        (
            {"LOCUST_LLM_TTFT_TIMEOUT": "soon"},
            "LOCUST_LLM_TTFT_TIMEOUT: expected a duration such as 500ms, 15s or 5m, got 'soon'",
        ),
        (
            {"LOCUST_LLM_MIX": "stream=maybe"},
            "LOCUST_LLM_MIX: expected an integer weight for stream, got 'maybe'",
        ),
        (
            {"LOCUST_HOST": "localhost:8000/v1"},
            "LOCUST_HOST: expected http://host[:port]/v1 or https://host[:port]/v1, got "
            "'localhost:8000/v1' (no scheme)",
        ),
    ],
)
def test_bad_environment_variables_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan(environ)
    assert str(info.value) == message


def test_a_mistyped_llm_variable_is_a_warning() -> None:
    result = plan({"LOCUST_LLM_MODLE": "x"})
    assert result.warnings == (  # type: ignore[attr-defined]
        "environment variable LOCUST_LLM_MODLE is not a locust-llm setting — did you mean "
        "'LOCUST_LLM_MODEL'?",
    )


def test_an_empty_llm_variable_lets_the_scenario_speak_as_in_the_locust_child() -> None:
    result = sources(plan({"LOCUST_LLM_MODEL": "", "LOCUST_LLM_MIX": " "}))
    assert result["target.models"] == ("file-model", "scenario.yaml:3:10")
    assert result["mix"] == ("stream=3,batch=1", "scenario.yaml:7:6")


def test_the_file_gives_each_settings_value_and_where() -> None:
    scenario = load(SMALL, ENV)
    assert scenario.file_setting("request.max_tokens") == (64, "scenario.yaml:6:23")
    assert scenario.file_setting("target.models") == (("file-model",), "scenario.yaml:3:10")
    assert scenario.file_setting("timeouts.ttft") == (5.0, "scenario.yaml:9:18")
    assert scenario.file_setting("timeouts.stall") is None
    assert scenario.file_setting("request.temperature") is None


def test_locust_style_run_times_in_the_environment() -> None:
    assert plan({"LOCUST_RUN_TIME": "1h30m"}).run_time == "5400s"  # type: ignore[attr-defined]
    assert plan({"LOCUST_RUN_TIME": "45"}).run_time == "45s"  # type: ignore[attr-defined]


def test_a_run_without_a_target_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        plan(scenario=False)
    assert str(info.value) == ("run: no target: pass --host URL (base URL up to and including /v1)")


# --- the shipped example and the reference's example stay valid -------------------------


def test_the_example_scenario_loads_without_warnings() -> None:
    scenario = load_scenario(ROOT / "examples" / "scenario.yaml", {})
    assert scenario.base_url == "http://127.0.0.1:8000/v1"
    assert scenario.prompts is not None
    assert len(scenario.prompts) == 5
    assert len(scenario.slos) == 5
    assert scenario.warnings == ()


def test_the_reference_example_loads(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hi"}\n')
    scenario = load(example, {"LLM_API_KEY": "sk-x"})
    assert scenario.models == ("small", "large")
    assert scenario.warnings == ()


def test_a_mock_section_becomes_the_mocks_arguments() -> None:
    scenario = load(
        "mock: {ttft: 50ms, itl: 5ms, tokens: 8, faults: {rate_limited: 0.1, seed: 7}}\n"
    )
    assert scenario.mock_args == (
        "--ttft", "50ms", "--itl", "5ms", "--tokens", "8",
        "--faults", "rate_limited:0.1,seed:7",
    )  # fmt: skip


def test_a_mock_fault_schedule_may_be_a_list() -> None:
    assert load("mock: {faults: [ok, reset_mid_stream]}\n").mock_args == (
        "--faults",
        "ok,reset_mid_stream",
    )


def test_an_unknown_mock_fault_is_named_with_its_place() -> None:
    message = error_of("mock: {faults: 'bogus:0.1'}\n")
    assert message.startswith("scenario.yaml:1:16: mock.faults: unknown fault or setting 'bogus'")


def test_mock_and_a_base_url_are_exclusive() -> None:
    message = error_of("target: {base_url: 'http://127.0.0.1:8000/v1'}\nmock: {ttft: 1ms}\n")
    assert message == (
        "scenario.yaml:2:7: mock: set target.base_url or mock, not both (mock is the target)"
    )
