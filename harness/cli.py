"""`locust-llm`: demo, run, mock and report.

The command is a thin layer over Locust: `run` and `demo` start `locust` (with the packaged
locustfile unless `-f` is given) in a child process, translating flags into Locust's own and the
harness's `--llm-…` options; the figures come from the summary the run writes. `demo` first
starts the embedded mock server, so it needs no API key and no network.

`run SCENARIO.yaml` validates the scenario (harness.scenario) before anything starts, resolves
defaults < file < `LOCUST_*` environment < flags (harness.effective; `--print-config` shows the
result, redacted, with each value's source), and hands the child `--llm-scenario PATH`; the
child judges the run by the scenario's SLOs and sets its exit code (harness.finish).

Every `--llm-…` option plain `locust` takes with the harness's locustfile is also a `run` and
`demo` flag under the same name: both come from the one settings table (harness.settings), so
this process never imports Locust or monkey-patches, and `run --help` lists them — which
`locust --help` cannot, as Locust prints its help before it loads the locustfile that
registers them.

Exit codes (docs/design.md, harness.exit_code): 0 success; 1 failures or missed SLOs; 2 bad
configuration or usage, nothing sent; 3 the harness itself failed.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from harness import __version__
from harness.errors import ConfigError, HarnessError
from harness.exit_code import ExitCode, command_exit_code, slo_exit_code
from harness.protocols.registry import protocol_names
from harness.scenario import parse_duration
from harness.settings import SETTING, SETTINGS, Kind, Setting

if TYPE_CHECKING:
    from harness.effective import RunPlan

_PACKAGED_LOCUSTFILE = Path(__file__).with_name("locustfile.py")
_SECRET_IN_ARGS = (
    (re.compile(r"(--api[-_]?key[= ])\S+", re.IGNORECASE), r"\1***"),
    (re.compile(r"\b(sk-|Bearer\s+)[A-Za-z0-9._\-]{4,}"), r"\1***"),
)
#: every flag of every sub-command, for "did you mean" on a typo (catalogue CFG-07)
_ALL_FLAGS: set[str] = set()
#: flags never suggested for a typo: `--api-key` exists only to be refused
_NEVER_SUGGESTED = frozenset({"--api-key"})


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (not the whole usage) on a bad flag.

    Never echoes what looks like a key (`--api-key VALUE`, `sk-…`), and suggests the flag
    meant for an unknown one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # `--usr` is a typo, not `--users`
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        _ALL_FLAGS.update(a for a in args if isinstance(a, str) and a.startswith("--"))
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        for pattern, replacement in _SECRET_IN_ARGS:
            message = pattern.sub(replacement, message)
        unknown = re.search(r"unrecognized arguments: (--[\w-]+)", message)
        if unknown:
            close = difflib.get_close_matches(
                unknown.group(1), sorted(_ALL_FLAGS - _NEVER_SUGGESTED), n=1
            )
            if close:
                message += f" (did you mean {close[0]}?)"
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(ExitCode.CONFIG)


class _RefuseApiKey(argparse.Action):
    """`--api-key` is refused without echoing its value: it would show in `ps` and logs."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any, **__: Any) -> None:
        print(
            f"{parser.prog}: error: the --api-key flag is refused: a key on the command line "
            "shows in ps and shell history; set OPENAI_API_KEY (or name the variable with "
            "target.api_key_env in the scenario, or use target.api_key_file)",
            file=sys.stderr,
        )
        raise SystemExit(ExitCode.CONFIG)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _duration(text: str) -> str:
    try:
        if parse_duration(text) <= 0:
            raise ConfigError("must be greater than 0")
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 30s or 5m, got {text!r}"
        ) from None
    return text


def _add_llm_options(
    p: argparse.ArgumentParser, settings: Sequence[Setting], *, skip: frozenset[str]
) -> None:
    """Every `--llm-…` setting but `skip`, under its own flag (None when not given)."""
    group = p.add_argument_group(
        "options of the harness's locustfile",
        "The same --llm-… options plain `locust -f locustfiles/batch_vs_stream.py` takes; each "
        "is also read from the LOCUST_LLM_… variable shown. --model, --max-tokens, --mode "
        "and --out mean the same as --llm-model, --llm-max-tokens, --llm-mix and --llm-out: "
        "give one of each pair.",
    )
    for setting in settings:
        if setting.flag in skip or any(setting.flag in a.option_strings for a in p._actions):
            continue
        _ALL_FLAGS.add(setting.flag)
        text = setting.help.replace("%", "%%") + f" [env {setting.env_var}]"
        if setting.kind is Kind.SWITCH:
            group.add_argument(
                setting.flag, dest=setting.dest, action="store_const", const=True, default=None,
                help=text,
            )  # fmt: skip
        else:
            group.add_argument(
                setting.flag, dest=setting.dest, default=None, choices=setting.choices,
                metavar=setting.name.upper(), help=text,
            )  # fmt: skip


