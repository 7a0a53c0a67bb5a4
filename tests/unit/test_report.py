"""summary.json (build, schema, write, load) and the Markdown/terminal comparison table."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.errors import ErrorClass, Outcome
from harness.report.markdown import (
    first_visible_verdict,
    format_duration,
    format_duration_short,
    headline_sentence,
    render_markdown,
    render_terminal,
)
from harness.report.summary import (
    SCHEMA_ID,
    RunInfo,
    build_summary,
    load_schema,
    load_summary,
    write_reports,
)

RUN = RunInfo(
    started_at="2025-11-24T21:50:00Z",
    duration_s=60.0,
    host="http://127.0.0.1:8000/v1",
    users=64,
    locust_version="2.47.0",
    harness_version="0.1.0",
    client_saturated=False,
)


def lat(p50: float, p95: float, p99: float, count: int = 100) -> dict[str, Any]:
    """A percentile block as harness.stats writes it (seconds)."""
    return {
        "count": count,
        "mean": p50,
        "min": p50 * 0.9,
        "p50": p50,
        "p90": p95 * 0.99,
        "p95": p95,
        "p99": p99,
        "max": p99 * 1.1,
    }


def stream_mode(**overrides: Any) -> dict[str, Any]:
    mode: dict[str, Any] = {
        "requests": 101,
        "outcomes": {"ok": 98, "failed": 2, "cancelled": 1},
        "errors": {"stream_reset": 2},
        "ttft_s": lat(0.2, 0.22, 0.25),
        "ttfc_s": lat(0.2, 0.22, 0.25),
        "itl_s": lat(0.02, 0.021, 0.024, count=6300),
        "inter_chunk_s": lat(0.02, 0.021, 0.024, count=6300),
        "tpot_s": lat(0.0201, 0.0204, 0.0209),
        "e2e_s": lat(1.46, 1.48, 1.51),
        "first_visible_s": lat(0.2, 0.22, 0.25),
        "ttfb_s": lat(0.002, 0.003, 0.005),
        "tail_s": lat(0.001, 0.0012, 0.0015),
        "output_tokens": 6400,
        "input_tokens": 3200,
        "partial_output_tokens": 12,
        "failed_after_first_token": 1,
        "requests_per_s": 1.6667,
        "output_tokens_per_s": 106.67,
        "itl_basis": "per_token",
        "anomalies": {},
    }
    mode.update(overrides)
    return mode


def batch_mode(**overrides: Any) -> dict[str, Any]:
    mode: dict[str, Any] = {
        "requests": 100,
        "outcomes": {"ok": 100},
        "errors": {},
        "e2e_s": lat(1.46, 1.48, 1.5),
        "first_visible_s": lat(1.46, 1.48, 1.5),
        "ttfb_s": lat(1.459, 1.479, 1.499),
        "output_tokens": 6400,
        "input_tokens": 3200,
        "partial_output_tokens": 0,
        "failed_after_first_token": 0,
        "requests_per_s": 1.6667,
        "output_tokens_per_s": 106.67,
        "anomalies": {},
    }
    mode.update(overrides)
    return mode


def summary_of(modes: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    if modes is None:
        modes = {"stream": stream_mode(), "batch": batch_mode()}
    return build_summary(modes, run=RUN, **kwargs)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every way `document` breaks the schema, as "JSON path: message", sorted."""
    validator = jsonschema.Draft202012Validator(load_schema())
    return sorted(f"{e.json_path}: {e.message}" for e in validator.iter_errors(document))


def missing(path: str, *keys: str) -> list[str]:
    """The schema errors of an object at `path` that lacks `keys`."""
    return [f"{path}: '{key}' is a required property" for key in sorted(keys)]


def table_row(text: str, label: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith(f"| {label} |")]
    return line


# --- summary.json: build and schema -------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_built_summary_is_the_design_document_and_validates() -> None:
    modes = {"stream": stream_mode(), "batch": batch_mode()}
    slos = [{"name": "stream ttft p95", "limit_s": 0.5, "value_s": 0.22, "passed": True}]
    summary = build_summary(modes, run=RUN, slos=slos)
    assert list(summary) == ["schema", "run", "modes", "slos"]
    assert summary["schema"] == "locust-llm/summary/v1"
    assert summary["run"] == {
        "started_at": "2025-11-24T21:50:00Z",
        "duration_s": 60.0,
        "host": "http://127.0.0.1:8000/v1",
        "users": 64,
        "locust_version": "2.47.0",
        "harness_version": "0.1.0",
        "client_saturated": False,
    }
    assert summary["modes"] == modes
    assert summary["slos"] == slos
    assert schema_errors(summary) == []


