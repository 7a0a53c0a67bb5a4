"""Several targets: the scenario's `targets:`, `--llm-targets`, and the schedule's copies.

What a user writes is validated into `TargetSpec`s with one line per problem; the run's
values fill what a target leaves unset (`resolve_targets`); an open-loop arrival is copied
once per target (`fan_out`), same ordinal and due time.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.effective import plan_run
from harness.errors import ConfigError
from harness.load.schedule import Arrival, fan_out, lane_of
from harness.scenario import Price, load_scenario
from harness.targets import ANY_MODEL, TargetSpec, parse_targets_text, resolve_targets

KEY = "sk-test-0123456789abcdef"


def scenario(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> object:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path, environ or {})


def error_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        scenario(tmp_path, text, environ)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(tmp_path) + "/", "")


# ---------------------------------------------------------------- --llm-targets


def test_targets_text_gives_names_and_urls_in_order() -> None:
    assert parse_targets_text(" a=http://x/v1 , b.2=http://y/v1,", "--llm-targets") == (
        ("a", "http://x/v1"),
        ("b.2", "http://y/v1"),
    )
    assert parse_targets_text("", "--llm-targets") == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://x/v1", "--llm-targets: expected NAME=URL[,NAME=URL…], got 'http://x/v1'"),
        ("a=", "--llm-targets: expected NAME=URL[,NAME=URL…], got 'a='"),
        ("a=http://x/v1,a=http://y/v1", "--llm-targets: target 'a' is given twice"),
        ("my target=http://x/v1", "--llm-targets: target name 'my target': expected letters"),
    ],
)
def test_bad_targets_text_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_targets_text(text, "--llm-targets")
    assert str(caught.value).startswith(message)


# ---------------------------------------------------------------- the scenario's targets


def test_a_scenario_lists_targets_with_their_own_keys_models_and_prices(tmp_path: Path) -> None:
    s = scenario(
        tmp_path,
        "targets:\n"
        "  - name: upstream\n"
        "    base_url: http://127.0.0.1:8001/v1/chat/completions\n"
        "    model: m\n"
        "    pricing: {input: 1, output: 2}\n"
        "  - name: gateway\n"
        "    base_url: http://127.0.0.1:8002/v1\n"
        "    api_key_env: GATEWAY_KEY\n"
        "    models: [a, b]\n"
        "    pricing: {a: {input: 3, output: 4}}\n"
        "    metrics_url: http://127.0.0.1:8002/metrics\n"
        "    via: upstream\n",
        {"GATEWAY_KEY": KEY},
    )
    upstream, gateway = s.targets  # type: ignore[attr-defined]
    assert upstream.base_url == "http://127.0.0.1:8001/v1"  # the endpoint is never doubled
    assert upstream.pricing == {ANY_MODEL: Price(1.0, 2.0)}
    assert upstream.price_for("any") == Price(1.0, 2.0)
    assert gateway.api_key.reveal() == KEY
    assert KEY not in repr(gateway)
    assert gateway.models == ("a", "b")
    assert gateway.via == "upstream"
    assert gateway.price_for("a") == Price(3.0, 4.0)
    assert gateway.price_for("b") is None
    assert any("chat/completions" in w for w in s.warnings)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "targets:\n  - {base_url: http://x/v1}\n",
            "scenario.yaml:2:5: targets[0]: missing key 'name'",
        ),
        (
            "targets:\n  - {name: a, base_url: http://x/v1}\n  - {name: a, base_url: http://y/v1}\n",
            "scenario.yaml:3:5: targets[1]: target 'a' is listed twice",
        ),
        (
            "targets:\n  - {name: a, base_url: http://x/v1, via: b}\n",
            "scenario.yaml:2:3: targets: target 'a': via 'b' is not a target of the run",
        ),
        (
            "targets:\n  - {name: a, base_url: http://x/v1, api_key: sk-abc}\n",
            "scenario.yaml:2:47: targets[0].api_key: not allowed: the key itself never goes",
        ),
        (
            "target: {base_url: http://x/v1}\ntargets:\n  - {name: a, base_url: http://y/v1}\n",
            "scenario.yaml:3:3: targets: set target (one endpoint) or targets",
        ),
        (
            "targets:\n  - {name: a, base_url: http://y/v1}\nmock: {ttft: 100ms}\n",
            "scenario.yaml:3:7: mock: set targets or mock, not both",
        ),
        ("targets: []\n", "scenario.yaml:1:10: targets: expected at least one target"),
        (
            "targets:\n  - {name: a, base_url: http://x/v1, api_key_env: NOPE}\n",
            "scenario.yaml:2:51: targets[0].api_key_env: NOPE is not set",
        ),
    ],
)
def test_bad_targets_are_one_line_naming_the_place(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text).startswith(message)


def test_a_target_takes_the_runs_values_where_it_sets_none() -> None:
    price = Price(1.0, 1.0)
    own, plain = resolve_targets(
        (
            TargetSpec("own", "http://127.0.0.1:1/v1", models=("x",), endpoint="completions"),
            TargetSpec("plain", "http://127.0.0.1:2/v1"),
        ),
        api_key="run-key",
        api_key_env="OPENAI_API_KEY",
        models=("run-model",),
        chat=True,
        pricing={"run-model": price},
    )
    assert (own.models, own.chat, own.api_key) == (("x",), False, "run-key")
    assert (plain.models, plain.chat, dict(plain.pricing)) == (
        ("run-model",),
        True,
        {"run-model": price},
    )
    assert plain.display == "http://127.0.0.1:2/v1"


def test_run_refuses_host_with_targets_and_takes_the_first_as_locusts_host() -> None:
    args = SimpleNamespace(host="http://127.0.0.1:9/v1", llm_targets="a=http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError, match="--host names one target and the run has targets"):
        plan_run(args, {}, None)
    args = SimpleNamespace(llm_targets="a=http://127.0.0.1:1/v1,b=http://127.0.0.1:2/v1")
    plan = plan_run(args, {}, None)
    assert plan.host == "http://127.0.0.1:1/v1"
    assert "--llm-targets" in plan.llm_args


# ---------------------------------------------------------------- every target, same schedule


def test_each_arrival_is_copied_to_every_target_lane_with_its_ordinal_and_time() -> None:
    every = iter([Arrival(0, 0, "stream", 0.5), Arrival(1, 0, "batch", 0.7)])
    lanes = {"stream": ("stream@a", "stream@b"), "batch": ("batch@a", "batch@b")}
    assert list(fan_out(every, lanes)) == [
        Arrival(0, 0, "stream@a", 0.5),
        Arrival(0, 0, "stream@b", 0.5),
        Arrival(1, 0, "batch@a", 0.7),
        Arrival(1, 0, "batch@b", 0.7),
    ]


def test_one_target_keeps_the_schedule_as_it_is() -> None:
    arrivals = [Arrival(0, 0, "stream", 0.5)]
    assert list(fan_out(iter(arrivals), {"stream": ("stream",)})) == arrivals
    assert lane_of("stream", "") == "stream"
    assert lane_of("batch", "gw") == "batch@gw"


def test_the_example_compares_two_priced_targets() -> None:
    example = load_scenario(Path(__file__).parents[2] / "examples" / "targets.yaml", {})
    assert [t.name for t in example.targets] == ["fast", "slow"]
    assert all(t.price_for("any model") is not None for t in example.targets)
