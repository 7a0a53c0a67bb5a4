"""Run configuration: URLs, durations, the API key; one-line errors naming the problem."""

from __future__ import annotations

import argparse

import pytest

from harness.client import Target
from harness.errors import ConfigError
from harness.options import RunConfig, read_api_key
from harness.scenario import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("15s", 15.0), ("5m", 300.0), ("1h", 3600.0), ("2", 2.0)]
)
def test_durations_with_units_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10x", "-1s", "", "fast", "inf"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="--llm-ttft-timeout"):
        parse_duration(text, name="--llm-ttft-timeout")


def test_target_strips_whitespace_and_never_doubles_the_endpoint() -> None:
    target = Target.parse(" http://127.0.0.1:8000/v1/chat/completions\n")
    assert target.path_prefix == "/v1"
    assert target.display == "http://127.0.0.1:8000/v1"


def test_target_display_drops_credentials_and_query() -> None:
    target = Target.parse("https://user:secret@api.example.com/v1?key=SECRETQ")
    assert target.display == "https://api.example.com/v1"


@pytest.mark.parametrize("url", ["localhost:8000/v1", "htp://x/v1", "http:///v1"])
def test_target_requires_a_scheme_and_host(url: str) -> None:
    with pytest.raises(ConfigError, match="expected http://host"):
        Target.parse(url)


def test_api_key_whitespace_and_bearer_prefix_are_stripped() -> None:
    assert read_api_key({"K": "Bearer sk-abc\n"}, "K") == "sk-abc"


def test_api_key_with_a_control_character_is_rejected_without_printing_it() -> None:
    with pytest.raises(ConfigError) as info:
        read_api_key({"K": "sk-se\ncret"}, "K")
    assert "U+000A at position 5" in str(info.value)
    assert "cret" not in str(info.value)


def test_run_config_rejects_a_nonpositive_timeout() -> None:
    options = argparse.Namespace(llm_stall_timeout="0s")
    with pytest.raises(ConfigError, match="--llm-stall-timeout: must be greater than 0"):
        RunConfig.from_options(options, "http://127.0.0.1:1/v1", {})


def test_run_config_request_params_carry_max_tokens_and_temperature() -> None:
    options = argparse.Namespace(llm_max_tokens="32", llm_temperature="0.2")
    config = RunConfig.from_options(options, None, {})
    assert config.request_params() == {"max_tokens": 32, "temperature": 0.2}
