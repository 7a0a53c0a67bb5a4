"""Prometheus export of a Locust run: options, the /metrics server and distributed figures.

Its options — `--llm-prometheus-port` (0, the default: off), `--llm-prometheus-host`
(127.0.0.1), `--llm-prometheus-linger` (0), `--llm-scenario-name` (default) and
`--llm-buckets-<family>` (empty: the documented layout) — are rows of the one settings table
(harness.settings), registered with the others by harness.options. Importing this module
(harness.extensions does) registers its own Locust listeners:

- `init`: on the master, or the single local process, validates them (a wrong value or a busy
  port: one line, exit 2), registers an `LLMCollector` on this exporter's own
  `CollectorRegistry` and serves it at `http://HOST:PORT/metrics` from a gevent WSGI server.
  Workers never serve: the master reads the statistics its workers' deltas were merged into
 , so there is one scrape target whose numbers equal the summary's.
- Workers' `report_to_master`: their in-flight count and the endpoints they saw, under
  `REPORT_KEY`. The master keeps each worker's latest and forgets a worker once Locust does
  (quit, stopped, or missing heartbeats).
- `quit` (after the summary is written, just before the process exits): keep serving for
  `--llm-prometheus-linger`, so a Prometheus scraping every few seconds sees a short headless
  run's final figures.

/metrics is deliberately *not* a route of Locust's web UI: behind `--web-login` Prometheus
cannot log in (a session-cookie form), and open it would be public wherever the web UI is bound
(all interfaces by default). The dedicated listener binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging
import sys
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from errno import EADDRINUSE
from typing import Any

import gevent.event
from gevent.pywsgi import WSGIServer
from locust import events
from locust.env import Environment
from locust.event import EventHook
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner
from prometheus_client import CollectorRegistry, make_wsgi_app

from harness.errors import ConfigError
from harness.exit_code import ExitCode
from harness.exporters.prometheus_collector import EndpointBook, HarnessHealth, LLMCollector
from harness.exporters.prometheus_config import (
    HOST_OPTION,
    LINGER_OPTION,
    PORT_OPTION,
    PrometheusSettings,
)
from harness.record import RequestRecord
from harness.run import LLMRun, llm_run

logger = logging.getLogger("locust_llm")

#: key of this exporter's figures in Locust's worker -> master reports
REPORT_KEY = "locust_llm_prometheus"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(eq=False)
class PrometheusExporter:
    """The exporter of one Locust environment."""

    environment: Environment
    run: LLMRun
    endpoints: EndpointBook = field(default_factory=EndpointBook)
    #: master only: each worker's in-flight requests as of its last report, by client id
    worker_in_flight: dict[str, int] = field(default_factory=dict)
    settings: PrometheusSettings | None = None
    registry: CollectorRegistry | None = None
    server: WSGIServer | None = None
    _linger_done: gevent.event.Event = field(default_factory=gevent.event.Event)
    _lingering: bool = False

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/metrics"

    def health(self) -> HarnessHealth:
        """Users, in-flight requests and CPU now; summed over live workers on a master."""
        runner = self.environment.runner
        run = self.run
        if isinstance(runner, MasterRunner):
            live = {
                cid: node for cid, node in runner.clients.items() if node.state != STATE_MISSING
            }
            for client_id in [cid for cid in self.worker_in_flight if cid not in live]:
                del self.worker_in_flight[client_id]  # the worker left
            in_flight = sum(self.worker_in_flight.values())
            cpu = {"master": runner.current_cpu_usage / 100.0}
            for client_id, node in live.items():
                index = runner.get_worker_index(client_id)  # type: ignore[no-untyped-call]
                cpu[f"worker-{index}"] = node.cpu_usage / 100.0
        else:
            in_flight = run.in_flight
            cpu = {"local": runner.current_cpu_usage / 100.0} if runner is not None else {}
        users = runner.user_count if runner is not None else 0
        arrivals = {m: (c.scheduled, c.dropped) for m, c in run.arrivals.modes.items()}
        offered = None
        plan, epoch = run.plan, run.epoch
        if plan is not None and plan.is_open and epoch is not None and run.t_pace_end is None:
            offered = plan.offered_rate_at(time.perf_counter() - epoch)
        return HarnessHealth(users, in_flight, cpu, run.loop_lag, arrivals, offered)

    def serve(self, settings: PrometheusSettings) -> None:
        """Register the collector and listen; `ConfigError` if the address cannot be bound."""
        self.settings = settings
        self.registry = registry = CollectorRegistry(auto_describe=False)
        run = self.run
        registry.register(
            LLMCollector(
                lambda: run.stats,
                scenario=settings.scenario,
                endpoint_of=self.endpoints,
                health=self.health,
                buckets=settings.buckets,
                workload=lambda: run.workload_stats,
            )
        )
        server = WSGIServer((settings.host, settings.port), make_wsgi_app(registry), log=None)
        try:
            server.init_socket()
        except OSError as exc:
            if exc.errno == EADDRINUSE:
                raise ConfigError(
                    f"metrics port {settings.port} already in use; set {PORT_OPTION}"
                ) from None
            raise ConfigError(
                f"{HOST_OPTION}: cannot listen on {settings.host}:{settings.port} "
                f"({exc.strerror or type(exc).__name__})"
            ) from None
        server.start()
        self.server = server
        logger.info("locust-llm: Prometheus metrics at %s", self.url)
        if settings.host not in _LOOPBACK:
            logger.warning(
                "locust-llm: %s has no authentication; bind it to a private address", self.url
            )

    def linger(self) -> None:
        """Keep serving for the configured grace period, then stop serving. A second call (a
        SIGTERM during the wait fires `quit` again) or Ctrl-C ends the wait early."""
        if self._lingering:
            self._linger_done.set()
            return
        settings, server = self.settings, self.server
        if settings is None or server is None:
            return
        if settings.linger_s > 0:
            self._lingering = True
            logger.info(
                "locust-llm: serving final metrics at %s for %gs (%s)",
                self.url,
                settings.linger_s,
                LINGER_OPTION,
            )
            try:
                self._linger_done.wait(timeout=settings.linger_s)
            except KeyboardInterrupt:  # Ctrl-C ends the grace period, not with a traceback
                logger.info("locust-llm: stopped serving metrics early")
        server.stop(timeout=1)
        self.server = None


_exporters: weakref.WeakKeyDictionary[Environment, PrometheusExporter] = weakref.WeakKeyDictionary()


def exporter_of(environment: Environment) -> PrometheusExporter | None:
    """The exporter attached to `environment`, if any."""
    return _exporters.get(environment)


def attach(environment: Environment) -> PrometheusExporter:
    """Attach the exporter's listeners to `environment`; serve if configured (exit 2 on error)."""
    exporter = _exporters.get(environment)
    if exporter is not None:
        return exporter
    run = llm_run(environment)
    exporter = _exporters[environment] = PrometheusExporter(environment, run)
    book = exporter.endpoints
    is_worker = isinstance(environment.runner, WorkerRunner)

    def on_record(record: RequestRecord, **_: Any) -> None:
        book.observe(record.mode, record.model, record.endpoint, record.target)

    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = {"in_flight": run.in_flight, "endpoints": book.to_wire()}

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        report = data.get(REPORT_KEY)
        if report:
            exporter.worker_in_flight[client_id] = int(report.get("in_flight", 0))
            book.merge_wire(report.get("endpoints", ()))

    def on_quit(**_: Any) -> None:
        exporter.linger()

    _listen(run.llm_request, on_record)
    if is_worker:
        _listen(environment.events.report_to_master, on_report_to_master)
        return exporter
    _listen(environment.events.worker_report, on_worker_report)
    _listen(environment.events.quit, on_quit)
    if environment.parsed_options is None:
        return exporter
    try:
        settings = PrometheusSettings.from_options(environment.parsed_options)
        if settings.port:
            exporter.serve(settings)
    except ConfigError as exc:
        # bad configuration: one line, exit 2, nothing sent (docs/design.md)
        sys.stderr.write(f"locust-llm: error: {exc}\n")
        sys.exit(ExitCode.CONFIG)
    return exporter


def _listen(hook: EventHook, handler: Callable[..., None]) -> None:
    """`hook.add_listener(handler)`, typed (Locust's EventHook is not)."""
    hook.add_listener(handler)  # type: ignore[no-untyped-call]


def _on_init(environment: Environment, **_: Any) -> None:
    attach(environment)


_listen(events.init, _on_init)
