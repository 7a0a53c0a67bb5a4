"""Exporter cost benchmark: what serving Prometheus metrics costs the load generator, or
(`--sink server-metrics`) what scraping the server's own metrics during the run costs it.

Runs the packaged locustfile's `StreamingUser` headless against a fresh mock twice per round,
without and with the exporter (`--llm-prometheus-port`, plus a scraper that GETs /metrics every
second like Prometheus: gzip, OpenMetrics). Locust is pinned to core 0; the mock and this
script (the scraper) to core 1. Printed per run: tokens/s, the Locust process's CPU over the
steady window (all users spawned → run-time limit) as % of its core, CPU µs per output token,
loop-lag p99 and TTFT p99; then the exporter's share of the load generator's CPU, measured
(CPU per token with vs without) and computed from its parts (one scrape of the run's own
statistics, timed in this process, times the scrape rate; one endpoint-book update per
request). Target: under 5 %.

With `--sink server-metrics` the "with" runs scrape the mock's vLLM-shaped /metrics instead
(`--llm-metrics-url`, every `--scrape-interval`): the harness's own scraper, a child process
that moves off the load generator's pinned core; compare CPU per token, loop lag and TTFT p99.

    .venv/bin/python benchmarks/exporter_cost.py                  # 512 streams, 20 s, 2 rounds
    .venv/bin/python benchmarks/exporter_cost.py --users 128 --duration 10s --rounds 1

Traffic goes to 127.0.0.1 only; every child process is stopped at the end (Ctrl-C too).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LOCUSTFILE = ROOT / "harness" / "locustfile.py"
LOAD_CPU, MOCK_CPU = 0, 1
TARGET_SHARE = 0.05
_CLK_TCK = os.sysconf("SC_CLK_TCK")
#: what Prometheus 2.x sends
SCRAPE_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}
_children: list[subprocess.Popen[Any]] = []


@dataclass(slots=True)
class Run:
    exporter: bool
    tokens_per_s: float = 0.0
    output_tokens: int = 0
    requests: int = 0
    core_pct: float = 0.0
    window_s: float = 0.0
    cpu_s: float = 0.0
    tokens_in_window: float = 0.0
    loop_lag_p99: float | None = None
    ttft_p99: float | None = None
    #: CPU other processes used on the load generator's core during the window (% of it)
    foreign_pct: float | None = None
    scrapes: int = 0
    scrape_bytes: int = 0
    scrape_ms: list[float] = field(default_factory=list)

    @property
    def cpu_us_per_token(self) -> float:
        return 1e6 * self.cpu_s / self.tokens_in_window if self.tokens_in_window else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _core_ticks(core: int) -> tuple[int, int] | None:
    """(busy, total) clock ticks of one core so far, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        name, *rest = line.split()
        if name == f"cpu{core}":
            ticks = [int(v) for v in rest[:8]]  # user nice system idle iowait irq softirq steal
            return sum(ticks) - ticks[3] - ticks[4], sum(ticks)
    return None


def _spawn(cmd: list[str], cpu: int | None, **kwargs: Any) -> subprocess.Popen[Any]:
    def pin() -> None:
        if cpu is not None and (os.cpu_count() or 1) > cpu:
            os.sched_setaffinity(0, {cpu})

    proc: subprocess.Popen[Any] = subprocess.Popen(
        cmd, preexec_fn=pin, start_new_session=True, **kwargs
    )
    _children.append(proc)
    return proc


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _children:
        _children.remove(proc)


def _scraper(url: str, interval_s: float, stop: threading.Event, run: Run) -> None:
    """GET /metrics every `interval_s` like Prometheus, until `stop`."""
    while not stop.wait(interval_s):
        t = time.perf_counter()
        try:
            request = urllib.request.Request(url, headers=SCRAPE_HEADERS)
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read()
        except OSError:
            continue
        run.scrape_ms.append(1000 * (time.perf_counter() - t))
        run.scrapes += 1
        run.scrape_bytes = len(gzip.decompress(body)) if body[:2] == b"\x1f\x8b" else len(body)


