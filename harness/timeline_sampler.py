"""The greenlet that samples a run's statistics into its timeline (harness.report.timeline).

On Locust's `test_start` (the master, or the single local process; workers do not sample:
the master samples the merged statistics) a greenlet snapshots `llm_run(environment).stats`
every `interval_for(run_time)` seconds into a `Timeline`, until `test_stop`. `timeline_for()`
is what finishing the run (harness.finish) reads: the timeline with a last point for what
finished since the last sample.

Locust glue: importing this module registers its listeners on Locust's global `test_start`
and `test_stop`; harness.report.timeline holds the pure part.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Any

import gevent
import locust
from locust.runners import MasterRunner, WorkerRunner

from harness.report.timeline import Timeline, interval_for
from harness.run import llm_run

if TYPE_CHECKING:
    from locust.env import Environment


class TimelineSampler:
    """Samples `llm_run(environment).stats` every interval into a `Timeline`."""

    def __init__(self, environment: Environment, interval_s: float) -> None:
        self.environment = environment
        self.timeline = Timeline(interval_s)
        self.t0 = time.perf_counter()
        self.t_stop: float | None = None
        self.greenlet: gevent.Greenlet | None = None

    def sample(self, t: float | None = None) -> None:
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


_samplers: weakref.WeakKeyDictionary[Any, TimelineSampler] = weakref.WeakKeyDictionary()


def _on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master samples the merged statistics
    previous = _samplers.get(environment)
    if previous is not None:
        previous.stop()
    options = environment.parsed_options
    run_time = getattr(options, "run_time", None) if options is not None else None
    master = isinstance(environment.runner, MasterRunner)
    sampler = TimelineSampler(environment, interval_for(run_time, master=master))
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