def test_slos_default_to_an_empty_list() -> None:
    assert summary_of()["slos"] == []


def test_run_info_optional_fields_are_absent_unless_set() -> None:
    run = RunInfo(
        "2025-11-24T21:50:00+00:00",
        60,
        "https://api.example.com/v1",
        8,
        "2.47.0",
        "0.1.0",
        True,
        models=("a", "b"),
        endpoint="/chat/completions",
    )
    assert "models" not in RUN.to_dict()
    assert "endpoint" not in RUN.to_dict()
    document = build_summary({}, run=run)
    assert document["run"]["models"] == ["a", "b"]
    assert document["run"]["endpoint"] == "/chat/completions"
    assert document["run"]["duration_s"] == 60.0
    assert schema_errors(document) == []


def test_build_summary_does_not_alias_the_callers_modes() -> None:
    modes = {"stream": stream_mode()}
    summary = build_summary(modes, run=RUN)
    modes["stream"]["ttft_s"]["p50"] = 9.0
    assert summary["modes"]["stream"]["ttft_s"]["p50"] == 0.2


def test_a_mode_with_several_models_validates() -> None:
    stream = stream_mode(models={"a": stream_mode(), "b": stream_mode()})
    assert schema_errors(summary_of({"stream": stream})) == []


def test_schema_accepts_every_error_class_and_outcome() -> None:
    errors = {str(e): 1 for e in ErrorClass}
    outcomes = {str(o): 1 for o in Outcome}
    stream = stream_mode(errors=errors, outcomes=outcomes)
    assert schema_errors(summary_of({"stream": stream})) == []


@pytest.mark.parametrize("key", ["schema", "run", "modes", "slos"])
def test_summary_missing_a_top_level_key_fails_validation(key: str) -> None:
    summary = summary_of()
    del summary[key]
    assert schema_errors(summary) == missing("$", key)


@pytest.mark.parametrize("key", ["started_at", "duration_s", "host", "users", "client_saturated"])
def test_run_missing_a_field_fails_validation(key: str) -> None:
    summary = summary_of()
    del summary["run"][key]
    assert schema_errors(summary) == missing("$.run", key)


def test_wrong_schema_id_fails_validation() -> None:
    summary = summary_of()
    summary["schema"] = "locust-llm/summary/v0"
    assert schema_errors(summary) == ["$.schema: 'locust-llm/summary/v1' was expected"]


def test_started_at_that_is_not_utc_iso_8601_fails_validation() -> None:
    summary = summary_of()
    summary["run"]["started_at"] = "2025-11-24 21:50:00+01:00"
    utc_iso_8601 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$"
    assert schema_errors(summary) == [
        f"$.run.started_at: '2025-11-24 21:50:00+01:00' does not match {utc_iso_8601!r}"
    ]


def test_percentile_block_without_p99_fails_validation() -> None:
    summary = summary_of()
    del summary["modes"]["stream"]["ttft_s"]["p99"]
    assert schema_errors(summary) == missing("$.modes.stream.ttft_s", "p99")


def test_zero_filled_figure_that_does_not_apply_fails_validation() -> None:
    # Batch has no TTFT: the figure must be absent, not a block of zeros.
    zeros = dict.fromkeys(["mean", "p50", "p90", "p95", "p99", "max"], 0.0)
    summary = summary_of()
    summary["modes"]["batch"]["ttft_s"] = {"count": 0, **zeros}
    assert schema_errors(summary) == ["$.modes.batch.ttft_s.count: 0 is less than the minimum of 1"]


def test_empty_percentile_block_fails_validation() -> None:
    summary = summary_of()
    summary["modes"]["batch"]["itl_s"] = {}
    assert schema_errors(summary) == missing(
        "$.modes.batch.itl_s", "count", "mean", "p50", "p90", "p95", "p99", "max"
    )


