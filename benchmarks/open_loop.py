"""Open-loop benchmark: how closely locust-llm keeps an arrival schedule as the rate grows.

For each offered rate (10, 100, 1,000 and 3,000 requests/s of constant arrivals), two load
generators run in turn against a fresh mock (TTFT 20 ms, ITL 2 ms, max_tokens 8) pinned to
core 1, each pinned to core 0:

- locust-llm: `locust-llm run --rate R --arrival constant --max-in-flight 512 --max-tokens 8
  --mode stream --headless`; figures from summary.json (`run.load`);
- the reference: `benchmarks/asyncio_open_loop.py`, a plain asyncio client with
  `loop.call_at` for each due time and a pool of up to 512 keep-alive connections.

Printed per rate: achieved rate, schedule lag (send time − due time) p50/p99/max, the load
generator's share of its core while it paced, each as locust-llm / reference, and the ratios
of lag p99 and of CPU; then the target at 1,000/s (achieved ≥ 99.5 % of offered, lag p99 ≤
1 ms) and, per rate, whether locust-llm was worse than the reference.

    .venv/bin/python benchmarks/open_loop.py              # 10,100,1000,3000/s, 10 s (3000: 6 s)
    .venv/bin/python benchmarks/open_loop.py --quick      # 10,100/s, 3 s each (a smoke run)
    .venv/bin/python benchmarks/open_loop.py --markdown   # the table as Markdown

Traffic goes to 127.0.0.1 only; every run is bounded; Ctrl-C stops all child processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fidelity import (
    LOAD_CPU,
    MOCK_CPU,
    ROOT,
    Snapshot,
    _core_busy_pct,
    _interrupt,
    _last_line,
    _mock_stats,
    _share,
    _snapshot,
    _spawn,
    _start_mock,
    _stop,
    _stop_all,
    wait_for_quiet,
)

REFERENCE_CLIENT = Path(__file__).resolve().with_name("asyncio_open_loop.py")
HARNESS, REFERENCE = "locust-llm", "reference"
MAX_IN_FLIGHT, MAX_TOKENS = 512, 8
#: the target at 1,000 requests/s (the issue)
TARGET_RATE, TARGET_ACHIEVED, TARGET_LAG_P99_S = 1000, 0.995, 0.001
#: "worse than the reference": lag p99 over the reference's by more than this band, or an
#: achieved rate lower by more than this share of the offered one
NOISE_ABS_S, NOISE_REL, RATE_BAND = 0.0005, 0.10, 0.005
#: the lines that open and close the pacing window of each load generator (on its stderr)
WINDOW = {
    HARNESS: ("All users spawned", "--run-time limit reached"),
    REFERENCE: ("window start", "window end"),
}


@dataclass(slots=True)
class Result:
    """One load generator at one offered rate. Seconds; None when absent."""

    rate: int
    tool: str
    achieved: float | None = None
    lag_p50: float | None = None
    lag_p99: float | None = None
    lag_max: float | None = None
    sent: int = 0
    unsent: int = 0
    failed: int = 0
    core_pct: float | None = None
    mock_core_pct: float | None = None
    foreign: tuple[float, float] | None = None
    window_s: float | None = None
    mock: dict[str, Any] = field(default_factory=dict)
    extra: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.achieved is not None


def _children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _command(tool: str, rate: int, url: str, duration_s: float, out: Path) -> list[str]:
    if tool == HARNESS:
        cmd = [sys.executable, "-m", "harness.cli", "run", "--host", url, "--headless"]
        cmd += ["--rate", str(rate), "--arrival", "constant", "--mode", "stream"]
        cmd += ["--max-in-flight", str(MAX_IN_FLIGHT), "--max-tokens", str(MAX_TOKENS)]
        return [*cmd, "--run-time", f"{duration_s:g}s", "--out", str(out)]
    cmd = [sys.executable, str(REFERENCE_CLIENT), "--host", url, "--rate", str(rate)]
    cmd += ["--max-in-flight", str(MAX_IN_FLIGHT), "--max-tokens", str(MAX_TOKENS)]
    return [*cmd, "--mode", "stream", "--run-time", f"{duration_s:g}"]


def _read_harness(path: Path, result: Result) -> None:
    summary = json.loads(path.read_text())
    run = summary.get("run", {})
    load = run.get("load", {})
    lag = load.get("schedule_lag_s") or {}
    result.achieved = load.get("achieved_rate_per_s")
    result.lag_p50, result.lag_p99, result.lag_max = lag.get("p50"), lag.get("p99"), lag.get("max")
    result.sent, result.unsent = load.get("sent", 0), load.get("unsent_at_end", 0)
    outcomes = summary.get("modes", {}).get("stream", {}).get("outcomes", {})
    result.failed = sum(n for k, n in outcomes.items() if k not in ("ok", "cancelled"))
    loop_lag = (run.get("loop_lag_s") or {}).get("p99")
    parts = [f"pacer {load.get('pacer', '?')}"]
    if loop_lag is not None:
        parts.append(f"event-loop lag p99 {loop_lag * 1000:.1f} ms")
    if run.get("client_saturated"):
        parts.append("client_saturated")
    result.extra = ", ".join(parts)


def _read_reference(stdout: str, result: Result) -> None:
    data = json.loads(stdout.strip().splitlines()[-1])
    lag = data.get("schedule_lag_s") or {}
    result.achieved = data["achieved_rate_per_s"]
    result.lag_p50, result.lag_p99, result.lag_max = lag.get("p50"), lag.get("p99"), lag.get("max")
    result.sent, result.unsent, result.failed = data["sent"], data["unsent_at_end"], data["failed"]
    result.extra = f"{data['connections']} connections"


def run_one(args: argparse.Namespace, rate: int, tool: str, run_dir: Path, pin: bool) -> Result:
    """A fresh mock, one load generator against it, and the figures."""
    result = Result(rate, tool)
    run_dir.mkdir(parents=True, exist_ok=True)
    duration_s = args.duration if rate < 3000 else min(args.duration, args.duration_3000)
    mock_log = (run_dir / "mock.log").open("w")
    log, out = (run_dir / "load.log").open("w"), (run_dir / "stdout.txt").open("w")
    with mock_log, log, out:
        mock, url = _start_mock(args, mock_log, pin)
        try:
            cmd = _command(tool, rate, url, duration_s, run_dir / "llm")
            load = _spawn(
                cmd,
                cpu=LOAD_CPU if pin else None,
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            opens, closes = WINDOW[tool]
            marks: dict[str, Snapshot] = {}
            pid = [load.pid]  # locust-llm runs Locust as its child: that is the load generator

            def watch() -> None:
                assert load.stderr is not None
                for line in load.stderr:
                    if opens in line and "open" not in marks:
                        if tool == HARNESS:
                            pid[0] = (_children_of(load.pid) or [load.pid])[0]
                        marks["open"] = _snapshot(pid[0], mock.pid)
                    elif closes in line and "close" not in marks:
                        marks["close"] = _snapshot(pid[0], mock.pid)
                    log.write(line)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                load.wait(timeout=duration_s + 60.0)
            except subprocess.TimeoutExpired:
                result.problem = f"{tool} did not stop in time"
                return result
            finally:
                _stop(load, grace_s=2.0)
                watcher.join(timeout=5.0)
            out.flush()
            result.mock = _mock_stats(url)
            if "open" in marks and "close" in marks:
                a, b = marks["open"], marks["close"]
                result.window_s = b.t - a.t
                result.core_pct = _share(a.load_cpu_s, b.load_cpu_s, result.window_s)
                result.mock_core_pct = _share(a.mock_cpu_s, b.mock_cpu_s, result.window_s)
                busy0, busy1 = _core_busy_pct(a, b, LOAD_CPU), _core_busy_pct(a, b, MOCK_CPU)
                ours, mocks = result.core_pct, result.mock_core_pct
                if (
                    busy0 is not None
                    and busy1 is not None
                    and ours is not None
                    and mocks is not None
                ):
                    result.foreign = (max(busy0 - ours, 0.0), max(busy1 - mocks, 0.0))
            try:
                if tool == HARNESS:
                    _read_harness(run_dir / "llm" / "summary.json", result)
                else:
                    _read_reference((run_dir / "stdout.txt").read_text(), result)
            except (OSError, ValueError, KeyError, IndexError) as exc:
                log.flush()
                tail = _last_line(run_dir / "load.log")
                result.problem = f"no results ({type(exc).__name__}; exit code "
                result.problem += f"{load.returncode}; its last line: {tail})"
            return result
        finally:
            _stop(mock)


# ---------------------------------------------------------------------------------- report

HEADER = (
    "offered/s",
    "achieved/s",
    "lag p50 ms",
    "lag p99 ms",
    "lag max ms",
    "its core %",
    "lag p99 ×",
    "core ×",
)


def _pair(h: float | None, r: float | None, fmt: str, scale: float = 1.0) -> str:
    def one(v: float | None) -> str:
        return "—" if v is None else format(v * scale, fmt)

    return f"{one(h)} / {one(r)}"


def _ratio(h: float | None, r: float | None) -> str:
    if h is None or r is None or r <= 0:
        return "—"
    return f"{h / r:.2f}"


def _row(h: Result, r: Result) -> list[str]:
    return [
        f"{h.rate:,}",
        _pair(h.achieved, r.achieved, ".1f"),
        _pair(h.lag_p50, r.lag_p50, ".2f", 1000),
        _pair(h.lag_p99, r.lag_p99, ".2f", 1000),
        _pair(h.lag_max, r.lag_max, ".1f", 1000),
        _pair(h.core_pct, r.core_pct, ".0f"),
        _ratio(h.lag_p99, r.lag_p99),
        _ratio(h.core_pct, r.core_pct),
    ]


def _table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADER)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    lines = [fmt.format(*HEADER), fmt.format(*("-" * w for w in widths))]
    return "\n".join(lines + [fmt.format(*row) for row in rows])


def _verdict(h: Result, r: Result) -> str:
    """Whether locust-llm was worse than the reference at one rate."""
    if not (h.ok and r.ok):
        return f"{h.rate:,}/s: no comparison (a run failed)"
    assert h.achieved is not None
    assert r.achieved is not None
    worse = []
    if r.achieved - h.achieved > RATE_BAND * h.rate:
        worse.append(f"achieved {h.achieved:.1f} vs {r.achieved:.1f}/s")
    h99, r99 = h.lag_p99, r.lag_p99
    if h99 is not None and r99 is not None and h99 - r99 > NOISE_ABS_S + NOISE_REL * r99:
        worse.append(f"lag p99 {h.lag_p99 * 1000:.2f} vs {r.lag_p99 * 1000:.2f} ms")
    said = "WORSE than the reference: " + "; ".join(worse) if worse else "not worse"
    return f"{h.rate:,}/s: locust-llm {said}"


def _target(h: Result) -> str:
    if not h.ok or h.achieved is None:
        return f"target at {h.rate:,}/s: not measured (the run failed)"
    share = h.achieved / h.rate
    rate_ok = share >= TARGET_ACHIEVED
    lag_ok = h.lag_p99 is not None and h.lag_p99 <= TARGET_LAG_P99_S
    p99 = "—" if h.lag_p99 is None else f"{h.lag_p99 * 1000:.2f} ms"
    return (
        f"target at {h.rate:,}/s: achieved {share:.2%} of offered (≥ 99.5 %) "
        f"{'met' if rate_ok else 'MISSED'}; lag p99 {p99} (≤ 1 ms) {'met' if lag_ok else 'MISSED'}"
    )


def _detail(r: Result) -> str:
    if r.problem:
        return f"{r.rate:,}/{r.tool}: FAILED: {r.problem}"
    parts = [f"{r.rate:,}/{r.tool}: {r.sent} sent, {r.unsent} unsent at the end"]
    parts.append(f"{r.failed} failed")
    if r.window_s is not None:
        parts.append(f"window {r.window_s:.1f} s")
    late = r.mock.get("lateness_s") or {}
    if late.get("count"):
        parts.append(f"mock late p99 {late['p99'] * 1000:.2f} ms")
    if r.mock_core_pct is not None:
        parts.append(f"mock core {r.mock_core_pct:.0f} %")
    if r.foreign is not None:
        parts.append(f"other processes: core 0 {r.foreign[0]:.0f} %, core 1 {r.foreign[1]:.0f} %")
    if r.extra:
        parts.append(r.extra)
    return "; ".join(parts)


def report(results: list[Result], args: argparse.Namespace, elapsed_s: float) -> str:
    by_rate: dict[int, dict[str, Result]] = {}
    for r in results:
        by_rate.setdefault(r.rate, {})[r.tool] = r
    pairs = [(t[HARNESS], t[REFERENCE]) for t in by_rate.values() if len(t) == 2]
    bullet = "- " if args.markdown else ""
    out = [
        f"Open loop: constant arrivals, mock TTFT {args.ttft}, ITL {args.itl}, max_tokens "
        f"{MAX_TOKENS}, streams; at most {MAX_IN_FLIGHT} in flight; each cell is locust-llm / "
        "reference; × is locust-llm over the reference.",
        "",
        _table([_row(h, r) for h, r in pairs], args.markdown),
        "",
    ]
    out += [bullet + _verdict(h, r) for h, r in pairs]
    out += [bullet + _target(h) for h, _ in pairs if h.rate == TARGET_RATE]
    out += ["", "Per run:"]
    out += [bullet + _detail(r) for r in results]
    out.append(bullet + f"Wall time {elapsed_s:.0f} s.")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- main


def _rates_arg(text: str) -> list[int]:
    try:
        rates = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        rates = []
    if not rates or min(rates) < 1:
        raise argparse.ArgumentTypeError(f"expected rates like 10,100,1000, got {text!r}")
    return rates


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/open_loop.py",
        description="Schedule lag and achieved rate of locust-llm's open loop and of a "
        "reference asyncio client.",
    )
    parser.add_argument("--rates", type=_rates_arg, default=None, help="10,100,1000,3000")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run (10)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10,100/s, 3 s each")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="before each run, wait up to this many seconds for both cores to calm (3; --quick 0)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the per-run logs and reports")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rates is None:
        args.rates = [10, 100] if args.quick else [10, 100, 1000, 3000]
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if args.quick else 3.0
    args.duration_3000 = 6.0
    args.ttft, args.itl, args.tokens = "20ms", "2ms", MAX_TOKENS  # what fidelity's mock takes
    pin = {LOAD_CPU, MOCK_CPU} <= os.sched_getaffinity(0)
    if not pin:
        print("open_loop: fewer than 2 cores: mock and load generator share them", file=sys.stderr)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="open-loop-"))
    results: list[Result] = []
    started = time.perf_counter()
    total = 2 * len(args.rates)
    try:
        for rate in args.rates:
            for tool in (HARNESS, REFERENCE):
                print(f"[{len(results) + 1}/{total}] {rate:,}/s, {tool} …", file=sys.stderr)
                if pin and args.quiet_wait > 0:
                    wait_for_quiet(args.quiet_wait)
                try:
                    results.append(run_one(args, rate, tool, workdir / f"{rate}-{tool}", pin))
                except (RuntimeError, OSError) as exc:
                    results.append(Result(rate, tool, problem=str(exc)))
    except KeyboardInterrupt:
        print("open_loop: interrupted; stopping child processes", file=sys.stderr)
        return 130
    finally:
        _stop_all()
        if args.keep:
            print(f"open_loop: logs and reports kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report(results, args, time.perf_counter() - started))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
