"""`locust-llm sweep` as a user runs it, against the mock with a capacity limit (--slots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import locust_llm

#: the mock: at most 2 generations at once, each 0.1 s + 9 × 10 ms ≈ 0.19 s: about 10.5/s
SCENARIO = """\
mock: {ttft: 100ms, itl: 10ms, tokens: 10, slots: 2}
load: {max_in_flight: 32}
"""


@pytest.mark.slow
def test_a_sweep_over_three_rates_finds_the_knee_of_a_capacity_limited_server(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "sweep.yaml"
    scenario.write_text(SCENARIO)
    done = locust_llm(
        "sweep", str(scenario), "--rates", "4,8,16", "--stage-time", "6s", "--warmup", "1500ms",
        "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=150,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert doc["schema"] == "locust-llm/sweep/v1"
    assert doc["sweep"]["spec"] == "rates:4,8,16"
    points = doc["points"]
    assert [p["offered_rate_per_s"] for p in points] == [4.0, 8.0, 16.0]
    # every point was measured in the one run: its requests and its own figures
    for point in points:
        assert point["requests"] > 0
        assert (
            point["sent"] + point.get("unsent_at_end", 0) + point["dropped"] == (point["scheduled"])
        )
    # 8/s is under the mock's ~10.5/s, 16/s is over it: the knee is 8/s, within one point
    assert doc["knee"]["offered_rate_per_s"] in (4.0, 8.0), doc["knee"]
    # past capacity the wait shows from the schedule
    over = points[2]["modes"]["stream"]["from_schedule_first_visible_s"]["p50"]
    under = points[0]["modes"]["stream"]["from_schedule_first_visible_s"]["p50"]
    assert over > 3 * under
    assert (tmp_path / "out" / "sweep.html").read_text().count("<svg") == 2
    assert "Knee: " in done.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["run"]["load"]["sweep"] == "rates:4,8,16"
    assert len(summary["stages"]) == 3


@pytest.mark.slow
def test_an_auto_sweep_measures_two_closed_points_then_rates_between(tmp_path: Path) -> None:
    scenario = tmp_path / "sweep.yaml"
    # no capacity limit: 2 users give ~10/s, 6 users ~30/s
    scenario.write_text("mock: {ttft: 100ms, itl: 10ms, tokens: 10}\n")
    done = locust_llm(
        "sweep", str(scenario), "--auto", "--stage-time", "5s", "--warmup", "1s",
        "--max-in-flight", "6", "--llm-sweep-points", "2", "--out", str(tmp_path / "out"),
        cwd=tmp_path, timeout=150,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    points = doc["points"]
    assert [p["kind"] for p in points] == ["closed", "closed", "open", "open"]
    assert [p.get("users") for p in points[:2]] == [2, 6]  # one per mode, then the pool
    sync, most = points[0]["throughput_per_s"], points[1]["throughput_per_s"]
    rates = [p["offered_rate_per_s"] for p in points[2:]]
    assert sync < rates[0] < rates[1] < most


def test_sweep_refuses_load_flags_it_sets_itself(tmp_path: Path) -> None:
    done = locust_llm(
        "sweep", "--host", "http://127.0.0.1:9/v1", "--rates", "1,2", "--users", "4",
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "locust-llm: error: sweep: --users is not a sweep option (the points set the load)"
    )


@pytest.mark.slow
def test_a_point_clearly_past_saturation_stops_early(tmp_path: Path) -> None:
    scenario = tmp_path / "sweep.yaml"
    # one generation at a time, 0.19 s each: about 5/s; 30/s piles up 25 requests a second
    scenario.write_text(
        "mock: {ttft: 100ms, itl: 10ms, tokens: 10, slots: 1}\nload: {max_in_flight: 8}\n"
    )
    done = locust_llm(
        "sweep", str(scenario), "--rates", "2,30", "--stage-time", "20s", "--warmup", "1s",
        "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=150,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    light, heavy = doc["points"]
    assert "stopped_early" not in light
    assert heavy["stopped_early"]["waiting"] >= 5 * 30  # 5 s of the rate waited unsent
    assert heavy["measured_s"] < 15.0  # of its 19 s
    assert doc["knee"]["offered_rate_per_s"] == 2.0
    assert "30/s (stopped early)" in done.stdout
