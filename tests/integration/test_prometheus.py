"""Prometheus export checked by a real Prometheus: a Locust master with two workers on loopback.

The master serves /metrics from its merged statistics (workers never serve); Debian's
`prometheus` scrapes it every second; after the run (during `--llm-prometheus-linger`) the
figures Prometheus stored must equal summary.json's, its TTFT median must sit within one bucket
of the mock's true TTFT, labels must be bounded, the API key must appear nowhere, and
`promtool check metrics` must pass on the exposition. A `locust-llm run` comparing two targets
(two mocks of different speeds) is scraped too: each target has its own series, equal to its
block of summary.json, and its own TTFT.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.errors import ErrorClass, Outcome
from harness.exporters.prometheus_collector import ALLOWED_LABELS
from harness.exporters.prometheus_config import TTFT_BUCKETS_S
from tests.conftest import ROOT, run_mock, system_tool
from tests.conftest import free_port as _free_port
from tests.conftest import stop_process as _stop

pytestmark = pytest.mark.slow

LOCUSTFILE = ROOT / "harness" / "locustfile.py"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
CANARY = "sk-canary-5b1f0c9e2d7a4"
TRUE_TTFT_S = 0.200
USERS = 8


def _base64_forms(secret: str) -> set[str]:
    """Substrings that any base64 (standard or URL-safe) encoding of text containing `secret`
    must contain, whatever its offset (e.g. in `Bearer …` or `user:…` before encoding)."""
    forms = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret.encode()).decode()
        stable = encoded[(shift * 4 + 2) // 3 + 1 : -4]
        forms |= {stable, stable.replace("+", "-").replace("/", "_")}
    return forms


@contextlib.contextmanager
def _prometheus(tmp_path: Path, target: str) -> Iterator[str]:
    """A real Prometheus on loopback scraping `target` every second; yields its base URL."""
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: locust-llm\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/-/ready", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.2)
        yield base
    finally:
        _stop(process)
        log.close()


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(base + "/api/v1/query", params={"query": promql}, timeout=5)
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _by(base: str, promql: str, label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in _query(base, promql)}


def test_master_and_two_workers_export_what_prometheus_scrapes_equal_to_the_summary(
    tmp_path: Path,
) -> None:
    if not (os.path.exists(PROMETHEUS) and os.path.exists(PROMTOOL)):
        pytest.fail("prometheus and promtool are required: run scripts/system-deps")
    master_port, metrics_port = _free_port(), _free_port()
    out = tmp_path / "report"
    env = {**os.environ, "OPENAI_API_KEY": CANARY}
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    # the workers get the metrics port too: they must not serve (it would clash with the master)
    common = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--master-port", str(master_port),
        "--llm-prometheus-port", str(metrics_port),
    ]  # fmt: skip
    processes: list[subprocess.Popen[Any]] = []
    with contextlib.ExitStack() as stack:
        mock = stack.enter_context(run_mock("--ttft", "200ms", "--itl", "20ms", "--tokens", "16"))
        prom = stack.enter_context(_prometheus(tmp_path, f"127.0.0.1:{metrics_port}"))
        logs = {
            n: stack.enter_context((tmp_path / f"{n}.log").open("w"))
            for n in ("w0", "w1", "master")
        }
        try:
            for name in ("w0", "w1"):
                processes.append(
                    subprocess.Popen(
                        [*common, "--worker", "--master-host", "127.0.0.1"],
                        stdout=subprocess.DEVNULL,
                        stderr=logs[name],
                        cwd=ROOT,
                        env=env,
                    )
                )
            master = subprocess.Popen(
                [
                    *common, "--master", "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(master_port), "--expect-workers", "2",
                    "--headless", "--host", mock.url, "-u", str(USERS), "-r", str(USERS),
                    "-t", "8s", "--stop-timeout", "5", "--exit-code-on-error", "0",
                    "--only-summary", "--llm-out", str(out), "--llm-prometheus-linger", "10s",
                ],
                stdout=subprocess.DEVNULL, stderr=logs["master"], cwd=ROOT, env=env,
            )  # fmt: skip
            processes.append(master)

            # the summary is written when the run ends; /metrics keeps serving (linger)
            deadline = time.monotonic() + 40
            while not (out / "summary.json").exists():
                assert master.poll() is None, (tmp_path / "master.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the run did not end"
                time.sleep(0.2)
            time.sleep(0.3)
            summary = json.loads((out / "summary.json").read_text())
            exposition = httpx.get(metrics_url, timeout=5).text
            modes = summary["modes"]
            expected = {mode: float(modes[mode]["requests"]) for mode in ("stream", "batch")}
            assert min(expected.values()) > 20

            # Prometheus's last scrape holds exactly the summary's counts
            deadline = time.monotonic() + 8
            while True:
                requests = _by(prom, "sum by (mode) (llm_requests_total)", "mode")
                if requests == expected or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert requests == expected
            tokens = _by(prom, "sum by (mode) (llm_output_tokens_total)", "mode")
            assert tokens == {mode: float(modes[mode]["output_tokens"]) for mode in expected}
            failed = _by(prom, 'sum by (mode) (llm_requests_total{outcome!="ok"})', "mode")
            assert failed == {}
            counts = _by(prom, "sum by (mode) (llm_e2e_seconds_count)", "mode")
            assert counts == expected  # both modes have series; every request was timed

            # the dashboard median from the buckets: within one bucket of the true TTFT
            median = _query(
                prom,
                'histogram_quantile(0.5, sum by (le) (llm_ttft_seconds_bucket{mode="stream"}))',
            )
            ttft_p50 = float(median[0]["value"][1])
            i = TTFT_BUCKETS_S.index(TRUE_TTFT_S)
            assert TTFT_BUCKETS_S[i - 1] <= ttft_p50 <= TTFT_BUCKETS_S[i + 1], ttft_p50
            assert abs(modes["stream"]["ttft_s"]["p50"] - TRUE_TTFT_S) < 0.005

            # in flight summed over both workers (each ran USERS/2), back to 0 at the end
            peak = _by(prom, "max_over_time(llm_requests_in_flight[2m])", "scenario")
            assert USERS / 2 < peak["default"] <= USERS
            assert _by(prom, "llm_requests_in_flight", "scenario") == {"default": 0.0}
            users = _by(prom, "max_over_time(llm_harness_users[2m])", "scenario")
            assert users == {"default": float(USERS)}
            cpu = _by(prom, "count by (process) (last_over_time(llm_harness_cpu_ratio[2m]))",
                      "process")  # fmt: skip
            assert set(cpu) == {"master", "worker-0", "worker-1"}
            lag = _by(prom, "llm_harness_loop_lag_seconds_count", "scenario")
            assert lag["default"] > 50  # both workers' probes, merged

            # bounded labels only: names from the allowed set, no URL, no error text, no key
            response = httpx.get(
                prom + "/api/v1/series", params={"match[]": '{__name__=~"llm_.+"}'}, timeout=5
            )
            series = response.json()["data"]
            assert len(series) > 20
            allowed = ALLOWED_LABELS | {"__name__", "job", "instance"}
            classes = {e.value for e in ErrorClass} | {"none", "unknown"}
            for labels in series:
                assert set(labels) <= allowed, labels
                for name, value in labels.items():
                    if name != "instance":  # Prometheus's own: host:port of the target
                        assert "://" not in value, labels
                        assert ":" not in value.replace("llm_", ""), labels
                    assert len(value) < 100, labels
                assert labels.get("error_class", "none") in classes, labels
                assert labels.get("outcome", "ok") in {o.value for o in Outcome}, labels
                assert labels.get("endpoint", "/v1/chat/completions") == "/v1/chat/completions"
            stored = response.text

            # the API key appears nowhere, not even base64-encoded
            for text in (exposition, stored):
                assert CANARY not in text
                assert CANARY.split("-")[-1] not in text
                for form in _base64_forms(CANARY):
                    assert form not in text

            # promtool's linter accepts the exposition
            check = subprocess.run(
                [PROMTOOL, "check", "metrics"], input=exposition, capture_output=True,
                text=True, timeout=30, check=False,
            )  # fmt: skip
            assert check.returncode == 0, check.stdout + check.stderr
            assert (check.stdout + check.stderr).strip() == ""

            assert master.wait(timeout=30) == 0, (tmp_path / "master.log").read_text()[-3000:]
            for worker in processes[:2]:
                assert worker.wait(timeout=20) == 0, "a worker failed (did it try to serve?)"
            for name in ("w0", "w1"):  # workers never serve
                assert "Prometheus metrics at" not in (tmp_path / f"{name}.log").read_text()
        finally:
            for process in processes:
                _stop(process)


def test_a_run_comparing_two_targets_is_scraped_with_each_targets_own_series(
    tmp_path: Path,
) -> None:
    promtool = system_tool("promtool")
    metrics_port = _free_port()
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    out = tmp_path / "report"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    environ.pop("OPENAI_API_KEY", None)
    env = {
        **environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": CANARY,
        "LOCUST_LLM_PROMETHEUS_PORT": str(metrics_port), "LOCUST_LLM_PROMETHEUS_LINGER": "10s",
    }  # fmt: skip
    profile = ("--itl", "10ms", "--tokens", "8")
    with contextlib.ExitStack() as stack:
        fast = stack.enter_context(run_mock("--ttft", "100ms", *profile))
        slow = stack.enter_context(run_mock("--ttft", "300ms", *profile))
        prom = stack.enter_context(_prometheus(tmp_path, f"127.0.0.1:{metrics_port}"))
        log = stack.enter_context((tmp_path / "run.log").open("w"))
        run = subprocess.Popen(
            [
                sys.executable, "-m", "harness.cli", "run",
                "--target", f"fast={fast.url}", "--target", f"slow={slow.url}",
                "--users", "4", "--run-time", "6s", "--headless", "--out", str(out),
            ],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not (out / "summary.json").exists():
                assert run.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the run did not end"
                time.sleep(0.2)
            time.sleep(0.3)
            summary = json.loads((out / "summary.json").read_text())
            exposition = httpx.get(metrics_url, timeout=5).text
            targets = summary["targets"]
            assert list(targets) == ["fast", "slow"]
            expected = {
                (name, mode): float(block["requests"])
                for name, target in targets.items()
                for mode, block in target["modes"].items()
            }
            assert min(expected.values()) > 0

            # Prometheus's last scrape: each target's counts, equal to its block of the summary
            deadline = time.monotonic() + 8
            while True:
                result = _query(prom, "sum by (target, mode) (llm_requests_total)")
                requests = {
                    (r["metric"].get("target", ""), r["metric"]["mode"]): float(r["value"][1])
                    for r in result
                }
                if requests == expected or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert requests == expected
            per_target = _by(prom, "sum by (target) (llm_requests_total)", "target")
            assert set(per_target) == {"fast", "slow"}
            assert per_target["fast"] > per_target["slow"]  # the fast one served more

            # each target's own TTFT: the median from its buckets, within one bucket of the truth
            medians = _by(
                prom,
                "histogram_quantile(0.5, sum by (le, target) "
                '(llm_ttft_seconds_bucket{mode="stream"}))',
                "target",
            )
            for name, truth in (("fast", 0.100), ("slow", 0.300)):
                i = TTFT_BUCKETS_S.index(truth)
                assert TTFT_BUCKETS_S[i - 1] <= medians[name] <= TTFT_BUCKETS_S[i + 1], medians

            # the dashboard's panels, every target selected (Grafana's All): side by side
            headline = _dashboard_query(
                "First visible output p50 / p95 / p99 over the range: streaming vs batch"
            )
            first_visible = {
                (r["metric"]["target"], r["metric"]["mode"]): float(r["value"][1])
                for r in _query(prom, headline)
            }
            assert set(first_visible) == {(t, m) for t in targets for m in ("stream", "batch")}
            assert first_visible["fast", "stream"] < first_visible["slow", "stream"]
            assert first_visible["fast", "batch"] < first_visible["slow", "batch"]
            throughput = _query(prom, _dashboard_query("Requests per second by mode and outcome"))
            assert {r["metric"]["target"] for r in throughput} == {"fast", "slow"}

            # the target label: names only (no URL), on every group's series; never on the
            # harness's own
            response = httpx.get(
                prom + "/api/v1/series", params={"match[]": '{__name__=~"llm_.+"}'}, timeout=5
            )
            series = response.json()["data"]
            harness = ("llm_harness_", "llm_requests_in_flight", "llm_offered_rate_per_second")
            for labels in series:
                assert set(labels) <= ALLOWED_LABELS | {"__name__", "job", "instance"}, labels
                if labels["__name__"].startswith(harness):
                    assert "target" not in labels, labels
                else:
                    assert labels.get("target") in ("fast", "slow"), labels
            for text in (exposition, response.text):
                assert fast.url not in text
                assert slow.url not in text
                assert CANARY not in text

            check = subprocess.run(
                [promtool, "check", "metrics"], input=exposition, capture_output=True,
                text=True, timeout=30, check=False,
            )  # fmt: skip
            assert check.returncode == 0, check.stdout + check.stderr
            assert run.wait(timeout=30) == 0, (tmp_path / "run.log").read_text()[-3000:]
        finally:
            _stop(run)


#: the dashboard's variables as Grafana substitutes them with every value selected
_ALL = {"__rate_interval": "15s", "__range": "2m", "price_input_per_mtok": "1",
        "price_output_per_mtok": "1"}  # fmt: skip


def _dashboard_query(title: str, ref: str = "A") -> str:
    """Query `ref` of the dashboard's panel `title`, its variables set to All (`.*`)."""
    dashboard = json.loads((ROOT / "dashboards" / "locust-llm.json").read_text())
    panels = [p for row in dashboard["panels"] for p in (row, *row.get("panels", []))]
    panel = next(p for p in panels if p["title"] == title)
    expr: str = next(t["expr"] for t in panel["targets"] if t["refId"] == ref)
    return re.sub(r"\$(\w+)", lambda m: _ALL.get(m.group(1), ".*"), expr)


