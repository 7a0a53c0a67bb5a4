"""`locust-llm run` takes every `--llm-…` option plain `locust` takes, under the same name.

Both come from one settings table (harness.settings). The options are enumerated here the way
plain Locust sees them, independently of the table: the locustfile is imported in a separate
interpreter (which registers its options, as `locust -f` does), then Locust's own parser is
built and its `--llm-…` actions are listed. `locust-llm run` must accept each one,
list it in `--help`, show it in `--print-config`, and pass it to the child; every documented
`LOCUST_LLM_…` variable must be read without a "not a locust-llm setting" warning.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, locust_llm, run_mock

LOCUSTFILE = ROOT / "locustfiles" / "batch_vs_stream.py"
#: lists the --llm-… options of Locust's parser once the locustfile is imported
_LIST_OPTIONS = f"""
import json, runpy
runpy.run_path({str(LOCUSTFILE)!r})
from locust.argument_parser import get_parser
parser = get_parser(default_config_files=[])
print(json.dumps([
    {{"flag": o, "dest": a.dest, "nargs": a.nargs, "env_var": getattr(a, "env_var", None),
      "int": a.type is int, "choices": list(a.choices) if a.choices else None,
      "default": None if a.default is None else str(a.default)}}
    for a in parser._actions for o in a.option_strings if o.startswith("--llm-")
]))
"""
#: values the parent checks for real (a file that must exist, a variable name, a mix …)
SAMPLES = {
    "llm_model": "tiny-model",
    "llm_targets": "a=http://127.0.0.1:8001/v1,b=http://127.0.0.1:8002/v1",
    "llm_max_tokens": "16",
    "llm_temperature": "0.5",
    "llm_mix": "stream=3,batch=1",
    "llm_api_key_env": "MY_LLM_KEY",
    "llm_out": "reports",
    "llm_prometheus_port": "0",
    "llm_prometheus_host": "127.0.0.1",
    "llm_scenario_name": "nightly",
    "llm_goodput": "ttft=500ms,e2e=20s",
    "llm_rate": "5/s",
    "llm_burstiness": "0.5",
    "llm_sweep": "rates:1,2",
    "llm_stage_time": "30s",
    "llm_metrics_url": "http://127.0.0.1:8001/metrics",
}
#: options that make `run` a sweep: shown by a run of their own (a sweep sets the rates)
SWEEP_OPTIONS = ("llm_sweep", "llm_stage_time", "llm_sweep_points")
#: options that replace --host (the run's endpoints): shown by a run of their own
TARGET_OPTIONS = ("llm_targets",)
_DURATION = re.compile(r"\d+(\.\d+)?(ms|s|m)")


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return locust_llm(*args, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def plain_locust_options() -> list[dict[str, Any]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    environ["PYTHONPATH"] = str(ROOT)
    listed = subprocess.run(
        [sys.executable, "-c", _LIST_OPTIONS],
        capture_output=True,
        text=True,
        timeout=180,
        env=environ,
        check=True,
    )
    options: list[dict[str, Any]] = json.loads(listed.stdout.strip().splitlines()[-1])
    # the harness's own options are all there, and the exporter's (a second module)
    flags = {o["flag"] for o in options}
    assert {"--llm-model", "--llm-api-key-env", "--llm-retries", "--llm-no-preflight"} <= flags
    assert {"--llm-prometheus-port", "--llm-prometheus-linger"} <= flags
    return options


def sample(option: dict[str, Any], tmp_path: Path) -> list[str]:
    """The option on a command line, with a value the parent accepts."""
    dest = option["dest"]
    if option["nargs"] == 0:
        return [option["flag"]]
    if dest == "llm_scenario":
        path = tmp_path / "scenario.yaml"
        path.write_text("request: {max_tokens: 8}\n")
        value = str(path)
    elif dest == "llm_api_key_file":
        path = tmp_path / "key.txt"
        path.write_text("sk-test-123456\n")
        value = str(path)
    elif dest.startswith("llm_buckets_"):
        value = "10ms,20ms,1s"
    elif dest in SAMPLES:
        value = SAMPLES[dest]
    elif option["choices"]:
        value = str(option["choices"][-1])
    elif option["int"]:
        value = "3"
    elif option["default"] == "0" or _DURATION.fullmatch(option["default"] or ""):
        value = "7s"
    else:
        value = "some-value"
    return [option["flag"], value]


def test_run_accepts_lists_and_shows_every_llm_option_of_plain_locust(
    plain_locust_options: list[dict[str, Any]], tmp_path: Path
) -> None:
    given = [
        arg
        for option in plain_locust_options
        if option["dest"] not in SWEEP_OPTIONS + TARGET_OPTIONS
        for arg in sample(option, tmp_path)
    ]
    targets = cli("run", "--print-config", "--llm-targets", SAMPLES["llm_targets"], cwd=tmp_path)
    assert targets.returncode == 0, targets.stderr
    assert re.search(
        r"\n  targets +a=http://127.0.0.1:8001/v1, b=\S+ +--llm-targets\n", targets.stdout
    )
    swept = [
        arg
        for option in plain_locust_options
        if option["dest"] in SWEEP_OPTIONS
        for arg in sample(option, tmp_path)
    ]
    sweep = cli("run", "--print-config", "--host", "http://127.0.0.1:9/v1", *swept, cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    for flag in ("--llm-sweep", "--llm-stage-time", "--llm-sweep-points"):
        assert f"  {flag}\n" in sweep.stdout + "\n" or f" {flag}" in sweep.stdout, flag
    result = cli("run", "--print-config", "--host", "http://127.0.0.1:9/v1", *given, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    sources = {line.split()[-1] for line in result.stdout.splitlines()[2:] if line.strip()}
    shown = {
        option["flag"]
        for option in plain_locust_options
        if option["flag"] in sources or f"  {option['flag']} " in result.stdout
    }
    # both ways to give the key: the file wins, and the plan says so
    note = "warning: --llm-api-key-env is not used: --llm-api-key-file gives the key"
    assert note in result.stdout
    shown.add("--llm-api-key-env")
    # the scenario file is shown by where each value came from, not as a flag
    sweep_flags = {
        o["flag"] for o in plain_locust_options if o["dest"] in SWEEP_OPTIONS + TARGET_OPTIONS
    }
    missing = {o["flag"] for o in plain_locust_options} - shown - {"--llm-scenario"} - sweep_flags
    assert not missing, f"--print-config does not show {sorted(missing)}"
    assert "scenario.yaml" in result.stdout
    assert "sk-test" not in result.stdout

    usage = cli("run", "--help", cwd=tmp_path)
    assert usage.returncode == 0, usage.stderr
    unlisted = [o["flag"] for o in plain_locust_options if o["flag"] not in usage.stdout]
    assert not unlisted, f"locust-llm run --help does not list {unlisted}"


def test_every_option_given_to_run_reaches_the_child(
    plain_locust_options: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A dry parse: what `run` would hand `locust` carries each option (its value checked)."""
    from harness.cli import build_parser
    from harness.effective import plan_run

    parser = build_parser()
    for option in plain_locust_options:
        if option["dest"] in ("llm_scenario", "llm_out"):
            continue  # locust-llm's own: the scenario path and the report folder
        argv = sample(option, tmp_path)
        host = [] if option["dest"] in TARGET_OPTIONS else ["--host", "http://127.0.0.1:9/v1"]
        args = parser.parse_args(["run", *host, *argv])
        plan = plan_run(args, {}, None)
        child = list(plan.llm_args)
        assert option["flag"] in child, (argv, child)
        if len(argv) == 2 and option["dest"] != "llm_mix":
            assert child[child.index(option["flag"]) + 1] == argv[1], (argv, child)
    args = parser.parse_args(["run", "--llm-out", "there", "--llm-scenario", "s.yaml"])
    assert (args.llm_out, args.llm_scenario) == ("there", "s.yaml")
    assert plan_run(args, {}, None, host_required=False).out_dir == "there"


