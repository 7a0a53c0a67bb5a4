"""The state of one Locust run as the harness sees it: `llm_run(environment)`.

`LLMRun` holds what every sink reads: the `llm_request` event hook (also set as
`environment.events.llm_request`), the run's `RunStats` (high-resolution, mergeable), its
start and stop, the most users, the load generator's event-loop lag and the server path.
In distributed mode workers ship deltas of the statistics and loop lag, and their server
path, in Locust's own worker reports, and the master merges them: the master's statistics,
the summary and every exporter read one merged truth.

`llm_run()` attaches the run's own listeners (test start and stop, spawning, worker reports,
reset stats) on first use. Sinks depend on the run, never the reverse: finishing a run
(harness.finish), the timeline sampler (harness.timeline_sampler), the exporters and the web
UI tab all read it. `verdict_for(environment)` is what the run decided about its exit code
while it ran (harness.exit_code.RunVerdict).

Locust glue: imports locust and gevent.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import gevent
import locust
from locust.env import Environment
from locust.event import EventHook
from locust.runners import MasterRunner, WorkerRunner

from harness import __version__
from harness.exit_code import RunVerdict
from harness.load.accounting import ArrivalTally
from harness.load.paired import PairBook
from harness.load.plan import LoadPlan
from harness.load.summary import load_block, stage_blocks
from harness.report.path import clean_path_headers, merge_server_path
from harness.report.summary import RunInfo, build_summary
from harness.server.view import ServerView, with_client
from harness.stats import SATURATION_LAG_P99_S, LatencyHistogram, RunStats
from harness.workload.calibration import Calibration
from harness.workload.tally import WorkloadStats

#: key of our statistics in Locust's worker -> master reports
REPORT_KEY = "locust_llm"
LAG_REPORT_KEY = "locust_llm_loop_lag"
HEADERS_REPORT_KEY = "locust_llm_server_headers"
SERVER_PATH_REPORT_KEY = "locust_llm_server_path"
READ_CLOCK_REPORT_KEY = "locust_llm_read_clock"
STAGES_REPORT_KEY = "locust_llm_stages"
WARMUP_REPORT_KEY = "locust_llm_warmup"
PAIRS_REPORT_KEY = "locust_llm_pairs"
WORKLOAD_REPORT_KEY = "locust_llm_workload"
CALIBRATION_REPORT_KEY = "locust_llm_calibration"
#: the load generator's event loop is probed this often (catalogue MEAS-04)
LAG_PROBE_INTERVAL_S = 0.1


@dataclass(eq=False)
class LLMRun:
    """Per-environment state of the harness: the event hook, statistics and run metadata."""

    environment: Environment
    stats: RunStats = field(default_factory=RunStats)
    llm_request: EventHook = field(default_factory=EventHook)
    started_at: datetime | None = None
    t_start: float | None = None
    t_stop: float | None = None
    host: str = ""
    max_users: int = 0
    #: requests sent and not yet finished by this process's users
    in_flight: int = 0
    #: Server / Via / X-Accel-Buffering of the first response that had any (summary v1's
    #: `run.server_headers`; `server_path` is the per-mode view)
    server_headers: dict[str, str] | None = None
    #: per mode, the path headers of its most recent response that had any
    #: (harness.report.path); merged from workers on the master
    server_path: dict[str, dict[str, str]] = field(default_factory=dict)
    #: whether `server_path` changed since the last report to the master
    _server_path_changed: bool = False
    #: how reads were timed: `kernel` arrival stamps or `recv` return (harness.arrival)
    read_clock: str | None = None
    #: event-loop lag of the load generator (merged from workers in distributed mode)
    loop_lag: LatencyHistogram = field(default_factory=LatencyHistogram)
    _lag_delta: LatencyHistogram = field(default_factory=LatencyHistogram)
    _probe: gevent.Greenlet | None = None
    #: the load plan of an open-loop or staged run (harness.load), None for plain users
    plan: LoadPlan | None = None
    #: perf_counter time of the plan's 0 on this process
    epoch: float | None = None
    #: what happened to each due request (open loop), merged from workers on the master
    arrivals: ArrivalTally = field(default_factory=ArrivalTally)
    #: per stage of a staged plan: the figures of the requests that belong to it
    stage_stats: list[RunStats] = field(default_factory=list)
    #: requests of the warm-up: sent, not counted in the figures
    warmup_requests: int = 0
    _warmup_delta: int = 0
    #: how open-loop arrivals were paced (`timerfd` or `sleep`), and over how many processes
    pacer: str = ""
    workers: int = 1
    #: a sweep's points (`--llm-sweep`, e.g. ``rates:1,2,4``); "" when the run is no sweep
    sweep: str = ""
    #: the sweep points stopped early past saturation (index: the due requests waiting then)
    stopped_early: dict[int, int] = field(default_factory=dict)
    #: `mix: paired`: the pairs' halves, matched here (a worker ships them to the master)
    pairs: PairBook = field(default_factory=PairBook)
    #: when this process stopped pacing (Locust's `test_stopping`): the plan's time ends
    t_pace_end: float | None = None
    #: the workload's figures: requested vs served lengths, per turn, per prefix use
    workload_stats: WorkloadStats = field(default_factory=WorkloadStats)
    #: how lengths were calibrated against the server (harness.calibrate), if they were
    calibration: Calibration | None = None
    #: one line saying what the users send (the scenario's workload), "" for prompts
    workload_description: str = ""
    #: the endpoints compared side by side, in the scenario's order: each one's `host`
    #: (credentials removed), `protocol` and, for a gateway, `via`; empty for one target
    targets: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the server's own metrics, by target name ("" for a run with one target), while and
    #: after they are scraped (harness.server_watch)
    server_views: dict[str, ServerView] = field(default_factory=dict)

    def begin_plan(self, plan: LoadPlan) -> None:
        """A test with a load plan starts (its figures are kept per stage)."""
        self.plan = plan
        self.epoch = None
        self.arrivals = ArrivalTally()
        self.stage_stats = [RunStats() for _ in plan.stages] if plan.is_staged else []
        self.warmup_requests = self._warmup_delta = 0
        self.t_pace_end = None
        self.stopped_early = {}
        self.pairs = PairBook(match_here=not isinstance(self.environment.runner, WorkerRunner))

    def extend_plan(self, plan: LoadPlan) -> None:
        """The running plan grew (a sweep's next points) or was cut: keep a figure set per
        stage."""
        self.plan = plan
        while len(self.stage_stats) < len(plan.stages):
            self.stage_stats.append(RunStats())

    def placement(self, record: Any) -> tuple[int | None, bool]:
        """Where a finished request belongs in the load plan: (the index of its stage when
        the plan has stages, else None; whether it was due during a warm-up, so not
        counted). By its due time (`t_sched`), else its `t0`; (None, False) without a plan.
        The figures (`observe`) and the records file (harness.exporters.request_records)
        both place a request by this."""
        plan, epoch = self.plan, self.epoch
        if plan is None or epoch is None:
            return None, False
        t = record.t_sched if record.t_sched is not None else record.t0
        offset = t - epoch
        stage = plan.stage_at(offset) if self.stage_stats else None
        return stage, plan.in_warmup(offset)

    def observe(self, record: Any) -> None:
        """Count one finished request in the run's figures: not if it belongs to a warm-up,
        and also in its stage's figures when the plan has stages."""
        stage, warmup = self.placement(record)
        if warmup:
            self.warmup_requests += 1
            self._warmup_delta += 1
            return
        if stage is not None:
            self.stage_stats[stage].observe(record)
        self.workload_stats.observe(record)
        if record.pair is not None:
            self.pairs.add(
                record.pair, str(record.mode), record.first_visible_s if record.timed else None
            )
        self.stats.observe(record)

    @property
    def client_saturated(self) -> bool:
        """Whether the load generator was too busy to timestamp faithfully."""
        p99 = self.loop_lag.percentile(99)
        return p99 is not None and p99 > SATURATION_LAG_P99_S

    def observe_lag(self, lag_s: float) -> None:
        self.loop_lag.record(lag_s)
        self._lag_delta.record(lag_s)

    def take_lag_delta(self) -> dict[str, Any]:
        delta, self._lag_delta = self._lag_delta, LatencyHistogram()
        return delta.to_wire()

    def observe_path(self, mode: str, headers: dict[str, str]) -> None:
        """Note the path headers of one of `mode`'s responses."""
        if merge_server_path(self.server_path, mode, headers):
            self._server_path_changed = True
        if self.server_headers is None:
            first = clean_path_headers(headers)
            keys: tuple[str, ...] = ("server", "via", "x-accel-buffering")
            v1 = {k: first[k] for k in keys if k in first}
            if v1:
                self.server_headers = v1

    def stop(self) -> None:
        """The test stopped (Locust's `test_stop`, or the run is finishing): note when, once,
        and stop probing the loop lag."""
        if self.t_start is not None and self.t_stop is None:
            self.t_stop = time.perf_counter()
        if self._probe is not None:
            self._probe.kill(block=False)
            self._probe = None

    def duration_s(self) -> float:
        """Seconds from test start to stop (or to now while running)."""
        if self.t_start is None:
            return 0.0
        end = self.t_stop if self.t_stop is not None else time.perf_counter()
        return max(end - self.t_start, 0.0)

    def summary(self) -> dict[str, Any]:
        """The `summary.json` document for the run so far."""
        run = RunInfo(
            started_at=(self.started_at or datetime.now(UTC)).isoformat(timespec="seconds"),
            duration_s=round(self.duration_s(), 3),
            host=self.host,
            users=self.max_users,
            locust_version=locust.__version__,
            harness_version=__version__,
            client_saturated=self.client_saturated,
        )
        duration = self.measured_window_s() if self.plan is not None else self.duration_s()
        first = next(iter(self.targets), None)
        # with targets, `modes` keeps the first target's figures (a reader of one target's)
        summary = build_summary(self.stats.summary(duration, target=first), run=run)
        if self.targets:
            summary["targets"] = self.targets_block(duration)
        for mode, block in self.workload_stats.summary(target=first).items():
            if mode in summary["modes"]:
                summary["modes"][mode]["workload"] = block
        for name, entry in summary.get("targets", {}).items():
            for mode, block in self.workload_stats.summary(target=name).items():
                if mode in entry["modes"]:
                    entry["modes"][mode]["workload"] = block
        notes = self.workload_stats.warnings()
        if notes:
            summary["run"]["workload_warnings"] = notes
        if self.calibration is not None:
            summary["run"]["calibration"] = self.calibration.to_dict()
        if self.workload_description:
            summary["run"]["workload"] = self.workload_description
        lag = self.loop_lag.summary()
        if lag is not None:
            summary["run"]["loop_lag_s"] = lag
        if self.server_headers:
            summary["run"]["server_headers"] = dict(self.server_headers)
        if self.server_path:
            summary["run"]["server_path"] = {m: dict(h) for m, h in self.server_path.items()}
        if self.read_clock is not None:
            summary["run"]["read_clock"] = self.read_clock
        plan = self.plan
        if plan is not None:
            summary["run"]["load"] = load_block(
                plan,
                self.arrivals,
                self.stats,
                elapsed_s=self.elapsed_s() or 0.0,
                warmup_requests=self.warmup_requests,
                pacer=self.pacer,
                workers=self.workers,
                client_saturated=self.client_saturated,
                copies=max(len(self.targets), 1),
            )
            if self.sweep:
                summary["run"]["load"]["sweep"] = self.sweep
            paired = self.pairs.summary()
            if paired is not None:
                summary["paired"] = paired
            if self.stage_stats:
                summary["stages"] = stage_blocks(
                    plan, self.stage_stats, self.elapsed_s(), self.arrivals
                )
                for index, waiting in self.stopped_early.items():
                    if index < len(summary["stages"]):
                        summary["stages"][index]["stopped_early"] = {"waiting": waiting}
        if self.server_views:
            self.add_server_blocks(summary)
        return summary

    def add_server_blocks(self, summary: dict[str, Any]) -> None:
        """summary.json's ``server`` blocks (DESIGN §12): the one target's at the top; with
        targets, each one's under ``targets.NAME.server`` and the first target's at the top
        (as `modes`). A server is compared with the requests it served: its target's own,
        and those of the gateways in front of it (`via`)."""
        lag = (summary["run"].get("load") or {}).get("schedule_lag_s")
        targets = summary.get("targets") or {}
        if not targets:
            view = self.server_views.get("")
            if view is not None:
                summary["server"] = with_client(view.block(), summary["modes"], schedule_lag_s=lag)
            return
        for name, view in self.server_views.items():
            entry = targets.get(name)
            if entry is None:
                continue
            counted = [
                mode
                for other, info in targets.items()
                if other == name or info.get("via") == name
                for mode in info["modes"].values()
            ]
            entry["server"] = with_client(
                view.block(), entry["modes"], counted=counted, schedule_lag_s=lag
            )
        first = next(iter(targets))
        if "server" in targets[first]:
            summary["server"] = targets[first]["server"]

    def targets_block(self, duration_s: float) -> dict[str, Any]:
        """summary.json's ``targets``: per target, its host, protocol, `via`, the models
        that answered and its `modes` (the same figures as `modes`, of its requests only)."""
        block: dict[str, Any] = {}
        groups = list(self.stats.groups())
        for name, info in self.targets.items():
            entry: dict[str, Any] = dict(info)
            entry["models"] = sorted({g.model for g in groups if g.target == name and g.model})
            entry["modes"] = self.stats.summary(duration_s, target=name)
            block[name] = entry
        return block

    def elapsed_s(self) -> float | None:
        """Seconds since the plan's epoch, to the stop (or now)."""
        if self.epoch is None:
            return None
        end = self.t_pace_end or self.t_stop or time.perf_counter()
        return max(end - self.epoch, 0.0)

    def measured_window_s(self) -> float:
        """Seconds the plan measured: from its epoch to the stop or its end, less warm-ups."""
        plan, elapsed = self.plan, self.elapsed_s()
        if plan is None or elapsed is None:
            return self.duration_s()
        if plan.duration_s is not None:
            elapsed = min(elapsed, plan.duration_s)
        return max(elapsed - plan.warmup_time_within(elapsed), 0.0)


_runs: weakref.WeakKeyDictionary[Environment, LLMRun] = weakref.WeakKeyDictionary()


def llm_run(environment: Environment) -> LLMRun:
    """The harness state of `environment`, attaching the listeners on first use."""
    run = _runs.get(environment)
    if run is None:
        run = _runs[environment] = LLMRun(environment)
        environment.events.llm_request = run.llm_request  # type: ignore[attr-defined]
        _attach_listeners(run)
    return run


_verdicts: weakref.WeakKeyDictionary[Environment, RunVerdict] = weakref.WeakKeyDictionary()


def verdict_for(environment: Environment) -> RunVerdict:
    """The run's verdict state (created on first use)."""
    verdict = _verdicts.get(environment)
    if verdict is None:
        verdict = _verdicts[environment] = RunVerdict()
    return verdict


def _attach_listeners(run: LLMRun) -> None:
    events = run.environment.events

    def on_test_start(environment: Environment, **_: Any) -> None:
        if run.t_start is None or run.t_stop is not None:
            run.stats = RunStats()
            run.started_at = datetime.now(UTC)
            run.t_start = time.perf_counter()
            run.t_stop = None
            run.max_users = 0
            run.loop_lag = LatencyHistogram()
            run.server_headers = None
            run.server_path = {}
            run._server_path_changed = False
            run.plan = None
            run.epoch = None
            run.arrivals = ArrivalTally()
            run.stage_stats = []
            run.warmup_requests = run._warmup_delta = 0
            run.sweep = ""
            run.workload_stats = WorkloadStats()
            run.calibration = None
        if not isinstance(environment.runner, MasterRunner) and run._probe is None:
            run._probe = gevent.spawn(_probe_loop_lag, run)
        host = environment.host or ""
        if host:
            from harness.target import Target

            try:
                run.host = Target.parse(host).display
            except Exception:  # noqa: BLE001 - a bad host is reported by the users
                run.host = ""

    def on_spawning_complete(user_count: int, **_: Any) -> None:
        run.max_users = max(run.max_users, user_count)

    def on_test_stop(**_: Any) -> None:
        run.stop()

    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = run.stats.take_delta()
        data[LAG_REPORT_KEY] = run.take_lag_delta()
        if run.server_headers is not None:
            data[HEADERS_REPORT_KEY] = run.server_headers
        if run._server_path_changed:  # only changes: the master keeps the latest one
            data[SERVER_PATH_REPORT_KEY] = {m: dict(h) for m, h in run.server_path.items()}
            run._server_path_changed = False
        if run.read_clock is not None:
            data[READ_CLOCK_REPORT_KEY] = run.read_clock
        if run.stage_stats:
            data[STAGES_REPORT_KEY] = [stats.take_delta() for stats in run.stage_stats]
        if run._warmup_delta:
            data[WARMUP_REPORT_KEY], run._warmup_delta = run._warmup_delta, 0
        halves = run.pairs.take_halves()
        if halves:
            data[PAIRS_REPORT_KEY] = halves
        data[WORKLOAD_REPORT_KEY] = run.workload_stats.take_delta()
        if run.calibration is not None:
            data[CALIBRATION_REPORT_KEY] = run.calibration.to_dict()

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        delta = data.get(REPORT_KEY)
        if delta:
            run.stats.merge_wire(delta)
        lag = data.get(LAG_REPORT_KEY)
        if lag:
            run.loop_lag.merge(LatencyHistogram.from_wire(lag))
        headers = data.get(HEADERS_REPORT_KEY)
        if isinstance(headers, dict) and headers and run.server_headers is None:
            run.server_headers = clean_path_headers(headers)
        paths = data.get(SERVER_PATH_REPORT_KEY)
        if isinstance(paths, dict):
            for mode, path in paths.items():
                merge_server_path(run.server_path, str(mode), path)
        read_clock = data.get(READ_CLOCK_REPORT_KEY)
        if isinstance(read_clock, str) and run.read_clock is None:
            run.read_clock = read_clock
        stages = data.get(STAGES_REPORT_KEY)
        if isinstance(stages, list) and run.plan is not None:
            while len(run.stage_stats) < len(stages):  # a worker heard of a new point first
                run.stage_stats.append(RunStats())
            for stats, delta in zip(run.stage_stats, stages, strict=False):
                stats.merge_wire(delta)
        warmup = data.get(WARMUP_REPORT_KEY)
        if isinstance(warmup, int):
            run.warmup_requests += warmup
        halves = data.get(PAIRS_REPORT_KEY)
        if isinstance(halves, list):
            run.pairs.merge_halves(halves)
        workload = data.get(WORKLOAD_REPORT_KEY)
        if isinstance(workload, dict):
            run.workload_stats.merge_wire(workload)
        calibration = data.get(CALIBRATION_REPORT_KEY)
        if isinstance(calibration, dict) and run.calibration is None:
            run.calibration = Calibration.from_dict(calibration)

    def on_reset_stats(**_: Any) -> None:
        # Locust's "Reset stats" button: our figures restart with Locust's own
        run.stats.reset()
        run.workload_stats.reset()
        run.loop_lag = LatencyHistogram()
        if run.t_stop is None and run.t_start is not None:
            run.t_start = time.perf_counter()
            run.started_at = datetime.now(UTC)

    events.reset_stats.add_listener(on_reset_stats)
    events.test_start.add_listener(on_test_start)
    events.spawning_complete.add_listener(on_spawning_complete)
    events.test_stop.add_listener(on_test_stop)
    events.report_to_master.add_listener(on_report_to_master)
    events.worker_report.add_listener(on_worker_report)


def _probe_loop_lag(run: LLMRun) -> None:
    """Sleep a fixed interval and record how late the loop woke us."""
    interval = LAG_PROBE_INTERVAL_S
    while True:
        t = time.perf_counter()
        gevent.sleep(interval)
        run.observe_lag(max(time.perf_counter() - t - interval, 0.0))
