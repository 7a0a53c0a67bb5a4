"""The process exit codes, and the one place where a run's verdicts become one.

`ExitCode` is the map (docs/design.md, "Nothing sent, and exit codes"): 0 success, 1 failures
or a missed SLO, 2 bad configuration or usage (nothing sent), 3 the harness itself failed.

A run is judged three ways, and the worst verdict wins (3 > 2 > 1):

- by the harness's own failures: a request counted as `harness_internal` is exit code 3,
  with a scenario or without one;
- by a scenario's SLO gates (`slo_exit_code`), when a scenario judges the run;
- by what happened while it ran (`RunVerdict`): nothing was sent (2 when the configuration
  was the reason, else 3), or `--llm-abort-after` stopped it (1).

`run_exit_code()` is what the Locust process exits with (the finish sink, harness.finish,
sets it); `command_exit_code()` what `locust-llm run` and `demo` exit with, from the Locust
child's code and the summary it wrote. Pure: standard library and harness.slo only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import is_failure
from harness.slo import harness_failures


class ExitCode(enum.IntEnum):
    """The exit codes of `locust` with the harness and of `locust-llm`."""

    OK = 0
    #: an SLO missed, a failed request (no scenario), or `--llm-abort-after` stopped the run
    FAILED = 1
    #: bad configuration or usage: nothing was sent
    CONFIG = 2
    #: the harness itself failed: `harness_internal`, reports not written, nothing sent
    #: for a reason other than configuration
    INTERNAL = 3


#: the line a run that sent nothing ends with when nothing else said why
NOTHING_SENT = "no request was sent: no user started, or the run ended before the first request"


@dataclass(slots=True)
class RunVerdict:
    """What a run decided about its exit code while it ran.

    `nothing_sent`: one line saying why no request could be sent (every user failed to
    start, preflight refused the target), with its code (2 configuration, 3 the harness).
    `aborted`: the line `--llm-abort-after` printed when it stopped the run (exit code 1).
    `told`: the line has been printed, so it is printed once.
    """

    nothing_sent: str | None = None
    nothing_sent_code: int = ExitCode.CONFIG
    aborted: str | None = None
    told: bool = False


def _all_modes(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every mode block of the run: each target's with several targets (`modes` then
    holds only the first's), else `modes`."""
    targets = summary.get("targets")
    if isinstance(targets, Mapping) and targets:
        return [
            m
            for t in targets.values()
            if isinstance(t, Mapping)
            for m in (t.get("modes") or {}).values()
        ]
    return list((summary.get("modes") or {}).values())


def requests_sent(summary: Mapping[str, Any]) -> int:
    """How many requests the summary counts, over every mode (and target)."""
    return sum(int(m.get("requests", 0) or 0) for m in _all_modes(summary))


def failed_requests(summary: Mapping[str, Any]) -> int:
    """How many requests failed (every outcome but a success and `cancelled`), over every
    mode and target."""
    return sum(
        n
        for m in _all_modes(summary)
        for k, n in (m.get("outcomes") or {}).items()
        if is_failure(k)
    )


def slo_exit_code(results: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> ExitCode:
    """3 if the harness failed, else 1 if any SLO missed, else 0 (`results`: summary.json's
    ``"slos"``)."""
    if harness_failures(summary):
        return ExitCode.INTERNAL
    if any(result.get("passed") is not True for result in results):
        return ExitCode.FAILED
    return ExitCode.OK


def early_exit_code(verdict: RunVerdict, summary: Mapping[str, Any]) -> ExitCode | None:
    """2 or 3 when the run sent no request, 1 when `--llm-abort-after` stopped it, else None.

    A run that sent nothing never exits 0: 2 when its reason was the configuration, 3 for
    any other reason or none known (`NOTHING_SENT`).
    """
    if requests_sent(summary) == 0:
        return ExitCode(verdict.nothing_sent_code) if verdict.nothing_sent else ExitCode.INTERNAL
    if verdict.aborted is not None:
        return ExitCode.FAILED
    return None


def run_exit_code(
    summary: Mapping[str, Any], verdict: RunVerdict, *, judged: bool
) -> ExitCode | None:
    """The Locust process's exit code, or None to leave Locust's own (1 on any failure).

    `judged`: a scenario judges the run by its SLOs (summary.json's ``"slos"``). The worst
    of the harness's failures, the SLOs and the early verdict wins.
    """
    codes: list[ExitCode] = []
    if harness_failures(summary):
        codes.append(ExitCode.INTERNAL)
    if judged:
        codes.append(slo_exit_code(summary["slos"], summary))
    early = early_exit_code(verdict, summary)
    if early is not None:
        codes.append(early)
    return max(codes, default=None)


def command_exit_code(child: int, summary: Mapping[str, Any], *, judged: bool) -> ExitCode:
    """`locust-llm run`/`demo`'s exit code, from its Locust child's and the child's summary.

    The child runs with `--exit-code-on-error 0`, so its code is `run_exit_code`'s or 0.
    A judged run exits with the child's verdict; without a scenario, a child that exited 0
    is judged by its failures alone: 3 for a `harness_internal` one, 1 for any other.
    """
    if judged:
        ok = (ExitCode.OK, ExitCode.FAILED, ExitCode.INTERNAL)
        return ExitCode(child) if child in ok else ExitCode.INTERNAL
    if child == ExitCode.FAILED:  # --llm-abort-after stopped the run
        return ExitCode.FAILED
    if child != ExitCode.OK or harness_failures(summary):
        return ExitCode.INTERNAL
    return ExitCode.FAILED if failed_requests(summary) else ExitCode.OK


def verdict_line(results: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    """One line for a log: which gates passed, and the exit code it gives."""
    code = slo_exit_code(results, summary)
    passed = sum(1 for r in results if r.get("passed") is True)
    if code == ExitCode.INTERNAL:
        return (
            f"locust-llm: {harness_failures(summary)} request(s) failed inside the harness "
            "(harness_internal): exit code 3"
        )
    missed = [str(r.get("name")) for r in results if r.get("passed") is not True]
    if missed:
        return (
            f"locust-llm: SLOs {passed} of {len(results)} met; missed: {', '.join(missed)}: "
            "exit code 1"
        )
    return f"locust-llm: SLOs {passed} of {len(results)} met: exit code 0"
