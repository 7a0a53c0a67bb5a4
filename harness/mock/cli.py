"""Command line of the mock: ``python -m harness.mock`` and ``locust-llm mock``.

`main` parses the options, prepares the process for exact timing (a short GIL switch
interval, optional CPU pinning, a frozen heap), starts a `MockServer`, prints exactly
one line, ``mock listening on http://HOST:PORT/v1``, and serves until SIGINT or SIGTERM,
then exits 0. Bad arguments give a one-line error and exit 2; a port that cannot be
bound exits 1. Standard library only; it must not import the harness core
(``harness.sse``, ``harness.protocols``, ``harness.record``, ``harness.stats``): the
mock is the yardstick.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from typing import NoReturn

from harness.mock.emitter import DEFAULT_SPIN_S
from harness.mock.faults import (
    FaultInjector,
    add_fault_options,
    fault_plan_from_args,
    open_fault_log,
)
from harness.mock.personalities import PERSONALITIES
from harness.mock.profiles import LatencyProfile, parse_duration
from harness.mock.server import MockServer

# Should another thread ever run Python here, a woken emitter thread waits at most this
# long for the GIL (the default is 5 ms). The server itself runs on that one thread.
SWITCH_INTERVAL_S = 0.0005


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), without usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _off_or_duration(text: str) -> float:
    if text.strip().lower() == "off":
        return 0.0
    return _duration(text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _slots(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0-65535, got {text!r}")
    return int(text)


def _cpus(text: str) -> set[int]:
    try:
        cpus = {int(part) for part in text.split(",")}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected CPU numbers like 1 or 0,1, got {text!r}"
        ) from None
    available = range(os.cpu_count() or 1)
    if not cpus or not cpus <= set(available):
        raise argparse.ArgumentTypeError(
            f"CPU {sorted(cpus - set(available))} does not exist (0-{available[-1]})"
        )
    return cpus


def build_parser(prog: str = "python -m harness.mock") -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=prog,
        description="OpenAI-compatible mock LLM server with exact, known token timing.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port; 0 picks a free one")
    parser.add_argument(
        "--ttft",
        type=_duration,
        default=0.2,
        metavar="DURATION",
        help="time to first token, e.g. 200ms (default)",
    )
    parser.add_argument(
        "--itl",
        type=_duration,
        default=0.02,
        metavar="DURATION",
        help="inter-token latency, e.g. 20ms (default)",
    )
    parser.add_argument(
        "--tokens",
        type=_positive_int,
        default=64,
        help="natural answer length (max_tokens cuts it; min_tokens, ignore_eos lengthen it)",
    )
    parser.add_argument(
        "--jitter",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="uniform per-token jitter in [-J, +J], seeded (default 0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="jitter seed (default 0)")
    parser.add_argument(
        "--reasoning-tokens",
        type=_slots,
        default=0,
        metavar="N",
        help="N thinking tokens, one per ITL from TTFT, before the visible answer; the "
        "usage counts them (default 0)",
    )
    parser.add_argument(
        "--tool-call",
        action="store_true",
        help="answer with one tool call, get_weather, whose arguments arrive in --tokens "
        "pieces, one per ITL",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="served model name (default mock-llm; llama.cpp: a .gguf file path)",
    )
    parser.add_argument(
        "--personality",
        choices=tuple(PERSONALITIES),
        default="openai",
        help="whose wire habits to reproduce: openai (default), vllm, llama.cpp, litellm "
        "(see docs/mock.md)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_off_or_duration,
        default=None,
        metavar="DURATION",
        help="close a keep-alive connection idle this long; 0 or off: never (default off; "
        "vllm and llama.cpp: 5s)",
    )
    parser.add_argument(
        "--loading",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="llama.cpp: answer 503 Loading model on every route this long after start",
    )
    parser.add_argument(
        "--slots",
        type=_slots,
        default=0,
        metavar="N",
        help="at most N generations at once, the rest wait FIFO; TTFT counts from the slot "
        "(default 0: no limit)",
    )
    parser.add_argument(
        "--spin",
        type=_duration,
        default=DEFAULT_SPIN_S,
        metavar="DURATION",
        help="spin instead of sleeping this long before each write (default 0: off; "
        "100us tightens p50 at low load but hurts p99 under load)",
    )
    parser.add_argument(
        "--cpu",
        type=_cpus,
        default=None,
        metavar="N[,M]",
        help="pin the server to these CPUs (sched_setaffinity)",
    )
    add_fault_options(parser)
    return parser


def main(argv: list[str] | None = None, *, prog: str = "python -m harness.mock") -> int:
    """Serve until SIGINT/SIGTERM; exit code 0, 1 (cannot listen) or 2 (usage)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    profile = LatencyProfile(
        ttft_s=args.ttft,
        itl_s=args.itl,
        output_tokens=args.tokens,
        jitter_s=args.jitter,
        seed=args.seed,
        reasoning_tokens=args.reasoning_tokens,
        tool_call=args.tool_call,
    )
    try:
        plan = fault_plan_from_args(args)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        fault_log = open_fault_log(args.fault_log) if plan is not None else None
    except OSError as exc:
        print(f"{prog}: error: --fault-log {args.fault_log}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.loading and args.personality != "llama.cpp":
        print(
            f"{prog}: error: --loading is llama.cpp's answer: add --personality llama.cpp",
            file=sys.stderr,
        )
        return 2
    faults = FaultInjector(plan, fault_log) if plan is not None else None
    model = args.model if args.model is not None else PERSONALITIES[args.personality].model
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if args.cpu is not None:
        try:  # before any thread starts: they inherit it
            os.sched_setaffinity(0, args.cpu)
        except OSError as exc:
            print(f"{prog}: error: --cpu {sorted(args.cpu)}: {exc.strerror}", file=sys.stderr)
            return 2
    # Only this thread takes the signals, in sigwait below; server threads inherit the mask.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    server = MockServer(
        profile,
        host=args.host,
        port=args.port,
        model=model,
        spin_s=args.spin,
        faults=faults,
        personality=args.personality,
        idle_timeout_s=args.idle_timeout,
        loading_s=args.loading,
        slots=args.slots,
    )
    try:
        try:
            server.start()
        except OSError as exc:
            print(
                f"{prog}: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
        gc.collect()
        gc.freeze()  # start-up objects never need scanning again: shorter collections
        print(f"mock listening on {server.url}", flush=True)
        signal.sigwait(stop_signals)
        server.close()
        return 0
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