def test_percentile_block_with_an_unknown_key_fails_validation() -> None:
    summary = summary_of()
    summary["modes"]["stream"]["e2e_s"]["p75"] = 1.2
    assert schema_errors(summary) == [
        "$.modes.stream.e2e_s: Additional properties are not allowed ('p75' was unexpected)"
    ]


def test_negative_duration_fails_validation() -> None:
    summary = summary_of()
    summary["modes"]["stream"]["itl_s"]["p50"] = -0.001
    assert schema_errors(summary) == [
        "$.modes.stream.itl_s.p50: -0.001 is less than the minimum of 0"
    ]


def test_modes_other_than_stream_and_batch_fail_validation() -> None:
    summary = summary_of({"stream": stream_mode(), "streaming": stream_mode()})
    assert schema_errors(summary) == [
        "$.modes: Additional properties are not allowed ('streaming' was unexpected)"
    ]


def test_modes_and_run_accept_keys_added_later() -> None:
    summary = summary_of({"stream": stream_mode(queue_s=lat(0.01, 0.02, 0.03))})
    summary["run"]["scenario"] = "smoke.yaml"
    assert schema_errors(summary) == []


def test_itl_basis_outside_the_contract_fails_validation() -> None:
    summary = summary_of({"stream": stream_mode(itl_basis="per_chunk")})
    assert schema_errors(summary) == [
        "$.modes.stream.itl_basis: 'per_chunk' is not one of ['per_token', 'inter_chunk']"
    ]


# --- write_reports / load_summary ---------------------------------------------------


def test_write_reports_writes_both_files_readable_by_everyone(tmp_path: Path) -> None:
    out_dir = tmp_path / "llm-report" / "nested"
    summary = summary_of()
    paths = write_reports(summary, out_dir)
    assert paths == [out_dir / "summary.json", out_dir / "summary.md"]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert json.loads(paths[0].read_text(encoding="utf-8")) == summary
    assert paths[1].read_text(encoding="utf-8") == render_markdown(summary)
    assert sorted(p.name for p in out_dir.iterdir()) == ["summary.json", "summary.md"]


def test_write_reports_replaces_an_earlier_report(tmp_path: Path) -> None:
    write_reports(summary_of({"batch": batch_mode()}), tmp_path)
    summary = summary_of()
    write_reports(summary, tmp_path)
    assert load_summary(tmp_path / "summary.json") == summary


def test_load_summary_round_trips_write_reports(tmp_path: Path) -> None:
    summary = summary_of(
        slos=[{"name": "batch e2e p99", "limit_s": 15.0, "value_s": 1.5, "passed": True}]
    )
    json_path, _ = write_reports(summary, tmp_path)
    loaded = load_summary(json_path)
    assert loaded == summary
    assert schema_errors(loaded) == []


def test_load_summary_rejects_json_that_is_not_a_summary(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    path.write_text('{"requests": 3}', encoding="utf-8")
    with pytest.raises(ValueError, match="not a locust-llm summary") as info:
        load_summary(path)
    assert str(info.value) == (
        f'{path}: not a locust-llm summary (expected "schema": "locust-llm/summary/v1")'
    )


def test_load_summary_rejects_a_json_array(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a locust-llm summary"):
        load_summary(path)


def test_load_summary_rejects_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("## locust-llm\n\n| a | b |\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a locust-llm summary") as info:
        load_summary(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not a locust-llm summary (not JSON: ")


def test_load_summary_names_an_unsupported_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"schema": "locust-llm/summary/v2"}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a locust-llm summary") as info:
        load_summary(path)
    assert str(info.value) == (
        f"{path}: not a locust-llm summary (unsupported schema "
        "'locust-llm/summary/v2', this version reads 'locust-llm/summary/v1')"
    )


# --- the comparison table -----------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.00 ms"),
        (0.004271, "4.27 ms"),
        (0.0099999, "10.0 ms"),
        (0.02, "20.0 ms"),
        (0.2124, "212.4 ms"),
        (0.99996, "1.00 s"),
        (1.2571, "1.26 s"),
        (75.0, "75.00 s"),
    ],
)
def test_format_duration_uses_ms_below_one_second(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.00427, "4.27 ms"),
        (0.0204, "20.4 ms"),
        (0.201, "201 ms"),
        (0.9996, "1.00 s"),
        (1.46, "1.46 s"),
        (12.34, "12.3 s"),
        (123.4, "123 s"),
    ],
)
def test_format_duration_short_keeps_three_significant_digits(seconds: float, text: str) -> None:
    assert format_duration_short(seconds) == text


