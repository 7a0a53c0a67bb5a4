"""The server's own metrics watched through a run: scraped before, during and after it.

On Locust's `test_start` (the master, or the single local process: workers scrape nothing)
each target with a metrics URL (`--llm-metrics-url`, `target.metrics_url`, a target's
`metrics_url`) gets a `ServerWatch`: one scrape at once, in this process, before any user
starts; then a child process (``python -m harness.server.scrape``) that scrapes every
`--llm-metrics-interval` and sends each scrape back as one JSON line, so fetching and parsing
an exposition of hundreds of kilobytes never takes the load generator's time while requests
are in flight; and on `test_stop`, once the users are done, the child is stopped and one last
scrape is taken here, a moment later (a server updates its counters just after the response).
A master's `test_stop` comes while its workers may still finish their last requests: there the
last scrape waits for the end of the run (`finish_watches`, called as the reports are written,
when every worker's figures have arrived) or for the next test's start.

A scrape that fails is a warning, never a failure: each distinct reason is logged once per
target (``locust-llm: warning: server metrics http://…/metrics: cannot connect (connection
refused); the run goes on without them``), and summary.json's ``server`` block says how many
scrapes failed. `LLMRun.server_views` holds the `ServerView`s the summary reads.

Locust glue: imports locust and gevent; harness.server holds the pure part and the scraper.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gevent
from gevent import subprocess
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from harness.redact import redact_url
from harness.run import llm_run
from harness.server.scrape import BEARER_VARIABLE, scrape
from harness.server.snapshot import Snapshot
from harness.server.view import AFTER, BEFORE, DURING, ServerView
from harness.targets import same_origin

if TYPE_CHECKING:
    from locust.env import Environment

    from harness.options import RunConfig

logger = logging.getLogger("locust_llm")

#: the longest one scrape may take (a dead server must not hold the start or the stop)
SCRAPE_TIMEOUT_S = 2.0
#: how long after the users stopped the last scrape is taken
SETTLE_S = 0.5


@dataclass(frozen=True, slots=True)
class MetricsSource:
    """A target's metrics endpoint: the target's name ("" for a run with one target), the
    URL and the bearer key it may be sent (the target's, on the target's own host only)."""

    name: str
    url: str
    bearer: str | None = field(default=None, repr=False)


def metrics_sources(config: RunConfig) -> tuple[MetricsSource, ...]:
    """The metrics endpoints of a run's targets."""
    if config.targets:
        return tuple(
            MetricsSource(t.name, t.metrics_url, _key_for(t.metrics_url, t.display, t.api_key))
            for t in config.targets
            if t.metrics_url
        )
    if config.metrics_url is None:
        return ()
    base = config.target.display if config.target is not None else ""
    return (
        MetricsSource("", config.metrics_url, _key_for(config.metrics_url, base, config.api_key)),
    )


def _key_for(url: str, base_url: str, key: str | None) -> str | None:
    """The target's key goes to its metrics endpoint only on the target's own origin."""
    return key if key and base_url and same_origin(url, base_url) else None


