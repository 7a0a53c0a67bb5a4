"""The Grafana dashboard, tested without Grafana (none is installable here; DESIGN.md §7).

1. The committed JSON is exactly dashboards/build.py's output.
2. Structure: unique ids, every panel and target on the `datasource` variable, every variable a
   query uses exists, `rate()` over `$__rate_interval`, percentiles from `sum by (le, …)`, the
   common label matchers on every selector, targets kept apart in every aggregation and named
   in its legend, a grid without overlaps.
3. `promtool check rules` on every panel query (and variable query) turned into a recording
   rule, template variables substituted.
4. A real run: the mock, a Locust master and one worker exporting on a free port, scraped every
   second by a real Prometheus (/usr/bin/prometheus). Every variable query and every panel
   query then goes through Prometheus's HTTP API with the variables substituted as Grafana
   would, and must be valid and return data. The few that cannot have data on a clean run are
   listed in MAY_BE_EMPTY, with the reason. The run has one target: the `target` label is
   absent, the `target` variable offers nothing and takes its All value, as Grafana does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT, run_mock, system_tool
from tests.conftest import free_port as _free_port
from tests.conftest import stop_process as _stop

DASHBOARDS = ROOT / "dashboards"
LOCUSTFILE = ROOT / "locustfiles" / "batch_vs_stream.py"
DS_VARIABLE = "${datasource}"
#: Grafana's own variables (substituted by Grafana, never defined by a dashboard)
BUILTIN_VARIABLES = {"__rate_interval", "__range", "__interval", "__range_s"}
#: the harness's families without model/mode labels (DESIGN.md §4, exporter docstring)
HEALTH_FAMILIES = ("llm_harness_", "llm_requests_in_flight", "llm_offered_rate_per_second")
#: open-loop counters: per mode and target, not per model (arrivals fall due before a model is
#: chosen)
MODE_ONLY_FAMILIES = ("llm_scheduled_requests", "llm_dropped_requests")
#: variables that offer nothing on a one-target run (no `target` label): Grafana selects All
EMPTY_WITHOUT_TARGETS = {"target"}
#: an aggregation right over a family: its grouping and the family
_AGGREGATION = re.compile(
    r"\b(?:sum|max|min|avg|count)(?: by \(([^)]*)\))? \((?:(?:rate|increase)\()?(llm_\w+)\{"
)

#: (panel title, refId) whose query may return nothing on a clean run against the mock; each
#: is still sent to Prometheus and must be valid.
MAY_BE_EMPTY: dict[tuple[str, str], str] = {
    ("Failed requests per second by error class", "A"): "no request fails against the mock",
    ("Stream anomalies per second by kind", "A"): "the mock's streams are clean",
    (
        "TTFT p95: client vs server (difference = network + queueing before the server)",
        "B",
    ): "vLLM's metrics: no inference server is scraped here",
    (
        "TTFT p95: client vs server (difference = network + queueing before the server)",
        "C",
    ): "needs vLLM's metrics",
    ("ITL p50: client vs server", "B"): "needs vLLM's metrics",
    ("Server queue: requests running and waiting", "A"): "needs vLLM's metrics",
    ("Server queue: requests running and waiting", "B"): "needs vLLM's metrics",
}

#: the mock's true timings in the real run
MOCK_TTFT_S, MOCK_ITL_S, MOCK_TOKENS = 0.12, 0.01, 24
SCENARIO = "dashboards-test"
RATE_INTERVAL = "15s"
PRICES = {"price_input_per_mtok": "1.5", "price_output_per_mtok": "10"}


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARDS / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def _variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def _all_queries() -> list[tuple[str, str, str, str]]:
    """(dashboard file, panel title, refId, expr) of every panel target."""
    return [
        (name, panel["title"], target["refId"], target["expr"])
        for name, dashboard in _dashboards().items()
        for panel, target in _targets(dashboard)
    ]


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def _substitute(expr: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr}")
        return values[name]

    return _VARIABLE.sub(one, expr)


def _label_values(definition: str) -> tuple[str, str]:
    """`label_values(SELECTOR, LABEL)` → (SELECTOR, LABEL)."""
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", definition)
    assert match, definition
    return match.group(1), match.group(2)


#: substitutions for the offline checks (promtool): Grafana's "All" values
OFFLINE_VALUES = {
    "datasource": "prometheus",
    "scenario": ".*",
    "target": ".*",
    "model": ".*",
    "mode": "stream|batch",
    "instance": ".*",
    "__rate_interval": RATE_INTERVAL,
    "__range": "5m",
    "__interval": "5s",
    **PRICES,
}


# ------------------------------------------------------------------------------ 1. builder


def test_committed_dashboard_json_is_the_builders_output() -> None:
    builder = _builder()
    committed = (DASHBOARDS / "locust-llm.json").read_text(encoding="utf-8")
    assert committed == builder.render(), "run: python dashboards/build.py"
    assert set(_dashboards()) == {"locust-llm.json"}, "every dashboard comes from the builder"


# ------------------------------------------------------------------------------ 2. structure


@pytest.mark.parametrize("name", sorted(_dashboards()))
def test_dashboard_structure(name: str) -> None:
    dashboard = _dashboards()[name]
    assert 39 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"]
    assert len(dashboard["uid"]) <= 40
    assert dashboard["id"] is None  # provisioned: Grafana assigns the database id
    uids = [d["uid"] for d in _dashboards().values()]
    assert len(uids) == len(set(uids))
    panels = list(_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    titles = [p["title"] for p in panels if p["type"] != "row"]
    assert len(titles) == len(set(titles)), "panel titles are unique (the tests key on them)"

    variables = _variables(dashboard)
    assert {"datasource", "scenario", "target", "model", "mode", "instance"} <= set(variables)
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": DS_VARIABLE}
            assert variable["definition"] == variable["query"]["query"]
            _label_values(variable["definition"])
            assert variable["allValue"] == ".*"

    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DS_VARIABLE}, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel.get("description"), f"{panel['title']}: say what it shows"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            assert target["expr"].strip()
            assert target["legendFormat"]


def _check_expr(expr: str, variables: set[str]) -> list[str]:
    """What is wrong with one query (empty: nothing)."""
    problems = []
    for match in _VARIABLE.finditer(expr):
        name = match.group(1) or match.group(2)
        if name not in variables | BUILTIN_VARIABLES:
            problems.append(f"${name} is not a variable of the dashboard")
    for function, window in re.findall(r"\b(rate|irate|increase)\(.*?\[([^\]]+)\]\)", expr):
        allowed = {"$__rate_interval"} | ({"$__range"} if function == "increase" else set())
        if window not in allowed:
            problems.append(f"{function}() over [{window}], not [$__rate_interval]")
    for q in re.finditer(r"histogram_quantile\(([\d.]+), (\w+) by \(le\b", expr):
        if q.group(2) != "sum":
            problems.append("histogram_quantile must aggregate with sum by (le, …)")
    if "histogram_quantile(" in expr:
        count = expr.count("histogram_quantile(")
        assert count == len(re.findall(r"histogram_quantile\([\d.]+, sum by \(le\b", expr))
    for family, selector in re.findall(r"\b(llm_\w+)\{([^}]*)\}", expr):
        for label in ("scenario", "instance"):
            if f'{label}=~"${label}"' not in selector:
                problems.append(f'{family}: no {label}=~"${label}" matcher')
        if not family.startswith(HEALTH_FAMILIES):
            labels = ("target",) if family.startswith(MODE_ONLY_FAMILIES) else ("target", "model")
            for label in labels:
                if f'{label}=~"${label}"' not in selector:
                    problems.append(f'{family}: no {label}=~"${label}" matcher')
            if not re.search(r'mode=~"\$mode"|mode="(stream|batch)"', selector):
                problems.append(f"{family}: no mode matcher")
    for family in re.findall(r"\b(llm_\w+)\b(?![{\w])", expr):
        problems.append(f"{family} without label matchers")
    return problems


@pytest.mark.parametrize("name", sorted(_dashboards()))
def test_every_query_uses_the_variables_and_rate_interval(name: str) -> None:
    dashboard = _dashboards()[name]
    variables = set(_variables(dashboard))
    problems = [
        f"{panel['title']} {target['refId']}: {problem}"
        for panel, target in _targets(dashboard)
        for problem in _check_expr(target["expr"], variables)
    ]
    earlier: set[str] = set()
    for variable in _variables(dashboard).values():
        if variable["type"] == "query":
            problems += [f"${variable['name']}: {p}" for p in _variable_problems(variable, earlier)]
        earlier.add(variable["name"])
    assert not problems, "\n".join(problems)
    # and the checker itself catches what it is meant to
    assert _check_expr("rate(llm_requests_total{}[5m])", variables)
    assert _check_expr('sum(llm_harness_users{scenario=~"$scenario", instance=~"$nope"})', set())
    untargeted = 'llm_requests_total{scenario=~"$scenario", model=~"$model", mode=~"$mode", '
    untargeted += 'instance=~"$instance"}'
    assert _check_expr(untargeted, variables) == [
        'llm_requests_total: no target=~"$target" matcher'
    ]


def _is_targeted(family: str) -> bool:
    """Whether `family` has the `target` label in a run that compares targets."""
    return not family.startswith(HEALTH_FAMILIES)


def _target_problems(panel: dict[str, Any], query: dict[str, Any]) -> list[str]:
    """Where one query mixes targets up, or hides which series is which."""
    problems = []
    grouped_by_target = False
    for grouping, family in _AGGREGATION.findall(query["expr"]):
        if not _is_targeted(family):
            continue
        labels = {label.strip() for label in grouping.split(",") if label.strip()}
        if panel["type"] == "heatmap":  # one distribution: the selected targets together
            if labels != {"le"}:
                problems.append(f"{family}: a heatmap sums by (le) only, not by ({grouping})")
        elif "target" not in labels:
            problems.append(f"{family}: aggregated without target, by ({grouping})")
        grouped_by_target |= "target" in labels
    if grouped_by_target and "{{target}}" not in query["legendFormat"]:
        problems.append(f"legend {query['legendFormat']!r} does not name the target")
    return problems


@pytest.mark.parametrize("name", sorted(_dashboards()))
def test_targets_compare_side_by_side_in_every_panel(name: str) -> None:
    dashboard = _dashboards()[name]
    problems = [
        f"{panel['title']} {query['refId']}: {problem}"
        for panel, query in _targets(dashboard)
        for problem in _target_problems(panel, query)
    ]
    assert not problems, "\n".join(problems)
    heatmaps = [p for p in _panels(dashboard) if p["type"] == "heatmap"]
    for heatmap in heatmaps:  # they say how to see one target's distribution
        assert "pick one target" in heatmap["description"], heatmap["title"]
    # and the checker catches a panel that sums targets together or hides them
    timeseries = {"type": "timeseries"}
    summed = {"expr": "sum by (mode) (rate(llm_requests_total{x}[1m]))", "legendFormat": "m"}
    assert _target_problems(timeseries, summed) == [
        "llm_requests_total: aggregated without target, by (mode)"
    ]
    unnamed = {"expr": "sum by (target) (llm_input_tokens_total{x})", "legendFormat": "{{mode}}"}
    assert _target_problems(timeseries, unnamed) == ["legend '{{mode}}' does not name the target"]
    assert (
        _target_problems(timeseries, {"expr": "sum (llm_harness_users{x})", "legendFormat": ""})
        == []
    )


def test_the_target_variable_offers_every_target_and_all_of_them_by_default() -> None:
    variables = _variables(_dashboards()["locust-llm.json"])
    target = variables["target"]
    assert target["type"] == "query"
    assert target["definition"] == 'label_values(llm_requests_total{scenario=~"$scenario"}, target)'
    assert target["multi"] is True
    assert target["includeAll"] is True
    # a one-target run has no target label: no options, Grafana selects All and substitutes
    # this value, which matches a series without the label
    assert target["allValue"] == ".*"
    assert target["current"]["value"] == ["$__all"]
    names = list(variables)
    assert names.index("scenario") < names.index("target") < names.index("model")
    for chained in ("model", "mode"):  # a target's own models and modes
        assert 'target=~"$target"' in variables[chained]["definition"]


def _variable_problems(variable: dict[str, Any], earlier: set[str]) -> list[str]:
    """A chained variable may only use variables defined before it."""
    selector, _ = _label_values(variable["definition"])
    used = {m.group(1) or m.group(2) for m in _VARIABLE.finditer(selector)}
    return [f"uses ${name}, not defined before it" for name in sorted(used - earlier)]


@pytest.mark.parametrize("name", sorted(_dashboards()))
def test_grid_positions_are_sane(name: str) -> None:
    dashboard = _dashboards()[name]

    def boxes(panels: list[dict[str, Any]]) -> list[tuple[str, dict[str, int]]]:
        return [(p["title"], p["gridPos"]) for p in panels]

    layers = [boxes(dashboard["panels"])]
    for panel in dashboard["panels"]:
        if panel["type"] == "row" and panel["collapsed"]:
            layers.append(boxes(panel["panels"]))
        elif panel["type"] == "row":
            assert panel["panels"] == [], "an open row's panels sit at the top level"
    for layer in layers:
        for title, pos in layer:
            assert min(pos["w"], pos["h"], pos["x"] + 1) >= 1, title
            assert pos["x"] + pos["w"] <= 24, title
            assert pos["y"] >= 0, title
        for i, (a_title, a) in enumerate(layer):
            for b_title, b in layer[i + 1 :]:
                overlap = (
                    a["x"] < b["x"] + b["w"]
                    and b["x"] < a["x"] + a["w"]
                    and a["y"] < b["y"] + b["h"]
                    and b["y"] < a["y"] + a["h"]
                )
                assert not overlap, f"{a_title!r} overlaps {b_title!r}"
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    assert all(r["gridPos"]["w"] == 24 and r["gridPos"]["h"] == 1 for r in rows)


def test_the_issues_panels_are_there() -> None:
    dashboard = _dashboards()["locust-llm.json"]
    panels = [p for p in _panels(dashboard) if p["type"] != "row"]
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in panels}
    types = {p["type"] for p in panels}
    assert {"timeseries", "heatmap", "stat", "bargauge"} <= types

    def has(*needles: str) -> bool:
        return any(all(n in e for n in needles) for e in exprs.values())

    for q in ("0.5", "0.95", "0.99"):
        assert has(
            f"histogram_quantile({q}, sum by (le, target, mode)", "llm_first_visible_seconds"
        )
    for family in ("ttft", "itl", "tpot", "e2e"):
        assert has(f"histogram_quantile(0.99, sum by (le, target, mode) (rate(llm_{family}_seconds")
    heatmaps = [p for p in panels if p["type"] == "heatmap"]
    families = (re.search(r"\b(llm_\w+)\{", h["targets"][0]["expr"]) for h in heatmaps)
    assert sorted(m.group(1) for m in families if m) == [
        "llm_itl_seconds_bucket",
        "llm_ttft_seconds_bucket",
    ]
    assert has("rate(llm_requests_total")
    assert has("rate(llm_output_tokens_total")
    assert has("error_class", 'outcome=~"failed|empty"')
    assert has("llm_requests_in_flight")
    assert has("llm_harness_users")
    assert has("llm_harness_cpu_ratio")
    assert has("llm_harness_loop_lag_seconds_bucket")
    assert has("$price_output_per_mtok")
    assert has("llm_offered_rate_per_second", "rate(llm_scheduled_requests_total")
    assert has("histogram_quantile(0.99, sum by (le, target, mode) (rate(llm_schedule_lag_seconds")
    assert has("llm_first_visible_from_schedule_seconds_bucket")
    assert has("rate(llm_dropped_requests_total")
    assert has("rate(llm_goodput_requests_total")
    # the documented exceptions name real queries (a renamed panel must not widen them)
    queries = {(title, ref) for _, title, ref, _ in _all_queries()}
    assert set(MAY_BE_EMPTY) <= queries, set(MAY_BE_EMPTY) - queries
    # the "measurements unreliable" signal: loop-lag p99 turns red at 20 ms
    signal = next(p for p in panels if p["title"] == "Measurements reliable?")
    steps = signal["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1] == {"color": "red", "value": 0.02}
    texts = [m["options"]["result"]["text"] for m in signal["fieldConfig"]["defaults"]["mappings"]]
    assert texts == ["reliable", "UNRELIABLE"]


# ------------------------------------------------------------------------------ 3. promtool


def _rule_file(tmp_path: Path) -> Path:
    rules = []
    for i, (_, title, ref, expr) in enumerate(_all_queries()):
        record = f"dashboard:{re.sub(r'[^a-z0-9]+', '_', title.lower()).strip('_')}:{ref}"
        rules.append({"record": f"{record}_{i}", "expr": _substitute(expr, OFFLINE_VALUES)})
    for dashboard in _dashboards().values():
        for variable in _variables(dashboard).values():
            if variable["type"] == "query":
                selector, label = _label_values(variable["definition"])
                rules.append(
                    {
                        "record": f"dashboard:variable_{variable['name']}",
                        "expr": f"group by ({label}) ({_substitute(selector, OFFLINE_VALUES)})",
                    }
                )
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    return path


@pytest.mark.slow
def test_promtool_checks_every_panel_query_as_a_recording_rule(tmp_path: Path) -> None:
    promtool = system_tool("promtool")
    path = _rule_file(tmp_path)
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(yaml.safe_load(path.read_text())["groups"][0]["rules"])
    assert f"SUCCESS: {count} rules found" in result.stdout
    # and promtool does reject a broken query
    broken = tmp_path / "broken.yml"
    broken.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum(("}]}]})
    )
    assert subprocess.run([promtool, "check", "rules", str(broken)], check=False).returncode


# ------------------------------------------------------------------------------ 4. real run


def _wait_for(url: str, deadline_s: float, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode} before {url} answered"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {deadline_s}s")


@dataclass
class ScrapedRun:
    """A finished Locust run scraped by a real Prometheus (which keeps the series after the
    master is gone), and the master's last /metrics exposition."""

    prometheus: str
    exposition: str
    exporter_target: str
    start: float
    end: float

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        response = httpx.get(f"{self.prometheus}/api/v1/{path}", params=params, timeout=30)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert body["status"] == "success", body
        return body

    def variable_values(self, dashboard: dict[str, Any]) -> dict[str, str]:
        """Run each query variable as Grafana does (label values of the matching series, its
        chained variables substituted) and select every value it offers; one that offers
        nothing (only `EMPTY_WITHOUT_TARGETS`) takes its All value, as Grafana selects All
        when a variable with "include All" has no options."""
        values = {**OFFLINE_VALUES, "__range": f"{math.ceil(self.end - self.start) + 5}s"}
        for variable in _variables(dashboard).values():
            if variable["type"] != "query":
                continue
            selector, label = _label_values(variable["definition"])
            found = self.api(
                f"label/{label}/values",
                **{"match[]": _substitute(selector, values)},
                start=self.start,
                end=self.end,
            )["data"]
            if not found and variable["name"] in EMPTY_WITHOUT_TARGETS:
                assert variable["includeAll"], variable["name"]
                values[variable["name"]] = variable["allValue"]
                continue
            assert found, f"${variable['name']}: {variable['definition']} offers nothing"
            values[variable["name"]] = "|".join(re.escape(v).replace("\\", "\\\\") for v in found)
        return values