def test_markdown_table_has_modes_as_columns() -> None:
    text = render_markdown(summary_of())
    assert "| | streaming | batch |\n|:---|---:|---:|\n" in text


def test_markdown_shows_a_dash_for_batch_ttft() -> None:
    text = render_markdown(summary_of())
    assert table_row(text, "TTFT p50 / p95 / p99") == (
        "| TTFT p50 / p95 / p99 | 200.0 ms / 220.0 ms / 250.0 ms | — |"
    )
    assert table_row(text, "TPOT p50") == "| TPOT p50 | 20.1 ms | — |"


def test_markdown_first_latency_row_is_the_bold_first_visible_output() -> None:
    lines = render_markdown(summary_of()).splitlines()
    start = lines.index("|:---|---:|---:|") + 1
    assert [line.split(" | ")[0] for line in lines[start : start + 4]] == [
        "| requests",
        "| failures",
        "| **first visible output p50 / p95 / p99**",
        "| TTFT p50 / p95 / p99",
    ]
    assert lines[start + 2] == (
        "| **first visible output p50 / p95 / p99** "
        "| **200.0 ms / 220.0 ms / 250.0 ms** | **1.46 s / 1.48 s / 1.50 s** |"
    )


def test_failures_count_every_unsuccessful_outcome_over_finished_requests() -> None:
    # 2 failed + 1 empty of 100 finished (the cancelled one is neither)
    stream = stream_mode(requests=101, outcomes={"ok": 96, "ok_length": 1, "failed": 2, "empty": 1})
    stream["outcomes"]["cancelled"] = 1
    text = render_markdown(summary_of({"stream": stream, "batch": batch_mode()}))
    assert table_row(text, "failures") == "| failures | 3 (3.0%) | 0 (0.0%) |"


def test_rates_are_shown_with_thousands_separators() -> None:
    stream = stream_mode(output_tokens_per_s=12345.678, requests_per_s=190.456)
    text = render_markdown(summary_of({"stream": stream, "batch": batch_mode()}))
    assert table_row(text, "output tokens/s") == "| output tokens/s | 12,345.7 | 106.7 |"
    assert table_row(text, "requests/s") == "| requests/s | 190.46 | 1.67 |"


def test_headline_sentence_states_the_comparison_with_its_ratio() -> None:
    stream = stream_mode(first_visible_s=lat(0.201, 0.22, 0.25))
    summary = summary_of({"stream": stream, "batch": batch_mode()})
    expected = (
        "Streaming shows the first token after 201 ms (p50); batch shows nothing "
        "until the whole answer arrives after 1.46 s (p50): 7.3× sooner."
    )
    assert headline_sentence(summary) == expected
    assert f"\n\n{expected}\n" in render_markdown(summary)
    assert f"\n{expected}\n" in render_terminal(summary)


def test_headline_sentence_says_when_streaming_is_later() -> None:
    stream = stream_mode(first_visible_s=lat(2.0, 2.2, 2.5))
    batch = batch_mode(first_visible_s=lat(0.5, 0.6, 0.7))
    assert headline_sentence(summary_of({"stream": stream, "batch": batch})) == (
        "Streaming shows the first token after 2.00 s (p50); batch shows nothing "
        "until the whole answer arrives after 500 ms (p50): streaming is 4.0× later."
    )


def test_with_one_output_token_the_headline_says_streaming_is_no_sooner() -> None:
    # --max-tokens 1: each answer is one token, so batch's whole answer is streaming's first
    stream = stream_mode(
        first_visible_s=lat(0.212, 0.23, 0.25), outcomes={"ok_length": 100}, output_tokens=100
    )
    batch = batch_mode(
        first_visible_s=lat(0.210, 0.22, 0.24), outcomes={"ok_length": 100}, output_tokens=100
    )
    summary = summary_of({"stream": stream, "batch": batch})
    expected = (
        "With one output token per answer, streaming shows it no sooner than batch: first "
        "visible output 212 ms (streaming) vs 210 ms (batch), p50."
    )
    assert headline_sentence(summary) == expected
    assert "1.0×" not in render_markdown(summary)
    # even when streaming came out a little sooner by chance, or clearly later
    for stream_p50, batch_p50 in ((0.205, 0.210), (0.5, 0.2)):
        stream["first_visible_s"] = lat(stream_p50, 0.6, 0.7)
        batch["first_visible_s"] = lat(batch_p50, 0.6, 0.7)
        sentence = headline_sentence(summary_of({"stream": stream, "batch": batch}))
        assert sentence is not None
        assert sentence.startswith("With one output token per answer, streaming shows it no")


