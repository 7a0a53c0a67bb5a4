"""Fidelity benchmark: how far locust-llm's TTFT and ITL drift from the truth as streams grow.

For each concurrency point, two load generators run in turn against a fresh mock server whose
timing is known (TTFT and ITL of its profile): locust-llm's `StreamingUser` (the packaged
locustfile, figures from its summary.json) and the minimal Locust baseline (benchmarks/README.md)
(`benchmarks/baseline_locustfile.py`, FastHttpUser with raw `readline()`). The mock is pinned to
core 1, Locust to core 0. Printed per run: reported − true TTFT p50/p99 and ITL p50/p99 in ms,
requests/s, tokens/s, and the share of its core the load generator used while all users ran;
next to it the mock's own lateness against its schedule (the yardstick's error). Then, per
point, locust-llm against the baseline, and the targets at 512 streams.

    .venv/bin/python benchmarks/fidelity.py                 # 1,32,128,512 streams, 20 s each
    .venv/bin/python benchmarks/fidelity.py --quick         # 1,32,128 streams, 8 s each
    .venv/bin/python benchmarks/fidelity.py --markdown      # the table as Markdown

Traffic goes to 127.0.0.1 only; every run is bounded; Ctrl-C stops all child processes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.cpu import cores_busy, cpu_us_per_token, mock_tokens_written, proc_cpu_s  # noqa: E402
from benchmarks.layers import layer_samples, layer_table, top_functions  # noqa: E402

HARNESS_LOCUSTFILE = ROOT / "harness" / "locustfile.py"
BASELINE_LOCUSTFILE = Path(__file__).resolve().with_name("baseline_locustfile.py")
HARNESS, BASELINE = "locust-llm", "baseline"

LOAD_CPU, MOCK_CPU = 0, 1
#: targets at 512 streams (the issue): |error| within these, in seconds
TARGET_TTFT_P50_S, TARGET_TTFT_P99_S, TARGET_ITL_P99_S = 0.003, 0.060, 0.002
TARGET_POINT = 512
#: "worse than the baseline" means more error than the baseline's by more than this band
NOISE_ABS_S, NOISE_REL = 0.0005, 0.10
#: a run is flagged when other processes kept its core busier than this (the machine is shared)
FOREIGN_BUSY_WARN = 10.0
#: before a run, wait (up to --quiet-wait) until both pinned cores are less busy than this
QUIET_BUSY = 10.0

_children: list[subprocess.Popen[Any]] = []


# ---------------------------------------------------------------------------------- durations


def parse_duration(text: str) -> float:
    """Seconds in `200ms`, `20s`, `1.5s`, `2m`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|m)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration such as 20s or 200ms, got {text!r}")
    return float(match.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[match.group(2)]


def _duration_arg(text: str) -> str:
    if parse_duration(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return text


def _wait_arg(text: str) -> float:
    return 0.0 if text.strip() == "0" else parse_duration(text)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _points_arg(text: str) -> list[int]:
    try:
        points = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        points = []
    if not points or min(points) < 1:
        raise argparse.ArgumentTypeError(f"expected users like 1,32,128,512, got {text!r}")
    return points


# ---------------------------------------------------------------------------------- processes


def _spawn(cmd: Sequence[str], *, cpu: int | None, **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a child in its own session (Ctrl-C reaches us, and we stop it), pinned to `cpu`."""

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    proc: subprocess.Popen[Any] = subprocess.Popen(
        list(cmd), preexec_fn=pin, start_new_session=True, **kwargs
    )
    _children.append(proc)
    return proc


def _stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace_s: float = 5.0) -> None:
    """Stop one child: `sig`, then SIGKILL after `grace_s`; always reaped."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass
    if proc in _children:
        _children.remove(proc)


def _stop_all() -> None:
    for proc in list(_children):
        _stop(proc, signal.SIGKILL if proc.poll() is None else signal.SIGTERM, grace_s=2.0)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------- sampling


@dataclass(frozen=True, slots=True)
class Snapshot:
    t: float
    load_cpu_s: float | None
    mock_cpu_s: float | None
    cores: dict[int, tuple[int, int]]
    #: tokens the mock had written (its /mock/stats; None if it did not answer)
    mock_tokens: int | None = None


def _snapshot(load_pid: int, mock_pid: int, base_url: str | None = None) -> Snapshot:
    """CPU times now; with `base_url`, the tokens the mock there had written too."""
    t, load_cpu, mock_cpu, cores = (
        time.perf_counter(), proc_cpu_s(load_pid), proc_cpu_s(mock_pid), cores_busy()
    )  # fmt: skip
    tokens: int | None = None
    if base_url is not None:
        try:
            tokens = mock_tokens_written(_mock_stats(base_url))
        except (OSError, ValueError, KeyError):
            tokens = None
    return Snapshot(t, load_cpu, mock_cpu, cores, tokens)


def _busiest_core(cores: set[int], over_s: float = 1.0) -> float:
    """The highest busy percentage among `cores` over the next `over_s` seconds."""
    a = cores_busy()
    time.sleep(over_s)
    b = cores_busy()
    busy = [
        100.0 * (b[c][0] - a[c][0]) / max(b[c][1] - a[c][1], 1) for c in cores if c in a and c in b
    ]
    return max(busy, default=0.0)


def wait_for_quiet(max_s: float) -> float:
    """Wait until the pinned cores are idle, at most about `max_s` seconds (say so if they never
    are). Returns the seconds spent beyond the first one-second look."""
    started = time.perf_counter()
    said = False
    while True:
        busy = _busiest_core({LOAD_CPU, MOCK_CPU})
        spent = time.perf_counter() - started - 1.0
        if busy < QUIET_BUSY:
            return max(spent, 0.0)
        if spent >= max_s:
            print(f"      cores still {busy:.0f} % busy; starting anyway", file=sys.stderr)
            return spent
        if not said:
            print(f"      cores {busy:.0f} % busy: waiting for them to calm", file=sys.stderr)
            said = True


def _share(a: float | None, b: float | None, wall_s: float) -> float | None:
    if a is None or b is None or wall_s <= 0:
        return None
    return 100.0 * (b - a) / wall_s


def _core_busy_pct(a: Snapshot, b: Snapshot, core: int) -> float | None:
    if core not in a.cores or core not in b.cores:
        return None
    busy = b.cores[core][0] - a.cores[core][0]
    total = b.cores[core][1] - a.cores[core][1]
    return 100.0 * busy / total if total > 0 else None


# ---------------------------------------------------------------------------------- results


@dataclass(slots=True)
class Result:
    """One run: one tool at one concurrency point. Latencies in seconds, None when absent."""

    point: int
    tool: str
    ttft_p50: float | None = None
    ttft_p99: float | None = None
    itl_p50: float | None = None
    itl_p99: float | None = None
    requests: int = 0
    errors: int = 0
    req_per_s: float | None = None
    tok_per_s: float | None = None
    core_pct: float | None = None
    window_s: float | None = None
    #: the load generator's CPU time in the window / the tokens the mock wrote in it, in µs
    cpu_us_per_token: float | None = None
    mock_tokens_in_window: int | None = None
    mock_core_pct: float | None = None
    core0_busy_pct: float | None = None
    core1_busy_pct: float | None = None
    mock: dict[str, Any] = field(default_factory=dict)
    saturated: bool = False
    #: locust-llm only: its own event-loop lag p99 and time to response headers p50/p99
    loop_lag_p99: float | None = None
    ttfb_p50: float | None = None
    ttfb_p99: float | None = None
    #: baseline only: TTFT p99 without each user's first request (which opens its connection)
    ttft_later_p99: float | None = None
    #: which attempt this is, and how many were run (see `run_point`)
    attempt: int = 1
    attempts: int = 1
    problem: str = ""
    #: with --profile: the raw py-spy profile of the window
    profile: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problem and self.ttft_p50 is not None

    def foreign_busy(self) -> tuple[float, float] | None:
        """Percent of core 0 and core 1 used by other processes during the window."""
        if None in (self.core0_busy_pct, self.core1_busy_pct, self.core_pct, self.mock_core_pct):
            return None
        assert self.core0_busy_pct is not None
        assert self.core_pct is not None
        assert self.core1_busy_pct is not None
        assert self.mock_core_pct is not None
        return (
            max(self.core0_busy_pct - self.core_pct, 0.0),
            max(self.core1_busy_pct - self.mock_core_pct, 0.0),
        )

    @property
    def disturbance(self) -> float:
        """The larger share of a pinned core that other processes used (0 if unknown)."""
        foreign = self.foreign_busy()
        return max(foreign) if foreign else 0.0


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile of sorted `values`."""
    if not values:
        return None
    return values[max(1, math.ceil(q * len(values))) - 1]


def _read_harness(path: Path, result: Result) -> None:
    summary = json.loads(path.read_text())
    stream = summary.get("modes", {}).get("stream", {})
    for name, key in (("ttft", "ttft_s"), ("itl", "itl_s")):
        figures = stream.get(key) or {}
        setattr(result, f"{name}_p50", figures.get("p50"))
        setattr(result, f"{name}_p99", figures.get("p99"))
    outcomes = stream.get("outcomes", {})
    result.requests = sum(n for k, n in outcomes.items() if k != "cancelled")
    result.errors = outcomes.get("failed", 0) + outcomes.get("empty", 0)
    result.req_per_s = stream.get("requests_per_s")
    result.tok_per_s = stream.get("output_tokens_per_s")
    run = summary.get("run", {})
    result.saturated = bool(run.get("client_saturated"))
    result.loop_lag_p99 = (run.get("loop_lag_s") or {}).get("p99")
    ttfb = stream.get("ttfb_s") or {}
    result.ttfb_p50, result.ttfb_p99 = ttfb.get("p50"), ttfb.get("p99")


def _read_baseline(path: Path, result: Result) -> None:
    data = json.loads(path.read_text())
    ttft, itl = sorted(data["ttft_s"]), sorted(data["itl_s"])
    result.ttft_p50, result.ttft_p99 = _quantile(ttft, 0.50), _quantile(ttft, 0.99)
    result.itl_p50, result.itl_p99 = _quantile(itl, 0.50), _quantile(itl, 0.99)
    result.ttft_later_p99 = _quantile(sorted(data.get("ttft_later_s", [])), 0.99)
    result.requests, result.errors = data["requests"], data["errors"]
    duration = data.get("duration_s") or 0.0
    if duration > 0:
        result.req_per_s = data["requests"] / duration
        result.tok_per_s = data["tokens"] / duration


# ---------------------------------------------------------------------------------- one run


def _start_mock(
    args: argparse.Namespace, log: IO[str], pin: bool
) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "harness.mock", "--port", "0", "--host", "127.0.0.1"]
    cmd += ["--ttft", args.ttft, "--itl", args.itl, "--tokens", str(args.tokens)]
    mock = _spawn(
        cmd, cpu=MOCK_CPU if pin else None, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT
    )
    assert mock.stdout is not None
    ready, _, _ = select.select([mock.stdout], [], [], 15.0)
    line = mock.stdout.readline() if ready else ""
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
    if match is None:
        _stop(mock)
        log.flush()
        said = line.strip() or _last_line(Path(log.name))
        raise RuntimeError(f"the mock did not start: {said}")
    return mock, match.group(1)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "?"
    return lines[-1] if lines else "(no output)"


def _mock_stats(base_url: str) -> dict[str, Any]:
    url = base_url.removesuffix("/v1") + "/mock/stats"
    with urllib.request.urlopen(url, timeout=5) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


def run_one(args: argparse.Namespace, point: int, tool: str, run_dir: Path, pin: bool) -> Result:
    """Start a fresh mock, run one headless Locust against it, and collect the figures."""
    result = Result(point, tool)
    run_dir.mkdir(parents=True, exist_ok=True)
    mock_log = (run_dir / "mock.log").open("w")
    locust_log = (run_dir / "locust.log").open("w")
    mock: subprocess.Popen[str] | None = None
    try:
        mock, url = _start_mock(args, mock_log, pin)
        mock_pid = mock.pid
        cmd = [sys.executable, "-m", "locust", "--headless", "--only-summary", "--host", url]
        cmd += ["-u", str(point), "-r", str(point), "-t", args.duration]
        cmd += ["--exit-code-on-error", "0", "--loglevel", "INFO"]
        if tool == HARNESS:
            out = run_dir / "llm"
            cmd += ["-f", str(HARNESS_LOCUSTFILE), "--llm-out", str(out)]
            cmd += ["--llm-model", "mock-llm", "--llm-max-tokens", str(args.tokens)]
            cmd += ["StreamingUser"]
            out_file = out / "summary.json"
        else:
            out_file = run_dir / "baseline.json"
            cmd += ["-f", str(BASELINE_LOCUSTFILE), "--baseline-out", str(out_file)]
            cmd += ["BaselineUser"]
        load = _spawn(
            cmd,
            cpu=LOAD_CPU if pin else None,
            stdout=locust_log,
            stderr=subprocess.PIPE,
            text=True,
            cwd=run_dir,
        )
        marks: dict[str, Snapshot] = {}
        spy: list[subprocess.Popen[Any]] = []

        def watch() -> None:  # stamp the steady window from Locust's own log lines
            assert load.stderr is not None
            for line in load.stderr:
                if "All users spawned" in line and "spawned" not in marks:
                    marks["spawned"] = _snapshot(load.pid, mock_pid, url)
                    if args.profile is not None:
                        spy.append(_start_profiler(args, load.pid, point, tool, pin))
                elif "--run-time limit reached" in line and "stop" not in marks:
                    marks["stop"] = _snapshot(load.pid, mock_pid, url)
                    for proc in spy:
                        _stop(proc, signal.SIGINT, grace_s=20.0)  # py-spy writes on SIGINT
                locust_log.write(line)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            code = load.wait(timeout=parse_duration(args.duration) + 90.0)
        except subprocess.TimeoutExpired:
            result.problem = "Locust did not stop in time"
            return result
        finally:
            _stop(load, grace_s=2.0)  # at once unless it has exited (interrupted, timed out)
            watcher.join(timeout=5.0)
            for proc in spy:
                _stop(proc, signal.SIGINT, grace_s=20.0)
        if args.profile is not None:
            written = args.profile / f"{point}-{tool}.txt"
            result.profile = written if written.is_file() else None
        result.mock = _mock_stats(url)
        (run_dir / "mock_stats.json").write_text(json.dumps(result.mock, indent=2))
        if "spawned" in marks and "stop" in marks:
            a, b = marks["spawned"], marks["stop"]
            result.window_s = b.t - a.t
            result.core_pct = _share(a.load_cpu_s, b.load_cpu_s, result.window_s)
            result.mock_core_pct = _share(a.mock_cpu_s, b.mock_cpu_s, result.window_s)
            result.core0_busy_pct = _core_busy_pct(a, b, LOAD_CPU)
            result.core1_busy_pct = _core_busy_pct(a, b, MOCK_CPU)
            if a.mock_tokens is not None and b.mock_tokens is not None:
                result.mock_tokens_in_window = b.mock_tokens - a.mock_tokens
                cpu_s = (
                    b.load_cpu_s - a.load_cpu_s
                    if a.load_cpu_s is not None and b.load_cpu_s is not None
                    else None
                )
                result.cpu_us_per_token = cpu_us_per_token(cpu_s, result.mock_tokens_in_window)
        if not out_file.is_file():
            locust_log.flush()
            tail = _last_line(run_dir / "locust.log")
            result.problem = f"no results (Locust exit code {code}; its last line: {tail})"
            return result
        (_read_harness if tool == HARNESS else _read_baseline)(out_file, result)
        if result.ttft_p50 is None:
            result.problem = "no successful stream"
        return result
    finally:
        if mock is not None:
            _stop(mock)
        mock_log.close()
        locust_log.close()


def _start_profiler(
    args: argparse.Namespace, pid: int, point: int, tool: str, pin: bool
) -> subprocess.Popen[Any]:
    """py-spy sampling `pid` (on the mock's core) into `--profile`/POINT-TOOL.txt until SIGINT."""
    out = args.profile / f"{point}-{tool}.txt"
    cmd = [args.py_spy, "record", "--pid", str(pid), "--rate", str(args.profile_rate)]
    cmd += ["--nonblocking", "--format", "raw", "--output", str(out)]
    log = (args.profile / f"{point}-{tool}.py-spy.log").open("w")
    return _spawn(cmd, cpu=MOCK_CPU if pin else None, stdout=log, stderr=subprocess.STDOUT)


def run_point(args: argparse.Namespace, point: int, tool: str, workdir: Path, pin: bool) -> Result:
    """`run_one`, repeated up to `--attempts` times while other processes disturb the cores;
    the least disturbed attempt is kept (and the report says which)."""
    best: Result | None = None
    for attempt in range(1, args.attempts + 1):
        if pin and args.quiet_wait > 0:
            args.extra_s -= wait_for_quiet(min(args.quiet_wait, max(args.extra_s, 0.0)))
        started = time.perf_counter()
        try:
            result = run_one(args, point, tool, workdir / f"{point}-{tool}-{attempt}", pin)
        except (RuntimeError, OSError) as exc:
            result = Result(point, tool, problem=str(exc))
        if attempt > 1:
            args.extra_s -= time.perf_counter() - started
        result.attempt = attempt
        if best is None or not best.ok or (result.ok and result.disturbance < best.disturbance):
            best = result
        if result.ok and result.disturbance <= FOREIGN_BUSY_WARN:
            break
        if attempt < args.attempts:
            why = result.problem or f"other processes used {result.disturbance:.0f} % of a core"
            if args.extra_s < parse_duration(args.duration) + 5.0:
                print(f"      {why}; no time left to run it again", file=sys.stderr)
                break
            print(f"      {why}; running it again", file=sys.stderr, flush=True)
    assert best is not None
    best.attempts = attempt
    return best


# ---------------------------------------------------------------------------------- report


def _ms(value: float | None, truth: float, signed: bool = True) -> str:
    if value is None:
        return "—"
    return f"{(value - truth) * 1000:+.2f}" if signed else f"{value * 1000:.2f}"


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _lateness(result: Result) -> str:
    late = result.mock.get("lateness_s") or {}
    if not late.get("count"):
        return "—"
    return f"{late['p50'] * 1000:.2f} / {late['p99'] * 1000:.2f} / {late['max'] * 1000:.1f}"


HEADER = (
    "streams",
    "tool",
    "TTFT p50 err",
    "TTFT p99 err",
    "ITL p50 err",
    "ITL p99 err",
    "req/s",
    "tok/s",
    "its core %",
    "CPU µs/token",
    "mock late p50/p99/max",
    "mock core %",
)


def _cpu_ratio(h: Result | None, b: Result | None) -> float | None:
    """locust-llm's CPU per token over the baseline's at the same point."""
    if h is None or b is None or h.cpu_us_per_token is None or not b.cpu_us_per_token:
        return None
    return h.cpu_us_per_token / b.cpu_us_per_token


def _cpu_cell(r: Result, ratio: float | None) -> str:
    if r.cpu_us_per_token is None:
        return "—"
    return f"{r.cpu_us_per_token:.1f}" + (f" (×{ratio:.2f})" if ratio is not None else "")


def _row(r: Result, ttft: float, itl: float, cpu_ratio: float | None = None) -> list[str]:
    tool = r.tool + (" (saturated)" if r.saturated else "")
    if not r.ok:
        return [str(r.point), tool, "failed (see below)"] + [""] * (len(HEADER) - 3)
    return [
        str(r.point),
        tool,
        _ms(r.ttft_p50, ttft),
        _ms(r.ttft_p99, ttft),
        _ms(r.itl_p50, itl),
        _ms(r.itl_p99, itl),
        _num(r.req_per_s, ".1f"),
        _num(r.tok_per_s, ".0f"),
        _num(r.core_pct, ".0f"),
        _cpu_cell(r, cpu_ratio),
        _lateness(r),
        _num(r.mock_core_pct, ".0f"),
    ]


def _table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADER)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*HEADER), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(lines)


def _worse(ours: float, theirs: float) -> bool:
    return ours - theirs > NOISE_ABS_S + NOISE_REL * abs(theirs)


def _compare(h: Result, b: Result, ttft: float, itl: float) -> str:
    """One line: locust-llm's errors against the baseline's at one point."""
    if not (h.ok and b.ok):
        return f"{h.point} streams: no comparison (a run failed)"
    parts, worse = [], []
    for label, mine, theirs, truth in (
        ("TTFT p50", h.ttft_p50, b.ttft_p50, ttft),
        ("TTFT p99", h.ttft_p99, b.ttft_p99, ttft),
        ("ITL p50", h.itl_p50, b.itl_p50, itl),
        ("ITL p99", h.itl_p99, b.itl_p99, itl),
    ):
        assert mine is not None
        assert theirs is not None
        e_mine, e_theirs = mine - truth, theirs - truth
        parts.append(f"{label} {e_mine * 1000:+.2f} vs {e_theirs * 1000:+.2f}")
        if _worse(e_mine, e_theirs):
            worse.append(label)
    cpu = ""
    if h.core_pct is not None and b.core_pct is not None and b.core_pct > 0:
        cpu = f"; core {h.core_pct:.0f} % vs {b.core_pct:.0f} % (×{h.core_pct / b.core_pct:.2f})"
    ratio = _cpu_ratio(h, b)
    if ratio is not None:
        assert h.cpu_us_per_token is not None
        assert b.cpu_us_per_token is not None
        cpu += (
            f"; CPU per token {h.cpu_us_per_token:.1f} vs {b.cpu_us_per_token:.1f} µs "
            f"(×{ratio:.2f})"
        )
    rate = ""
    if h.req_per_s and b.req_per_s:
        rate = f"; req/s ×{h.req_per_s / b.req_per_s:.2f}"
    verdict = "WORSE than the baseline on " + ", ".join(worse) if worse else "not worse"
    return (
        f"{h.point} streams, locust-llm vs baseline (ms): {'; '.join(parts)}{cpu}{rate} → {verdict}"
    )


def _targets(h: Result, ttft: float, itl: float) -> str:
    if not h.ok:
        return f"targets at {h.point} streams: not measured (the run failed)"
    checks = []
    for label, value, truth, limit in (
        ("TTFT p50", h.ttft_p50, ttft, TARGET_TTFT_P50_S),
        ("TTFT p99", h.ttft_p99, ttft, TARGET_TTFT_P99_S),
        ("ITL p99", h.itl_p99, itl, TARGET_ITL_P99_S),
    ):
        assert value is not None
        err = value - truth
        mark = "met" if abs(err) <= limit else "MISSED"
        checks.append(f"{label} {err * 1000:+.2f} ms (≤ {limit * 1000:.0f}) {mark}")
    late = h.mock.get("lateness_s") or {}
    if late.get("count"):
        checks.append(f"the mock's own lateness p99 in this run: {late['p99'] * 1000:.2f} ms")
    return f"targets at {h.point} streams: " + "; ".join(checks)


def _detail(r: Result, ttft: float) -> str:
    """One line of what else a run showed: its window, the machine, the yardstick."""
    if r.problem:
        return f"{r.point}/{r.tool}: FAILED: {r.problem}"
    parts = [f"{r.point}/{r.tool}: {r.requests} requests ({r.errors} failed)"]
    completed = sum(n for by_mode in r.mock.get("completed", {}).values() for n in by_mode.values())
    if r.mock:
        parts.append(f"mock completed {completed}")
    if r.window_s is not None:
        parts.append(f"window {r.window_s:.1f} s")
    if r.mock_tokens_in_window is not None:
        parts.append(f"mock wrote {r.mock_tokens_in_window} tokens in it")
    foreign = r.foreign_busy()
    if foreign is not None:
        parts.append(f"other processes: core 0 {foreign[0]:.0f} %, core 1 {foreign[1]:.0f} %")
    if r.attempts > 1:
        parts.append(f"kept attempt {r.attempt} of {r.attempts} (the least disturbed)")
    if r.loop_lag_p99 is not None:
        parts.append(f"loop lag p99 {r.loop_lag_p99 * 1000:.1f} ms")
    if r.ttfb_p50 is not None and r.ttfb_p99 is not None:
        parts.append(f"TTFB p50/p99 {r.ttfb_p50 * 1000:.1f}/{r.ttfb_p99 * 1000:.1f} ms")
    if r.ttft_later_p99 is not None:
        parts.append(f"TTFT p99 err without first requests {(r.ttft_later_p99 - ttft) * 1000:+.2f}")
    return "; ".join(parts)


def report(results: list[Result], args: argparse.Namespace, elapsed_s: float) -> str:
    """The whole printout: table, comparisons, targets, notes, per-run details."""
    ttft, itl = parse_duration(args.ttft), parse_duration(args.itl)
    by_point: dict[int, dict[str, Result]] = {}
    for r in results:
        by_point.setdefault(r.point, {})[r.tool] = r
    rows = []
    for r in results:
        tools = by_point[r.point]
        ratio = _cpu_ratio(tools.get(HARNESS), tools.get(BASELINE)) if r.tool == HARNESS else None
        rows.append(_row(r, ttft, itl, ratio))
    bullet = "- " if args.markdown else ""
    out = [
        f"Fidelity: mock TTFT {args.ttft}, ITL {args.itl}, {args.tokens} tokens per stream; "
        f"{args.duration} per run; errors are reported − true, in ms.",
        "",
        _table(rows, args.markdown),
        "",
    ]
    for tools in by_point.values():
        if HARNESS in tools and BASELINE in tools:
            out.append(bullet + _compare(tools[HARNESS], tools[BASELINE], ttft, itl))
    for point, tools in by_point.items():
        if point == TARGET_POINT and HARNESS in tools:
            out.append(bullet + _targets(tools[HARNESS], ttft, itl))
    out += ["", "Notes:"]
    notes = [
        "Nothing is excluded: every request that finished counts, including each user's first, "
        "which opens its TCP connection. Locust starts all users in the same instant "
        "(spawn rate = users), so the first requests reach the mock together and can set TTFT "
        "p99 (the baseline's line 'without first requests' below shows how much). Streams "
        "still running when the time is up are cancelled and not timed (locust-llm) or keep "
        "the samples they had (baseline).",
        "The truth is the mock's schedule, counted from the moment it has read the request. "
        "'mock late' is how late its writes left against that schedule (p50/p99/max, ms): the "
        "yardstick's own error, inside every row's figures. The time the mock takes to read a "
        "request is not in it (locust-llm's TTFB shows it: headers are due at once).",
        "'its core %' is the load generator's CPU time over wall time while all users ran "
        "(from 'All users spawned' to the run-time limit), on its one pinned core. "
        "'CPU µs/token' is its CPU time in that window over the tokens the mock wrote in it "
        "(the mock's /mock/stats at both ends), and on locust-llm's rows (×) its ratio to the "
        "baseline's at the same point.",
        f"'worse' means more error than the baseline's by over {NOISE_ABS_S * 1000:.1f} ms "
        f"+ {NOISE_REL:.0%} of the baseline's error. 'saturated': locust-llm said its event "
        "loop lagged (client_saturated).",
    ]
    out += [bullet + n for n in notes]
    noisy = [f"{r.point}/{r.tool}" for r in results if r.disturbance > FOREIGN_BUSY_WARN and r.ok]
    if noisy:
        out.append(
            bullet + "Warning: other processes used a pinned core (over "
            f"{FOREIGN_BUSY_WARN:.0f} %) during " + ", ".join(noisy) + "; those rows may be "
            "disturbed."
        )
    out += ["", "Per run:"]
    out += [bullet + _detail(r, ttft) for r in results]
    for r in results:
        if r.profile is None:
            continue
        raw = r.profile.read_text()
        out += ["", f"Profile of {r.point}/{r.tool} ({r.profile}), innermost frame per layer:", ""]
        out += [layer_table(layer_samples(raw), r.cpu_us_per_token), ""]
        total = sum(layer_samples(raw).values()) or 1
        out += [f"    {100 * n / total:5.1f} %  {leaf}" for leaf, n in top_functions(raw, 12)]
    out.append(bullet + f"Wall time {elapsed_s:.0f} s.")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/fidelity.py",
        description="Reported vs true TTFT/ITL of locust-llm and a minimal Locust baseline.",
    )
    parser.add_argument(
        "--points", type=_points_arg, default=None, help="users per point (1,32,128,512)"
    )
    parser.add_argument("--duration", type=_duration_arg, default=None, help="per run (20s)")
    parser.add_argument("--tokens", type=_positive_int, default=64, help="tokens per stream (64)")
    parser.add_argument("--ttft", type=_duration_arg, default="200ms", help="mock TTFT (200ms)")
    parser.add_argument("--itl", type=_duration_arg, default="20ms", help="mock ITL (20ms)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1,32,128 streams, 8 s each"
    )
    parser.add_argument(
        "--tools",
        default=f"{HARNESS},{BASELINE}",
        help=f"which load generators to run ({HARNESS},{BASELINE})",
    )
    parser.add_argument(
        "--attempts",
        type=_positive_int,
        default=2,
        help="run a point again when other processes used over "
        f"{FOREIGN_BUSY_WARN:.0f} %% of a pinned core, up to this many times (2)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=_wait_arg,
        default="15s",
        help=f"before each run, wait up to this long for both cores to be under "
        f"{QUIET_BUSY:.0f} %% busy (15s; 0 to skip)",
    )
    parser.add_argument(
        "--extra-time",
        type=_wait_arg,
        default=None,
        help="at most this much time in all for waiting and repeating runs (120s; --quick 30s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the per-run logs and reports")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile each load generator's window with py-spy (on the mock's core) into DIR "
        "and print its CPU per layer (benchmarks/README.md)",
    )
    parser.add_argument(
        "--profile-rate", type=_positive_int, default=200, help="py-spy samples per second (200)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.points is None:
        args.points = [1, 32, 128] if args.quick else [1, 32, 128, 512]
    if args.duration is None:
        args.duration = "8s" if args.quick else "20s"
    if args.extra_time is None:
        args.extra_time = 30.0 if args.quick else 120.0
    args.extra_s = args.extra_time
    if args.profile is not None:
        args.py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(args.py_spy).is_file():
            print("fidelity: error: --profile needs py-spy (pip install py-spy)", file=sys.stderr)
            return 2
        args.profile.mkdir(parents=True, exist_ok=True)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if not tools or not set(tools) <= {HARNESS, BASELINE}:
        print(f"fidelity: error: --tools takes {HARNESS} and/or {BASELINE}", file=sys.stderr)
        return 2
    pin = {LOAD_CPU, MOCK_CPU} <= os.sched_getaffinity(0)
    if not pin:
        print("fidelity: fewer than 2 cores: mock and Locust share them", file=sys.stderr)
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored (&)
        signal.signal(sig, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="fidelity-"))
    results: list[Result] = []
    started = time.perf_counter()
    total = len(args.points) * len(tools)
    try:
        for point in args.points:
            for tool in tools:
                n = len(results) + 1
                print(
                    f"[{n}/{total}] {point} streams, {tool}, {args.duration} …",
                    file=sys.stderr,
                    flush=True,
                )
                results.append(run_point(args, point, tool, workdir, pin))
    except KeyboardInterrupt:
        print("fidelity: interrupted; stopping child processes", file=sys.stderr)
        return 130
    finally:
        _stop_all()
        if args.keep:
            print(f"fidelity: logs and reports kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report(results, args, time.perf_counter() - started))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