@pytest.fixture(scope="module")
def scraped_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScrapedRun]:
    prometheus_bin = system_tool("prometheus")
    tmp = tmp_path_factory.mktemp("scraped-run")
    exporter_port, master_port, prometheus_port = _free_port(), _free_port(), _free_port()
    target = f"127.0.0.1:{exporter_port}"
    config = tmp / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "locust-llm", "static_configs": [{"targets": [target]}]}
                ],
            }
        )
    )
    processes: list[subprocess.Popen[Any]] = []
    logs = []

    def start(name: str, cmd: list[str]) -> subprocess.Popen[Any]:
        log = (tmp / f"{name}.log").open("w")
        logs.append(log)
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        processes.append(process)
        return process

    mock_args = ("--ttft", f"{MOCK_TTFT_S * 1000:g}ms", "--itl", f"{MOCK_ITL_S * 1000:g}ms")
    with run_mock(*mock_args, "--tokens", str(MOCK_TOKENS), cpu=1) as mock:
        try:
            prometheus = start(
                "prometheus",
                [
                    prometheus_bin,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp / 'data'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    "--log.level=warn",
                ],
            )
            prometheus_url = f"http://127.0.0.1:{prometheus_port}"
            _wait_for(f"{prometheus_url}/-/ready", 30, prometheus)
            locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
            master = start(
                "master",
                [
                    *locust,
                    "--master", "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(master_port), "--expect-workers", "1",
                    "--headless", "--host", mock.url, "-u", "12", "-r", "12", "-t", "20s",
                    # open loop, so the open-loop panels have data too (12 users: the pool)
                    "--llm-rate", "8", "--llm-arrival", "constant",
                    "--llm-goodput", "ttft=1s,e2e=5s",
                    "--stop-timeout", "5", "--exit-code-on-error", "0", "--only-summary",
                    "--llm-prometheus-port", str(exporter_port),
                    "--llm-prometheus-linger", "10s", "--llm-scenario-name", SCENARIO,
                ],
            )  # fmt: skip
            start(
                "worker",
                [
                    *locust,
                    "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port),
                ],
            )  # fmt: skip
            metrics_url = f"http://{target}/metrics"
            _wait_for(metrics_url, 30, master)
            start_s = time.time()
            deadline = time.monotonic() + 60
            master_log = tmp / "master.log"
            exposition = ""
            # until the run is over: the master lingers (the exporter logs it) or has exited
            while "serving final metrics" not in master_log.read_text():
                if master.poll() is not None:
                    assert exposition, master_log.read_text()[-3000:]
                    break
                assert time.monotonic() < deadline, master_log.read_text()[-3000:]
                with contextlib.suppress(httpx.HTTPError):
                    exposition = httpx.get(metrics_url, timeout=2).text
                time.sleep(0.5)
            time.sleep(2.5)  # the last figures scraped (every 1 s)
            with contextlib.suppress(httpx.HTTPError):
                exposition = httpx.get(metrics_url, timeout=2).text
            yield ScrapedRun(prometheus_url, exposition, target, start_s, time.time())
        finally:
            for process in reversed(processes):
                _stop(process)
            for log in logs:
                log.close()


