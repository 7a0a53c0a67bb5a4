"""Open loop inside Locust: one global arrival schedule, paced into the users of every process.

Locust's `constant_throughput` and `constant_pacing` wait times are per user and closed loop:
a slow answer delays the user's next request, so the offered load bends to the server. Here the
schedule decides when each request is due (harness.load.schedule), and Locust's users are the
in-flight pool: each user takes the next due request of its mode (`take`), sends it, and comes
back for another. When every user is busy, a due request waits for the first free one; the wait
is its schedule lag, and every figure is also reported from the schedule (`from_schedule`), so
client-side queueing is shown, never hidden.

How a run goes:

- On the master (or the single local process), at `test_start`, the plan is built from the
  options as they are now (harness.options.LoadSettings: the web UI's start dialog may have
  changed the rate) and the user classes' weights by mode.
- When the users are ready (the first `spawning_complete`), the master picks an epoch a
  moment ahead on the wall clock and sends each worker the plan, its shard (index, count) and
  the epoch; each process maps the epoch to its own `perf_counter` and starts its dispatcher.
  A local run starts at once.
- Each dispatcher walks the global schedule, keeps its shard (every count-th arrival of each
  mode), waits for each due time on a `Pacer` (timerfd, sub-millisecond) and queues it for
  its mode's users.
- A staged plan is driven by the master: at each stage it sets Locust's user count (the pool
  of an open stage, the users of a closed one) and it ends the run after the last stage.
- Counts of what happened to each arrival (harness.load.accounting) travel to the master in
  Locust's worker reports, as the statistics do.

Locust glue: imports locust and gevent.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.errors import ConfigError
from harness.load.accounting import ArrivalTally
from harness.load.pacer import Pacer
from harness.load.plan import LoadPlan
from harness.load.schedule import (
    Arrival,
    RateSegment,
    Shard,
    arrival_times,
    arrivals,
    fan_out,
    interleave,
    shard_arrivals,
)
from harness.load.summary import stage_blocks
from harness.load.sweep import SweepSpec, next_stages
from harness.options import LoadSettings, config_for
from harness.run import llm_run, verdict_for

logger = logging.getLogger("locust_llm")

#: the master's message to each worker: the plan, its shard and the epoch
SCHEDULE_MESSAGE = "locust_llm_schedule"
#: the master's message to every worker when a running plan grows (a sweep's next points)
PLAN_MESSAGE = "locust_llm_plan"
ARRIVALS_REPORT_KEY = "locust_llm_arrivals"
BACKLOG_REPORT_KEY = "locust_llm_backlog"
#: how far ahead of now the master puts a distributed run's epoch (the message's trip)
EPOCH_LEAD_S = 0.25
#: a local run's schedule starts once every user waits for it, or this long after spawning
READY_WAIT_S = 1.0
#: spawn rate that starts a stage's users "at once"
AT_ONCE = 10_000.0


#: the schedule is walked in pieces this long (seconds of plan time, at whole multiples), so a
#: plan may be cut or extended while it runs without changing what was already due
CHUNK_S = 1.0


class SegmentFeed:
    """The offered rate of a plan that may change while it runs, in pieces of `CHUNK_S`.

    Iterating it yields `RateSegment`s in order; past the end of a plan that is not final it
    waits until `update()` gives a longer one (or a final one), so the arrival schedule
    (harness.load.schedule) walks a sweep's stages as the sweep decides them.
    """

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self._changed = Event()

    def update(self, plan: LoadPlan) -> None:
        self.plan = plan
        self._changed.set()

    def __iter__(self) -> Iterator[RateSegment]:
        t = 0.0
        while True:
            piece = self._piece_at(t)
            if piece is None:
                if not self.plan.dynamic:
                    return
                self._changed.clear()
                self._changed.wait()
                continue
            yield piece
            t = piece.end_s

    def _piece_at(self, t: float) -> RateSegment | None:
        return self.plan.piece_at(t, CHUNK_S)


class OpenLoop:
    """This process's share of an open-loop schedule: paced into per-mode queues of due times
    that the users `take`."""

    def __init__(
        self,
        plan: LoadPlan,
        shard: Shard,
        epoch: float,
        tally: ArrivalTally,
        lanes: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.plan = plan
        #: per mode, the queues its arrivals are copied to (one per target; harness.load.
        #: schedule.fan_out): the mode itself for a run with one target
        self.lanes = {m: (lanes or {}).get(m) or (m,) for m, _ in plan.mode_weights}
        every_lane = [lane for names in self.lanes.values() for lane in names]
        self.shard = shard
        #: perf_counter time of the schedule's 0
        self.epoch = epoch
        self.tally = tally
        #: due times not yet taken, whether each is a warm-up arrival, its stage, its pair,
        #: its ordinal in the whole schedule (a trace's entry)
        self._due: dict[str, deque[tuple[float, bool, int, int | None, int]]] = {
            lane: deque() for lane in every_lane
        }
        self._waiting: dict[str, deque[Event]] = {lane: deque() for lane in every_lane}
        self._pacer = Pacer()
        self._feed = SegmentFeed(plan)
        self._stopped = False
        self._dispatcher: gevent.Greenlet | None = None
        #: whether the stage now is open (a users stage: the users run closed loop)
        self.open_now = plan.stages[0].is_open
        self._max_lag = plan.max_schedule_lag_s

    @property
    def backlog(self) -> int:
        """Due requests (not of a warm-up) waiting for a free user now."""
        return sum(1 for due in self._due.values() for item in due if not item[1])

    @property
    def pacer_kind(self) -> str:
        return self._pacer.kind

    def start(self) -> None:
        self._dispatcher = gevent.spawn(self._dispatch)

    def update(self, plan: LoadPlan) -> None:
        """The plan was extended or cut (a sweep deciding its next point)."""
        self.plan = plan
        self._feed.update(plan)

    def _schedule(self) -> Iterator[Arrival]:
        plan = self.plan
        times: Iterator[float]
        if plan.times is not None:  # a trace: its own due times
            times = iter(plan.times)
        else:
            times = arrival_times(
                self._feed, plan.arrival, burstiness=plan.burstiness, seed=plan.seed
            )
        every = arrivals(times, plan.mode_weights, seed=plan.seed, paired=plan.paired)
        return shard_arrivals(fan_out(every, self.lanes), self.shard)

    def _dispatch(self) -> None:
        epoch, pacer, tally = self.epoch, self._pacer, self.tally
        stage = 0
        for arrival in self._schedule():
            plan = self.plan
            # stages that begin before this arrival (a users stage has none) begin on time
            while stage + 1 < len(plan.stages) and arrival.t_s >= plan.stage_start_s(stage + 1):
                stage += 1
                self._enter_stage(stage, epoch + plan.stage_start_s(stage))
            t_due = epoch + arrival.t_s
            if t_due > time.perf_counter():
                pacer.wait_until(t_due)
            if self._stopped:
                return
            warmup = plan.in_warmup(arrival.t_s)
            if warmup:
                tally.warmup(arrival.mode, stage)
            else:
                tally.scheduled(arrival.mode, stage)
            pair = arrival.index if plan.paired else None
            self._due[arrival.mode].append((t_due, warmup, stage, pair, arrival.index))
            waiting = self._waiting[arrival.mode]
            if waiting:
                # the user that came back last: its connection is the one most surely kept
                # alive, and a low rate then needs a connection or two, not one per user
                waiting.pop().set()
        # the schedule ended: the stages left (users stages) still begin on time
        plan = self.plan
        while stage + 1 < len(plan.stages):
            stage += 1
            self._enter_stage(stage, epoch + plan.stage_start_s(stage))

    def _enter_stage(self, index: int, t_start: float) -> None:
        self._pacer.wait_until(t_start)
        if self._stopped:
            raise gevent.GreenletExit
        self.open_now = self.plan.stages[index].is_open
        if not self.open_now:
            self._wake_all()

    def _wake_all(self) -> None:
        for waiting in self._waiting.values():
            while waiting:
                waiting.popleft().set()

    def take(self, mode: str) -> Due | None:
        """Wait for the next due request of `mode` (its lane with several targets:
        ``stream@fast``); its due time (perf_counter) and pair, or None when the stage now
        is a users stage (send at once, closed loop)."""
        due = self._due.get(mode)
        if due is None:
            return None
        while True:
            while due:
                t_due, warmup, stage, pair, index = due.popleft()
                if warmup:
                    return Due(t_due, pair, index)  # warms the server; not counted
                if self._max_lag is not None and time.perf_counter() - t_due > self._max_lag:
                    self.tally.dropped(mode, stage)
                    continue
                self.tally.sent(mode, stage)
                return Due(t_due, pair, index)
            if self._stopped:
                raise PacingStopped
            if not self.open_now:
                return None
            event = Event()
            self._waiting[mode].append(event)
            event.wait()

    def stop(self) -> None:
        """Stop pacing; what is still queued was due and never sent (`unsent_at_end`)."""
        if self._stopped:
            return
        self._stopped = True
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)
        for mode, due in self._due.items():
            for _, warmup, stage, _pair, _index in due:
                if not warmup:
                    self.tally.unsent_at_end(mode, 1, stage)
            due.clear()
        self._wake_all()
        self._pacer.close()


@dataclass(eq=False)
class LoadState:
    """A run's open-loop/staged state on one process."""

    plan: LoadPlan
    #: perf_counter time of the plan's 0 on this process (None until the users are ready)
    epoch: float | None = None
    open_loop: OpenLoop | None = None
    workers: int = 1
    controller: gevent.Greenlet | None = None
    pacer: str = ""
    #: set once pacing started: users wait for it before their first request
    ready: Event = field(default_factory=Event)
    stopping: bool = False
    #: a sweep (master or local process): its spec, the bisection points added, the points
    #: stopped early (index: the due requests waiting then)
    sweep: SweepSpec | None = None
    bisected: int = 0
    stopped_early: dict[int, int] = field(default_factory=dict)
    #: on a master: each worker's backlog as of its last report
    worker_backlog: dict[str, int] = field(default_factory=dict)
    #: users waiting for pacing to start, and the greenlet that starts a local run's pacing
    users_waiting: int = 0
    starter: gevent.Greenlet | None = None