def build_parser(settings: Sequence[Setting] = SETTINGS) -> argparse.ArgumentParser:
    """The `locust-llm` argument parser; `settings` become `run` and `demo` flags."""
    parser = _Parser(
        prog="locust-llm",
        description="Load-test LLM inference APIs: batch vs streaming, TTFT, ITL, TPOT, E2E.",
    )
    parser.add_argument("--version", action="version", version=f"locust-llm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add_load_flags(p: argparse.ArgumentParser, users: int, run_time: str) -> None:
        p.add_argument(
            "--users",
            "-u",
            type=_positive_int,
            default=None,
            help=f"concurrent users, split between the modes (default {users})",
        )
        p.add_argument(
            "--spawn-rate",
            "-r",
            type=_positive_float,
            default=None,
            help="users started per second (default: all at once)",
        )
        p.add_argument(
            "--run-time",
            "-t",
            type=_duration,
            default=None,
            help=f"how long to run, e.g. 30s, 5m (default {run_time})",
        )
        p.add_argument(
            "--mode",
            choices=["stream", "batch", "both", "paired"],
            default=None,
            help="which user classes run (default both, or the scenario's mix); paired: "
            "each prompt in both modes at the same due time (open loop, --rate)",
        )
        p.add_argument(
            "--model",
            default=None,
            help="model to request (default: the first one /v1/models lists)",
        )
        p.add_argument(
            "--protocol",
            choices=list(protocol_names()),
            default=None,
            help="the wire protocol: openai (default), anthropic (Messages), responses "
            "(OpenAI Responses API); docs/protocols.md",
        )
        p.add_argument(
            "--max-tokens",
            type=_positive_int,
            default=None,
            help="max_tokens of each request (default 128)",
        )
        p.add_argument(
            "--out",
            default=None,
            help="folder for summary.json, summary.md, report.html, junit.xml and "
            "requests.jsonl.gz "
            "(default ./llm-report)",
        )
        p.add_argument("--summary-json", default=None, help="also copy summary.json to this path")
        load = p.add_argument_group("open loop (docs/load.md)")
        load.add_argument(
            "--rate",
            default=None,
            metavar="R",
            help="requests per second on one arrival schedule, whatever the answers do "
            "(e.g. 20 or 20/s); the users become the in-flight pool",
        )
        load.add_argument(
            "--arrival",
            choices=["poisson", "constant", "gamma"],
            default=None,
            help="how arrivals are spaced (default poisson)",
        )
        load.add_argument(
            "--burstiness",
            default=None,
            metavar="B",
            help="gamma arrivals: the gamma shape (1: Poisson, below 1 burstier)",
        )
        load.add_argument(
            "--max-in-flight",
            type=_positive_int,
            default=None,
            metavar="N",
            help="open loop: at most N requests in flight at once (default 512)",
        )
        load.add_argument(
            "--max-schedule-lag",
            type=_duration,
            default=None,
            metavar="DURATION",
            help="open loop: drop (count, never send) a request still waiting this long "
            "after it was due (default: it waits)",
        )
        load.add_argument(
            "--warmup",
            type=_duration,
            default=None,
            metavar="DURATION",
            help="the first seconds of the run are not counted in the figures (e.g. 30s)",
        )
        p.add_argument("--api-key", action=_RefuseApiKey, nargs="?", help=argparse.SUPPRESS)

    demo = commands.add_parser(
        "demo",
        help="start the embedded mock and compare batch and streaming against it",
        usage="locust-llm demo [options] [--llm-… options]",
    )
    add_load_flags(demo, users=32, run_time="20s")
    demo.add_argument(
        "--ttft",
        default="200ms",
        type=_duration,
        help="the mock's time to first token (default 200ms)",
    )
    demo.add_argument(
        "--itl",
        default="20ms",
        type=_duration,
        help="the mock's time between tokens (default 20ms)",
    )
    demo.add_argument(
        "--tokens",
        type=_positive_int,
        default=64,
        help="tokens per mock answer (default 64)",
    )
    # the demo runs the packaged locustfile against its own mock: no scenario file
    _add_llm_options(demo, settings, skip=frozenset({SETTING["scenario"].flag}))

    run = commands.add_parser(
        "run",
        help="run a load test against an endpoint",
        usage="locust-llm run [SCENARIO.yaml] [--host URL] [options] [--llm-… options]",
    )
    run.add_argument(
        "scenario",
        nargs="?",
        default=None,
        help="a scenario YAML file (docs/scenario.md); flags override it",
    )
    run.add_argument(
        "--host",
        required=False,
        default=None,
        help="base URL up to and including /v1, e.g. http://127.0.0.1:8000/v1",
    )
    run.add_argument(
        "--locustfile",
        "-f",
        default=None,
        help="a locustfile of your own (default: the packaged batch_vs_stream)",
    )
    run.add_argument(
        "--headless",
        action="store_true",
        help="no web UI: run, write the reports and exit",
    )
    run.add_argument(
        "--print-config",
        action="store_true",
        help="show the effective configuration (secrets redacted) and where each value "
        "came from, then exit",
    )
    run.add_argument(
        "--target",
        action="append",
        default=None,
        metavar="NAME=URL",
        help="an endpoint compared side by side with the others (repeat it; docs/targets.md): "
        "every target gets the same prompts on the same schedule",
    )
    run.add_argument(
        "--metrics-url",
        action="append",
        default=None,
        metavar="URL",
        help="the server's own Prometheus endpoint (with --target: NAME=URL, repeated), "
        "scraped before, during and after the run (docs/server-metrics.md)",
    )
    add_load_flags(run, users=32, run_time="60s")
    _add_llm_options(run, settings, skip=frozenset())

    sweep = commands.add_parser(
        "sweep",
        help="run a series of load points in one run: the knee and the highest rate within SLO",
        usage="locust-llm sweep [SCENARIO.yaml] [--host URL] (--rates R1,R2,… | --concurrency "
        "N1,N2,… | --auto) [--stage-time 60s] [options]",
    )
    sweep.add_argument("scenario", nargs="?", default=None, help="a scenario YAML file")
    sweep.add_argument("--host", default=None, help="base URL up to and including /v1")
    sweep.add_argument("--locustfile", "-f", default=None, help="a locustfile of your own")
    sweep.add_argument(
        "--target",
        action="append",
        default=None,
        metavar="NAME=URL",
        help="an endpoint swept side by side with the others (repeat it)",
    )
    points = sweep.add_mutually_exclusive_group(required=True)
    points.add_argument("--rates", default=None, help="open-loop rates, e.g. 1,2,4 (per second)")
    points.add_argument("--concurrency", default=None, help="closed-loop user counts, e.g. 1,8,32")
    points.add_argument(
        "--auto",
        action="store_true",
        help="a synchronous point, a saturating point (--max-in-flight users), then rates "
        "between (--llm-sweep-points)",
    )
    sweep.add_argument(
        "--stage-time",
        type=_duration,
        default=None,
        help="time per point (default 60s; its first --warmup, default 10s, is not counted)",
    )
    add_load_flags(sweep, users=256, run_time="(the points')")
    _add_llm_options(sweep, settings, skip=frozenset())

    mock = commands.add_parser(
        "mock", help="run the embedded mock OpenAI-compatible server", add_help=False
    )
    mock.add_argument("mock_args", nargs=argparse.REMAINDER)

    report = commands.add_parser(
        "report",
        help="print the comparison table of a run and rebuild its reports (from its "
        "requests.jsonl.gz when there is one)",
        description="Print the comparison table of a run and rebuild summary.md, report.html "
        "and junit.xml. PATH is a report folder, a summary.json or a requests.jsonl.gz; when "
        "the run's requests.jsonl.gz is there (beside the summary, or given), the figures "
        "are recomputed from its lines; the summary's run, load and SLO verdicts stay as "
        "written (docs/records.md). summary.json is written only when the figures were "
        "rebuilt and it would replace no summary.json that was read: into an --out folder "
        "other than the summary's, or beside a requests.jsonl.gz that has none.",
    )
    report.add_argument(
        "summary",
        metavar="PATH",
        help="a report folder, a summary.json or a requests.jsonl.gz",
    )
    report.add_argument(
        "--out",
        default=None,
        help="folder for summary.md, report.html and junit.xml (default: PATH's folder)",
    )
    report.add_argument(
        "--check",
        action="store_true",
        help="exit with the SLO verdict recorded in the summary (0 met, 1 missed)",
    )
    report.add_argument(
        "--no-records",
        action="store_true",
        help="report summary.json's own figures; ignore a requests.jsonl.gz beside it",
    )

    compare = commands.add_parser(
        "compare",
        help="compare two runs' reports: which figures got worse (docs/compare.md)",
        usage="locust-llm compare BASE NEW [--threshold 10%%] [--out DIR]",
    )
    compare.add_argument(
        "base", metavar="BASE", help="the baseline: a report folder or its summary.json"
    )
    compare.add_argument(
        "new", metavar="NEW", help="the run to judge: a report folder or its summary.json"
    )
    compare.add_argument(
        "--threshold",
        default="10%",
        help="a figure worse by more than this, relative to BASE, with an interval that "
        "excludes zero, fails the comparison (exit 1); e.g. 10%% or 0.1 (default 10%%)",
    )
    compare.add_argument(
        "--out",
        default=None,
        help="folder for compare.md, compare.html and compare.junit.xml (default ./llm-compare)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `locust-llm`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mock"]:
        from harness.mock.cli import main as mock_main

        return mock_main(argv[1:])
    # the --llm-… flags only where they are taken (a typo elsewhere is not one of them)
    settings = SETTINGS if argv[:1] in (["run"], ["demo"], ["sweep"]) else ()
    args = build_parser(settings).parse_args(argv)
    try:
        if args.command == "report":
            return _report(Path(args.summary), args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "sweep":
            return _sweep(args)
        return _run(args)
    except ConfigError as exc:
        print(f"locust-llm: error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except HarnessError as exc:
        print(f"locust-llm: error: {exc}", file=sys.stderr)
        return ExitCode.INTERNAL
    except KeyboardInterrupt:
        return ExitCode.FAILED


def _report(path: Path, args: argparse.Namespace) -> int:
    """`locust-llm report PATH`: the figures of a summary, or rebuilt from its records."""
    from harness.report.markdown import render_terminal
    from harness.report.rebuild import (
        find_sources,
        read_summary,
        rebuild_summary,
        summary_from_records,
    )
    from harness.report.summary import write_all_reports, write_extra_reports

    sources = find_sources(path)
    records = None if args.no_records else sources.records
    if sources.summary is None:
        if records is None:  # a records file alone, and --no-records
            raise ConfigError(f"{path}: no summary.json to report without its records")
        summary = summary_from_records(records)
    else:
        summary = read_summary(sources.summary)
        if records is not None:
            summary = rebuild_summary(summary, records)
    print(render_terminal(summary).rstrip("\n"))
    out_dir = Path(args.out) if args.out else sources.folder
    read_from = sources.summary.parent if sources.summary is not None else None
    # a rebuilt summary.json never replaces the one it was rebuilt from
    if records is not None and (read_from is None or out_dir.resolve() != read_from.resolve()):
        paths = write_all_reports(summary, out_dir)
    else:
        paths = write_extra_reports(summary, out_dir)
    if records is not None:
        print(f"Figures rebuilt from {records}")
    print("Reports: " + ", ".join(str(p) for p in paths))
    if args.check:
        return slo_exit_code(summary.get("slos") or [], summary)
    return ExitCode.OK


def _compare(args: argparse.Namespace) -> int:
    """`locust-llm compare BASE NEW`: exit 1 when a figure got worse beyond the threshold."""
    from harness.compare.command import run_compare

    return run_compare(
        args.base,
        args.new,
        threshold_text=args.threshold,
        out_dir=args.out,
        stdout=sys.stdout,
        stderr=sys.stderr,
    )


def _sweep(args: argparse.Namespace) -> int:
    """`locust-llm sweep`: one Locust run whose stages are the points (harness.load.sweep),
    then sweep.json, sweep.md and sweep.html."""
    for flag in ("rate", "users", "run_time"):
        if getattr(args, flag, None) is not None:
            name = "--" + flag.replace("_", "-")
            raise ConfigError(f"sweep: {name} is not a sweep option (the points set the load)")
    if args.auto:
        spec = "auto"
    elif args.rates is not None:
        spec = f"rates:{args.rates}"
    else:
        spec = f"concurrency:{args.concurrency}"
    args.llm_sweep = spec
    if args.stage_time is not None:
        args.llm_stage_time = args.stage_time
    args.print_config = False
    args.headless = True
    return _run(args, sweep=True)


def _run(args: argparse.Namespace, *, sweep: bool = False) -> int:
    from harness.effective import plan_run, render_plan
    from harness.scenario import load_scenario

    environ = os.environ
    given_targets = getattr(args, "target", None)
    if given_targets:
        if getattr(args, "llm_targets", None):
            raise ConfigError("run: give the targets once (--target or --llm-targets)")
        args.llm_targets = ",".join(given_targets)
    given_metrics = getattr(args, "metrics_url", None)
    if isinstance(given_metrics, list):
        args.metrics_url = ",".join(given_metrics)
    named = getattr(args, "llm_scenario", None)
    if named is not None and args.scenario is not None and named != args.scenario:
        raise ConfigError("run: give the scenario file once (SCENARIO.yaml or --llm-scenario)")
    from_env = environ.get(SETTING["scenario"].env_var, "").strip()
    scenario_path = args.scenario or named or from_env or None
    scenario = load_scenario(scenario_path, environ) if scenario_path else None
    # `mock:` in the scenario: the embedded mock is the target (unless --host overrides it)
    mock_args = scenario.mock_args if scenario is not None and not args.host else None
    plan = plan_run(
        args,
        environ,
        scenario,
        host_required=not args.print_config and mock_args is None,
    )
    if args.print_config:
        title = "locust-llm run: effective configuration (flag > environment > "
        title += f"{Path(scenario.path).name} > default)" if scenario else "default)"
        print(render_plan(plan, title=title), end="")
        return ExitCode.OK
    from harness.target import Target

    if mock_args is None:
        Target.parse(plan.host)  # one clear line for a bad URL, before Locust starts
    locustfile = Path(args.locustfile) if args.locustfile else _PACKAGED_LOCUSTFILE
    if not locustfile.is_file():
        raise ConfigError(f"{locustfile}: no such locustfile")
    scenario_warnings = set(scenario.warnings) if scenario else set()
    for warning in plan.warnings:
        if warning not in scenario_warnings:  # the child logs the scenario's own
            print(f"locust-llm: warning: {warning}", file=sys.stderr)
    report = _write_sweep if sweep else None
    if mock_args is not None:
        with _mock_server(mock_args) as host:
            print(f"locust-llm: mock server at {host} ({' '.join(mock_args)})", flush=True)
            return _run_locust(
                replace(plan, host=host),
                args,
                locustfile=locustfile,
                headless=args.headless,
                report=report,
            )
    return _run_locust(plan, args, locustfile=locustfile, headless=args.headless, report=report)


def _write_sweep(summary: dict[str, Any], out_dir: Path, scenario_path: str | None) -> int:
    """sweep.json, sweep.md, sweep.html from the run's summary; the sweep's exit code (1: no
    point met the SLOs)."""
    from harness.load.sweep import SweepSpec, parse_sweep, sweep_document, sweep_exit_met
    from harness.report.sweep import render_sweep_terminal, write_sweep_reports
    from harness.scenario import load_scenario
    from harness.slo import with_default_failure_gate

    scenario = load_scenario(scenario_path, os.environ) if scenario_path else None
    load = summary["run"].get("load") or {}
    first = (summary.get("stages") or [{}])[0]
    parsed = parse_sweep(load.get("sweep", "auto"), "sweep")
    kind, values = parsed if parsed is not None else ("auto", ())
    spec = SweepSpec(
        kind=kind,
        values=values,
        stage_time_s=float(first.get("duration_s") or 0.0),
        warmup_s=float(first.get("warmup_s") or 0.0),
        max_in_flight=int(load.get("max_in_flight") or 1),
    )
    slos = with_default_failure_gate(scenario.slos) if scenario else ()
    doc = sweep_document(summary, spec, slos)
    paths = write_sweep_reports(doc, out_dir)
    print()
    print(render_sweep_terminal(doc).rstrip("\n"))
    print(f"\nSweep reports: {', '.join(str(p) for p in paths)}")
    met = sweep_exit_met(doc)
    return ExitCode.FAILED if met is False else ExitCode.OK


@contextlib.contextmanager
def _mock_server(mock_args: Sequence[str]) -> Iterator[str]:
    """Run the embedded mock (`python -m harness.mock ARGS`) on a free loopback port, on its
    own core when there are two; yields its base URL and stops it afterwards."""
    cmd = [sys.executable, "-m", "harness.mock", "--port", "0", *mock_args]
    if (os.cpu_count() or 1) >= 2:
        cmd += ["--cpu", "1"]  # the mock on core 1, the load generator on core 0
    mock = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert mock.stdout is not None
        match = re.search(r"(http://\S+)", mock.stdout.readline())
        if match is None:
            raise HarnessError("the mock server did not start")
        yield match.group(1)
    finally:
        mock.send_signal(signal.SIGTERM)
        try:
            mock.wait(timeout=5)
        except subprocess.TimeoutExpired:
            mock.kill()
            mock.wait()
        if mock.stdout is not None:
            mock.stdout.close()


def _demo(args: argparse.Namespace) -> int:
    from harness.effective import plan_run

    plan = plan_run(
        args,
        os.environ,
        None,
        default_users=32,
        default_run_time="20s",
        host_required=False,
    )
    profile = ["--ttft", args.ttft, "--itl", args.itl, "--tokens", str(args.tokens)]
    with _mock_server(profile) as host:
        print(
            f"locust-llm demo: mock server at {host} (TTFT {args.ttft}, ITL {args.itl}, "
            f"{args.tokens} tokens); {plan.users} users for {plan.run_time}, "
            f"half streaming, half batch\n",
            flush=True,
        )
        return _run_locust(
            replace(plan, host=host),
            args,
            locustfile=_PACKAGED_LOCUSTFILE,
            headless=True,
            pin_cpu=0,
        )


def _run_locust(
    plan: RunPlan,
    args: argparse.Namespace,
    *,
    locustfile: Path,
    headless: bool,
    pin_cpu: int | None = None,
    report: Callable[[dict[str, Any], Path, str | None], int] | None = None,
) -> int:
    out_dir = Path(plan.out_dir)
    summary_path = out_dir / "summary.json"
    if summary_path.exists():
        summary_path.unlink()  # never report a previous run's figures as this one's
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--host",
        plan.host,
        "--users",
        str(plan.users),
        "--spawn-rate",
        f"{plan.spawn_rate:g}",
        "--run-time",
        plan.run_time,
        "--llm-out",
        str(out_dir),
        "--exit-code-on-error",
        "0",
        "--stop-timeout",
        "10",
    ]
    if headless:
        cmd += ["--headless", "--only-summary"]
    if plan.scenario_path:
        cmd += ["--llm-scenario", plan.scenario_path]
    cmd += plan.llm_args
    preexec = None
    if pin_cpu is not None and (os.cpu_count() or 1) >= 2:
        cpu = pin_cpu

        def preexec() -> None:
            os.sched_setaffinity(0, {cpu})

    completed = subprocess.run(cmd, preexec_fn=preexec, check=False)
    code = completed.returncode
    if code == ExitCode.CONFIG:
        return ExitCode.CONFIG
    if not summary_path.is_file():
        print(
            "locust-llm: error: the run wrote no summary (see Locust's output above)",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL
    from harness.report.markdown import render_terminal
    from harness.report.summary import load_summary

    summary = load_summary(summary_path)
    if report is not None:  # a sweep: its own reports, its own verdict
        swept = report(summary, out_dir, plan.scenario_path)
        if args.summary_json:
            Path(args.summary_json).write_text(summary_path.read_text())
        return code if code in (ExitCode.CONFIG, ExitCode.INTERNAL) else swept
    print()
    print(render_terminal(summary).rstrip("\n"))
    names = ["summary.json", "summary.md", "report.html", "junit.xml", "requests.jsonl.gz"]
    shown = [str(out_dir / n) for n in names if (out_dir / n).is_file()]
    print(f"\nReports: {', '.join(shown)}")
    if args.summary_json:
        Path(args.summary_json).write_text(summary_path.read_text())
    # the child judged a scenario's run by its SLOs (harness.finish)
    return command_exit_code(code, summary, judged=bool(plan.scenario_path))


if __name__ == "__main__":
    sys.exit(main())
