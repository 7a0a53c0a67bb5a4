"""The end of a run, as a sink on Locust's `quitting`: judge the run, write every report.

On the master or the single local process, `quitting` completes the summary document with
what the reports need beyond the totals (harness.report.enrich: quantiles for the CDF plots,
the timeline, models, endpoint, cost, SLO verdicts), writes summary.json, summary.md,
report.html and junit.xml into `--llm-out`, and sets the process exit code that
harness.exit_code decides (docs/design.md): when a scenario judges the run, when a request
failed inside the harness, when the run sent nothing, or when `--llm-abort-after` stopped
it; else Locust's own stands (1 on any failure, else 0).

This sink depends on the run (harness.run), never the reverse. Locust glue: importing this
module registers its `init` listener, which attaches the `quitting` listener to each
environment (harness.extensions imports it), and the timeline sampler's listeners
(harness.timeline_sampler).
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from locust import events
from locust.runners import WorkerRunner

from harness.exit_code import (
    NOTHING_SENT,
    ExitCode,
    requests_sent,
    run_exit_code,
    verdict_line,
)
from harness.report.enrich import complete_summary
from harness.report.summary import write_all_reports
from harness.run import LLMRun, llm_run, verdict_for
from harness.server_watch import finish_watches
from harness.timeline_sampler import timeline_for

if TYPE_CHECKING:
    from locust.env import Environment

logger = logging.getLogger("locust_llm")


def finish_run(environment: Environment, run: LLMRun) -> ExitCode | None:
    """Complete, judge and write the run's reports; the exit code, if the harness decides it.

    Never raises: a failure here is the harness's own (exit code 3), logged once.
    """
    try:
        from harness.options import config_for

        config = config_for(environment)
        finish_watches(environment)  # the server's last scrape, before its block is built
        summary = complete_summary(
            run.summary(), stats=run.stats, config=config, timeline=timeline_for(environment)
        )
        judged = config.scenario is not None
        verdict = verdict_for(environment)
        code = run_exit_code(summary, verdict, judged=judged)
        if requests_sent(summary) == 0 and not verdict.told:
            verdict.told = True  # a run that sent nothing says why, once, in one line
            logger.error("locust-llm: error: %s", verdict.nothing_sent or NOTHING_SENT)
        out_dir = getattr(environment.parsed_options, "llm_out", "") or ""
        if out_dir:
            paths = write_all_reports(summary, Path(out_dir))
            logger.info("locust-llm: wrote %s", ", ".join(str(p) for p in paths))
        if judged:
            logger.info("%s", verdict_line(summary["slos"], summary))
        return code
    except Exception:  # the harness failed: exit code 3, with one traceback
        logger.exception("locust-llm: could not finish the run's reports")
        return ExitCode.INTERNAL


_attached: weakref.WeakSet[Environment] = weakref.WeakSet()


def attach(environment: Environment) -> None:
    """Finish `environment`'s run when Locust quits (once per environment)."""
    if environment in _attached:
        return
    _attached.add(environment)
    run = llm_run(environment)

    def on_quitting(environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return
        run.stop()
        if run.t_start is not None:
            code = finish_run(environment, run)
            if code is not None:  # the harness's verdict wins over Locust's own (§4)
                environment.process_exit_code = int(code)

    environment.events.quitting.add_listener(on_quitting)  # type: ignore[no-untyped-call]


def _on_init(environment: Environment, **_: Any) -> None:
    attach(environment)


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]  # Locust is untyped
