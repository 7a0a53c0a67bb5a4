"""Locust user classes that send OpenAI-compatible completions, streaming or batch.

A locustfile reads in a minute::

    from harness.users import BatchUser, StreamingUser   # both run, equal weights

    class MyStreamingUser(StreamingUser):
        prompts = ["Summarise the plot of Hamlet in three sentences."]

Class attributes a locustfile may set: `model`, `max_tokens`, `temperature`, `prompts`,
`weight`, `wait_time`, `chat`. Unset ones come from the `--llm-…` options (harness.options).
Each request fires the harness's `llm_request` event and Locust rows as harness.events lays out.
"""

from __future__ import annotations

import itertools
import logging
import random
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gevent
import gevent.event
from gevent import GreenletExit
from locust import User, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import STATE_SPAWNING, MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

from harness import extensions  # noqa: F401 - registers the exporters and the web UI tab
from harness.calibrate import CalibrationFailed, measure_calibration
from harness.client import LLMClient, Target
from harness.errors import SUCCESS_OUTCOMES, ConfigError, ErrorClass, Mode, Outcome
from harness.events import publish
from harness.exit_code import ExitCode
from harness.load import open_loop as open_loop_module
from harness.load.open_loop import Due, LoadState, PacingStopped, load_state, next_due
from harness.load.schedule import lane_of
from harness.options import (
    RunConfig,
    add_llm_options,
    apply_to_environment,
    config_for,
    forget_config,
)
from harness.preflight import PreflightError, discover_model, preflight
from harness.protocols.registry import make_protocol
from harness.record import RequestRecord
from harness.redact import REDACTOR, install_log_redaction
from harness.retry import INTERRUPTED_STREAM, Backoff, RetryPolicy, is_retryable
from harness.run import llm_run, verdict_for
from harness.targets import RunTarget
from harness.transport import TransportUnsupported
from harness.workload.source import Session, WorkItem, Workload

logger = logging.getLogger("locust_llm")

Prompt = str | Sequence[Mapping[str, Any]]

#: A few everyday prompts, shared by both modes so they are compared on the same work.
DEFAULT_PROMPTS: tuple[str, ...] = (
    "Explain in a short paragraph why the sky is blue.",
    "Write a haiku about load testing.",
    "List three differences between TCP and UDP.",
    "Summarise the plot of Hamlet in three sentences.",
    "What is the capital of Australia, and why is it not Sydney?",
    "Give me a recipe for a quick tomato pasta.",
)