def run_once(args: argparse.Namespace, exporter: bool, workdir: Path) -> Run:
    """A fresh mock and one headless Locust run; the figures of its steady window."""
    result = Run(exporter)
    workdir.mkdir(parents=True, exist_ok=True)
    mock_cmd = [sys.executable, "-m", "harness.mock", "--port", "0", "--host", "127.0.0.1"]
    mock_cmd += ["--ttft", args.ttft, "--itl", args.itl, "--tokens", str(args.tokens)]
    mock = _spawn(mock_cmd, MOCK_CPU, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    stop_scraper = threading.Event()
    scraper: threading.Thread | None = None
    try:
        assert mock.stdout is not None
        ready, _, _ = select.select([mock.stdout], [], [], 15.0)
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", mock.stdout.readline() if ready else "")
        if match is None:
            raise RuntimeError("the mock did not start")
        out = workdir / "llm"
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
        cmd += ["--only-summary", "--host", match.group(1), "-u", str(args.users)]
        cmd += ["-r", str(args.users), "-t", args.duration, "--exit-code-on-error", "0"]
        cmd += ["--loglevel", "INFO", "--llm-out", str(out), "--llm-model", "mock-llm"]
        cmd += ["--llm-max-tokens", str(args.tokens)]
        port = _free_port()
        if exporter and args.sink == "server-metrics":
            origin = match.group(1).removesuffix("/v1")
            cmd += ["--llm-metrics-url", f"{origin}/metrics"]
            cmd += ["--llm-metrics-interval", f"{args.scrape_interval:g}s"]
        elif exporter:
            cmd += ["--llm-prometheus-port", str(port)]
        cmd += ["StreamingUser"]
        log = (workdir / "locust.log").open("w")
        load = _spawn(cmd, LOAD_CPU, stdout=log, stderr=subprocess.PIPE, text=True, cwd=workdir)
        marks: dict[str, tuple[float, float, tuple[int, int] | None]] = {}
        assert load.stderr is not None
        for line in load.stderr:
            log.write(line)
            if "All users spawned" in line and "spawned" not in marks:
                marks["spawned"] = (time.perf_counter(), _cpu_s(load.pid), _core_ticks(LOAD_CPU))
                if exporter and args.sink == "exporter":
                    url = f"http://127.0.0.1:{port}/metrics"
                    scraper = threading.Thread(
                        target=_scraper, args=(url, args.scrape_interval, stop_scraper, result)
                    )
                    scraper.start()
            elif "--run-time limit reached" in line and "stop" not in marks:
                marks["stop"] = (time.perf_counter(), _cpu_s(load.pid), _core_ticks(LOAD_CPU))
                stop_scraper.set()
        load.wait(timeout=120)
        log.close()
        _stop(load)
        summary = json.loads((out / "summary.json").read_text())
        stream = summary["modes"]["stream"]
        result.tokens_per_s = stream.get("output_tokens_per_s", 0.0)
        result.output_tokens = stream["output_tokens"]
        result.requests = stream["requests"]
        result.loop_lag_p99 = (summary["run"].get("loop_lag_s") or {}).get("p99")
        result.ttft_p99 = (stream.get("ttft_s") or {}).get("p99")
        (t0, c0, k0), (t1, c1, k1) = marks["spawned"], marks["stop"]
        result.window_s, result.cpu_s = t1 - t0, c1 - c0
        result.core_pct = 100 * result.cpu_s / result.window_s
        if k0 is not None and k1 is not None and k1[1] > k0[1]:
            busy_pct = 100 * (k1[0] - k0[0]) / (k1[1] - k0[1])
            result.foreign_pct = max(busy_pct - result.core_pct, 0.0)
        result.tokens_in_window = result.tokens_per_s * result.window_s
        return result
    finally:
        stop_scraper.set()
        if scraper is not None:
            scraper.join(timeout=10)
        _stop(mock)


def scrape_cost_ms(users: int, tokens: int, seconds: float, itl_s: float, ttft_s: float) -> float:
    """CPU ms of one scrape (collect + OpenMetrics + gzip) of a run like the benchmark's."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import _bake_output  # what make_wsgi_app runs

    from harness.errors import Mode, Outcome
    from harness.exporters.prometheus_collector import EndpointBook, HarnessHealth, LLMCollector
    from harness.record import RequestRecord
    from harness.stats import LatencyHistogram, RunStats

    stats = RunStats()
    book = EndpointBook()
    e2e = ttft_s + (tokens - 1) * itl_s
    n = int(users * seconds / e2e)
    for i in range(n):
        record = RequestRecord(mode=Mode.STREAM, model="mock-llm", endpoint="/v1/chat/completions")
        jitter = (i % 97) * 1e-5
        for k in range(tokens):
            record.on_token_event(ttft_s + jitter + k * (itl_s + jitter / 10), visible=True)
        record.server_output_tokens = tokens
        record.outcome = Outcome.OK
        record.t_end = e2e + jitter
        stats.observe(record)
    t = time.process_time()
    for _ in range(n):
        book.observe(Mode.STREAM, "mock-llm", "/v1/chat/completions")
    book_us = 1e6 * (time.process_time() - t) / n
    lag = LatencyHistogram()
    for i in range(int(seconds * 10)):
        lag.record(0.0005 + (i % 50) * 1e-4)
    registry = CollectorRegistry()
    health = HarnessHealth(users, users, {"local": 0.5}, lag)
    registry.register(LLMCollector(lambda: stats, endpoint_of=book, health=lambda: health))
    _bake_output(registry, SCRAPE_HEADERS["Accept"], "gzip", {}, False)  # warm up
    rounds = 50
    t = time.process_time()
    for _ in range(rounds):
        _bake_output(registry, SCRAPE_HEADERS["Accept"], "gzip", {}, False)
    scrape_ms = 1000 * (time.process_time() - t) / rounds
    print(
        f"in-process: one scrape of {n} requests' statistics costs {scrape_ms:.2f} ms CPU; "
        f"one endpoint-book update {book_us:.2f} µs"
    )
    return scrape_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=512)
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ttft", default="200ms")
    parser.add_argument("--itl", default="20ms")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--scrape-interval", type=float, default=1.0)
    parser.add_argument("--sink", choices=("exporter", "server-metrics"), default="exporter")
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) > MOCK_CPU:
        os.sched_setaffinity(0, {MOCK_CPU})  # the scraper stays off the load generator's core
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="exporter-cost-") as tmp:
            for r in range(args.rounds):
                for exporter in (False, True):
                    name = f"{r}-{'with' if exporter else 'without'}"
                    print(f"run {name} ({args.users} streams, {args.duration}) …", flush=True)
                    runs.append(run_once(args, exporter, Path(tmp) / name))
    except KeyboardInterrupt:
        return 130
    finally:
        for proc in list(_children):
            _stop(proc)
    print()
    print(
        "exporter  tok/s     core %  others %  CPU µs/token  loop lag p99  TTFT p99  "
        "scrapes (latency p50, size)"
    )
    for run in runs:
        scrapes = (
            f"{run.scrapes} ({statistics.median(run.scrape_ms):.1f} ms, {run.scrape_bytes} B)"
            if run.scrape_ms
            else "—"
        )
        lag = f"{run.loop_lag_p99 * 1000:.1f} ms" if run.loop_lag_p99 is not None else "—"
        ttft = f"{run.ttft_p99 * 1000:.1f} ms" if run.ttft_p99 is not None else "—"
        others = f"{run.foreign_pct:.0f}" if run.foreign_pct is not None else "?"
        print(
            f"{'with' if run.exporter else 'without':<9} {run.tokens_per_s:<9.0f} "
            f"{run.core_pct:<6.1f}  {others:<8}  {run.cpu_us_per_token:<12.2f}  {lag:<12}  "
            f"{ttft:<8}  {scrapes}"
        )
    without = statistics.median(r.cpu_us_per_token for r in runs if not r.exporter)
    with_ = statistics.median(r.cpu_us_per_token for r in runs if r.exporter)
    measured = (with_ - without) / without
    print()
    print(
        f"measured: CPU per token {with_:.2f} µs with the exporter vs {without:.2f} without: "
        f"{measured:+.1%} (run-to-run noise included; 'others %' is what other processes took "
        "from the load generator's core)"
    )
    if args.sink == "server-metrics":
        lag = [r.loop_lag_p99 for r in runs if r.loop_lag_p99 is not None]
        print("server-metrics: the scraper is a child process off the load generator's core")
        return 0 if lag else 1
    core = statistics.median(r.core_pct for r in runs if r.exporter)
    seconds = statistics.median(r.window_s for r in runs if r.exporter)
    scrape_ms = scrape_cost_ms(
        args.users, args.tokens, seconds, float(args.itl.removesuffix("ms")) / 1000,
        float(args.ttft.removesuffix("ms")) / 1000,
    )  # fmt: skip
    share = (scrape_ms / 1000 / args.scrape_interval) / (core / 100)
    print(
        f"computed: {scrape_ms:.2f} ms per scrape every {args.scrape_interval:g} s = "
        f"{scrape_ms / 10 / args.scrape_interval:.2f} % of a core, against the load generator's "
        f"{core:.0f} %: the exporter is {share:.2%} of its CPU "
        f"(target < {TARGET_SHARE:.0%}: {'met' if share < TARGET_SHARE else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