_states: weakref.WeakKeyDictionary[Environment, LoadState] = weakref.WeakKeyDictionary()


def load_state(environment: Environment) -> LoadState | None:
    """The load state of the current test, None for a plain closed-loop run."""
    return _states.get(environment)


class Due(NamedTuple):
    """A request's due time (perf_counter), with `mix: paired` its pair, and its ordinal in
    the whole schedule (a trace's entry)."""

    t: float
    pair: int | None = None
    ordinal: int = 0


class PacingStopped(Exception):
    """The run is stopping: no more requests fall due."""


def next_due(state: LoadState, mode: str) -> Due | None:
    """A user's next open-loop due time (perf_counter): waits for pacing to start (the
    users are spawned before the schedule's epoch), then for a due request of `mode`. None:
    send at once (a users stage, or a plan without rate). PacingStopped once stopping."""
    if not state.ready.is_set():
        state.users_waiting += 1
        state.ready.wait()
    open_loop = state.open_loop
    if open_loop is None:
        if state.stopping:
            raise PacingStopped
        return None
    return open_loop.take(mode)


def lanes_by_mode(environment: Environment) -> dict[str, tuple[str, ...]]:
    """Per mode, the lanes its users wait in (``stream@fast``, ``stream@slow`` with several
    targets; the mode alone otherwise), from the user classes' `lane`."""
    lanes: dict[str, set[str]] = {}
    for user_class in environment.user_classes:
        mode = getattr(user_class, "mode", None)
        if mode is None:
            continue
        lane = getattr(user_class, "lane", "") or str(mode)
        lanes.setdefault(str(mode), set()).add(lane)
    return {mode: tuple(sorted(names)) for mode, names in lanes.items()}