def test_the_settings_table_is_every_llm_option_plain_locust_registers(
    plain_locust_options: list[dict[str, Any]],
) -> None:
    """Locust's parser gets its `--llm-…` options from the table alone, in its order."""
    from harness.settings import SETTINGS

    listed = [(o["flag"], o["dest"], o["env_var"]) for o in plain_locust_options]
    assert listed == [(s.flag, s.dest, s.env_var) for s in SETTINGS]


def test_documented_and_defined_variables_draw_no_warning(
    plain_locust_options: list[dict[str, Any]], tmp_path: Path
) -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    documented = {
        name
        for path in docs
        for name in re.findall(r"\bLOCUST_LLM_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())
    }
    assert {"LOCUST_LLM_PROMETHEUS_PORT", "LOCUST_LLM_MODEL"} <= documented
    by_variable = {o["env_var"]: o for o in plain_locust_options if o["env_var"]}
    unknown = documented - set(by_variable) - {"LOCUST_LLM_X"}  # "--llm-X ↔ LOCUST_LLM_X"
    # not settings of a run: the image tag, the real servers' cache, the web UI screenshot
    assert unknown <= {"LOCUST_LLM_IMAGE", "LOCUST_LLM_CACHE", "LOCUST_LLM_SCREENSHOT"}, unknown
    env = dict.fromkeys(unknown, "x")
    for name, option in by_variable.items():
        if option["dest"] == "llm_sweep":
            continue  # a sweep sets its own rates: not with LOCUST_LLM_RATE in one run
        if option["dest"] in TARGET_OPTIONS:
            continue  # the targets replace --host: shown by a run of their own above
        argv = sample(option, tmp_path)
        env[name] = argv[1] if len(argv) == 2 else "true"
    result = cli("run", "--print-config", "--host", "http://127.0.0.1:9/v1", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "not a locust-llm setting" not in result.stdout + result.stderr
    linger = r"\n  --llm-prometheus-linger +7s +env LOCUST_LLM_PROMETHEUS_LINGER\n"
    assert re.search(linger, result.stdout), result.stdout
    # a typo still draws the warning, naming the variable meant
    typo = cli(
        "run", "--print-config", "--host", "http://127.0.0.1:9/v1", cwd=tmp_path,
        env={"LOCUST_LLM_PROMETHEUS_PROT": "9100"},
    )  # fmt: skip
    assert (
        "warning: environment variable LOCUST_LLM_PROMETHEUS_PROT is not a locust-llm "
        "setting — did you mean 'LOCUST_LLM_PROMETHEUS_PORT'?"
    ) in typo.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--llm-retires", "2"], "locust-llm: error: unrecognized arguments: --llm-retires "
         "(did you mean --llm-retries?)"),
        (["--apikey", "x"], "locust-llm: error: unrecognized arguments: --apikey (did you "
         "mean --llm-api-key-env?)"),
        (["--llm-retries", "x"], "locust-llm: error: --llm-retries: expected an integer, "
         "got 'x'"),
        (["--llm-endpoint", "chats"], "locust-llm run: error: argument --llm-endpoint: "
         "invalid choice: 'chats' (choose from 'chat', 'completions')"),
        (["--llm-ttft-timeout", "soon"], "locust-llm: error: --llm-ttft-timeout: expected a "
         "duration such as 500ms, 15s or 5m, got 'soon'"),
        (["--model", "a", "--llm-model", "b"], "locust-llm: error: give --model or "
         "--llm-model, not both"),
        (["--llm-api-key-env", "sk-abc-123"], "locust-llm: error: --llm-api-key-env: expected "
         "the name of an environment variable, such as OPENAI_API_KEY (the value is not "
         "shown)"),
    ],
)  # fmt: skip
def test_bad_llm_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = cli("run", "--host", "http://127.0.0.1:9/v1", *args, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, message + "\n")
    assert result.stdout == ""


