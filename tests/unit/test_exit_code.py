"""Exit codes: one map, and one place where a run's verdicts become one (docs/design.md)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.exit_code import (
    ExitCode,
    RunVerdict,
    command_exit_code,
    early_exit_code,
    run_exit_code,
    slo_exit_code,
    verdict_line,
)


def summary(slos: list[dict[str, Any]] | None = None, **modes: Any) -> dict[str, Any]:
    return {"schema": "locust-llm/summary/v1", "modes": modes, "slos": slos or []}


def sent(*, ok: int = 1, failed: int = 0, internal: int = 0) -> dict[str, Any]:
    """A summary of a run that sent requests: `failed` of them http_5xx, `internal`
    harness_internal (both outcome `failed`)."""
    outcomes = {"ok": ok, "failed": failed + internal}
    errors = {"http_5xx": failed, "harness_internal": internal}
    return summary(
        stream={"requests": ok + failed + internal, "outcomes": outcomes, "errors": errors}
    )


def test_the_map_is_the_documented_one() -> None:
    assert [(c.name, int(c)) for c in ExitCode] == [
        ("OK", 0),
        ("FAILED", 1),
        ("CONFIG", 2),
        ("INTERNAL", 3),
    ]


@pytest.mark.parametrize(
    ("results", "errors", "code"),
    [
        ([{"passed": True}, {"passed": True}], {}, 0),
        ([], {}, 0),
        ([{"passed": True}, {"passed": False}], {}, 1),
        ([{"passed": False, "reason": "no data"}], {}, 1),
        ([{"passed": True}], {"harness_internal": 1}, 3),
        ([{"passed": False}], {"harness_internal": 2}, 3),
    ],
)
def test_slo_exit_codes(results: list[dict[str, Any]], errors: dict[str, int], code: int) -> None:
    doc = summary(stream={"requests": 1, "errors": errors})
    assert slo_exit_code(results, doc) == code


def test_verdict_line_names_the_missed_gates() -> None:
    results = [{"name": "stream ttft p95", "passed": False}, {"name": "x", "passed": True}]
    assert verdict_line(results, summary()) == (
        "locust-llm: SLOs 1 of 2 met; missed: stream ttft p95: exit code 1"
    )
    assert verdict_line(results[1:], summary()) == "locust-llm: SLOs 1 of 1 met: exit code 0"
    assert verdict_line(results, sent(internal=2)) == (
        "locust-llm: 2 request(s) failed inside the harness (harness_internal): exit code 3"
    )


# --- the Locust process's code ------------------------------------------------------------


def test_a_harness_internal_failure_exits_3_with_a_scenario_and_without_one() -> None:
    doc = sent(ok=5, internal=1)
    doc["slos"] = [{"name": "failure_ratio", "passed": False}]
    assert run_exit_code(doc, RunVerdict(), judged=True) == ExitCode.INTERNAL
    assert run_exit_code(doc, RunVerdict(), judged=False) == ExitCode.INTERNAL


def test_without_a_scenario_other_failures_leave_locusts_own_code() -> None:
    assert run_exit_code(sent(ok=5, failed=2), RunVerdict(), judged=False) is None
    assert run_exit_code(sent(ok=5), RunVerdict(), judged=False) is None


def test_a_scenario_judges_the_run_by_its_slos() -> None:
    passed = sent(ok=5)
    passed["slos"] = [{"name": "stream ttft p95", "passed": True}]
    missed = sent(ok=5)
    missed["slos"] = [{"name": "stream ttft p95", "passed": False}]
    assert run_exit_code(passed, RunVerdict(), judged=True) == ExitCode.OK
    assert run_exit_code(missed, RunVerdict(), judged=True) == ExitCode.FAILED


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (RunVerdict(), ExitCode.INTERNAL),  # nothing sent and nobody said why
        (RunVerdict(nothing_sent="no user could start"), ExitCode.CONFIG),
        (RunVerdict(nothing_sent="a bug", nothing_sent_code=3), ExitCode.INTERNAL),
    ],
)
def test_a_run_that_sent_nothing_never_exits_0(verdict: RunVerdict, code: ExitCode) -> None:
    assert early_exit_code(verdict, summary()) == code
    assert run_exit_code(summary(), verdict, judged=False) == code
    assert run_exit_code(summary(), verdict, judged=True) == code  # no gate can pass it


def test_abort_after_exits_1_unless_a_worse_verdict_wins() -> None:
    aborted = RunVerdict(aborted="every request failed for 5s")
    assert early_exit_code(aborted, sent(ok=0, failed=3)) == ExitCode.FAILED
    assert run_exit_code(sent(ok=0, failed=3), aborted, judged=False) == ExitCode.FAILED
    assert run_exit_code(sent(ok=0, internal=3), aborted, judged=False) == ExitCode.INTERNAL
    assert early_exit_code(RunVerdict(), sent()) is None


# --- `locust-llm run` / `demo`: from the child's code and its summary -----------------------


@pytest.mark.parametrize(
    ("child", "doc", "code"),
    [
        (0, sent(ok=3), ExitCode.OK),
        (0, sent(ok=3, failed=1), ExitCode.FAILED),  # the failures alone, without a scenario
        (0, sent(ok=3, internal=1), ExitCode.INTERNAL),
        (3, sent(ok=3, internal=1), ExitCode.INTERNAL),  # the child's own verdict
        (1, sent(ok=0, failed=3), ExitCode.FAILED),  # --llm-abort-after
        (3, summary(), ExitCode.INTERNAL),  # nothing sent
        (137, sent(ok=3), ExitCode.INTERNAL),  # killed
    ],
)
def test_without_a_scenario(child: int, doc: dict[str, Any], code: ExitCode) -> None:
    assert command_exit_code(child, doc, judged=False) == code


@pytest.mark.parametrize(
    ("child", "code"),
    [(0, ExitCode.OK), (1, ExitCode.FAILED), (3, ExitCode.INTERNAL), (137, ExitCode.INTERNAL)],
)
def test_with_a_scenario_the_childs_verdict_stands(child: int, code: ExitCode) -> None:
    assert command_exit_code(child, sent(ok=3, failed=1), judged=True) == code


def test_both_paths_give_3_for_a_harness_internal_failure() -> None:
    """The child's code (`run_exit_code`) through `command_exit_code`, with and without a
    scenario: 3 both times (docs/design.md), where it used to be 1 without one."""
    doc = sent(ok=9, internal=1)
    doc["slos"] = [{"name": "failure_ratio", "passed": False}]
    for judged in (True, False):
        child = run_exit_code(doc, RunVerdict(), judged=judged)
        assert child is not None
        assert command_exit_code(child, doc, judged=judged) == ExitCode.INTERNAL


def test_with_targets_every_targets_requests_and_failures_count() -> None:
    from harness.exit_code import failed_requests, requests_sent

    ok = {"requests": 5, "outcomes": {"ok": 5}}
    broken = {"requests": 4, "outcomes": {"failed": 4}}
    summary = {
        "modes": {"stream": ok},  # the first target's, for v1 readers
        "targets": {"fast": {"modes": {"stream": ok}}, "broken": {"modes": {"stream": broken}}},
    }
    assert requests_sent(summary) == 9
    assert failed_requests(summary) == 4