def test_with_one_token_streaming_really_sooner_keeps_the_ratio() -> None:
    stream = stream_mode(first_visible_s=lat(0.1, 0.2, 0.3), outcomes={"ok": 10}, output_tokens=10)
    batch = batch_mode(first_visible_s=lat(0.3, 0.4, 0.5), outcomes={"ok": 10}, output_tokens=10)
    assert headline_sentence(summary_of({"stream": stream, "batch": batch})) == (
        "Streaming shows the first token after 100 ms (p50); batch shows nothing until the "
        "whole answer arrives after 300 ms (p50): 3.0× sooner."
    )


def test_a_ratio_that_shows_as_one_says_about_the_same_time() -> None:
    for stream_p50 in (0.212, 0.208):  # 1.0× later and 1.0× sooner before
        stream = stream_mode(first_visible_s=lat(stream_p50, 0.23, 0.25))
        batch = batch_mode(first_visible_s=lat(0.210, 0.22, 0.24))
        shown = f"{stream_p50 * 1000:.0f} ms"
        assert headline_sentence(summary_of({"stream": stream, "batch": batch})) == (
            f"Streaming shows the first token after {shown} (p50) and batch the whole answer "
            "after 210 ms (p50): about the same time, so streaming shows nothing sooner here."
        )


@pytest.mark.parametrize(
    ("stream", "batch", "one_token", "verdict"),
    [
        (0.2, 1.46, False, "Streaming shows the first token 7.3× sooner"),
        (2.0, 0.5, False, "Streaming shows the first token 4.0× later"),
        (0.212, 0.210, False, "Streaming shows the first token no sooner than batch"),
        (0.208, 0.210, False, "Streaming shows the first token no sooner than batch"),
        (0.5, 0.2, True, "Streaming shows the first token no sooner than batch"),
        (0.1, 0.3, True, "Streaming shows the first token 3.0× sooner"),
    ],
)
def test_first_visible_verdict(stream: float, batch: float, one_token: bool, verdict: str) -> None:
    assert first_visible_verdict(stream, batch, one_token=one_token) == verdict


def test_reconnect_and_backoff_rows_show_only_when_they_happened() -> None:
    plain = render_markdown(summary_of())
    assert "| reconnects |" not in plain
    assert "| back-off waited |" not in plain
    stream = stream_mode(reconnects=7, backoff_s=0.0)
    batch = batch_mode(reconnects=0, backoff_s=2.5)
    text = render_markdown(summary_of({"stream": stream, "batch": batch}))
    assert table_row(text, "reconnects") == "| reconnects | 7 | 0 |"
    assert table_row(text, "back-off waited") == "| back-off waited | 0 s | 2.50 s |"
    assert table_row(text, "TTFB p50 / p95 / p99") == (
        "| TTFB p50 / p95 / p99 | 2.00 ms / 3.00 ms / 5.00 ms | 1.46 s / 1.48 s / 1.50 s |"
    )


def test_the_new_mode_keys_and_server_path_validate() -> None:
    stream = stream_mode(reconnects=3, backoff_s=1.25, token_count_mismatch=2, token_count_excess=2)
    summary = summary_of({"stream": stream, "batch": batch_mode(reconnects=0, backoff_s=0.0)})
    summary["run"]["server_path"] = {
        "stream": {"server": "uvicorn", "gateway": "litellm", "x-litellm-version": "1.74.9"},
        "batch": {"server": "uvicorn", "content-encoding": "gzip"},
    }
    summary["run"]["server_headers"] = {"server": "uvicorn"}
    assert schema_errors(summary) == []
    tail = "$.modes.stream.tail_s"
    for bad, expected in (
        ({"backoff_s": -1.0}, ["$.modes.stream.backoff_s: -1.0 is less than the minimum of 0"]),
        ({"reconnects": 1.5}, ["$.modes.stream.reconnects: 1.5 is not of type 'integer'"]),
        (
            {"tail_s": {"count": 0}},
            [
                f"{tail}.count: 0 is less than the minimum of 1",
                *missing(tail, "mean", "p50", "p90", "p95", "p99", "max"),
            ],
        ),
    ):
        broken = copy.deepcopy(summary)
        broken["modes"]["stream"].update(bad)
        assert schema_errors(broken) == expected, bad


