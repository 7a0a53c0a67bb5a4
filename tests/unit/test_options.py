"""Run configuration: URLs, durations, the API key; one-line errors naming the problem."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.client import Target
from harness.errors import ConfigError
from harness.options import RunConfig, option_defaults, read_api_key
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


def test_run_ending_options_default_to_a_60s_wait_a_5s_back_off_cap_and_no_abort() -> None:
    config = RunConfig.from_options(argparse.Namespace(**option_defaults()), None, {})
    assert (config.preflight_wait_s, config.backoff_max_s, config.abort_after_s) == (60, 5, 0)
    assert RunConfig.from_options(None, None, {}).backoff_max_s == 5


def test_run_ending_options_take_durations_and_0_turns_them_off() -> None:
    options = argparse.Namespace(
        llm_preflight_wait="0", llm_backoff_max="500ms", llm_abort_after="2m"
    )
    config = RunConfig.from_options(options, None, {})
    assert (config.preflight_wait_s, config.backoff_max_s, config.abort_after_s) == (0, 0.5, 120)


@pytest.mark.parametrize(
    ("dest", "flag"),
    [
        ("llm_preflight_wait", "--llm-preflight-wait"),
        ("llm_backoff_max", "--llm-backoff-max"),
        ("llm_abort_after", "--llm-abort-after"),
    ],
)
def test_a_bad_run_ending_duration_names_its_option(dest: str, flag: str) -> None:
    with pytest.raises(ConfigError, match=f"^{flag}: expected a"):
        RunConfig.from_options(argparse.Namespace(**{dest: "soon"}), None, {})


def test_retries_fallback_and_preflight_come_from_the_run_config() -> None:
    options = argparse.Namespace(
        llm_retries=2, llm_retry_max_backoff="3s", llm_stream_fallback=True, llm_no_preflight=True
    )
    config = RunConfig.from_options(options, None, {})
    assert (config.retries, config.retry_max_backoff_s) == (2, 3.0)
    assert (config.stream_fallback, config.preflight) == (True, False)
    defaults = RunConfig.from_options(argparse.Namespace(**option_defaults()), None, {})
    assert (defaults.retries, defaults.retry_max_backoff_s) == (0, 10.0)
    assert (defaults.stream_fallback, defaults.preflight) == (False, True)


def test_a_bad_retry_back_off_cap_is_a_config_error_before_any_user_starts() -> None:
    options = argparse.Namespace(llm_retry_max_backoff="soon")
    with pytest.raises(ConfigError) as info:
        RunConfig.from_options(options, None, {})
    assert str(info.value) == (
        "--llm-retry-max-backoff: expected a duration such as 500ms, 15s or 5m, got 'soon'"
    )


def test_an_empty_option_lets_the_default_speak() -> None:
    """`llm-model =` in locust.conf, or an empty LOCUST_LLM_MIX: not given."""
    options = argparse.Namespace(llm_model="", llm_mix=" ", llm_preflight_wait="")
    config = RunConfig.from_options(options, None, {})
    assert (config.models, config.mix, config.preflight_wait_s) == ((), None, 60.0)


def test_the_key_file_wins_over_the_variable_name(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    options = argparse.Namespace(llm_api_key_file=str(key_file), llm_api_key_env="K")
    config = RunConfig.from_options(options, None, {"K": "sk-from-env"})
    assert config.api_key == "sk-from-file"
    config = RunConfig.from_options(argparse.Namespace(llm_api_key_env="K"), None, {"K": "sk-e"})
    assert (config.api_key, config.api_key_env) == ("sk-e", "K")
