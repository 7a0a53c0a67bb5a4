"""The goodput and slo_attainment SLO gates: the first gates with a minimum."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.exit_code import ExitCode, slo_exit_code
from harness.scenario import load_scenario
from harness.slo import GOODPUT, SLO, SLO_ATTAINMENT, describe, evaluate


def mode(met: int, per_s: float, *, ok: int, failed: int = 0, cancelled: int = 0) -> Any:
    outcomes = {"ok": ok, "failed": failed, "cancelled": cancelled}
    return {
        "requests": ok + failed + cancelled,
        "outcomes": outcomes,
        "goodput": {"limits": {"e2e_s": 20.0}, "met": met, "goodput_per_s": per_s},
    }


def summary(**modes: Any) -> dict[str, Any]:
    return {"schema": "locust-llm/summary/v1", "modes": modes, "slos": []}


RUN = summary(
    stream=mode(45, 4.5, ok=48, failed=2, cancelled=3),
    batch=mode(10, 1.0, ok=10, failed=10),
)


def test_a_goodput_gate_over_all_modes_sums_their_goodput() -> None:
    [result] = evaluate([SLO(GOODPUT, 5.0)], RUN)
    assert result == {
        "name": "goodput >= 5/s",
        "metric": "goodput",
        "min_per_s": 5.0,
        "value_per_s": 5.5,
        "passed": True,
    }


def test_a_goodput_gate_of_one_mode_is_missed_below_its_min() -> None:
    [result] = evaluate([SLO(GOODPUT, 5.0, mode="stream")], RUN)
    assert result == {
        "name": "stream goodput >= 5/s",
        "metric": "goodput",
        "mode": "stream",
        "min_per_s": 5.0,
        "value_per_s": 4.5,
        "passed": False,
    }


def test_a_gate_exactly_at_its_min_passes() -> None:
    [result] = evaluate([SLO(GOODPUT, 4.5, mode="stream")], RUN)
    assert result["passed"] is True


def test_slo_attainment_is_met_over_finished_requests() -> None:
    # stream: 45 of 50 finished (3 cancelled are not counted) = 0.9
    [result] = evaluate([SLO(SLO_ATTAINMENT, 0.9, mode="stream")], RUN)
    assert result == {
        "name": "stream slo_attainment >= 0.9",
        "metric": "slo_attainment",
        "mode": "stream",
        "min": 0.9,
        "value": 0.9,
        "passed": True,
    }


def test_slo_attainment_over_all_modes_pools_their_requests() -> None:
    # (45 + 10) met of (50 + 20) finished
    [result] = evaluate([SLO(SLO_ATTAINMENT, 0.95)], RUN)
    assert result["value"] == 55 / 70
    assert result["passed"] is False


def test_a_gate_without_goodput_figures_fails_with_the_reason() -> None:
    [result] = evaluate([SLO(GOODPUT, 1.0, mode="batch")], summary(stream=RUN["modes"]["stream"]))
    assert result == {
        "name": "batch goodput >= 1/s",
        "metric": "goodput",
        "mode": "batch",
        "min_per_s": 1.0,
        "passed": False,
        "reason": "no data: no batch request was judged against goodput limits",
    }


def test_a_missed_goodput_gate_exits_1() -> None:
    results = evaluate([SLO(GOODPUT, 6.0)], RUN)
    assert slo_exit_code(results, RUN) == ExitCode.FAILED
    assert slo_exit_code(evaluate([SLO(GOODPUT, 5.5)], RUN), RUN) == ExitCode.OK


def test_print_config_describes_the_gates() -> None:
    assert describe(SLO(GOODPUT, 5.0)) == "goodput >= 5/s (requests that met every goodput limit)"
    assert describe(SLO(SLO_ATTAINMENT, 0.95, mode="batch")) == (
        "batch slo_attainment >= 0.95 (95% of finished requests met every goodput limit)"
    )


# ---------------------------------------------------------------- in the scenario


def load_slos(text: str, tmp_path: Path) -> tuple[SLO, ...]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path, {}).slos


def scenario_error(text: str, tmp_path: Path) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    return str(info.value).removeprefix(f"{path}:")


def test_the_scenario_reads_minimum_gates(tmp_path: Path) -> None:
    slos = load_slos(
        "slos:\n"
        "  - {metric: goodput, min: 5/s}\n"
        "  - {mode: batch, metric: goodput, min: 120/m}\n"
        "  - {metric: slo_attainment, min: 0.95}\n",
        tmp_path,
    )
    assert [(s.metric, s.limit, s.mode, s.title) for s in slos] == [
        ("goodput", 5.0, None, "goodput >= 5/s"),
        ("goodput", 2.0, "batch", "batch goodput >= 2/s"),
        ("slo_attainment", 0.95, None, "slo_attainment >= 0.95"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "slos:\n  - {metric: goodput, max: 5/s}\n",
            "2:28: slos[0].max: a goodput SLO has no max (it is gated by a min)",
        ),
        (
            "slos:\n  - {metric: goodput}\n",
            "2:5: slos[0]: missing key 'min' (requests per second, e.g. 5/s)",
        ),
        (
            "slos:\n  - {metric: slo_attainment, min: 95}\n",
            "2:35: slos[0].min: expected a number from 0 to 1, got 95",
        ),
        (
            "slos:\n  - {metric: goodput, min: 0/s}\n",
            "2:28: slos[0].min: a goodput SLO's min must be above 0",
        ),
        (
            "slos:\n  - {metric: goodput, percentile: 95, min: 5/s}\n",
            "2:35: slos[0].percentile: a goodput SLO has no percentile (it is gated by a min)",
        ),
        (
            "slos:\n  - {mode: stream, metric: ttft, percentile: 95, min: 500ms}\n",
            "2:55: slos[0].min: ttft is gated by a max (min is for goodput and slo_attainment)",
        ),
    ],
)
def test_bad_minimum_gates_are_one_line(text: str, message: str, tmp_path: Path) -> None:
    assert scenario_error(text, tmp_path) == message