def mode_weights(environment: Environment) -> dict[str, int]:
    """The user classes' weights summed by mode: the mix of open-loop arrivals."""
    weights: dict[str, int] = {}
    for user_class in environment.user_classes:
        mode = getattr(user_class, "mode", None)
        if mode is None:
            continue
        weights[str(mode)] = weights.get(str(mode), 0) + int(getattr(user_class, "weight", 1))
    return weights


def plan_for(environment: Environment, user_count: int) -> LoadPlan | None:
    """Build the run's plan now, from the options as they are (web UI included)."""
    options = environment.parsed_options
    config = config_for(environment)
    settings = LoadSettings.from_options(options, config.scenario)
    run_time = getattr(options, "run_time", None) if options is not None else None
    plan = settings.plan(
        users=user_count,
        run_time_s=float(run_time) if run_time else None,
        mix=mode_weights(environment) or None,
        bisect=_has_goodput_limits(config),
    )
    return plan


def _has_goodput_limits(config: Any) -> bool:
    return getattr(config, "goodput", None) is not None


# ------------------------------------------------------------------ starting and stopping


def _on_test_start(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    old = _states.pop(environment, None)
    if old is not None and old.open_loop is not None:
        old.open_loop.stop()
    if environment.parsed_options is None:
        return
    try:
        plan = plan_for(environment, runner.target_user_count if runner else 0)
    except ConfigError as exc:
        # (the web UI: its start dialog gave something that cannot run) nothing is sent
        logger.error("locust-llm: error: %s", exc)
        verdict = verdict_for(environment)
        verdict.nothing_sent, verdict.nothing_sent_code, verdict.told = str(exc), 2, True
        if runner is not None and not isinstance(runner, WorkerRunner):
            gevent.spawn(runner.stop)
        return
    if plan is None:
        return
    if isinstance(runner, WorkerRunner):
        # the master sends the plan, this worker's share and the epoch; until then the
        # users wait (they must not send closed loop meanwhile)
        _states[environment] = LoadState(plan)
        return
    state = _states[environment] = LoadState(plan)
    options = environment.parsed_options
    settings = LoadSettings.from_options(options, config_for(environment).scenario)
    active = sum(1 for _, w in plan.mode_weights if w > 0)
    spec = settings.sweep_spec(users=plan.max_in_flight, modes=active)
    state.sweep = spec
    run = llm_run(environment)
    run.begin_plan(plan)
    run.sweep = spec.to_text() if spec is not None else ""
    logger.info("locust-llm: %s", plan.describe())
    if plan.is_open:
        _warn_small_pool(environment, plan)
    del state


def _warn_small_pool(environment: Environment, plan: LoadPlan) -> None:
    lanes = lanes_by_mode(environment)
    queues = sum(len(lanes.get(m, (m,))) for m, w in plan.mode_weights if w > 0)
    runner = environment.runner
    workers = runner.worker_count if isinstance(runner, MasterRunner) else 1
    if plan.max_in_flight < queues * max(workers, 1):
        logger.warning(
            "locust-llm: %d users for %d mode(s) and target(s) on %d process(es): some process "
            "has no user for one, and its share of those arrivals will not be sent; use at "
            "least %d users (the in-flight pool)",
            plan.max_in_flight,
            queues,
            workers,
            queues * workers,
        )


def _on_spawning_complete(environment: Environment, **_: Any) -> None:
    state = _states.get(environment)
    if state is None or state.epoch is not None or isinstance(environment.runner, WorkerRunner):
        return
    if state.starter is not None:
        return
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        clients = sorted(
            (c for c in runner.clients.all if c.state != "missing"), key=lambda c: c.id
        )
        state.workers = len(clients)
        slots = _slots(environment, [dict(c.user_classes_count) for c in clients])
        epoch_wall = time.time() + EPOCH_LEAD_S
        for index, client in enumerate(clients):
            runner.send_message(
                SCHEDULE_MESSAGE,
                {
                    "plan": state.plan.to_wire(),
                    "index": index,
                    "slots": {mode: list(cycle) for mode, cycle in slots.items()},
                    "workers": len(clients),
                    "epoch_wall": epoch_wall,
                },
                client_id=client.id,
            )
        state.epoch = _perf_of(epoch_wall)
        state.pacer = Pacer.kind_here()
    else:
        state.starter = gevent.spawn(_start_when_users_wait, environment, state)
        return
    _started(environment, state)


def _start_when_users_wait(environment: Environment, state: LoadState) -> None:
    """A local run's pacing starts once every user waits for it (at most READY_WAIT_S):
    the users' `on_start` runs after spawning completes, and a request due meanwhile would
    carry their start-up in its schedule lag (about 40 ms for 512 users)."""
    runner = environment.runner
    wanted = runner.user_count if runner is not None else 0
    t_give_up = time.perf_counter() + READY_WAIT_S
    while state.users_waiting < wanted and time.perf_counter() < t_give_up:
        gevent.sleep(0.001)
    if state.stopping:
        return
    _start_pacing(environment, state, Shard(), time.perf_counter())
    _started(environment, state)


def _started(environment: Environment, state: LoadState) -> None:
    llm_run(environment).epoch = state.epoch
    if state.plan.ends_itself and environment.runner is not None:
        state.controller = gevent.spawn(_drive_stages, environment, state)


def _slots(environment: Environment, counts: list[dict[str, int]]) -> dict[str, tuple[int, ...]]:
    """Per lane (a mode, or a mode and target), the cycle of worker indices its arrivals go
    to: in proportion to the users of that lane each worker runs (Locust may give one worker
    all of a class)."""
    mode_of = {
        c.__name__: str(getattr(c, "lane", "") or getattr(c, "mode", ""))
        for c in environment.user_classes
    }
    modes = sorted({m for m in mode_of.values() if m})
    slots = {}
    for mode in modes:
        weights = [
            sum(n for name, n in worker.items() if mode_of.get(name) == mode) for worker in counts
        ]
        slots[mode] = interleave(weights)
    return slots


def _perf_of(epoch_wall: float) -> float:
    return time.perf_counter() + (epoch_wall - time.time())


def _start_pacing(environment: Environment, state: LoadState, shard: Shard, epoch: float) -> None:
    state.epoch = epoch
    if state.plan.is_open:
        run = llm_run(environment)
        state.open_loop = OpenLoop(
            state.plan, shard, epoch, run.arrivals, lanes=lanes_by_mode(environment)
        )
        state.pacer = state.open_loop.pacer_kind
        state.open_loop.start()
    state.ready.set()


def _on_schedule_message(environment: Environment, msg: Any) -> None:
    """A worker: the master's plan, shard and epoch."""
    data: Mapping[str, Any] = msg.data
    plan = LoadPlan.from_wire(data["plan"])
    state = _states.get(environment)
    if state is None or state.epoch is not None:
        state = _states[environment] = LoadState(plan)
    state.plan = plan
    state.workers = int(data["workers"])
    run = llm_run(environment)
    run.begin_plan(plan)
    slots = {str(m): tuple(int(k) for k in cycle) for m, cycle in data["slots"].items()}
    shard = Shard(int(data["index"]), slots)
    logger.debug("locust-llm: pacing shard %d of %d", shard.index, state.workers)
    _start_pacing(environment, state, shard, _perf_of(float(data["epoch_wall"])))
    run.epoch = state.epoch


def _drive_stages(environment: Environment, state: LoadState) -> None:
    """The master's (or local runner's) stage controller: user counts per stage; a sweep's
    next points decided near the end of its last one; then the end of the run."""
    runner = environment.runner
    assert state.epoch is not None
    assert runner is not None
    users = runner.target_user_count
    index = 0
    while index < len(state.plan.stages):
        plan = state.plan
        stage = plan.stages[index]
        _sleep_until(state.epoch + plan.stage_start_s(index))
        wanted = plan.max_in_flight if stage.is_open else (stage.users or 1)
        logger.info("locust-llm: stage %d: %s", index + 1, stage.label)
        if wanted != users:
            spawn_rate = AT_ONCE
            if not stage.is_open and stage.ramp_s > 0:
                spawn_rate = max(abs(wanted - users) / stage.ramp_s, 0.1)
            runner.start(wanted, spawn_rate)
            users = wanted
        if state.sweep is not None and stage.is_open and stage.duration_s is not None:
            _watch_saturation(environment, state, index)
        plan = state.plan
        stage = plan.stages[index]
        if plan.dynamic and index == len(plan.stages) - 1 and stage.duration_s is not None:
            end = state.epoch + plan.stage_start_s(index) + stage.duration_s
            _sleep_until(end - _decide_lead_s(runner))
            _decide(environment, state)
        index += 1
    total = state.plan.duration_s
    if total is None:
        return
    _sleep_until(state.epoch + total)
    logger.info("locust-llm: the last stage ended")
    options = environment.parsed_options
    if options is not None and getattr(options, "headless", False):
        runner.quit()
    else:
        runner.stop()


#: a sweep point stops early once this many seconds of its arrivals wait for a free user
SATURATED_BACKLOG_S = 5.0


def _watch_saturation(environment: Environment, state: LoadState, index: int) -> None:
    """A sweep's open point, until near its end: stop it early once it is clearly past
    saturation (its due requests piling up unsent: `SATURATED_BACKLOG_S` of its rate)."""
    plan = state.plan
    stage = plan.stages[index]
    assert state.epoch is not None
    assert stage.duration_s is not None
    assert stage.rate_per_s
    start = plan.stage_start_s(index)
    watch_until = state.epoch + start + stage.duration_s - _decide_lead_s(environment.runner) - 1
    limit = max(SATURATED_BACKLOG_S * stage.rate_per_s, 20.0)
    while time.perf_counter() < watch_until:
        gevent.sleep(1.0)
        backlog = _backlog(state)
        if backlog < limit:
            continue
        now = time.perf_counter() - state.epoch
        cut_at = math.floor(now) + 3.0  # past any piece of the schedule already walked
        if cut_at >= start + stage.duration_s:
            return
        logger.info(
            "locust-llm: sweep: point %d (%s) stopped early at %.0fs: %d due requests waited "
            "for a free user (past saturation)",
            index + 1,
            stage.label,
            cut_at - start,
            backlog,
        )
        state.stopped_early[index] = backlog
        llm_run(environment).stopped_early = dict(state.stopped_early)
        _apply_plan(environment, state, plan.cut(index, cut_at))
        return


def _backlog(state: LoadState) -> int:
    """Due requests waiting for a free user now: here, or over the workers as of their last
    report."""
    if state.open_loop is not None:
        return state.open_loop.backlog
    return sum(state.worker_backlog.values())


def _decide_lead_s(runner: Any) -> float:
    """How long before a point ends its figures are read: workers report every 3 s."""
    return 4.0 if isinstance(runner, MasterRunner) else 1.0


def _decide(environment: Environment, state: LoadState) -> None:
    """A sweep's next points, from the figures of those so far."""
    spec = state.sweep
    plan = state.plan
    if spec is None:
        _apply_plan(environment, state, plan.extended(final=True))
        return
    run = llm_run(environment)
    blocks = stage_blocks(plan, run.stage_stats, run.elapsed_s(), run.arrivals)
    stages, done = next_stages(spec, blocks, bisected=state.bisected)
    if (stages and spec.kind != "auto") or (
        spec.kind == "auto" and state.bisected == 0 and len(plan.stages) > 2
    ):
        state.bisected += len(stages)
    for stage in stages:
        logger.info("locust-llm: sweep: next point %s", stage.label)
    _apply_plan(environment, state, plan.extended(*stages, final=done))


def _apply_plan(environment: Environment, state: LoadState, plan: LoadPlan) -> None:
    """A plan extended or cut while the run goes: here, and on every worker."""
    state.plan = plan
    run = llm_run(environment)
    run.extend_plan(plan)
    if state.open_loop is not None:
        state.open_loop.update(plan)
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message(PLAN_MESSAGE, {"plan": plan.to_wire()})


def _on_plan_message(environment: Environment, msg: Any) -> None:
    """A worker: the master extended or cut the plan."""
    state = _states.get(environment)
    if state is None:
        return
    plan = LoadPlan.from_wire(msg.data["plan"])
    state.plan = plan
    llm_run(environment).extend_plan(plan)
    if state.open_loop is not None:
        state.open_loop.update(plan)


def _sleep_until(t: float) -> None:
    delay = t - time.perf_counter()
    if delay > 0:
        gevent.sleep(delay)


def _on_test_stopping(environment: Environment, **_: Any) -> None:
    """The users are about to stop: no request falls due any more; what is queued was due
    and is never sent."""
    state = _states.get(environment)
    if state is None:
        return
    state.stopping = True
    if state.open_loop is not None:
        state.open_loop.stop()
    state.ready.set()  # users still waiting for the plan stop (PacingStopped)
    run = llm_run(environment)
    if run.t_pace_end is None:
        run.t_pace_end = time.perf_counter()


def _on_test_stop(environment: Environment, **_: Any) -> None:
    state = _states.get(environment)
    if state is None:
        return
    _on_test_stopping(environment)
    if state.controller is not None and gevent.getcurrent() is not state.controller:
        state.controller.kill(block=False)
    run = llm_run(environment)
    run.pacer = state.pacer
    run.workers = state.workers


def _on_report_to_master(environment: Environment, data: dict[str, Any]) -> None:
    arrivals = llm_run(environment).arrivals
    if arrivals.has_delta():
        data[ARRIVALS_REPORT_KEY] = arrivals.take_delta()
    state = _states.get(environment)
    if state is not None and state.open_loop is not None:
        data[BACKLOG_REPORT_KEY] = state.open_loop.backlog


def _on_worker_report(environment: Environment, client_id: str, data: dict[str, Any]) -> None:
    wire = data.get(ARRIVALS_REPORT_KEY)
    if isinstance(wire, dict):
        llm_run(environment).arrivals.merge_wire(wire)
    backlog = data.get(BACKLOG_REPORT_KEY)
    state = _states.get(environment)
    if isinstance(backlog, int) and state is not None:
        state.worker_backlog[client_id] = backlog


def attach(environment: Environment) -> None:
    """Wire the open loop into `environment`'s run (Locust's `init`)."""
    events = environment.events
    events.test_start.add_listener(_on_test_start)
    events.spawning_complete.add_listener(lambda **kw: _on_spawning_complete(environment, **kw))
    events.test_stopping.add_listener(_on_test_stopping)
    events.test_stop.add_listener(_on_test_stop)
    events.report_to_master.add_listener(
        lambda client_id, data, **_: _on_report_to_master(environment, data)
    )
    events.worker_report.add_listener(
        lambda client_id, data, **_: _on_worker_report(environment, client_id, data)
    )
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(
            SCHEDULE_MESSAGE, lambda msg, **_: _on_schedule_message(environment, msg)
        )
        runner.register_message(PLAN_MESSAGE, lambda msg, **_: _on_plan_message(environment, msg))
