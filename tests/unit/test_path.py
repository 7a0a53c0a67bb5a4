"""What the path did: server path per mode (kept, merged from workers), anomalies in words.

Summaries here are built from hand-made `RequestRecord`s through the real `RunStats`, then
rendered by the real renderers; every expected value is exact. The run state of
`harness.run` and Locust's own event hooks (worker -> master reports) are exercised in a
separate interpreter: importing Locust monkey-patches the process with gevent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import jsonschema

from harness.errors import Mode, Outcome
from harness.record import RequestRecord
from harness.report.html import render_html
from harness.report.markdown import path_lines, render_markdown, render_terminal
from harness.report.path import (
    MAX_VALUE_CHARS,
    PathAnomaly,
    clean_path_headers,
    describe_path,
    gateway_name,
    merge_server_path,
    path_anomalies,
    stream_not_honored_warning,
)
from harness.report.summary import RunInfo, build_summary, load_schema
from harness.stats import RunStats

LITELLM = {"server": "uvicorn", "gateway": "litellm", "x-litellm-version": "1.74.9"}
NGINX = {"server": "nginx/1.24.0", "via": "1.1 proxy", "x-accel-buffering": "no"}
RUN = RunInfo("2025-01-31T12:00:00Z", 10.0, "http://127.0.0.1:4000/v1", 2, "2.47.0", "0.1.0", False)

GATEWAY_EXCESS = (
    "the gateway reported more tokens than it delivered: its usage counts output tokens that "
    "never arrived, as when it covers a truncated upstream stream with an invented finish "
    "(those requests count as ok)"
)
BURST = (
    "several tokens arrived in one read: a buffering proxy, a server writing tokens together, "
    "or a load generator too busy to read between them; the gaps inside a burst are 0, so "
    "ITL is understated"
)
RECONNECT = (
    "the server had closed a kept-alive connection, so the request was written again on a "
    "fresh one: not counted as a failure, and not inside TTFT"
)


def stream(
    n: int,
    server_tokens: int | None,
    *,
    t0: float = 0.0,
    tail_s: float = 0.17,
    burst: bool = False,
    reconnects: int = 0,
    headers: dict[str, str] | None = None,
) -> RequestRecord:
    """A stream of `n` token events 10 ms apart from 200 ms (pairs in one read if `burst`)."""
    r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
    r.t0, r.t_headers = t0, t0 + 0.173
    t = t0 + 0.2
    for i in range(n):
        r.on_token_event(t, visible=True)
        if not (burst and i % 2 == 0):
            t += 0.01
    r.t_end = (r.t_last_token if r.t_last_token is not None else t0 + 0.3) + tail_s
    r.server_output_tokens = server_tokens
    r.outcome, r.finish_reason = Outcome.OK, "stop"
    r.reconnects = reconnects
    if reconnects:
        r.note("reconnect", reconnects)
    r.path_headers = headers
    return r


def batch(*, headers: dict[str, str] | None = None, backoff_s: float = 0.0) -> RequestRecord:
    r = RequestRecord(mode=Mode.BATCH, model="m", endpoint="/v1/chat/completions")
    r.t0, r.t_headers, r.t_end = 0.0, 1.0, 1.0
    r.server_output_tokens, r.outcome, r.backoff_s = 8, Outcome.OK, backoff_s
    r.path_headers = headers
    return r


def summary_of(records: list[RequestRecord], **run: Any) -> dict[str, Any]:
    stats = RunStats()
    paths: dict[str, dict[str, str]] = {}
    for r in records:
        stats.observe(r)
        merge_server_path(paths, str(r.mode), r.path_headers)
    summary = build_summary(stats.summary(10.0), run=RUN)
    if paths:
        summary["run"]["server_path"] = paths
    summary["run"].update(run)
    return summary


# --- path.py -------------------------------------------------------------------------------


def test_clean_path_headers_keeps_known_keys_cut_to_length_and_names_litellm() -> None:
    raw = {"server": "x" * 300, "x-litellm-version": "1.74.9", "set-cookie": "s=1", "via": ""}
    assert clean_path_headers(raw) == {
        "x-litellm-version": "1.74.9",
        "server": "x" * MAX_VALUE_CHARS,
        "gateway": "litellm",
    }
    assert clean_path_headers(None) == {}
    assert clean_path_headers({"server": 5}) == {}


def test_merge_keeps_the_most_recent_non_empty_path_per_mode_and_only_known_modes() -> None:
    paths: dict[str, dict[str, str]] = {}
    assert merge_server_path(paths, "batch", {"server": "uvicorn"})
    assert merge_server_path(paths, "stream", LITELLM)
    assert not merge_server_path(paths, "stream", {})  # an empty answer keeps what we had
    assert not merge_server_path(paths, "stream", dict(LITELLM))  # unchanged
    assert not merge_server_path(paths, "chat", NGINX)  # bounded: nothing else is stored
    assert paths == {"batch": {"server": "uvicorn"}, "stream": LITELLM}
    assert merge_server_path(paths, "stream", NGINX)  # the path changed: the latest wins
    assert paths["stream"] == NGINX


def test_describe_path_names_a_recognised_gateway() -> None:
    assert describe_path(LITELLM) == "through a LiteLLM gateway (version 1.74.9); Server: uvicorn"
    assert describe_path({**NGINX, "content-encoding": "gzip"}) == (
        "Server: nginx/1.24.0; Via: 1.1 proxy; X-Accel-Buffering: no; Content-Encoding: gzip"
    )
    assert describe_path({}) is None
    assert gateway_name({"gateway": "litellm"}) == "LiteLLM"
    assert gateway_name({"server": "uvicorn"}) is None


def test_path_anomalies_list_only_what_occurred_with_one_sentence_each() -> None:
    figures = {
        "token_count_mismatch": 18,
        "token_count_excess": 18,
        "reconnects": 3,
        "anomalies": {"burst_delivery": 40, "reconnect": 3, "comment": 9},
    }
    assert path_anomalies(figures, LITELLM) == [
        PathAnomaly("token_count_mismatch", 18, GATEWAY_EXCESS),
        PathAnomaly("burst_delivery", 40, BURST),
        PathAnomaly("reconnect", 3, RECONNECT),
    ]
    assert path_anomalies({"token_count_mismatch": 0, "reconnects": 0, "anomalies": {}}) == []


def test_a_token_count_mismatch_reads_differently_without_a_gateway_and_by_direction() -> None:
    [excess] = path_anomalies({"token_count_mismatch": 4, "token_count_excess": 1})
    assert excess.meaning == (
        "the server reported more tokens than it delivered as chunks (1 of them): either "
        "chunks carry several tokens each (then ITL is per chunk), or something on the path "
        "cut the stream and reported a finish"
    )
    [fewer] = path_anomalies({"token_count_mismatch": 2, "token_count_excess": 0}, LITELLM)
    assert fewer.meaning == (
        "the server's usage counted fewer output tokens than token-bearing chunks arrived; "
        "output tokens are taken from the usage"
    )
    [old] = path_anomalies({"token_count_mismatch": 2})  # a summary from before the split
    assert old.meaning.startswith("the server's usage disagreed with the token-bearing chunks")


def test_stream_not_honored_warns_once_with_the_count() -> None:
    assert stream_not_honored_warning({"anomalies": {"stream_not_honored": 1}}) == (
        "Warning: the endpoint does not stream: 1 stream request was answered with one JSON "
        "body (stream_not_honored); they count as successes with an E2E but no TTFT or ITL."
    )
    assert stream_not_honored_warning({"anomalies": {}}) is None


# --- summaries from records, rendered --------------------------------------------------------


def test_a_litellm_run_shows_its_gateway_tail_and_anomalies_in_the_terminal() -> None:
    records = [stream(5, 8, reconnects=1, headers=LITELLM)]
    records += [stream(5, 8, headers=LITELLM) for _ in range(2)]
    records += [stream(4, 4, burst=True, headers=LITELLM), batch(headers=LITELLM, backoff_s=0.5)]
    summary = summary_of(records)
    jsonschema.validate(summary, load_schema())
    text = render_terminal(summary)
    table = text.split("\n\n")[1].splitlines()[2:]
    rows = {line[:39].rstrip(): line[39:].split() for line in table}
    assert " ".join(rows["TTFB p50 / p95 / p99"]) == (
        "173.0 ms / 173.0 ms / 173.0 ms 1.00 s / 1.00 s / 1.00 s"
    )
    assert " ".join(rows["tail (last token → end) p50 / p95 / p99"]) == (
        "170.0 ms / 170.0 ms / 170.0 ms —"
    )
    assert rows["reconnects"] == ["1", "0"]
    assert " ".join(rows["back-off waited"]) == "0 s 500.0 ms"
    assert path_lines(summary) == [
        "Server path (both modes): through a LiteLLM gateway (version 1.74.9); Server: uvicorn.",
        "Anomalies that change the reading:\n"
        f"- streaming: token_count_mismatch 3 — {GATEWAY_EXCESS}.\n"
        f"- streaming: burst_delivery 2 — {BURST}.\n"
        f"- streaming: reconnect 1 — {RECONNECT}.",
    ]
    assert "\n".join(path_lines(summary)) in text
    assert "\n\n".join(path_lines(summary)) in render_markdown(summary)
    modes = summary["modes"]
    assert (modes["stream"]["reconnects"], modes["stream"]["backoff_s"]) == (1, 0.0)
    assert (modes["batch"]["reconnects"], modes["batch"]["backoff_s"]) == (0, 0.5)
    assert (modes["stream"]["token_count_mismatch"], modes["stream"]["token_count_excess"]) == (
        3,
        3,
    )


def test_paths_that_differ_per_mode_are_shown_per_mode() -> None:
    summary = summary_of([stream(4, 4, headers=NGINX), batch(headers={"server": "uvicorn"})])
    assert path_lines(summary) == [
        "Server path: streaming — Server: nginx/1.24.0; Via: 1.1 proxy; X-Accel-Buffering: no; "
        "batch — Server: uvicorn."
    ]


def test_a_plain_run_has_no_path_lines_nor_reconnect_or_backoff_rows() -> None:
    summary = summary_of([stream(4, 4), batch()])
    assert path_lines(summary) == []
    text = render_markdown(summary)
    assert "| reconnects |" not in text
    assert "| back-off waited |" not in text
    assert "Server path" not in text
    assert "Anomalies" not in text


def test_an_endpoint_that_does_not_stream_is_warned_about_once_in_every_report() -> None:
    answered = []
    for _ in range(2):
        r = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1/chat/completions")
        r.t0, r.t_headers, r.t_end = 0.0, 0.9, 1.0
        r.server_output_tokens, r.outcome = 8, Outcome.OK
        r.note("stream_not_honored")
        answered.append(r)
    summary = summary_of([*answered, batch()])
    warning = (
        "Warning: the endpoint does not stream: 2 stream requests were answered with one JSON "
        "body (stream_not_honored); they count as successes with an E2E but no TTFT or ITL."
    )
    assert render_markdown(summary).count(warning) == 1
    assert render_terminal(summary).count(warning) == 1
    html = render_html(summary)
    assert html.count(f'<p class="warning">{warning}</p>') == 1
    assert "ttft_s" not in summary["modes"]["stream"]
    assert summary["modes"]["stream"]["e2e_s"]["count"] == 2


def test_the_html_report_shows_the_path_section() -> None:
    records = [stream(5, 8, headers=LITELLM), stream(4, 4, burst=True, headers=LITELLM)]
    html = render_html(summary_of([*records, batch(headers=NGINX)]))
    assert "<h2>Path to the server</h2>" in html
    assert (
        "<tr><td>streaming</td><td>through a LiteLLM gateway (version 1.74.9); Server: uvicorn"
        "</td></tr><tr><td>batch</td><td>Server: nginx/1.24.0; Via: 1.1 proxy; "
        "X-Accel-Buffering: no</td></tr>"
    ) in html
    assert (
        f'<li class="anomaly"><b>streaming: token_count_mismatch 1</b> — {GATEWAY_EXCESS}.</li>'
    ) in html
    assert f'<li class="anomaly"><b>streaming: burst_delivery 2</b> — {BURST}.</li>' in html
    assert "<tr><td>tail (last token → end) p50 / p95 / p99</td><td>170.0 ms" in html
    assert "<tr><td>TTFB p50 / p95 / p99</td><td>173.0 ms" in html
    assert "DESIGN.md" not in html
    assert "catalogue" not in html
    assert "docs/design.md" in html


def test_the_schema_refuses_an_unknown_server_path_key_or_mode() -> None:
    summary = summary_of([stream(4, 4, headers=LITELLM)])
    jsonschema.validate(summary, load_schema())
    validator = jsonschema.Draft202012Validator(load_schema())
    bad_key = {**summary, "run": {**summary["run"], "server_path": {"stream": {"cookie": "x"}}}}
    bad_mode = {**summary, "run": {**summary["run"], "server_path": {"chat": LITELLM}}}

    def errors(doc: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            ("/".join(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(doc)
        ]

    assert errors(bad_key) == [
        (
            "run/server_path/stream",
            "Additional properties are not allowed ('cookie' was unexpected)",
        )
    ]
    assert errors(bad_mode) == [
        ("run/server_path", "Additional properties are not allowed ('chat' was unexpected)")
    ]


# --- harness.run and harness.events: per mode, never the first response only; workers -> master

EVENTS_SCRIPT = """
import json
from locust.env import Environment
from harness.errors import ErrorClass
from harness.events import publish
from harness.run import SERVER_PATH_REPORT_KEY, llm_run
from tests.unit.test_path import LITELLM, NGINX, batch, stream

