"""`locust-llm run scenario.yaml` as CI runs it: real processes against the real mock.

Exit codes (DESIGN.md §4): 0 every SLO met, 1 one missed (or failures above the allowed
ratio), 2 bad configuration with nothing sent (the mock's own counters prove it), and our
codes win over Locust's. Every bad input is one line on stderr, never a traceback.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT, MockProcess, locust_llm, run_mock

pytestmark = pytest.mark.slow

CANARY = "sk-canary-5b1f0c9e2d7a4"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with run_mock("--ttft", "30ms", "--itl", "5ms", "--tokens", "8") as server:
        yield server


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return locust_llm(*args, cwd=cwd, env=env, timeout=timeout)


def requests_received(mock: MockProcess) -> int:
    stats = mock.stats()
    return sum(n for by_mode in stats["requests"].values() for n in by_mode.values())


def scenario(tmp_path: Path, mock: MockProcess, body: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(f"target:\n  base_url: {mock.url}\n" + body, encoding="utf-8")
    return path


def test_a_scenario_whose_slos_are_met_exits_0_with_every_report(
    tmp_path: Path, mock: MockProcess
) -> None:
    path = scenario(
        tmp_path,
        mock,
        "  api_key_env: LLM_KEY\n"
        "request: {max_tokens: 8}\n"
        "load: {users: 4, spawn_rate: 4, run_time: 4s}\n"
        "pricing:\n  mock-llm: {input: 0.5, output: 1.5}\n"
        "slos:\n"
        "  - {mode: stream, metric: ttft, percentile: 95, max: 2s}\n"
        "  - {mode: batch, metric: first_visible, percentile: 99, max: 5s}\n"
        "  - {metric: failure_ratio, max: 0.01}\n",
    )
    before = requests_received(mock)
    result = cli("run", str(path), "--headless", cwd=tmp_path, env={"LLM_KEY": CANARY})
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "llm-report"
    assert sorted(p.name for p in out.iterdir()) == [
        "junit.xml",
        "report.html",
        "requests.jsonl.gz",
        "summary.json",
        "summary.md",
    ]
    summary = json.loads((out / "summary.json").read_text())
    schema = json.loads((ROOT / "harness" / "report" / "summary.schema.json").read_text())
    jsonschema.validate(summary, schema)
    assert [(s["name"], s["passed"]) for s in summary["slos"]] == [
        ("stream ttft p95", True),
        ("batch first_visible p99", True),
        ("failure_ratio", True),
    ]
    assert summary["slos"][0]["value_s"] == summary["modes"]["stream"]["ttft_s"]["p95"]
    sent = summary["modes"]["stream"]["requests"] + summary["modes"]["batch"]["requests"]
    assert requests_received(mock) - before == sent
    assert summary["run"]["scenario"] == "scenario.yaml"
    assert summary["run"]["models"] == ["mock-llm"]
    cost = summary["cost"]
    tokens = cost["models"]["mock-llm"]
    assert tokens["output_tokens"] == 8 * sent
    assert cost["total"] == pytest.approx(
        (tokens["input_tokens"] * 0.5 + tokens["output_tokens"] * 1.5) / 1e6
    )
    junit = ET.parse(out / "junit.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("3", "0")
    markdown = (out / "summary.md").read_text()
    assert "SLOs: 3 of 3 passed." in markdown
    assert "Estimated cost: $" in markdown
    assert "SLOs: 3 of 3 passed." in result.stdout
    for report in out.iterdir():  # catalogue SEC-01: the key never reaches a report
        data = report.read_bytes()
        text = gzip.decompress(data) if report.suffix == ".gz" else data
        assert CANARY.encode() not in text
    assert CANARY not in result.stdout + result.stderr


def test_a_scenario_whose_slos_cannot_be_met_exits_1(tmp_path: Path, mock: MockProcess) -> None:
    path = scenario(
        tmp_path,
        mock,
        "load: {users: 2, run_time: 3s}\n"
        "mix: {stream: 1, batch: 0}\n"
        "slos:\n"
        "  - {mode: stream, metric: ttft, percentile: 95, max: 1ms}\n"
        "  - {mode: batch, metric: e2e, percentile: 99, max: 5s}\n",
    )
    result = cli("run", str(path), "--headless", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["modes"]) == {"stream"}  # the mix ran no batch user
    ttft, batch, failures = summary["slos"]
    assert ttft["passed"] is False
    assert ttft["value_s"] > 0.025
    assert batch == {
        "name": "batch e2e p99",
        "metric": "e2e",
        "mode": "batch",
        "percentile": 99,
        "limit_s": 5.0,
        "passed": False,
        "reason": "no data: no batch request was made",
    }
    assert failures["name"] == "failure_ratio"
    assert failures["passed"] is True
    junit = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("3", "2")
    messages = [f.get("message") for f in junit.iter("failure")]
    assert messages[0] is not None
    assert messages[0].startswith("stream ttft p95: ")
    assert messages[0].endswith(" is above the limit 1.00 ms")
    assert messages[1] == "batch e2e p99: no data: no batch request was made (limit 5.00 s)"
    assert "- FAIL stream ttft p95:" in result.stdout


def test_failed_requests_exit_1_without_a_failure_ratio_slo(
    tmp_path: Path, mock: MockProcess
) -> None:
    # the mock refuses max_completion_tokens 0 with a 400: every request fails (http_4xx)
    path = scenario(
        tmp_path,
        mock,
        "request: {extra_body: {max_completion_tokens: 0}}\nload: {users: 2, run_time: 2s}\n",
    )
    result = cli("run", str(path), "--headless", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["slos"] == [
        {
            "name": "failure_ratio",
            "metric": "failure_ratio",
            "limit": 0.0,
            "value": 1.0,
            "passed": False,
        }
    ]
    assert summary["modes"]["stream"]["errors"] == {
        "http_4xx": summary["modes"]["stream"]["requests"]
    }


def test_our_exit_code_wins_over_locusts_in_plain_locust(tmp_path: Path, mock: MockProcess) -> None:
    path = scenario(
        tmp_path,
        mock,
        "request: {extra_body: {max_completion_tokens: 0}}\n"
        "slos:\n  - {metric: failure_ratio, max: 1.0}\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "harness" / "locustfile.py"),
         "--headless", "-u", "2", "-r", "2", "-t", "2s", "--only-summary",
         "--llm-scenario", str(path), "--llm-out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    # every request failed (Locust alone would exit 1), but the SLO allows it
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["run"]["host"] == mock.url  # the scenario's target, with no --host
    assert summary["slos"][0]["value"] == 1.0
    assert summary["slos"][0]["passed"] is True


# --- bad configuration: exit 2, one line, nothing sent ----------------------------------


def test_a_bad_scenario_exits_2_and_sends_nothing(tmp_path: Path, mock: MockProcess) -> None:
    path = scenario(tmp_path, mock, "  model: no\nload: {users: 2, run_time: 2s}\n")
    before = requests_received(mock)
    result = cli("run", str(path), "--headless", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"locust-llm: error: {path}:3:10: target.model: expected a string, got boolean false "
        '(unquoted no/yes/on/off are booleans in YAML 1.1; write "no")\n'
    )
    assert result.stdout == ""
    assert requests_received(mock) == before
    assert not (tmp_path / "llm-report").exists()


def test_plain_locust_with_a_bad_scenario_exits_2_and_sends_nothing(
    tmp_path: Path, mock: MockProcess
) -> None:
    path = scenario(tmp_path, mock, "load: {users: 0}\n")
    before = requests_received(mock)
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "harness" / "locustfile.py"),
         "--headless", "-u", "1", "-t", "2s", "--llm-scenario", str(path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"locust-llm: error: {path}:3:15: load.users: expected an integer from 1 to "
        "1,000,000, got 0"
    )
    assert requests_received(mock) == before


BAD_FILES = [
    ("load:\n  users: 10\n  users: 100\n", "3:3: load: duplicate key 'users' (lines 2 and 3)"),
    (
        "request:\n  max_token: 5\n",
        "2:3: request: unknown key 'max_token' — did you mean 'max_tokens'? "
        "(allowed: max_tokens, temperature, top_p, extra_body)",
    ),
    (
        "load:\n\tusers: 3\n",
        "2:1: YAML syntax error: a tab character; YAML indents with spaces only",
    ),
    (
        "load:\n  stages: []\n",
        "2:11: load.stages: expected at least one stage",
    ),
    (
        "target:\n  base_url: ${NOT_SET_ANYWHERE}\n",
        "2:13: target.base_url: references ${NOT_SET_ANYWHERE}, which is not set",
    ),
    (
        "slos:\n  - {mode: stream, metric: ttft, percentile: 101, max: 500ms}\n",
        "2:46: slos[0].percentile: expected one of 50, 90, 95, 99 (the percentiles "
        "summary.json holds), got 101",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_files_through_the_cli(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "scenario.yaml").write_text(text)
    result = cli("run", "scenario.yaml", "--headless", "--host", "http://127.0.0.1:9/v1",
                 cwd=tmp_path)  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"locust-llm: error: scenario.yaml:{message}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "locust-llm: error: missing.yaml: no such file"),
        (["."], "locust-llm: error: .: is a directory, expected a YAML file"),
        (["--users", "abc"], "locust-llm run: error: argument --users/-u: expected a positive "
         "integer, got 'abc'"),
        (["--users", "-5"], "locust-llm run: error: argument --users/-u: expected a positive "
         "integer, got '-5'"),
        (["--usr=5"], "locust-llm: error: unrecognized arguments: --usr=5 (did you mean "
         "--users?)"),
        (["--api-key", CANARY], "locust-llm run: error: the --api-key flag is refused: a key on "
         "the command line shows in ps and shell history; set OPENAI_API_KEY (or name the "
         "variable with target.api_key_env in the scenario, or use target.api_key_file)"),
    ],
)  # fmt: skip
def test_bad_command_lines_are_one_line_without_the_key(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli("run", *args, "--host", "http://127.0.0.1:9/v1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == message + "\n"
    assert CANARY not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LOCUST_USERS", "ten", "LOCUST_USERS: expected a positive integer, got 'ten'"),
        ("LOCUST_USERS", "", "LOCUST_USERS: expected a positive integer, got ''"),
        (
            "LOCUST_LLM_ENDPOINT",
            "maybe",
            "LOCUST_LLM_ENDPOINT: expected one of chat, completions, got 'maybe'",
        ),
    ],
)
def test_bad_environment_variables_exit_2(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = cli("run", "--host", "http://127.0.0.1:9/v1", cwd=tmp_path, env={variable: value})
    assert (result.returncode, result.stderr) == (2, f"locust-llm: error: {message}\n")


def test_a_key_with_a_smart_quote_is_refused_by_position(tmp_path: Path) -> None:
    (tmp_path / "scenario.yaml").write_text(
        "target:\n  base_url: http://127.0.0.1:9/v1\n  api_key_env: LLM_KEY\n"
    )
    result = cli("run", "scenario.yaml", cwd=tmp_path, env={"LLM_KEY": f"\u201c{CANARY}\u201d"})
    assert result.returncode == 2
    assert result.stderr == (
        "locust-llm: error: scenario.yaml:3:16: target.api_key_env: LLM_KEY: the API key "
        "contains U+201C at position 0 (smart quote?); expected printable ASCII\n"
    )


# --- --print-config and report -----------------------------------------------------------


def test_print_config_shows_values_sources_and_no_secret(tmp_path: Path) -> None:
    (tmp_path / "scenario.yaml").write_text(
        "target:\n"
        "  base_url: http://user:pw@127.0.0.1:9/v1/chat/completions\n"
        "  api_key_env: LLM_KEY\n"
        "request: {max_tokens: 64}\n"
        "load: {users: 8, run_time: 1m}\n"
        "slos:\n  - {mode: stream, metric: ttft, percentile: 95, max: 500ms}\n"
    )
    result = cli(
        "run", "scenario.yaml", "--print-config", "--users", "4",
        cwd=tmp_path, env={"LLM_KEY": CANARY, "LOCUST_LLM_MAX_TOKENS": "32"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()[2:]}
    assert lines["target.base_url"].split() == ["http://127.0.0.1:9/v1", "scenario.yaml:2:13"]
    assert lines["target.api_key"].split() == [
        "Secret('***')", "from", "$LLM_KEY", "scenario.yaml:3:16",
    ]  # fmt: skip
    assert lines["request.max_tokens"].split() == ["32", "env", "LOCUST_LLM_MAX_TOKENS"]
    assert lines["load.users"].split() == ["4", "--users"]
    assert lines["load.run_time"].split() == ["1m", "scenario.yaml:5:28"]
    assert lines["timeouts.ttft"].split() == ["120s", "default"]
    assert lines["slos[1]"].split()[-1] == "default"
    assert "warning: scenario.yaml:2:13: target.base_url: credentials in the URL" in result.stdout
    assert CANARY not in result.stdout + result.stderr
    assert "pw@" not in result.stdout


def test_report_rebuilds_the_reports_and_can_check_the_verdict(tmp_path: Path) -> None:
    summary: dict[str, Any] = {
        "schema": "locust-llm/summary/v1",
        "run": {
            "started_at": "2025-11-24T21:50:00Z",
            "duration_s": 10.0,
            "host": "http://h/v1",
            "users": 2,
            "locust_version": "2.47.0",
            "harness_version": "0.1.0",
            "client_saturated": False,
        },
        "modes": {"batch": {"requests": 3, "outcomes": {"ok": 3}, "errors": {}}},
        "slos": [{"name": "failure_ratio", "limit": 0.0, "value": 0.0, "passed": True}],
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    result = cli("report", "summary.json", "--check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "junit.xml",
        "report.html",
        "summary.json",
        "summary.md",
    ]
    summary["slos"][0]["passed"] = False
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert cli("report", "summary.json", "--check", cwd=tmp_path).returncode == 1
    assert cli("report", "summary.json", cwd=tmp_path).returncode == 0


def test_a_scenario_can_rehearse_a_failing_server_on_the_embedded_mock(tmp_path: Path) -> None:
    """`mock:` runs the embedded mock as the target, with the faults the file asks for."""
    scenario = tmp_path / "rehearse.yaml"
    scenario.write_text(
        "mock: {ttft: 20ms, itl: 5ms, tokens: 8, faults: [ok, rate_limited]}\n"
        "mix: {stream: 1, batch: 0}\n"
        "load: {users: 1, spawn_rate: 1, run_time: 2s}\n"
        "slos:\n  - {metric: failure_ratio, max: 0.6}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(scenario), "--headless",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    stream = json.loads((tmp_path / "out" / "summary.json").read_text())["modes"]["stream"]
    assert stream["requests"] > 10
    # the schedule alternates ok, rate_limited in arrival order
    assert stream["errors"] == {"rate_limited": stream["requests"] // 2}
    assert stream["outcomes"]["ok"] == stream["requests"] - stream["requests"] // 2