@pytest.mark.slow
def test_the_exposition_passes_promtool_check_metrics(scraped_run: ScrapedRun) -> None:
    promtool = system_tool("promtool")
    assert "llm_first_visible_seconds_bucket{" in scraped_run.exposition
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scraped_run.exposition,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_every_variable_offers_the_runs_values(scraped_run: ScrapedRun) -> None:
    values = scraped_run.variable_values(_dashboards()["locust-llm.json"])
    assert values["scenario"] == re.escape(SCENARIO).replace("\\", "\\\\")
    assert values["target"] == ".*"  # one target: no label, no options, All (matches no label)
    assert values["model"] == "mock\\\\-llm"
    assert sorted(values["mode"].split("|")) == ["batch", "stream"]
    assert values["instance"].replace("\\\\", "") == scraped_run.exporter_target


def _has_data(result: dict[str, Any]) -> bool:
    data = result["data"]
    if data["resultType"] == "matrix":
        samples = [float(v) for series in data["result"] for _, v in series["values"]]
    elif data["resultType"] == "vector":
        samples = [float(series["value"][1]) for series in data["result"]]
    else:
        samples = [float(data["result"][1])]
    return any(not math.isnan(v) for v in samples)


def _query(run: ScrapedRun, expr: str, instant: bool) -> dict[str, Any]:
    if instant:
        return run.api("query", query=expr, time=run.end)
    return run.api("query_range", query=expr, start=run.start, end=run.end, step="1s")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "title", "ref"), [(n, t, r) for n, t, r, _ in _all_queries()], ids=str
)
def test_every_panel_query_runs_against_a_real_prometheus_and_returns_data(
    scraped_run: ScrapedRun, name: str, title: str, ref: str
) -> None:
    dashboard = _dashboards()[name]
    target = next(t for p, t in _targets(dashboard) if (p["title"], t["refId"]) == (title, ref))
    values = scraped_run.variable_values(dashboard)
    expr = _substitute(target["expr"], values)
    result = _query(scraped_run, expr, target["instant"])  # valid, or api() fails
    if (title, ref) in MAY_BE_EMPTY:
        return
    assert _has_data(result), f"{title} {ref}: no data for {expr}"
    if "$price_" in target["expr"]:  # without prices the cost panels show "set prices"
        unpriced = _substitute(target["expr"], {**values, **dict.fromkeys(PRICES, "0")})
        assert not _has_data(_query(scraped_run, unpriced, target["instant"]))