out = {}
env = Environment()
publish(env, batch(headers={"server": "uvicorn"}))  # the run's first response: batch
publish(env, stream(4, 4, headers=LITELLM))
failed = stream(0, None, headers=None)
failed.fail(ErrorClass.CONNECT_REFUSED, 0.01)  # no response: no headers, nothing changes
publish(env, failed)
out["local"] = llm_run(env).summary()

master, worker_a, worker_b = Environment(), Environment(), Environment()
llm_run(master)
publish(worker_a, stream(4, 4, headers=NGINX))
publish(worker_b, stream(4, 4, headers=LITELLM))
publish(worker_b, batch(headers={"server": "uvicorn"}))

def report(worker):
    data = {}
    worker.events.report_to_master.fire(client_id="w", data=data)
    master.events.worker_report.fire(client_id="w", data=data)
    return data.get(SERVER_PATH_REPORT_KEY)

out["reports"] = [report(worker_a), report(worker_b), report(worker_a)]
out["master"] = llm_run(master).summary()
print(json.dumps(out))
"""


def events_result() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", EVENTS_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return out


def test_the_run_keeps_each_modes_path_and_workers_ship_only_changes_to_the_master() -> None:
    out = events_result()
    local = out["local"]
    assert local["run"]["server_path"] == {"batch": {"server": "uvicorn"}, "stream": LITELLM}
    assert local["run"]["server_headers"] == {"server": "uvicorn"}  # v1: the first response
    jsonschema.validate(local, load_schema())
    assert out["reports"] == [
        {"stream": NGINX},
        {"stream": LITELLM, "batch": {"server": "uvicorn"}},
        None,  # worker a's path did not change: nothing re-sent
    ]
    master = out["master"]
    assert master["run"]["server_path"] == {"stream": LITELLM, "batch": {"server": "uvicorn"}}
    assert master["modes"]["stream"]["requests"] == 2
    assert master["run"]["server_headers"] == NGINX  # v1: the first a worker reported
    jsonschema.validate(master, load_schema())