class ServerWatch:
    """The scrapes of one target's metrics during one run, into `view`."""

    def __init__(
        self,
        source: MetricsSource,
        *,
        t_zero: float,
        interval_s: float,
        warn: Callable[[str], None],
    ) -> None:
        self.source = source
        self.view = ServerView(redact_url(source.url), t_zero, interval_s)
        self.interval_s = interval_s
        self.timeout_s = min(SCRAPE_TIMEOUT_S, interval_s)
        self._warn = warn
        self._told: set[str] = set()
        self._child: subprocess.Popen[bytes] | None = None
        self._reader: gevent.Greenlet | None = None
        self.finished = False

    def scrape_now(self, phase: str) -> None:
        """One scrape in this process (before or after the load, never during it)."""
        snapshot = scrape(self.source.url, timeout_s=self.timeout_s, bearer=self.source.bearer)
        self.take(phase, snapshot)

    def take(self, phase: str, snapshot: Snapshot) -> None:
        """Keep one scrape; warn once for each new reason it failed."""
        self.view.add(phase, snapshot)
        if snapshot.error is not None:
            self._tell(f"{snapshot.error}; the run goes on without them")
        elif snapshot.engine == "unknown":
            self._tell(
                "none of its metric names is one the harness knows (vLLM, SGLang, TGI, "
                "llama.cpp, LiteLLM): the report has no server figures"
            )

    def _tell(self, text: str) -> None:
        if text in self._told:
            return
        self._told.add(text)
        where = f"target {self.source.name}: " if self.source.name else ""
        self._warn(f"{where}server metrics {self.view.url}: {text}")

    def start(self) -> None:
        """The first scrape, then the child that scrapes during the load."""
        self.scrape_now(BEFORE)
        env = dict(os.environ)
        env.pop(BEARER_VARIABLE, None)
        if self.source.bearer:
            env[BEARER_VARIABLE] = self.source.bearer
        command = [
            sys.executable,
            "-m",
            "harness.server.scrape",
            self.source.url,
            "--every",
            repr(self.interval_s),
            "--timeout",
            repr(self.timeout_s),
        ]
        try:
            self._child = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except OSError as exc:
            self._tell(
                f"cannot start the scraper ({exc.strerror or exc}): scraped only before and after"
            )
            return
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        child = self._child
        assert child is not None
        assert child.stdout is not None
        for line in child.stdout:
            try:
                snapshot = Snapshot.from_json(json.loads(line))
            except ValueError:
                continue
            self.take(DURING, snapshot)

    def finish(self) -> None:
        """Stop the child, then the last scrape (after `SETTLE_S`); once."""
        if self.finished:
            return
        self.stop_scraping()
        gevent.sleep(SETTLE_S)
        self.scrape_now(AFTER)
        self.finished = True

    def stop_scraping(self) -> None:
        """Stop the child that scrapes during the load."""
        child, self._child = self._child, None
        if child is not None:
            try:
                assert child.stdin is not None
                child.stdin.close()  # the child exits at once
            except OSError:
                pass
            try:
                child.wait(timeout=self.timeout_s + 1.0)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._reader is not None:
            self._reader.join(timeout=1.0)
            self._reader.kill(block=False)
            self._reader = None


_watches: weakref.WeakKeyDictionary[Any, list[ServerWatch]] = weakref.WeakKeyDictionary()


def _on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    _stop(environment)
    from harness.options import config_for, forget_config

    if not environment.parsed_options.headless:
        forget_config(environment)  # the web UI's start dialog may have changed the settings

    try:
        config = config_for(environment)
    except Exception:  # noqa: BLE001 - a bad configuration is reported by the users
        return
    run = llm_run(environment)
    t_zero = time.perf_counter()  # the timeline's 0 too (harness.timeline_sampler)
    watches = [
        ServerWatch(
            source,
            t_zero=t_zero,
            interval_s=config.metrics_interval_s,
            warn=lambda line: logger.warning("locust-llm: %s", line),
        )
        for source in metrics_sources(config)
    ]
    run.server_views = {w.source.name: w.view for w in watches}
    _watches[environment] = watches
    for watch in watches:
        watch.start()


def _stop(environment: Environment) -> None:
    for watch in _watches.pop(environment, []):
        watch.finish()


def finish_watches(environment: Environment) -> None:
    """Take the last scrape of every target's metrics now, if not yet taken (the run's
    reports are being written: harness.finish)."""
    for watch in _watches.get(environment, []):
        watch.finish()


def _on_test_stop(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        # the workers' last requests may still be finishing and their figures arriving:
        # the last scrape waits for the end of the run (finish_watches, on `quitting`)
        for watch in _watches.get(environment, []):
            watch.stop_scraping()
        return
    _stop(environment)


events.test_start.add_listener(_on_test_start)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_on_test_stop)  # type: ignore[no-untyped-call]
