"""How the load is reported (harness.report.load) in summary.md and the terminal."""

from __future__ import annotations

from typing import Any

from harness.report.markdown import render_markdown, render_terminal


def staged_summary() -> dict[str, Any]:
    stage_modes = {
        "stream": {
            "requests": 40,
            "outcomes": {"ok": 39, "failed": 1},
            "ttft_s": {"count": 39, "mean": 0.2, "p50": 0.2, "p90": 0.21, "p95": 0.25,
                       "p99": 0.3, "max": 0.3},
        },
    }  # fmt: skip
    return {
        "schema": "locust-llm/summary/v1",
        "run": {
            "started_at": "2026-12-03T18:00:00+00:00", "duration_s": 20.0,
            "host": "http://127.0.0.1:8000/v1", "users": 16, "locust_version": "2.47.0",
            "harness_version": "0.1.0", "client_saturated": False,
            "load": {
                "kind": "open", "process": "constant", "offered_rate_per_s": 10.0,
                "achieved_rate_per_s": 9.9, "scheduled": 100, "sent": 97, "dropped": 2,
                "unsent_at_end": 1, "max_in_flight": 16, "max_schedule_lag_s": 0.5,
                "warmup_s": 2.0, "warmup_requests": 20, "stages": 2,
            },
        },
        "modes": {},
        "slos": [],
        "stages": [
            {"index": 1, "label": "10/s", "kind": "open", "start_s": 0.0, "measured_s": 8.0,
             "achieved_rate_per_s": 5.0, "modes": stage_modes},
            {"index": 2, "label": "2 users", "kind": "closed", "start_s": 10.0,
             "measured_s": 10.0, "users": 2, "modes": {}},
        ],
    }  # fmt: skip


def test_summary_md_says_how_the_load_was_offered_and_what_became_of_it() -> None:
    text = render_markdown(staged_summary())
    assert (
        "open loop · constant arrivals · offered 10/s · achieved 9.9/s · 97 sent of 100 due · "
        "at most 16 in flight"
    ) in text
    assert "16 users" not in text  # the users are the in-flight pool, said once above
    assert (
        "2 due request(s) were dropped, never sent: they waited for a free user longer than "
        "max_schedule_lag 500.0 ms."
    ) in text
    assert "1 due request(s) were still waiting for a free user when the run stopped" in text
    assert "Warm-up: 2 s in all, 20 request(s) sent then are not in the figures." in text


def test_the_stage_table_has_one_row_per_stage() -> None:
    text = render_markdown(staged_summary())
    assert "| 1 | 10/s | 5/s | 40 | 200.0 ms / 250.0 ms | — | 1 |" in text
    assert "| 2 | 2 users | — | 0 | — | — | 0 |" in text
    terminal = render_terminal(staged_summary())
    assert "Stages:" in terminal
    assert "2      2 users  —" in terminal
