"""The end of a run: complete the summary, judge it by the SLOs, write every report.

`finish_run(environment, run)` is what the quitting listener (harness.events) calls on the
master or the single local process. It completes the summary document with what the reports
need beyond the totals (harness.report.enrich: quantiles for the CDF plots, the timeline,
models, endpoint, cost, SLO verdicts), writes summary.json, summary.md, report.html and
junit.xml into `--llm-out`, and returns the process exit code (DESIGN.md §4) when a
scenario judges the run, when the run sent nothing (2 or 3: `RunVerdict` says why) or when
`--llm-abort-after` stopped it (1); else None (Locust's own: 1 on any failure, else 0).

This module is Locust glue: importing it registers the timeline sampler on Locust's
`test_start`/`test_stop` (harness.report.timeline holds the pure part).
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
import locust
from locust.runners import MasterRunner, WorkerRunner

from harness.report.enrich import complete_summary
from harness.report.summary import write_all_reports
from harness.report.timeline import Timeline, interval_for
from harness.slo import EXIT_CONFIG, EXIT_INTERNAL, EXIT_SLO_MISSED, exit_code, verdict_line

if TYPE_CHECKING:
    from locust.env import Environment

    from harness.events import LLMRun

logger = logging.getLogger("locust_llm")
#: exit code of a run that failed (every request for `--llm-abort-after`)
EXIT_FAILED = EXIT_SLO_MISSED


def finish_run(environment: Environment, run: LLMRun) -> int | None:
    """Complete, judge and write the run's reports; the exit code when a scenario judges it.

    Never raises: a failure here is the harness's own (exit code 3), logged once.
    """
    try:
        from harness.options import config_for

        config = config_for(environment)
        summary = complete_summary(
            run.summary(), stats=run.stats, config=config, timeline=timeline_for(environment)
        )
        judged = config.scenario is not None
        code = exit_code(summary["slos"], summary) if judged else None
        early = early_exit_code(environment, summary)
        if early is not None:  # nothing sent, or --llm-abort-after: precedence 3 > 2 > 1
            code = early if code is None else max(code, early)
        out_dir = getattr(environment.parsed_options, "llm_out", "") or ""
        if out_dir:
            paths = write_all_reports(summary, Path(out_dir))
            logger.info("locust-llm: wrote %s", ", ".join(str(p) for p in paths))
        if judged:
            logger.info("%s", verdict_line(summary["slos"], summary))
        return code
    except Exception:  # the harness failed: exit code 3, with one traceback
        logger.exception("locust-llm: could not finish the run's reports")
        return EXIT_INTERNAL


# ------------------------------------------------------------------ what the run decided


@dataclass(slots=True)
class RunVerdict:
    """What a run decided about its exit code while it ran (docs/design.md, exit codes).

    `nothing_sent`: one line saying why no request could be sent (every user failed to
    start, preflight refused the target), with its code (2 configuration, 3 the harness).
    `aborted`: the line `--llm-abort-after` printed when it stopped the run (exit code 1).
    `told`: the line has been printed, so it is printed once.
    """

    nothing_sent: str | None = None
    nothing_sent_code: int = EXIT_CONFIG
    aborted: str | None = None
    told: bool = False


_verdicts: weakref.WeakKeyDictionary[Any, RunVerdict] = weakref.WeakKeyDictionary()


def verdict_for(environment: Environment) -> RunVerdict:
    """The run's verdict state (created on first use)."""
    verdict = _verdicts.get(environment)
    if verdict is None:
        verdict = _verdicts[environment] = RunVerdict()
    return verdict


def early_exit_code(environment: Environment, summary: dict[str, Any]) -> int | None:
    """2 or 3 when the run sent no request, 1 when `--llm-abort-after` stopped it, else None.

    A run that sent nothing never exits 0: its reason (or "no request was sent") is printed
    once, as one line.
    """
    verdict = verdict_for(environment)
    sent = sum(int(m.get("requests", 0) or 0) for m in (summary.get("modes") or {}).values())
    if sent == 0:
        line = verdict.nothing_sent or (
            "no request was sent: no user started, or the run ended before the first request"
        )
        code = verdict.nothing_sent_code if verdict.nothing_sent else EXIT_INTERNAL
        if not verdict.told:
            verdict.told = True
            logger.error("locust-llm: error: %s", line)
        return code
    if verdict.aborted is not None:
        return EXIT_FAILED
    return None


# ------------------------------------------------------------------ the timeline sampler


class _Sampler:
    """Samples `llm_run(environment).stats` every interval into a `Timeline`."""

    def __init__(self, environment: Environment, interval_s: float) -> None:
        self.environment = environment
        self.timeline = Timeline(interval_s)
        self.t0 = time.perf_counter()
        self.t_stop: float | None = None
        self.greenlet: gevent.Greenlet | None = None

    def sample(self, t: float | None = None) -> None:
        from harness.events import llm_run

        runner = self.environment.runner
        users = int(getattr(runner, "user_count", 0) or 0)
        wire = llm_run(self.environment).stats.to_wire()
        self.timeline.sample((t or time.perf_counter()) - self.t0, users, wire)

    def loop(self) -> None:
        interval = self.timeline.interval_s
        next_at = self.t0 + interval
        while True:
            gevent.sleep(max(next_at - time.perf_counter(), 0.0))
            self.sample(next_at)
            next_at += interval

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None
        if self.t_stop is None:
            self.t_stop = time.perf_counter()


_samplers: weakref.WeakKeyDictionary[Any, _Sampler] = weakref.WeakKeyDictionary()


def _on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master samples the merged statistics
    previous = _samplers.get(environment)
    if previous is not None:
        previous.stop()
    options = environment.parsed_options
    run_time = getattr(options, "run_time", None) if options is not None else None
    master = isinstance(environment.runner, MasterRunner)
    sampler = _Sampler(environment, interval_for(run_time, master=master))
    sampler.greenlet = gevent.spawn(sampler.loop)
    _samplers[environment] = sampler


def _on_test_stop(environment: Environment, **_: Any) -> None:
    sampler = _samplers.get(environment)
    if sampler is not None:
        sampler.stop()


def timeline_for(environment: Environment) -> dict[str, Any] | None:
    """The run's timeline, with a last point for what finished since the last sample.

    The last point ends when the test stopped; it also holds the requests that finished
    during the stop timeout (statistics from workers arrive until the quitting event).
    """
    sampler = _samplers.get(environment)
    if sampler is None:
        return None
    sampler.stop()
    assert sampler.t_stop is not None
    last = sampler.timeline.points[-1]["t_s"] if sampler.timeline.points else 0.0
    t_end = max(sampler.t_stop, sampler.t0 + last + 0.001)
    sampler.sample(t_end)
    return sampler.timeline.to_dict()


locust.events.test_start.add_listener(_on_test_start)  # type: ignore[no-untyped-call]
locust.events.test_stop.add_listener(_on_test_stop)  # type: ignore[no-untyped-call]