def test_no_headline_sentence_without_both_modes() -> None:
    assert headline_sentence(summary_of({"stream": stream_mode()})) is None
    batch = batch_mode()
    del batch["first_visible_s"]
    assert headline_sentence(summary_of({"stream": stream_mode(), "batch": batch})) is None
    assert "Streaming shows" not in render_markdown(summary_of({"batch": batch_mode()}))


def test_inter_chunk_basis_labels_the_row_and_shows_inter_chunk_figures() -> None:
    stream = stream_mode(
        itl_basis="inter_chunk",
        itl_s=lat(0.005, 0.006, 0.007, count=10),
        inter_chunk_s=lat(0.04, 0.045, 0.06, count=3000),
    )
    text = render_markdown(summary_of({"stream": stream, "batch": batch_mode()}))
    assert table_row(text, "inter-chunk latency p50 / p95 / p99") == (
        "| inter-chunk latency p50 / p95 / p99 | 40.0 ms / 45.0 ms / 60.0 ms | — |"
    )
    assert "| ITL" not in text
    assert (
        "\n\nNote: streaming ITL is inter-chunk latency (the gaps between "
        "token-bearing chunks): tokens per chunk were not known for every request, "
        "so a per-token ITL could not be derived.\n"
    ) in text


def test_per_token_basis_labels_the_row_itl_without_a_note() -> None:
    text = render_markdown(summary_of())
    assert table_row(text, "ITL p50 / p95 / p99") == (
        "| ITL p50 / p95 / p99 | 20.0 ms / 21.0 ms / 24.0 ms | — |"
    )
    assert "Note:" not in text


def test_errors_line_lists_error_classes_with_counts() -> None:
    stream = stream_mode(errors={"stream_reset": 2, "ttft_timeout": 5, "dns": 0})
    batch = batch_mode(errors={"http_5xx": 1})
    text = render_markdown(summary_of({"stream": stream, "batch": batch}))
    assert ("\n\nErrors — streaming: ttft_timeout 5, stream_reset 2; batch: http_5xx 1.\n") in text


def test_no_errors_line_without_errors() -> None:
    stream = stream_mode(errors={}, outcomes={"ok": 100})
    assert "Errors" not in render_markdown(summary_of({"stream": stream}))


def test_saturated_client_is_called_out() -> None:
    summary = summary_of()
    summary["run"]["client_saturated"] = True
    assert "Warning: the load generator was saturated" in render_markdown(summary)


def test_slo_results_are_listed() -> None:
    slos = [
        {"name": "stream ttft p95", "limit_s": 0.5, "value_s": 0.61, "passed": False},
        {"name": "failure_ratio", "limit": 0.01, "value": 0.002, "passed": True},
    ]
    text = render_terminal(summary_of(slos=slos))
    assert (
        "SLOs: 1 of 2 passed.\n"
        "- FAIL stream ttft p95: 610.0 ms (limit 500.0 ms)\n"
        "- PASS failure_ratio: 0.002 (limit 0.01)\n"
    ) in text


def test_renderers_tolerate_an_absent_mode_and_absent_blocks() -> None:
    stream = {"requests": 3, "outcomes": {"failed": 3}, "errors": {"connect_refused": 3}}
    summary = summary_of({"stream": stream})
    text = render_markdown(summary)
    assert "| | streaming |\n|:---|---:|\n" in text
    assert table_row(text, "failures") == "| failures | 3 (100.0%) |"
    assert table_row(text, "E2E p50 / p95 / p99") == "| E2E p50 / p95 / p99 | — |"
    assert table_row(text, "requests/s") == "| requests/s | — |"
    assert "requests/s" in render_terminal(summary)


def test_a_block_missing_one_percentile_shows_a_dash_for_it() -> None:
    stream = stream_mode()
    del stream["e2e_s"]["p99"]
    text = render_markdown(summary_of({"stream": stream}))
    assert table_row(text, "E2E p50 / p95 / p99") == (
        "| E2E p50 / p95 / p99 | 1.46 s / 1.48 s / — |"
    )