@pytest.mark.slow
def test_options_and_variables_reach_the_locust_child(tmp_path: Path) -> None:
    """A real run: `--llm-endpoint completions` from the flag, the key's variable name from
    `--llm-api-key-env`, the exporter's linger from its variable, all honoured by the child."""
    with run_mock("--ttft", "10ms", "--itl", "2ms", "--tokens", "4") as mock:
        result = cli(
            "run", "--headless", "--host", mock.url, "-u", "2", "-t", "2s",
            "--llm-endpoint", "completions", "--llm-api-key-env", "MY_LLM_KEY",
            "--out", "out",
            cwd=tmp_path,
            env={"MY_LLM_KEY": "sk-test-key-42", "LOCUST_LLM_PROMETHEUS_LINGER": "0"},
        )  # fmt: skip
        stats = mock.stats()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "not a locust-llm setting" not in result.stderr
    assert "sk-test-key-42" not in result.stdout + result.stderr
    assert set(stats["requests"]) == {"/v1/completions"}, stats["requests"]
    assert set(stats["requests"]["/v1/completions"]) == {"stream", "batch"}, stats["requests"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sum(m["requests"] for m in summary["modes"].values()) > 0


def test_the_cli_never_imports_locust() -> None:
    """The `--llm-…` flags come from the settings table: planning a run, even with every
    option shown in `run --help`, never imports Locust or gevent (no monkey-patching)."""
    code = (
        "import sys, contextlib, io\n"
        "import harness.cli as c\n"
        "from harness.effective import plan_run\n"
        "args = c.build_parser().parse_args(['run', '--host', 'http://127.0.0.1:9/v1'])\n"
        "plan = plan_run(args, {}, None)\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    c.main(['run', '--help'])\n"
        "assert not {'locust', 'gevent'} & set(sys.modules), sorted(sys.modules)\n"
        "print(len(plan.settings))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 20
