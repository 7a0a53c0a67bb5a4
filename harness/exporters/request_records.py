"""The sink that writes every request a run sends to `<out>/requests.jsonl.gz`.

Each request published (`llm_request`, harness.events) becomes one line
(harness.report.records: its timings relative to the run's start, tokens, outcome; never a
prompt, an answer, a header or a key), placed in the load plan by `LLMRun.placement` — the
same stage and warm-up the figures use. Cancelled requests and warm-up requests are lines
too (`"outcome": "cancelled"`, `"warmup": true`): every request sent is accounted for. On by
default wherever the run writes reports (`--llm-out`); `--llm-no-records` switches it off.

Cheap on the hot path: publishing a request makes its line and appends it to a queue. A
greenlet writes the queue every `FLUSH_INTERVAL_S` into one open gzip stream, `SLICE_LINES`
lines at a time, yielding to the event loop between slices so that no request's reads wait
long behind encoding and compression, and flushes it once a turn (a reader of the file, or
a run that crashed, has every line up to the last turn).

The stream is closed on Locust's `quitting`, before harness.finish writes summary.json:
Locust fires `quitting` in the reverse order of its listeners, and this sink attaches after
harness.finish (harness.extensions imports it later), so the file is complete when the
summary is. A new test (the web UI's start button again) or "Reset stats" starts a
new file, as it starts new figures.

Distributed: a worker writes no file; it ships its new lines in its reports to the master
(`REPORT_KEY`, a list of msgpack-safe dicts), and the master writes them, each with the
worker's index (`"worker"`). A worker's times are relative to its own start, not the
master's.

Exporters layer: imports gevent, locust and the run (harness.run).
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.options import config_for, resolve_option
from harness.record import RequestRecord
from harness.report.records import RECORDS_FILE, RecordsWriter, record_to_line
from harness.run import LLMRun, llm_run
from harness.settings import SETTING

logger = logging.getLogger("locust_llm")

#: key of the new lines in Locust's worker -> master reports
REPORT_KEY = "locust_llm_records"
#: the writer greenlet writes what is queued this often (seconds)
FLUSH_INTERVAL_S = 1.0
#: lines written between two yields to the event loop: about 0.6 ms of encoding and
#: compression for answers of 64 tokens (a request's reads wait at most that long)
SLICE_LINES = 8


@dataclass(eq=False)
class RecordsSink:
    """The records of one Locust environment: the queue of lines and the open file.

    `origin` is the perf_counter time lines are relative to (this process's test start);
    None while nothing is recorded. `writer` is the open file (master or local process with
    an out folder), None on a worker, which only queues lines for its reports.
    """

    environment: Environment
    run: LLMRun
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    origin: float | None = None
    writer: RecordsWriter | None = None
    _greenlet: gevent.Greenlet | None = None
    _failed: bool = False

    # ------------------------------------------------------------------ the hot path

    def on_record(self, record: RequestRecord, **_: Any) -> None:
        """One finished request: its line joins the queue."""
        origin = self.origin
        if origin is None:
            return
        stage, warmup = self.run.placement(record)
        self.pending.append(record_to_line(record, origin, stage=stage, warmup=warmup))

    # ------------------------------------------------------------------ the file

    def begin(self, path: Path | None) -> None:
        """A test starts: lines from now on are relative to the run's start; with `path`
        (master or local process), they go to a new file there."""
        self.pending.clear()  # lines of the figures that were just dropped, if any
        self.end()
        self.origin = self.run.t_start
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = RecordsWriter(path)
        except OSError as exc:
            logger.error(
                "locust-llm: error: cannot write %s: %s; the run goes on without it",
                path,
                exc.strerror or exc,
            )
            self.origin = None
            return
        self._failed = False
        self._greenlet = gevent.spawn(self._write_loop)

    def end(self) -> None:
        """Stop recording: write what is queued and close the file (the run finishes, or a
        new one begins). A worker keeps its queue for its last report."""
        self.origin = None
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None:
            greenlet.kill(block=True)  # only ever at a yield, between two written slices
        writer, self.writer = self.writer, None
        if writer is None:
            return
        self._write(len(self.pending), writer)
        try:
            writer.close()
        except OSError as exc:
            self._fail(writer, exc)
        if not self._failed:
            logger.info("locust-llm: wrote %d requests to %s", writer.lines, writer.path)

    def _write_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            writer = self.writer
            due = len(self.pending)  # what is queued now: later lines wait for the next turn
            while writer is not None and due > 0:
                n = min(due, SLICE_LINES)
                due -= n
                self._write(n, writer, flush=due == 0)  # once a turn: readable so far
                gevent.sleep(0)

    def _write(self, n: int, writer: RecordsWriter, *, flush: bool = True) -> None:
        pending = self.pending
        batch = [pending.popleft() for _ in range(min(n, len(pending)))]
        if self._failed:
            return
        try:
            writer.write(batch, flush=flush)
        except (OSError, ValueError) as exc:
            self._fail(writer, exc)

    def _fail(self, writer: RecordsWriter, exc: Exception) -> None:
        if not self._failed:  # once: a full disk would say so per batch
            self._failed = True
            logger.error("locust-llm: error: writing %s failed: %s", writer.path, exc)

    # ------------------------------------------------------------------ distributed

    def take_lines(self) -> list[dict[str, Any]]:
        """A worker's lines since its last report (then forgotten here)."""
        lines = list(self.pending)
        self.pending.clear()
        return lines

    def add_worker_lines(self, lines: Any, worker: int | None) -> int:
        """A worker's lines reached the master: queue them for the file (each marked with
        the worker's index); how many. Nothing when this process writes no file."""
        if self.writer is None or not isinstance(lines, list):
            return 0
        n = 0
        for line in lines:
            if isinstance(line, dict):
                if worker is not None:
                    line["worker"] = worker
                self.pending.append(line)
                n += 1
        return n


def records_path(environment: Environment) -> Path | None:
    """Where this process writes the run's records: `<out>/requests.jsonl.gz` on the master
    or the local process of a run that writes reports and keeps records; else None."""
    if isinstance(environment.runner, WorkerRunner):
        return None
    if not records_wanted(environment):
        return None
    out = config_for(environment).out_dir
    return Path(out) / RECORDS_FILE if out else None


def records_wanted(environment: Environment) -> bool:
    """Whether the run keeps records: not with `--llm-no-records`."""
    options = environment.parsed_options
    if options is None:
        return False
    config = config_for(environment)
    return not resolve_option(options, SETTING["no_records"], config.scenario).value


def remove_stale(path: Path) -> None:
    """Remove an earlier run's records from the out folder of a run that keeps none: beside
    this run's summary.json they would be taken for its own (`locust-llm report`)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        logger.warning("locust-llm: could not remove the earlier run's %s: %s", path, exc)
        return
    logger.info("locust-llm: removed the earlier run's %s (--llm-no-records)", path)


_sinks: weakref.WeakKeyDictionary[Environment, RecordsSink] = weakref.WeakKeyDictionary()


def sink_of(environment: Environment) -> RecordsSink | None:
    """The records sink attached to `environment`, if any."""
    return _sinks.get(environment)


def attach(environment: Environment) -> RecordsSink:
    """Attach the sink's listeners to `environment` (once)."""
    sink = _sinks.get(environment)
    if sink is not None:
        return sink
    run = llm_run(environment)  # the run's own listeners first: its start is set before ours
    sink = _sinks[environment] = RecordsSink(environment, run)
    hooks = environment.events

    def on_test_start(environment: Environment, **_: Any) -> None:
        try:
            wanted = records_wanted(environment)
            path = records_path(environment)
            out = config_for(environment).out_dir
        except Exception:  # noqa: BLE001 - a bad configuration is reported by the users
            sink.end()
            return
        if not wanted:
            sink.end()
            if out and not isinstance(environment.runner, WorkerRunner):
                remove_stale(Path(out) / RECORDS_FILE)
            return
        if isinstance(environment.runner, WorkerRunner):
            sink.begin(None)  # lines for the master's file, in the reports
        elif path is not None:
            sink.begin(path)
        else:
            sink.end()  # no out folder (plain locust): nowhere to write, nothing queued

    def on_reset_stats(**_: Any) -> None:
        # the figures restart (Locust's "Reset stats"): so does the file
        if sink.origin is not None and run.t_stop is None:
            path = sink.writer.path if sink.writer is not None else None
            sink.begin(path)

    def on_quitting(environment: Environment, **_: Any) -> None:
        sink.end()

    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        lines = sink.take_lines()
        if lines:
            data[REPORT_KEY] = lines

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        lines = data.get(REPORT_KEY)
        if lines:
            runner = environment.runner
            index = (
                runner.get_worker_index(client_id)  # type: ignore[no-untyped-call]
                if isinstance(runner, MasterRunner)
                else None
            )
            sink.add_worker_lines(lines, index)

    # Locust's event hooks are untyped
    run.llm_request.add_listener(sink.on_record)  # type: ignore[no-untyped-call]
    hooks.test_start.add_listener(on_test_start)  # type: ignore[no-untyped-call]
    hooks.reset_stats.add_listener(on_reset_stats)  # type: ignore[no-untyped-call]
    hooks.quitting.add_listener(on_quitting)  # type: ignore[no-untyped-call]
    hooks.report_to_master.add_listener(on_report_to_master)  # type: ignore[no-untyped-call]
    hooks.worker_report.add_listener(on_worker_report)  # type: ignore[no-untyped-call]
    return sink


def _on_init(environment: Environment, **_: Any) -> None:
    attach(environment)


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]  # Locust is untyped