def test_a_summary_without_modes_says_nothing_was_recorded() -> None:
    summary = summary_of({})
    assert "No requests were recorded." in render_markdown(summary)
    assert "No requests were recorded." in render_terminal(summary)
    assert "No requests were recorded." in render_markdown({"schema": SCHEMA_ID})


def test_terminal_table_is_plain_aligned_text() -> None:
    stream = stream_mode(
        requests=100,
        outcomes={"ok": 100},
        errors={},
        itl_s=lat(0.02, 0.021, 0.024),
        output_tokens_per_s=1280.0,
        requests_per_s=20.0,
    )
    batch = batch_mode(output_tokens_per_s=1269.3, requests_per_s=19.83)
    text = render_terminal(summary_of({"stream": stream, "batch": batch}))
    table = text.split("\n\n")[1]
    assert table == (
        "                                                              streaming"
        "                     batch\n"
        "---------------------------------------  ------------------------------"
        "  ------------------------\n"
        "requests                                                            100"
        "                       100\n"
        "failures                                                       0 (0.0%)"
        "                  0 (0.0%)\n"
        "first visible output p50 / p95 / p99     200.0 ms / 220.0 ms / 250.0 ms"
        "  1.46 s / 1.48 s / 1.50 s\n"
        "TTFT p50 / p95 / p99                     200.0 ms / 220.0 ms / 250.0 ms"
        "                         —\n"
        "ITL p50 / p95 / p99                         20.0 ms / 21.0 ms / 24.0 ms"
        "                         —\n"
        "TPOT p50                                                        20.1 ms"
        "                         —\n"
        "E2E p50 / p95 / p99                            1.46 s / 1.48 s / 1.51 s"
        "  1.46 s / 1.48 s / 1.50 s\n"
        "TTFB p50 / p95 / p99                        2.00 ms / 3.00 ms / 5.00 ms"
        "  1.46 s / 1.48 s / 1.50 s\n"
        "tail (last token → end) p50 / p95 / p99     1.00 ms / 1.20 ms / 1.50 ms"
        "                         —\n"
        "output tokens/s                                                 1,280.0"
        "                   1,269.3\n"
        "requests/s                                                        20.00"
        "                     19.83"
    )
    assert "|" not in text
    assert "**" not in text


def test_terminal_output_starts_with_the_run_line() -> None:
    lines = render_terminal(summary_of()).splitlines()
    assert lines[:2] == [
        "locust-llm: streaming vs batch",
        "http://127.0.0.1:8000/v1 · 64 users · 60.0 s · started 2025-11-24T21:50:00Z"
        " · locust 2.47.0 · locust-llm 0.1.0",
    ]


def test_renderers_do_not_modify_the_summary() -> None:
    summary = summary_of()
    before = copy.deepcopy(summary)
    render_markdown(summary)
    render_terminal(summary)
    assert summary == before


def test_a_ttfc_row_appears_when_the_first_text_comes_after_the_first_token() -> None:
    from harness.report.markdown import render_markdown

    plain = render_markdown(summary_of())
    assert "TTFC (first text)" not in plain  # the text is the first token: one row is enough
    reasoning = stream_mode(ttfc_s=lat(0.9, 1.2, 1.4))  # thinking first, text 0.7 s later
    text = render_markdown(summary_of({"stream": reasoning, "batch": batch_mode()}))
    assert "900" in table_row(text, "TTFC (first text) p50 / p95 / p99")


def test_tool_call_and_reasoning_rows_appear_only_when_answers_had_them() -> None:
    from harness.report.markdown import render_markdown

    plain = render_markdown(summary_of())
    assert "first tool call" not in plain
    assert "reasoning tokens" not in plain
    stream = stream_mode(
        tool_call_s=lat(0.3, 0.35, 0.4), tool_call_bytes=4096, reasoning_tokens=250,
        reasoning_share=0.25,
    )  # fmt: skip
    text = render_markdown(summary_of({"stream": stream, "batch": batch_mode()}))
    assert "300" in table_row(text, "first tool call p50 / p95 / p99")
    assert "4,096" in table_row(text, "tool-call argument bytes")
    assert "250 (25%)" in table_row(text, "reasoning tokens (share of output)")