def _instant(run: ScrapedRun, expr: str, values: dict[str, str]) -> dict[str, float]:
    data = run.api("query", query=_substitute(expr, values), time=run.end)["data"]["result"]
    return {series["metric"].get("mode", ""): float(series["value"][1]) for series in data}


@pytest.mark.slow
def test_the_headline_panels_show_the_mocks_truth(scraped_run: ScrapedRun) -> None:
    """Label mix-ups (a mode swapped, a wrong family) would pass 'returns data': check values."""
    dashboard = _dashboards()["locust-llm.json"]
    values = scraped_run.variable_values(dashboard)
    panels = {p["title"]: p for p in _panels(dashboard)}
    headline = panels["First visible output p50 / p95 / p99 over the range: streaming vs batch"]
    p50 = _instant(scraped_run, headline["targets"][0]["expr"], values)
    e2e = MOCK_TTFT_S + (MOCK_TOKENS - 1) * MOCK_ITL_S
    # a percentile interpolated inside the bucket that holds the truth (TTFT: 0.1-0.15 s)
    assert 0.1 < p50["stream"] <= 0.15, p50
    assert 0.8 * e2e < p50["batch"] < 1.25 * e2e, p50
    speedup = panels["Streaming shows output sooner by"]["targets"][0]["expr"]
    ratio = _instant(scraped_run, speedup, values)[""]
    assert 2 < ratio < 5, ratio
    tokens = panels["Output tokens per request (mean) by mode"]["targets"][0]["expr"]
    per_request = _instant(scraped_run, tokens.replace("$__rate_interval", "$__range"), values)
    assert per_request == pytest.approx({"batch": MOCK_TOKENS, "stream": MOCK_TOKENS})
    # open loop at 8/s for a 20 s run (less the spawn): the requests that fell due
    offered = panels["Offered vs achieved requests per second"]["targets"]
    due = offered[1]["expr"].replace("rate(", "increase(").replace("$__rate_interval", "$__range")
    assert 8 * 14 <= _instant(scraped_run, due, values)[""] <= 8 * 20.5
    # every request meets generous goodput limits against the mock: goodput = finished
    good = panels["Goodput: requests per second that met every goodput limit"]["targets"]
    met, finished = (
        _instant(
            scraped_run,
            t["expr"].replace("rate(", "increase(").replace("$__rate_interval", "$__range"),
            values,
        )
        for t in good
    )
    assert met == pytest.approx(finished, rel=0.02), (met, finished)
    assert set(met) == {"stream", "batch"}
    # and "returns data" is not trivially true
    assert not _has_data(_query(scraped_run, 'llm_ttft_seconds_count{mode="batch"}', False))