class LLMUser(User):
    """Base class: one conversation at a time against an OpenAI-compatible `/v1` endpoint.

    Subclass it and set `mode`, or use `StreamingUser` / `BatchUser`.
    """

    abstract = True
    mode: ClassVar[Mode] = Mode.STREAM
    #: model name; None: `--llm-model`, else the first model the server lists
    model: str | None = None
    #: None: `--llm-max-tokens`
    max_tokens: int | None = None
    #: None: `--llm-temperature`, else the server's default
    temperature: float | None = None
    #: `/chat/completions` (True) or `/completions` (False); None: `--llm-endpoint`
    chat: bool | None = None
    #: prompts sent, picked at random: user message texts or lists of chat messages
    prompts: Sequence[Prompt] = DEFAULT_PROMPTS

    #: the target's name (`targets:`): set on the per-target subclasses the harness makes
    #: of each user class when the run has several targets; "" otherwise
    target_name: ClassVar[str] = ""
    #: the open-loop queue this class's users take their due requests from (harness.load.
    #: schedule.lane_of); "": the mode's own
    lane: ClassVar[str] = ""

    _model_by_host: ClassVar[dict[str, str]] = {}

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._client: LLMClient | None = None
        self._target_name = ""
        self._api_key: str | None = None
        self._model = ""
        self._params: dict[str, Any] = {}
        self._retry = RetryPolicy()
        self._backoff = Backoff()
        self._stream_fallback = False
        #: the scenario's workload (datasets, lengths, conversations, traces), calibrated;
        #: None: this class's `prompts`
        self._workload: Workload | None = None
        #: draws the key of each request's item (harness.workload.source.Workload.item_at)
        self._keys = random.Random()

    def on_start(self) -> None:
        """Build this user's client (one keep-alive connection) and resolve the model.

        A user that cannot start ends quietly (no traceback per user): the run logs one line
        for all of them, and ends at once with exit code 2 (a configuration error) or 3 when
        every user failed to start.
        """
        try:
            self._start()
        except Exception as exc:  # noqa: BLE001 - one line per run, not a traceback per user
            _start_failed(self.environment, type(self).__name__, exc)
            # GreenletExit is not an Exception: Locust's User.run ends the user without
            # logging a traceback or counting an error
            raise GreenletExit from None
        _started(self.environment)

    def _start(self) -> None:
        config = _run_config(self.environment)
        run_target = _run_target_of(config, type(self).target_name)
        if run_target is not None:
            target, api_key, chat = run_target.target, run_target.api_key, run_target.chat
            protocol = run_target.protocol
        else:
            if not self.host:
                raise ConfigError("no target: pass --host http://HOST:PORT/v1")
            target, api_key, chat = Target.parse(self.host), config.api_key, config.chat
            protocol = config.protocol
        chat = chat if self.chat is None else self.chat
        self._client = LLMClient(
            target=target,
            protocol=make_protocol(protocol, chat=chat),
            api_key=api_key,
            timeouts=config.timeouts,
        )
        self._target_name = type(self).target_name
        self._api_key = api_key
        self._params = config.request_params()
        if self.max_tokens is not None:
            self._params["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            self._params["temperature"] = self.temperature
        models = run_target.models if run_target is not None else config.models
        self._model = self.model or _next_model(models) or self._discover_model(target)
        self._stream_fallback = config.stream_fallback
        self._retry = RetryPolicy(attempts=config.retries, max_backoff_s=config.retry_max_backoff_s)
        self._backoff = Backoff(max_s=config.backoff_max_s)
        own_prompts = type(self).prompts
        if config.workload is not None and (
            own_prompts is DEFAULT_PROMPTS or own_prompts is config.prompts
        ):
            self._workload = _calibrated_workload(self.environment, config.workload, self)
            if self._workload.multi_turn:
                self._client.keep_text = True  # the answers go into the history

    def on_stop(self) -> None:
        if self._client is not None:
            self._client.close()

    @task
    def complete(self) -> None:
        """Send one completion with a prompt picked from `prompts` (or the scenario's
        workload); a multi-turn workload replays one whole conversation."""
        workload = self._workload
        if workload is None or not workload.multi_turn:
            self.send_completion(None)
        else:
            self.converse(workload.session_at(self._draw_key()))

    def converse(self, session: Session) -> list[RequestRecord]:
        """Replay a conversation turn by turn: each human turn is a request carrying the
        history so far, the server's own answers in it; the think time passes between an
        answer and the next turn. In an open loop the conversation is one arrival of the
        schedule: its first turn waits to be due, the others follow their think time. A
        turn that fails ends the conversation (its history would be wrong)."""
        workload = self._workload
        think_s = workload.think_time_s if workload is not None else 0.0
        records: list[RequestRecord] = []
        while not session.done:
            if records and think_s > 0:
                self._pause(think_s)
            item = session.next_item()
            record = self.send_completion(None, item=item, turn=session.turn, await_due=not records)
            records.append(record)
            if record.error_class is not None or record.outcome is Outcome.CANCELLED:
                break
            session.answered("".join(record.text or ()))
        return records

    def send_completion(
        self,
        prompt: Prompt | None,
        mode: Mode | None = None,
        *,
        fallback_from: RequestRecord | None = None,
        t_sched: float | None = None,
        item: WorkItem | None = None,
        turn: int | None = None,
        await_due: bool = True,
    ) -> RequestRecord:
        """Send one completion and publish its record. Never raises for a failed request.

        `prompt` None: the scenario's workload (or this class's `prompts`) picks it; `item`
        gives the request whole (a conversation's turn). In an open-loop run (`--llm-rate`)
        it first waits for the next request of its mode that the arrival schedule makes due,
        unless `t_sched` (a due time) is given or `await_due` is False; the record carries
        the due time, and no back-off applies (the schedule paces the load).

        With `--llm-stream-fallback`, a stream interrupted by a reset, a truncation or a stall
        is followed by the same prompt as a batch request (noted `stream_fallback`); the
        returned record is then the batch one.
        """
        client = self._client
        assert client is not None, "send_completion() before on_start()"
        mode = mode or self.mode
        t_sched = t_sched if fallback_from is None else None
        planned = load_state(self.environment)
        pair: int | None = None
        index: int | None = None
        if planned is not None and fallback_from is None and t_sched is None and await_due:
            due = self._await_arrival(planned, lane_of(str(mode), self._target_name))
            if due is not None:
                t_sched, pair, index = due
        if item is None:
            item = self._item_for(prompt, pair, index)
        params = self._params
        workload = self._workload
        if workload is not None and item.max_tokens is not None:
            params = {**params, **workload.body_params(item)}
        body = client.protocol.build_body(
            model=self._model, prompt=item.prompt, stream=mode is Mode.STREAM, params=params
        )
        prefix_reuse = None if item.prefix_group is None else _prefix_used(self.environment, item)
        # open loop: the schedule paces the load, and a back-off would only add lag
        backoff_s = self._back_off() if t_sched is None and await_due else 0.0
        run = llm_run(self.environment)
        run.in_flight += 1
        t_first: float | None = None
        attempt = 0
        while True:
            attempt += 1
            record = client.new_record(mode, self._model)
            record.target = self._target_name
            record.t_sched = t_sched
            record.pair = pair
            record.turn = turn
            record.prefix_reuse = prefix_reuse
            record.requested_input_tokens = item.requested_input_tokens
            # what the workload asked for (the run's own max_tokens is a cap, not a length)
            record.requested_output_tokens = item.max_tokens
            try:
                client.send(record, body)
                if t_first is None:
                    t_first = record.t0
                if attempt > self._retry.attempts or not is_retryable(record):
                    break
                gevent.sleep(self._retry.delay_s(attempt, record.retry_after_s))
            except GreenletExit:
                run.in_flight -= 1
                if record.outcome is not Outcome.CANCELLED:
                    record.outcome, record.error_class = Outcome.CANCELLED, None
                publish(self.environment, record)  # neither success nor failure
                raise
            except Exception:  # noqa: BLE001 - the one user boundary (MEAS-02)
                _log_internal_error()
                record.fail(ErrorClass.HARNESS_INTERNAL, record.t0)
                break
        run.in_flight -= 1
        if run.read_clock is None and client.read_clock is not None:
            run.read_clock = client.read_clock
        # a retried request is timed from its first attempt: the wait a person would feel
        record.attempts = attempt
        if t_first is not None:
            record.t0 = t_first
        if fallback_from is not None:
            record.note("stream_fallback")
        record.backoff_s = backoff_s
        publish(self.environment, record)
        self._backoff.observe(record)
        if (
            mode is Mode.STREAM
            and self._stream_fallback
            and record.error_class in INTERRUPTED_STREAM
            and fallback_from is None
        ):
            # the way an application recovers: ask again without streaming. The broken stream
            # stays counted as the failure it was; the batch request is counted as one too.
            return self.send_completion(
                item.prompt, Mode.BATCH, fallback_from=record, item=item, turn=turn
            )
        return record

    def _item_for(self, prompt: Prompt | None, pair: int | None, index: int | None) -> WorkItem:
        """What this request sends: the given prompt, or the workload's (or `prompts`')
        pick — the pair's own with `mix: paired`, the trace's entry in a trace replay."""
        workload = self._workload
        if pair is None and prompt is None and self._target_name and index is not None:
            # several targets, open loop: each gets the arrival's own prompt
            pair = index
        if workload is None:
            if pair is not None:  # paired: the prompt is the pair's, in both modes
                prompt = self.prompts[random.Random(pair).randrange(len(self.prompts))]
            elif prompt is None:
                prompt = self.prompts[random.Random(self._draw_key()).randrange(len(self.prompts))]
            return WorkItem(_sendable(prompt))
        if workload.trace is not None and index is not None:
            return workload.item_at(index)
        if pair is not None:
            return workload.item_at(pair)
        if prompt is not None:
            return WorkItem(_sendable(prompt))
        return workload.item_at(self._draw_key())

    def _draw_key(self) -> int:
        """The key of this user's next pick of the workload: at random for a run with one
        target; with several, the next of its lane's sequence, the same for every target
        (each target gets the same prompts in the same order)."""
        if not self._target_name:
            return self._keys.getrandbits(48)
        return _next_lane_key(self.environment, lane_of(str(self.mode), self._target_name))

    def _pause(self, seconds: float) -> None:
        """Wait `seconds` (a person's think time) as Locust's `wait_time` does: the user
        counts as waiting, and stopping it stops it at once."""
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser
        self._state = LOCUST_STATE_WAITING
        try:
            gevent.sleep(seconds)
        finally:
            self._state = LOCUST_STATE_RUNNING

    def _await_arrival(self, planned: LoadState, lane: str) -> Due | None:
        """The due time of this user's next open-loop request of `lane` (its mode, or its
        mode and target; None: send at once, a users stage). Waiting, the user counts as
        waiting: stopping it stops it at once."""
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser
        self._state = LOCUST_STATE_WAITING
        try:
            return next_due(planned, lane)
        except PacingStopped:
            raise StopUser from None
        finally:
            self._state = LOCUST_STATE_RUNNING

    def _back_off(self) -> float:
        """Wait as the back-off says (harness.retry.Backoff); the seconds waited.

        The wait is before t0, so never inside a latency. The user may be stopped while it
        waits, as in Locust's own `wait_time`.
        """
        wait_s = self._backoff.wait_s()
        if wait_s <= 0:
            return 0.0
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser
        t = time.perf_counter()
        self._state = LOCUST_STATE_WAITING
        try:
            gevent.sleep(wait_s)
        finally:
            self._state = LOCUST_STATE_RUNNING
        return time.perf_counter() - t

    def _discover_model(self, target: Target) -> str:
        """The first model `GET /v1/models` lists (cached per host)."""
        cached = LLMUser._model_by_host.get(target.display)
        if cached:
            return cached
        assert self._client is not None
        model = discover_model(target, self._client.protocol, self._api_key)
        LLMUser._model_by_host[target.display] = model
        return model


class StreamingUser(LLMUser):
    """Sends `stream: true` requests and reads Server-Sent Events token by token."""

    mode = Mode.STREAM


class BatchUser(LLMUser):
    """Sends `stream: false` requests and reads one JSON body at the end."""

    mode = Mode.BATCH


def _sendable(prompt: Prompt) -> str | tuple[Mapping[str, Any], ...]:
    return prompt if isinstance(prompt, str) else tuple(prompt)


def _run_config(environment: Environment) -> RunConfig:
    return config_for(environment)


#: each new user takes the next of the scenario's models in turn
_model_turn = itertools.count()


def _next_model(models: Sequence[str]) -> str:
    """The next of the configured models ("" when none is configured: discover one)."""
    if not models:
        return ""
    return models[next(_model_turn) % len(models)]


def _run_target_of(config: RunConfig, name: str) -> RunTarget | None:
    """The run's target of this name (None: a run with one target)."""
    if not name:
        return None
    for run_target in config.targets:
        if run_target.name == name:
            return run_target
    raise ConfigError(f"target {name!r} is not one of the run's targets")


#: per process and lane, how many picks its users made (several targets: each lane walks
#: the same sequence of keys, so every target gets the same prompts in the same order)
_lane_picks: weakref.WeakKeyDictionary[Environment, dict[str, itertools.count[int]]] = (
    weakref.WeakKeyDictionary()
)


def _next_lane_key(environment: Environment, lane: str) -> int:
    counters = _lane_picks.get(environment)
    if counters is None:
        counters = _lane_picks[environment] = {}
    counter = counters.get(lane)
    if counter is None:
        counter = counters[lane] = itertools.count()
    # a fixed scramble of the pick's ordinal: a random-looking, repeatable sequence
    return (next(counter) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & ((1 << 48) - 1)


# ------------------------------------------------------------------ the workload, calibrated


@dataclass(eq=False)
class _Calibrating:
    """One process's calibrated workload (harness.calibrate), made by its first user."""

    source: Workload
    done: gevent.event.Event = field(default_factory=gevent.event.Event)
    workload: Workload | None = None
    #: the shared prefixes' groups this process has sent (first use vs reuse)
    prefixes_used: set[int] = field(default_factory=set)


_calibrating: weakref.WeakKeyDictionary[Environment, _Calibrating] = weakref.WeakKeyDictionary()


def _calibrated_workload(environment: Environment, workload: Workload, user: LLMUser) -> Workload:
    """`workload` with its texts sized against the server's own token counts: the first
    user of a process sends the two calibration requests, the others wait for it. A
    workload that makes no text of a given length needs none."""
    entry = _calibrating.get(environment)
    if entry is not None and entry.source is workload:
        entry.done.wait()
        if entry.workload is not None:
            return entry.workload
    entry = _calibrating[environment] = _Calibrating(workload)
    llm_run(environment).workload_description = workload.description
    try:
        if not workload.needs_calibration:
            entry.workload = workload.ready()
            return entry.workload
        assert user._client is not None
        try:
            calibration = measure_calibration(user._client, user._model, user._params)
        except CalibrationFailed as exc:
            logger.warning(
                "locust-llm: lengths are not calibrated (%s): prompts assume %s",
                exc,
                workload.calibration.describe(),
            )
            entry.workload = workload.ready()
        else:
            logger.info("locust-llm: lengths calibrated: %s", calibration.describe())
            entry.workload = workload.calibrated(calibration)
            llm_run(environment).calibration = calibration
        return entry.workload
    finally:
        if entry.workload is None:  # the user was stopped while it calibrated
            _calibrating.pop(environment, None)
        entry.done.set()


def _prefix_used(environment: Environment, item: WorkItem) -> bool:
    """Whether `item`'s shared prefix was sent before by this process (then noted used)."""
    entry = _calibrating.get(environment)
    if entry is None or item.prefix_group is None:
        return False
    used = item.prefix_group in entry.prefixes_used
    entry.prefixes_used.add(item.prefix_group)
    return used


_logged_sites: set[tuple[str, str]] = set()


def _log_internal_error() -> None:
    """Log a harness bug's traceback once per (type, site); later ones only count."""
    exc_type, _, tb = sys.exc_info()
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    site = (
        exc_type.__name__ if exc_type else "?",
        f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?",
    )
    if site not in _logged_sites:
        _logged_sites.add(site)
        logger.exception("locust-llm internal error (counted as harness_internal)")


# ------------------------------------------------------------------ users that cannot start

#: key of a worker's start tally in its reports to the master
STARTS_REPORT_KEY = "locust_llm_starts"


@dataclass(slots=True)
class _Starts:
    """How many users of this process started, how many could not, and the first reason."""

    ok: int = 0
    failed: int = 0
    #: the first failure, one line; its exit code (2 configuration, 3 anything else)
    error: str = ""
    code: int = ExitCode.CONFIG
    warned: bool = False
    ended: bool = False
    #: on a distributed master: each worker's tally
    by_worker: dict[str, tuple[int, int, str, int]] = field(default_factory=dict)


_starts: weakref.WeakKeyDictionary[Environment, _Starts] = weakref.WeakKeyDictionary()


def _starts_of(environment: Environment) -> _Starts:
    starts = _starts.get(environment)
    if starts is None:
        starts = _starts[environment] = _Starts()
    return starts


def _started(environment: Environment) -> None:
    _starts_of(environment).ok += 1
    _judge_starts(environment)


def _start_failed(environment: Environment, class_name: str, exc: Exception) -> None:
    starts = _starts_of(environment)
    starts.failed += 1
    if not starts.error:
        if isinstance(exc, ConfigError):
            starts.error = f"{class_name}: {exc}"
        else:
            starts.error = f"{class_name}: {type(exc).__name__}: {exc}"
            starts.code = ExitCode.INTERNAL
            logger.debug("locust-llm: %s could not start", class_name, exc_info=exc)
        starts.error = " ".join(REDACTOR.scrub(starts.error).split())
    _judge_starts(environment)


def _judge_starts(environment: Environment) -> None:
    """One line for users that could not start; end the run once none could."""
    starts = _starts_of(environment)
    ok, failed, error, code = starts.ok, starts.failed, starts.error, starts.code
    if starts.by_worker:
        ok = sum(t[0] for t in starts.by_worker.values())
        failed = sum(t[1] for t in starts.by_worker.values())
        error, code = next(((t[2], t[3]) for t in starts.by_worker.values() if t[2]), ("", code))
    if failed == 0 or starts.ended:
        return
    runner = environment.runner
    if ok > 0:
        if not starts.warned and not isinstance(runner, WorkerRunner | MasterRunner):
            starts.warned = True
            logger.warning("locust-llm: %d user(s) could not start: %s", failed, error)
        return
    # none started yet: the reason a run that sends nothing ends with (harness.finish)
    verdict = verdict_for(environment)
    verdict.nothing_sent = f"no user could start ({failed} tried): {error}"
    verdict.nothing_sent_code = code
    if runner is None or isinstance(runner, WorkerRunner):
        return  # a worker reports to its master, which decides
    if runner.state == STATE_SPAWNING or failed < runner.target_user_count:
        return  # more users are on their way
    starts.ended = True
    verdict.told = True
    logger.error(
        "locust-llm: error: every user failed to start (%d of %d): %s", failed, failed, error
    )
    gevent.spawn(_end_run, environment)


def _end_run(environment: Environment) -> None:
    """Stop the test: a headless run quits (its exit code decided at quitting); with the web
    UI the test stops and the UI stays."""
    runner = environment.runner
    if runner is None:
        return
    options = environment.parsed_options
    if options is not None and getattr(options, "headless", False):
        runner.quit()
    else:
        runner.stop()


def _on_report_to_master(environment: Environment, data: dict[str, Any]) -> None:
    starts = _starts_of(environment)
    data[STARTS_REPORT_KEY] = [starts.ok, starts.failed, starts.error, starts.code]


def _on_worker_report(environment: Environment, client_id: str, data: dict[str, Any]) -> None:
    tally = data.get(STARTS_REPORT_KEY)
    if not isinstance(tally, list) or len(tally) != 4:
        return
    starts = _starts_of(environment)
    starts.by_worker[client_id] = (int(tally[0]), int(tally[1]), str(tally[2]), int(tally[3]))
    _judge_starts(environment)


# ------------------------------------------------------------------ --llm-abort-after


def _watch_failures(environment: Environment, abort_after_s: float) -> None:
    """Stop the run with exit code 1 once every request has failed for `abort_after_s`.

    Counted from the first failure with no success since, on the merged statistics (so on a
    distributed master too, a few seconds late at most).
    """
    run = llm_run(environment)
    interval = min(0.25, abort_after_s / 4)
    last_ok = last_failed = 0
    failing_since: float | None = None
    failed_then = 0
    while True:
        gevent.sleep(interval)
        ok = failed = 0
        for group in run.stats.groups():
            for outcome, n in group.outcomes.items():
                if outcome in SUCCESS_OUTCOMES:
                    ok += n
                elif outcome != Outcome.CANCELLED:
                    failed += n
        now = time.perf_counter()
        if ok != last_ok or failed < last_failed:  # a success, or statistics were reset
            failing_since = None
        elif failed > last_failed and failing_since is None:
            failing_since, failed_then = now - interval, last_failed
        last_ok, last_failed = ok, failed
        if failing_since is not None and now - failing_since >= abort_after_s:
            line = (
                f"every request failed for {abort_after_s:g}s ({failed - failed_then} "
                "failures, no success): stopping the run (--llm-abort-after)"
            )
            verdict = verdict_for(environment)
            verdict.aborted = line
            logger.error("locust-llm: error: %s", line)
            _end_run(environment)
            return


_watchers: weakref.WeakKeyDictionary[Environment, gevent.Greenlet] = weakref.WeakKeyDictionary()


def _on_test_start_watch(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    abort_after_s = _run_config(environment).abort_after_s
    if abort_after_s > 0 and environment not in _watchers:
        _watchers[environment] = gevent.spawn(_watch_failures, environment, abort_after_s)


def _on_test_stop_watch(environment: Environment, **_: Any) -> None:
    watcher = _watchers.pop(environment, None)
    if watcher is not None:
        watcher.kill(block=False)


# ------------------------------------------------------------------ which classes run


def _drop_subclassed_bases(environment: Environment) -> None:
    """Run a locustfile's own subclasses of `StreamingUser`/`BatchUser`, not the imported bases.

    Locust runs every concrete User class a locustfile's namespace holds, imported ones too:
    `class MyStreamingUser(StreamingUser)` would also run `StreamingUser` with the default
    prompts. A base that is subclassed there is taken as a base. Classes named on the
    command line (`locust -f f.py StreamingUser`) run as named.
    """
    options = environment.parsed_options
    if options is not None and getattr(options, "user_classes", None):
        return
    classes = environment.user_classes
    bases = [
        base
        for base in (StreamingUser, BatchUser)
        if base in classes and any(c is not base and issubclass(c, base) for c in classes)
    ]
    if not bases:
        return
    classes[:] = [c for c in classes if c not in bases]
    available: dict[str, Any] | None = environment.available_user_classes  # Locust: by name
    if available:
        for name in [n for n, c in available.items() if c in bases]:
            del available[name]


def _split_by_target(environment: Environment, config: RunConfig) -> None:
    """With several targets, each LLM user class becomes one subclass per target
    (``StreamingUser_fast``, ``StreamingUser_slow``) with the same weight: Locust then splits
    every mode's users evenly across the targets, on one process or many (every process
    makes the same classes from the same settings), and each open-loop lane has its users."""
    if not config.targets:
        return
    classes = environment.user_classes
    available: dict[str, Any] | None = environment.available_user_classes
    split: list[Any] = []
    for user_class in classes:
        if not (isinstance(user_class, type) and issubclass(user_class, LLMUser)):
            split.append(user_class)
            continue
        if user_class.target_name:  # already split (a test started again)
            split.append(user_class)
            continue
        for run_target in config.targets:
            name = f"{user_class.__name__}_{run_target.name}"
            subclass = type(
                name,
                (user_class,),
                {
                    "__module__": user_class.__module__,
                    "__doc__": f"{user_class.__name__} sending to target {run_target.name}.",
                    "target_name": run_target.name,
                    "lane": lane_of(str(user_class.mode), run_target.name),
                },
            )
            split.append(subclass)
            if available is not None:
                available[name] = subclass
        if available is not None:
            available.pop(user_class.__name__, None)
    classes[:] = split


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_llm_options(parser)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    llm_run(environment)
    open_loop_module.attach(environment)
    install_log_redaction()
    _drop_subclassed_bases(environment)
    environment.events.test_start.add_listener(_on_test_start_watch)
    environment.events.test_stop.add_listener(_on_test_stop_watch)
    environment.events.report_to_master.add_listener(
        lambda client_id, data, **_: _on_report_to_master(environment, data)
    )
    environment.events.worker_report.add_listener(
        lambda client_id, data, **_: _on_worker_report(environment, client_id, data)
    )
    environment.events.spawning_complete.add_listener(lambda **_: _judge_starts(environment))
    options = environment.parsed_options
    if options is None:
        return
    try:
        config = _run_config(environment)
        for key in {config.api_key, *(t.api_key for t in config.targets)}:
            if key:
                REDACTOR.add(key)  # every target's key, never in a log line
        apply_to_environment(environment, config)
        _split_by_target(environment, config)
        llm_run(environment).targets = {
            t.name: {"host": t.display, "protocol": t.protocol, **({"via": t.via} if t.via else {})}
            for t in config.targets
        }
        if config.workload is not None:
            llm_run(environment).workload_description = config.workload.description
        _check_load_plan(environment, config)
        if options.headless and not options.worker and environment.host:
            _preflight(environment, config)
        for warning in config.warnings:
            logger.warning("locust-llm: %s", warning)
    except (ConfigError, PreflightError) as exc:
        # bad configuration or an unusable target: one line, exit 2, nothing sent (DESIGN.md §4)
        sys.stderr.write(f"locust-llm: error: {exc}\n")
        sys.exit(ExitCode.CONFIG)
    except TransportUnsupported as exc:
        # the installed HTTP libraries changed under the transport: one line, exit 3
        sys.stderr.write(f"locust-llm: error: {exc}\n")
        sys.exit(ExitCode.INTERNAL)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    """With the web UI the host is known only now: check it, and stop the test if unusable.
    Its start dialog may have changed the `--llm-…` settings: they are read again."""
    options = environment.parsed_options
    if options is not None and not options.headless:
        forget_config(environment)
    if options is None or options.headless or options.worker or not environment.host:
        return
    try:
        _preflight(environment, _run_config(environment))
    except (ConfigError, PreflightError, TransportUnsupported) as exc:
        logger.error("locust-llm: error: %s", exc)
        code = ExitCode.INTERNAL if isinstance(exc, TransportUnsupported) else ExitCode.CONFIG
        verdict = verdict_for(environment)
        verdict.nothing_sent, verdict.nothing_sent_code, verdict.told = str(exc), code, True
        runner = environment.runner
        if runner is not None:
            gevent.spawn(runner.stop)


def _check_load_plan(environment: Environment, config: RunConfig) -> None:
    """A load plan that cannot run is a configuration error before anything is sent; an
    open-loop pool that spawns slowly delays the schedule (it starts once all are up)."""
    options = environment.parsed_options
    if options is None or getattr(options, "worker", False):
        return
    users = int(getattr(options, "num_users", None) or 1)
    if config.targets:
        _check_targets_plan(environment, config, users)
    protocols = {config.protocol} | {t.protocol for t in config.targets}
    forced = config.workload.force_output if config.workload is not None else "none"
    if forced != "none" and protocols & {"anthropic", "responses"}:
        raise ConfigError(
            f"prompts.force_output: {forced} is a parameter of OpenAI-compatible servers "
            "(vLLM, SGLang, llama.cpp); the Anthropic Messages and Responses APIs have none: "
            "drop force_output (max_tokens stays a cap)"
        )
    if config.workload is not None and config.workload.multi_turn and config.load.paired:
        raise ConfigError(
            "mix: paired sends one prompt in both modes at once; a conversation (turns: all) "
            "cannot be paired: use turns: first, or a mix of weights"
        )
    run_time = getattr(options, "run_time", None)
    plan = config.load.plan(users=users, run_time_s=float(run_time) if run_time else None, mix=None)
    spawn_rate = float(getattr(options, "spawn_rate", 0) or 0)
    if plan is not None and plan.is_open and 0 < spawn_rate < users:
        logger.warning(
            "locust-llm: the arrival schedule starts once all %d users (the in-flight pool) "
            "are up; at --spawn-rate %g that takes %.0fs: pass -r %d to start at once",
            users,
            spawn_rate,
            users / spawn_rate,
            users,
        )


def _check_targets_plan(environment: Environment, config: RunConfig, users: int) -> None:
    """What several targets cannot run with (one line, nothing sent), and too few users."""
    names = ", ".join(t.name for t in config.targets)
    load = config.load
    if load.paired:
        raise ConfigError(
            f"targets ({names}): mix: paired pairs each prompt's two modes on one target; "
            "compare targets with a mix of weights (every target gets the same prompts)"
        )
    if load.stages or load.sweep is not None:
        raise ConfigError(
            f"targets ({names}): stages and sweeps measure one target at a time; run the "
            "sweep once per target, or compare targets at one load"
        )
    modes = sum(1 for c in environment.user_classes if getattr(c, "target_name", "")) or 1
    if users < modes:
        logger.warning(
            "locust-llm: %d users for %d user classes (each mode × %d targets): some target "
            "gets no user of a mode; use at least %d users",
            users,
            modes,
            len(config.targets),
            modes,
        )


def _preflight(environment: Environment, config: RunConfig) -> None:
    if config.targets:
        if config.preflight:
            for run_target in config.targets:
                _preflight_target(run_target, config)
        return
    if not config.preflight or not environment.host:
        return
    target = Target.parse(environment.host)
    result = preflight(
        target,
        protocol=make_protocol(config.protocol, chat=config.chat),
        api_key=config.api_key,
        model=config.model,
        api_key_env=config.api_key_env,
        timeout_s=config.timeouts.connect_s,
        wait_s=config.preflight_wait_s,
        on_wait=lambda line: logger.warning("locust-llm: %s", line),
    )
    for warning in result.warnings:
        logger.warning("locust-llm: %s", warning)
    if result.models and not config.model:
        LLMUser._model_by_host.setdefault(target.display, result.models[0])


def _preflight_target(run_target: RunTarget, config: RunConfig) -> None:
    """One target's preflight; its failure names the target (nothing is sent to any)."""
    try:
        result = preflight(
            run_target.target,
            protocol=make_protocol(run_target.protocol, chat=run_target.chat),
            api_key=run_target.api_key,
            model=run_target.models[0] if run_target.models else "",
            api_key_env=run_target.api_key_env,
            timeout_s=config.timeouts.connect_s,
            wait_s=config.preflight_wait_s,
            on_wait=lambda line: logger.warning("locust-llm: target %s: %s", run_target.name, line),
        )
    except PreflightError as exc:
        raise PreflightError(f"target {run_target.name}: {exc}") from None
    for warning in result.warnings:
        logger.warning("locust-llm: target %s: %s", run_target.name, warning)
    if result.models and not run_target.models:
        LLMUser._model_by_host.setdefault(run_target.display, result.models[0])
