"""Build the Grafana dashboard of locust-llm: the one source of truth for dashboards/*.json.

    python dashboards/build.py           # (re)write dashboards/locust-llm.json
    python dashboards/build.py --check   # exit 1 if the committed JSON is not the builder's output

Standard library only, on purpose: grafanalib is unmaintained (last release 2024, datasources by
name) and grafana-foundation-sdk ships one package per Grafana version under epoch-prefixed
version strings (pip's "latest" is the Grafana 10.1 flavour), so a dependency would cost more
than the ~100 lines of panel helpers below. Reviewers read this file; the JSON next to it is
generated (the test suite fails if the two disagree).

Conventions every panel follows (checked by tests/integration/test_dashboards.py):

- the datasource is the `datasource` template variable (type prometheus), never a name; the
  provisioned Prometheus (deploy/grafana/provisioning) has the fixed uid `prometheus` and is the
  default, so the variable resolves to it without anyone choosing;
- every selector carries the `$scenario`, `$target`, `$model`, `$mode` and `$instance`
  variables (the harness's own health families have no target/model/mode labels: scenario and
  instance only; the open-loop arrival counters are per mode and target: no model);
- targets compare side by side: every aggregation of a family with the `target` label keeps
  it (`sum by (…, target, …)`) and the legends name it (`{{target}} {{mode}}`), except the
  heatmaps, which draw one distribution (the selected targets together: pick one target). In
  a one-target run the label is absent, the `target` variable offers nothing and resolves to
  its All value `.*`, which matches the absent label: the queries are those of before;
- every `rate()` uses `[$__rate_interval]`; totals over the dashboard's range use
  `increase(…[$__range])`;
- percentiles are `histogram_quantile(q, sum by (le, …) (rate(…_bucket[$__rate_interval])))` over
  the exporter's classic histograms (fine bucket layouts: DESIGN.md §7).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "locust-llm.json"

UID = "locust-llm-overview"
TITLE = "locust-llm: batch vs streaming"
SCHEMA_VERSION = 41  # Grafana 11.6
DS: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}

#: label matchers of the per-(mode, model, target) families, and of the harness's own health
#: families
SEL = (
    'scenario=~"$scenario", target=~"$target", model=~"$model", mode=~"$mode", '
    'instance=~"$instance"'
)
STREAM = SEL.replace('mode=~"$mode"', 'mode="stream"')
BATCH = SEL.replace('mode=~"$mode"', 'mode="batch"')
HSEL = 'scenario=~"$scenario", instance=~"$instance"'
#: the open-loop counters are per mode and target only (not per model)
OSEL = 'scenario=~"$scenario", target=~"$target", mode=~"$mode", instance=~"$instance"'
#: outcomes whose latencies are timed (DESIGN.md §2); failures are failed + empty
TIMED = 'outcome=~"ok|ok_length|content_filtered"'
FAILED = 'outcome=~"failed|empty"'
#: the load generator's event-loop lag above which its timestamps are not trusted (DESIGN §5)
LOOP_LAG_LIMIT_S = 0.02
PERCENTILES = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))
#: the grouping of the per-target figures: targets side by side, each mode apart
BY = "target, mode"


# ----------------------------------------------------------------------------- PromQL helpers


def legend(by: str, suffix: str = "") -> str:
    """The legend naming each label of `by`: `{{target}} {{mode}}`, then `suffix`."""
    names = " ".join("{{" + label.strip() + "}}" for label in by.split(",") if label.strip())
    return f"{names} {suffix}".strip()


def quantile(q: float, family: str, by: str = BY, sel: str = SEL, window: str = "") -> str:
    """`histogram_quantile(q, sum by (le, BY) (rate(FAMILY_bucket{SEL}[$__rate_interval])))`;
    with `window`, `increase(…[window])` instead (a percentile over the whole range)."""
    group = f"le, {by}" if by else "le"
    if window:
        inner = f"increase({family}_bucket{{{sel}}}[{window}])"
    else:
        inner = f"rate({family}_bucket{{{sel}}}[$__rate_interval])"
    return f"histogram_quantile({q:g}, sum by ({group}) ({inner}))"


def rate(family: str, sel: str = SEL, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({family}{{{sel}}}[$__rate_interval]))"


def increase(family: str, sel: str = SEL, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (increase({family}{{{sel}}}[$__range]))"


def target(
    ref: str, expr: str, legend: str = "", *, instant: bool = False, fmt: str = "time_series"
) -> dict[str, Any]:
    return {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "format": fmt,
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "refId": ref,
    }


def percentile_targets(family: str, by: str = BY, sel: str = SEL) -> list[dict[str, Any]]:
    return [
        target(chr(ord("A") + i), quantile(q, family, by, sel), legend(by, name))
        for i, (q, name) in enumerate(PERCENTILES)
    ]


# ----------------------------------------------------------------------------- panel helpers


def thresholds(*steps: tuple[float, str], base: str = "green") -> dict[str, Any]:
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": color, "value": value} for value, color in steps],
    }


def timeseries(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "s",
    steps: tuple[tuple[float, str], ...] = (),
    stack: bool = False,
    legend_calcs: tuple[str, ...] = ("mean", "lastNotNull", "max"),
) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "palette-classic"},
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 20 if stack else 0,
                    "showPoints": "never",
                    "spanNulls": False,
                    "stacking": {"group": "A", "mode": "normal" if stack else "none"},
                    "thresholdsStyle": {"mode": "line+area" if steps else "off"},
                },
                "min": 0,
                "thresholds": thresholds(*steps, base="transparent" if steps else "green"),
                "unit": unit,
            },
            "overrides": [],
        },
        "options": {
            "legend": {
                "calcs": list(legend_calcs),
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    }


def stat(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str,
    calc: str = "lastNotNull",
    steps: tuple[tuple[float, str], ...] = (),
    mappings: list[dict[str, Any]] | None = None,
    color_mode: str = "value",
    no_value: str = "",
    decimals: int | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "color": {"mode": "thresholds"},
        "mappings": mappings or [],
        "thresholds": thresholds(*steps),
        "unit": unit,
    }
    if no_value:
        defaults["noValue"] = no_value
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "colorMode": color_mode,
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": [calc], "fields": "", "values": False},
            "showPercentChange": False,
            "textMode": "value_and_name",
            "wideLayout": True,
        },
        "targets": targets,
    }


def bargauge(title: str, description: str, targets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "continuous-GrYlRd"},
                "min": 0,
                "thresholds": thresholds(),
                "unit": "s",
            },
            "overrides": [],
        },
        "options": {
            "displayMode": "gradient",
            "maxVizHeight": 300,
            "minVizHeight": 16,
            "minVizWidth": 8,
            "namePlacement": "left",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
            "sizing": "auto",
            "valueMode": "color",
        },
        "targets": targets,
    }


def heatmap(title: str, description: str, family: str, sel: str) -> dict[str, Any]:
    expr = f"sum by (le) (increase({family}_bucket{{{sel}}}[$__rate_interval]))"
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": DS,
        "maxDataPoints": 60,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {
            "calculate": False,
            "cellGap": 1,
            "color": {
                "exponent": 0.5,
                "fill": "dark-orange",
                "mode": "scheme",
                "reverse": False,
                "scale": "exponential",
                "scheme": "Oranges",
                "steps": 64,
            },
            "filterValues": {"le": 1e-9},
            "legend": {"show": True},
            "rowsFrame": {"layout": "auto"},
            "tooltip": {"mode": "single", "showColorScale": False, "yHistogram": True},
            "yAxis": {"axisPlacement": "left", "reverse": False, "unit": "s"},
        },
        "targets": [target("A", expr, "{{le}}", fmt="heatmap")],
    }


def row(title: str, *, collapsed: bool = False) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": collapsed, "panels": []}


# ----------------------------------------------------------------------------- the dashboard


def panels() -> list[tuple[dict[str, Any], int, int]]:
    """Every panel with its width and height, in reading order (rows are full width)."""
    fv = "llm_first_visible_seconds"
    speedup = [
        target(
            ref,
            f"{quantile(q, fv, 'target', BATCH, '$__range')}"
            f" / {quantile(q, fv, 'target', STREAM, '$__range')}",
            legend("target", name),
            instant=True,
        )
        for ref, (q, name) in zip("AB", PERCENTILES[:2], strict=True)
    ]
    headline = [
        target(
            chr(ord("A") + i),
            quantile(q, fv, BY, SEL, "$__range"),
            legend(BY, name),
            instant=True,
        )
        for i, (q, name) in enumerate(PERCENTILES)
    ]
    cost_rate = (
        f"({rate('llm_input_tokens_total', by='target')} * $price_input_per_mtok"
        f" + {rate('llm_output_tokens_total', by='target')} * $price_output_per_mtok)"
        " * 3600 / 1e6 > 0"
    )
    cost_total = (
        f"({increase('llm_input_tokens_total', by='target')} * $price_input_per_mtok"
        f" + {increase('llm_output_tokens_total', by='target')} * $price_output_per_mtok)"
        " / 1e6 > 0"
    )
    cost_per_request = (
        f"{cost_total.removesuffix(' > 0')}"
        f" / {increase('llm_requests_total', SEL + ', ' + TIMED, by='target')} > 0"
    )
    finished = rate("llm_requests_total", SEL + ', outcome!="cancelled"', by=BY)
    failure_ratio = (
        f"({rate('llm_requests_total', SEL + ', ' + FAILED, by=BY)}"
        f" or {rate('llm_requests_total', by=BY)} * 0) / {finished}"
    )
    vllm = 'model_name=~"$model"'
    reliable_mappings = [
        {
            "type": "range",
            "options": {
                "from": 0,
                "to": LOOP_LAG_LIMIT_S,
                "result": {"color": "green", "index": 0, "text": "reliable"},
            },
        },
        {
            "type": "range",
            "options": {
                "from": LOOP_LAG_LIMIT_S,
                "to": 1e9,
                "result": {"color": "red", "index": 1, "text": "UNRELIABLE"},
            },
        },
    ]
    server_row = row("Inference server overlay (vLLM: scrape its /metrics)", collapsed=True)
    server_row["panels"] = [
        (
            timeseries(
                "TTFT p95: client vs server (difference = network + queueing before the server)",
                "Client: this harness's TTFT (streams). Server: vLLM's "
                "vllm:time_to_first_token_seconds. Needs the inference server's /metrics in "
                "Prometheus (the commented job in deploy/prometheus/prometheus.yml).",
                [
                    target(
                        "A",
                        quantile(0.95, "llm_ttft_seconds", "target", STREAM),
                        legend("target", "client p95"),
                    ),
                    target(
                        "B",
                        quantile(0.95, "vllm:time_to_first_token_seconds", "", vllm),
                        "server p95",
                    ),
                    target(
                        "C",
                        quantile(0.95, "llm_ttft_seconds", "target", STREAM)
                        + " - on() group_left () "
                        + quantile(0.95, "vllm:time_to_first_token_seconds", "", vllm),
                        legend("target", "client - server"),
                    ),
                ],
            ),
            12,
            8,
        ),
        (
            timeseries(
                "ITL p50: client vs server",
                "Client: this harness's per-token ITL. Server: vLLM's "
                "vllm:inter_token_latency_seconds (vllm:time_per_output_token_seconds in "
                "versions before 0.11).",
                [
                    target(
                        "A",
                        quantile(0.5, "llm_itl_seconds", "target", SEL),
                        legend("target", "client p50"),
                    ),
                    target(
                        "B",
                        quantile(0.5, "vllm:inter_token_latency_seconds", "", vllm),
                        "server p50",
                    ),
                ],
            ),
            12,
            8,
        ),
        (
            timeseries(
                "Server queue: requests running and waiting",
                "vLLM's scheduler: running requests and requests waiting for a slot. Client "
                "TTFT growing with 'waiting' is queueing, not prefill.",
                [
                    target("A", f"sum (vllm:num_requests_running{{{vllm}}})", "running"),
                    target("B", f"sum (vllm:num_requests_waiting{{{vllm}}})", "waiting"),
                ],
                unit="short",
            ),
            24,
            8,
        ),
    ]
    # fmt: off
    return [
        (row("First visible output: what a person waits for (TTFT streaming, E2E batch)"), 24, 1),
        (bargauge(
            "First visible output p50 / p95 / p99 over the range: streaming vs batch",
            "The headline of the comparison: how long a person waits before seeing anything. "
            "Streaming: time to first token. Batch: the whole answer (end to end). Percentiles "
            "of every timed request in the dashboard's time range.",
            headline), 10, 9),
        (stat(
            "Streaming shows output sooner by",
            "Batch first-visible-output percentile divided by streaming's, over the range "
            "(p50 and p95). 7× means a batch user waits seven times as long to see anything.",
            speedup, unit="suffix:×", decimals=1), 4, 9),
        (timeseries(
            "First visible output p50 / p95 / p99 by mode",
            "TTFT for streams, E2E for batch, over time.",
            percentile_targets(fv)), 10, 9),
        (row("Latency ladder by mode (percentiles over time)"), 24, 1),
        (timeseries(
            "TTFT p50 / p95 / p99 (streaming)",
            "Time to first token: the first token-bearing event (content, reasoning, refusal or "
            "tool call) minus the send time. Streams only.",
            percentile_targets("llm_ttft_seconds")), 12, 8),
        (timeseries(
            "ITL p50 / p95 / p99 (streaming)",
            "Inter-token latency, per-token samples: a chunk of k tokens counts k gaps of "
            "gap/k. Requests whose tokens per chunk are unknown are counted in the anomalies "
            "panel (itl_basis_unknown) instead.",
            percentile_targets("llm_itl_seconds")), 12, 8),
        (timeseries(
            "TPOT p50 / p95 / p99 (streaming)",
            "Time per output token after the first chunk: (last token - first token) / "
            "(output tokens - tokens of the first chunk).",
            percentile_targets("llm_tpot_seconds")), 12, 8),
        (timeseries(
            "E2E p50 / p95 / p99 by mode",
            "End to end: until data: [DONE] for streams, the whole JSON body for batch.",
            percentile_targets("llm_e2e_seconds")), 12, 8),
        (timeseries(
            "TTFC p50 / p95 / p99 (streaming: first visible content)",
            "Time to first visible content; later than TTFT when a reasoning model thinks "
            "before it answers.",
            percentile_targets("llm_ttfc_seconds")), 12, 8),
        (timeseries(
            "Output tokens per request (mean) by mode",
            "Output tokens / timed requests: checks max_tokens and how long answers are.",
            [target("A", f"{rate('llm_output_tokens_total', by=BY)} / "
                         f"{rate('llm_requests_total', SEL + ', ' + TIMED, by=BY)}",
                    legend(BY))],
            unit="short"), 12, 8),
        (row("Distributions"), 24, 1),
        (heatmap(
            "TTFT heatmap (streaming)",
            "Requests per TTFT bucket and interval: a second band means a second population "
            "(cache hits, queueing, a slow replica). One distribution for the selected targets "
            "together: pick one target to see its own.", "llm_ttft_seconds", SEL), 12, 9),
        (heatmap(
            "ITL heatmap (streaming)",
            "Per-token gaps per bucket and interval: stalls show as a band far above the "
            "decode speed. One distribution for the selected targets together: pick one target "
            "to see its own.", "llm_itl_seconds", SEL), 12, 9),
        (row("Throughput"), 24, 1),
        (timeseries(
            "Requests per second by mode and outcome",
            "Finished requests: ok, ok_length (cut by max_tokens), content_filtered, empty, "
            "failed, cancelled.",
            [target("A", rate("llm_requests_total", by=f"{BY}, outcome"),
                    legend(f"{BY}, outcome"))],
            unit="reqps", stack=True), 8, 8),
        (timeseries(
            "Output tokens per second by mode",
            "Output tokens of requests that did not fail (server usage, else counted chunks).",
            [target("A", rate("llm_output_tokens_total", by=BY), legend(BY))],
            unit="short", stack=True), 8, 8),
        (timeseries(
            "Input tokens per second by mode",
            "Prompt tokens the server reported (usage.prompt_tokens).",
            [target("A", rate("llm_input_tokens_total", by=BY), legend(BY))],
            unit="short", stack=True), 8, 8),
        (row("Errors"), 24, 1),
        (timeseries(
            "Failed requests per second by error class",
            "One error class per failed request (the closed list in harness/errors.py); "
            "empty = a 200 with no token. No data: no failures.",
            [target("A", rate("llm_requests_total", SEL + ", " + FAILED,
                              by=f"{BY}, outcome, error_class"),
                    legend(BY, "{{error_class}} ({{outcome}})"))],
            unit="reqps", stack=True), 10, 8),
        (timeseries(
            "Failure ratio by mode",
            "(failed + empty) / finished requests, cancelled excluded. 0 when nothing failed.",
            [target("A", failure_ratio, legend(BY))],
            unit="percentunit", steps=((0.01, "orange"), (0.05, "red"))), 7, 8),
        (timeseries(
            "Stream anomalies per second by kind",
            "Non-standard things seen on the wire (e.g. token_count_mismatch: server usage "
            "disagreed with counted chunks; itl_basis_unknown: ITL only measurable per chunk). "
            "No data: a clean stream.",
            [target("A", rate("llm_stream_anomalies_total", by=f"{BY}, kind"),
                    legend(f"{BY}, kind"))],
            unit="short"), 7, 8),
        (row("Concurrency"), 24, 1),
        (timeseries(
            "Users and requests in flight",
            "Locust users running and requests sent but not finished, over all workers.",
            [target("A", f"sum (llm_harness_users{{{HSEL}}})", "users"),
             target("B", f"sum (llm_requests_in_flight{{{HSEL}}})", "in flight")],
            unit="short"), 18, 8),
        (stat(
            "Now",
            "Users and requests in flight at the last scrape.",
            [target("A", f"sum (llm_harness_users{{{HSEL}}})", "users"),
             target("B", f"sum (llm_requests_in_flight{{{HSEL}}})", "in flight")],
            unit="short"), 6, 8),
        (row("Open loop: offered vs achieved load (locust-llm run --rate)"), 24, 1),
        (timeseries(
            "Offered vs achieved requests per second",
            "Open loop only (--llm-rate): the plan's rate (each target gets all of it), the "
            "requests that fell due on the arrival schedule, and the requests that finished, "
            "by target. Achieved under offered means "
            "the in-flight cap was reached (the server is slower than the rate) or the load "
            "generator could not keep up: see the schedule lag.",
            [target("A", f"sum (llm_offered_rate_per_second{{{HSEL}}})", "offered (plan)"),
             target("B", rate("llm_scheduled_requests_total", OSEL, by="target"),
                    legend("target", "due")),
             target("C", rate("llm_requests_total", f"{SEL}, outcome!=\"cancelled\"",
                              by="target"),
                    legend("target", "finished"))],
            unit="reqps"), 12, 8),
        (timeseries(
            "Schedule lag p50 / p95 / p99 (the wait for a free user)",
            "Open loop: send time minus due time. Sub-millisecond while users are free; it "
            "grows when every user is busy (client-side queueing). Latencies from the send "
            "do not include it; those from the schedule do.",
            percentile_targets("llm_schedule_lag_seconds")), 12, 8),
        (timeseries(
            "First visible output p95: from the send vs from the schedule",
            "Open loop: the gap between the two lines is coordinated omission made visible, "
            "the time requests waited in the load generator before being sent.",
            [target("A", quantile(0.95, "llm_first_visible_seconds"), legend(BY, "from send")),
             target("B", quantile(0.95, "llm_first_visible_from_schedule_seconds"),
                    legend(BY, "from schedule"))]), 12, 8),
        (timeseries(
            "Goodput: requests per second that met every goodput limit",
            "Requests whose own TTFT, TPOT or ITL and E2E met the --llm-goodput limits "
            "(in an open loop, timed from the due time), next to all that finished. No data "
            "without goodput limits.",
            [target("A", rate("llm_goodput_requests_total", by=BY), legend(BY, "goodput")),
             target("B", rate("llm_requests_total", f"{SEL}, outcome!=\"cancelled\"", by=BY),
                    legend(BY, "finished"))],
            unit="reqps"), 12, 8),
        (timeseries(
            "Dropped requests per second (waited past --llm-max-schedule-lag)",
            "Open loop: due requests never sent. No data without --llm-max-schedule-lag.",
            [target("A", rate("llm_dropped_requests_total", OSEL, by=BY), legend(BY))],
            unit="reqps"), 12, 8),
        (row("Load generator health: can these numbers be trusted?"), 24, 1),
        (stat(
            "Measurements reliable?",
            "Worst event-loop lag p99 of the load generator over the range. Above 20 ms the "
            "harness cannot timestamp faithfully (the run is marked client_saturated) and "
            "the latencies above include its own delay: add workers.",
            [target("A", quantile(0.99, "llm_harness_loop_lag_seconds", "", HSEL),
                    "loop lag p99")],
            unit="s", calc="max", steps=((LOOP_LAG_LIMIT_S, "red"),),
            mappings=reliable_mappings, color_mode="background"), 6, 8),
        (timeseries(
            "Event-loop lag p50 / p99 (red above 20 ms: measurements unreliable)",
            "How late a 100 ms probe on the load generator's event loop woke up.",
            [target("A", quantile(0.5, "llm_harness_loop_lag_seconds", "", HSEL), "p50"),
             target("B", quantile(0.99, "llm_harness_loop_lag_seconds", "", HSEL), "p99")],
            steps=((LOOP_LAG_LIMIT_S, "red"),)), 9, 8),
        (timeseries(
            "CPU per load-generator process (1.0 = one core)",
            "Locust's own measurement per process (master, worker-N, or local). One process "
            "is single-threaded: near 1.0 it cannot keep time.",
            [target("A", f"max by (process) (llm_harness_cpu_ratio{{{HSEL}}})",
                    "{{process}}")],
            unit="percentunit", steps=((0.8, "orange"), (0.9, "red"))), 9, 8),
        (row("Estimated cost (set $ per 1M tokens in the variables above)"), 24, 1),
        (timeseries(
            "Estimated cost per hour at the current rate",
            "(input tokens/s × $ per 1M input + output tokens/s × $ per 1M output) × 3600. "
            "Computed from the token counters and the dashboard's price variables (the harness "
            "exports no prices; every target gets the same ones, the report prices each "
            "target's own). No data: the prices are 0.",
            [target("A", cost_rate, legend("target", "$/h"))],
            unit="currencyUSD"), 12, 7),
        (stat(
            "Estimated cost over the range",
            "Token counters' increase over the dashboard's range × the price variables.",
            [target("A", cost_total, legend("target", "total"), instant=True)],
            unit="currencyUSD", no_value="set prices"), 6, 7),
        (stat(
            "Estimated cost per request",
            "Estimated cost over the range / timed requests.",
            [target("A", cost_per_request, legend("target", "per request"), instant=True)],
            unit="currencyUSD", no_value="set prices", decimals=5), 6, 7),
        (server_row, 24, 1),
    ]
    # fmt: on


def layout(items: list[tuple[dict[str, Any], int, int]]) -> list[dict[str, Any]]:
    """Give every panel an id and a gridPos, left to right, wrapping at 24 columns."""
    out: list[dict[str, Any]] = []
    next_id = 1
    x = y = line_h = 0

    def place(panel: dict[str, Any], w: int, h: int) -> dict[str, Any]:
        nonlocal next_id, x, y, line_h
        if x + w > 24:
            x, y, line_h = 0, y + line_h, 0
        placed = {"id": next_id, "gridPos": {"h": h, "w": w, "x": x, "y": y}, **panel}
        next_id += 1
        x += w
        line_h = max(line_h, h)
        return placed

    for panel, w, h in items:
        if panel["type"] == "row":
            x, y, line_h = 0, y + line_h, 0
            nested = panel["panels"]
            placed = place({**panel, "panels": []}, w, h)
            row_y = y
            x, y, line_h = 0, y + 1, 0
            placed["panels"] = [place(p, pw, ph) for p, pw, ph in nested]
            if panel["collapsed"]:
                x, y, line_h = 0, row_y + 1, 0  # collapsed: its panels take no room
            out.append(placed)
            continue
        out.append(place(panel, w, h))
    return out


def query_variable(
    name: str, label: str, query: str, *, include_all: bool = True
) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": True,
        "includeAll": include_all,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


def textbox(name: str, label: str, value: str, description: str) -> dict[str, Any]:
    return {
        "type": "textbox",
        "name": name,
        "label": label,
        "description": description,
        "query": value,
        "current": {"text": value, "value": value},
        "options": [{"selected": True, "text": value, "value": value}],
        "hide": 0,
    }


def variables() -> list[dict[str, Any]]:
    return [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "Prometheus",
            "query": "prometheus",
            "regex": "",
            "current": {},
            "options": [],
            "refresh": 1,
            "hide": 0,
        },
        query_variable("scenario", "Scenario", "label_values(llm_requests_total, scenario)"),
        # a one-target run has no target label: no options, so Grafana selects All, whose
        # value `.*` matches the absent label (`target=~".*"`)
        query_variable(
            "target",
            "Target",
            'label_values(llm_requests_total{scenario=~"$scenario"}, target)',
        ),
        query_variable(
            "model",
            "Model",
            'label_values(llm_requests_total{scenario=~"$scenario", target=~"$target"}, model)',
        ),
        query_variable(
            "mode",
            "Mode",
            "label_values(llm_requests_total{"
            'scenario=~"$scenario", target=~"$target", model=~"$model"}, mode)',
        ),
        query_variable(
            "instance",
            "Instance (Locust master)",
            'label_values(llm_harness_users{scenario=~"$scenario"}, instance)',
        ),
        textbox(
            "price_input_per_mtok",
            "$ per 1M input tokens",
            "0",
            "Price of one million input (prompt) tokens, for the cost panels; 0: no estimate.",
        ),
        textbox(
            "price_output_per_mtok",
            "$ per 1M output tokens",
            "0",
            "Price of one million output tokens, for the cost panels; 0: no estimate.",
        ),
    ]


def dashboard() -> dict[str, Any]:
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": "Batch vs streaming under the same load, and targets side by side: first "
        "visible output, TTFT, ITL, TPOT, E2E, throughput, errors and the load generator's "
        "health, from the locust-llm exporter (Locust master, --llm-prometheus-port). Generated by "
        "dashboards/build.py: edit that, not this file.",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": layout(panels()),
        "refresh": "5s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["locust-llm", "llm", "load-test"],
        "templating": {"list": variables()},
        "time": {"from": "now-15m", "to": "now"},
        "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
        "timezone": "browser",
        "title": TITLE,
        "uid": UID,
        "version": 1,
        "weekStart": "",
    }


def render() -> str:
    """The committed file's exact text."""
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed JSON is out of date"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{OUTPUT.name} is out of date: run python dashboards/build.py\n")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {OUTPUT}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
