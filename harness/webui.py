"""The LLM tab of the Locust web UI, its JSON endpoint and its downloads.

Built on Locust's own extension mechanism for its React UI: in the `init`
listener the tab, its table's columns and the download links go into
`web_ui.template_args` (`extended_tabs`, `extended_tables`, `extended_csv_files`), and an
`after_request` hook adds the table's rows to every `/stats/requests` answer as
`extended_stats`, so the tab refreshes with Locust's own polling (every 2 s while a test
runs). The figures come from the harness's precise statistics (`harness.run.llm_run`),
merged on the master in distributed mode, never from Locust's rounded rows.

Routes, all behind `--web-login` when it is on (`auth_required_if_enabled`) and under
`--web-base-path`:

- `GET /llm/stats`: the live document for API clients (`LIVE_SCHEMA`): the summary.json
  document so far, the headline comparison, the load generator's health and the table;
- `GET /llm/summary.json` and `GET /llm/summary.md`: the run's summary, generated on demand;
- `GET /llm/stats/csv`: one CSV row per (mode, model) with the percentiles in seconds (per
  target, mode and model in a run with targets).

With targets (``targets:``), the tab shows the endpoints side by side: a row per target under
each figure, the comparison and the gateway overhead (harness.report.live).

What the tab shows is harness.report.live (functions of a summary document, callable
without a running Locust); the recent loop lag is harness.stats.LagWindow's.

Layer 2 (Locust glue): imports locust and flask; nothing in the core imports this module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, request
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner

from harness.report.live import (
    TABLE_STRUCTURE,
    LoadGeneratorHealth,
    live_document,
    models_by_mode,
    models_by_target,
    stats_csv,
    table_rows,
)
from harness.report.markdown import render_markdown
from harness.run import LLMRun, llm_run
from harness.stats import LagWindow

#: the tab's key: in `?tab=llm`, and in `extended_tables` / `extended_stats`
TAB_KEY = "llm"
TAB_TITLE = "LLM"
#: links in Locust's "Download Data" tab; relative, so `--web-base-path` works
DOWNLOADS = (
    {"href": "./llm/summary.json", "title": "Download LLM summary (summary.json)"},
    {"href": "./llm/summary.md", "title": "Download LLM comparison (summary.md)"},
    {"href": "./llm/stats/csv", "title": "Download LLM statistics CSV"},
)

View = Callable[[], Response]


def load_generator_health(run: LLMRun, window: LagWindow, now: float) -> LoadGeneratorHealth:
    """The run's saturation verdict and its loop-lag p99, over the run and (while it runs)
    over the last `LAG_WINDOW_S` seconds."""
    running = run.t_start is not None and run.t_stop is None
    recent = window.recent(run.loop_lag, now).percentile(99) if running else None
    return LoadGeneratorHealth(
        client_saturated=run.client_saturated,
        loop_lag_p99_s=run.loop_lag.percentile(99),
        recent_loop_lag_p99_s=recent,
    )


# --- wiring into Locust ---------------------------------------------------------------------


class LLMTab:
    """The tab of one environment's web UI: computes its figures and serves its routes."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.run = llm_run(environment)
        self.window = LagWindow()

    def summary(self) -> dict[str, Any]:
        return self.run.summary()

    def live(self) -> dict[str, Any]:
        runner = self.environment.runner
        health = load_generator_health(self.run, self.window, time.monotonic())
        worker_count = runner.worker_count if isinstance(runner, MasterRunner) else None
        return live_document(
            self.summary(),
            models_by_mode(self.run.stats),
            health,
            state=str(getattr(runner, "state", "missing")),
            user_count=int(getattr(runner, "user_count", 0) or 0),
            worker_count=worker_count,
            target_models=models_by_target(self.run.stats),
        )

    def rows(self) -> list[dict[str, str]]:
        health = load_generator_health(self.run, self.window, time.monotonic())
        stats = self.run.stats
        return table_rows(
            self.summary(), models_by_mode(stats), health, target_models=models_by_target(stats)
        )

    def blueprint(self, url_prefix: str | None, protect: Callable[[View], View]) -> Blueprint:
        """The `/llm/…` routes, each wrapped by `protect` (`auth_required_if_enabled`)."""
        bp = Blueprint("locust_llm", __name__, url_prefix=url_prefix or None)

        @bp.route("/llm/stats")
        @protect
        def llm_stats() -> Response:
            return _json_response(self.live())

        @bp.route("/llm/summary.json")
        @protect
        def llm_summary_json() -> Response:
            body = json.dumps(self.summary(), indent=2, ensure_ascii=False) + "\n"
            return _download(body, "summary.json", "application/json")

        @bp.route("/llm/summary.md")
        @protect
        def llm_summary_md() -> Response:
            return _download(render_markdown(self.summary()), "summary.md", "text/markdown")

        @bp.route("/llm/stats/csv")
        @protect
        def llm_stats_csv() -> Response:
            stats = self.run.stats
            body = stats_csv(
                self.summary(), models_by_mode(stats), target_models=models_by_target(stats)
            )
            return _download(body, "llm_stats.csv", "text/csv")

        return bp

    def add_rows(self, response: Response) -> Response:
        """`after_request`: add the tab's rows to Locust's `/stats/requests` answer."""
        if request.endpoint != "locust.request_stats" or response.status_code != 200:
            return response
        report = response.get_json(silent=True)
        if not isinstance(report, dict):
            return response
        extended = [
            e
            for e in report.get("extended_stats") or []
            if not (isinstance(e, dict) and e.get("key") == TAB_KEY)
        ]
        extended.append({"key": TAB_KEY, "data": self.rows()})
        report["extended_stats"] = extended
        # Locust memoizes this response object for 2 s: replacing the key keeps it idempotent
        response.set_data(json.dumps(report))
        return response


def _json_response(document: Mapping[str, Any]) -> Response:
    return Response(json.dumps(document), mimetype="application/json")


def _download(body: str, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


def _extend(
    args: dict[str, Any], key: str, items: Sequence[Mapping[str, Any]], id_key: str
) -> None:
    """Append `items` to template_args[key], leaving other extensions' entries in place."""
    current = [i for i in args.get(key) or [] if i.get(id_key) not in {j[id_key] for j in items}]
    args[key] = current + [dict(i) for i in items]


def install(environment: Environment) -> LLMTab | None:
    """Add the LLM tab, its routes and downloads to `environment.web_ui` (if there is one)."""
    web_ui = environment.web_ui
    app = web_ui.app if web_ui is not None else None
    if web_ui is None or app is None:
        return None
    tab = LLMTab(environment)
    args: dict[str, Any] = web_ui.template_args
    _extend(args, "extended_tabs", [{"title": TAB_TITLE, "key": TAB_KEY}], "key")
    table = {"key": TAB_KEY, "structure": [dict(c) for c in TABLE_STRUCTURE]}
    _extend(args, "extended_tables", [table], "key")
    _extend(args, "extended_csv_files", DOWNLOADS, "href")
    options = environment.parsed_options
    base_path = getattr(options, "web_base_path", None) if options is not None else None
    app.register_blueprint(tab.blueprint(base_path, web_ui.auth_required_if_enabled))
    app.after_request(tab.add_rows)
    return tab


def _on_init(environment: Environment, **_: Any) -> None:
    install(environment)


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]  # Locust is untyped