def _locust_init(*args: str) -> subprocess.CompletedProcess[str]:
    """A headless run that must fail at init, before anything is sent (no server needed)."""
    return subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", "http://127.0.0.1:9/v1", "-u", "1", "-t", "2s", *args,
        ],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip


def test_a_busy_metrics_port_exits_2_with_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _locust_init("--llm-prometheus-port", str(port))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"locust-llm: error: metrics port {port} already in use; set --llm-prometheus-port"
    )


def test_an_out_of_range_metrics_port_exits_2_with_one_line() -> None:
    result = _locust_init("--llm-prometheus-port", "70000")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "locust-llm: error: --llm-prometheus-port: expected 0 (off) or a port in 1..65535, "
        "got '70000'"
    )


MASTER_BOOKKEEPING = """
import json, sys
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING, WorkerNode
from harness.exporters.prometheus import REPORT_KEY, attach

env = Environment()
runner = env.create_master_runner("127.0.0.1", int(sys.argv[1]))
exporter = attach(env)
seen = []
for client_id, in_flight in (("a", 3), ("b", 4), ("a", 2)):
    runner.clients[client_id] = WorkerNode(client_id, state=STATE_RUNNING)
    report = {"in_flight": in_flight, "endpoints": [["stream", "m", "/v1/chat/completions"]]}
    env.events.worker_report.fire(client_id=client_id, data={REPORT_KEY: report})
    seen.append(exporter.health().in_flight)
del runner.clients["b"]  # b quit
seen.append(exporter.health().in_flight)
runner.clients["a"].state = STATE_MISSING  # a stopped sending heartbeats
seen.append(exporter.health().in_flight)
print(json.dumps({"in_flight": seen, "endpoint": exporter.endpoints("stream", "m"),
                  "cpu": sorted(exporter.health().cpu_ratio)}))
runner.quit()
"""


def test_the_master_keeps_each_workers_latest_in_flight_and_forgets_workers_that_left() -> None:
    result = subprocess.run(
        [sys.executable, "-c", MASTER_BOOKKEEPING, str(_free_port())],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["in_flight"] == [3, 7, 6, 2, 0]
    assert figures["endpoint"] == "/v1/chat/completions"
    assert figures["cpu"] == ["master"]
