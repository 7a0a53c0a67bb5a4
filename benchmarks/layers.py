"""Where a load generator's CPU goes, per layer, from a py-spy profile of its steady window.

`fidelity.py --profile DIR` attaches `py-spy record --nonblocking --format raw` to the Locust
process when all users are spawned and stops it at the run-time limit (py-spy runs on the
mock's core, not the load generator's). py-spy samples only threads that are running, so the
samples stand for CPU time; each is charged to the layer of its innermost frame (self time;
time in a C extension counts for the Python function that called it: orjson for the parser
that called it, libev and greenlet switches for gevent's hub and waits).

    .venv/bin/python benchmarks/layers.py PROFILE.txt [--us-per-token 86.0]

prints the table for a raw profile written by `fidelity.py --profile`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

#: (layer, path fragments of the innermost frame's file); the first match wins
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gevent hub, greenlet switches, socket waits", ("/gevent/", "/greenlet/")),
    ("geventhttpclient (response parser, its callbacks)", ("/geventhttpclient/",)),
    (
        "our transport: chunked reads, arrival stamps, deadlines",
        ("harness/transport/", "harness/arrival.py", "harness/deadline.py"),
    ),
    (
        "our SSE and JSON parsing",
        ("harness/sse.py", "harness/stream.py", "harness/protocols/", "/json/", "orjson"),
    ),
    ("our records and histograms", ("harness/record.py", "harness/stats.py")),
    ("Locust (event firing, its stats, runner)", ("/locust/", "harness/events.py")),
    ("our users and client (request loop, errors)", ("harness/",)),
)
OTHER = "other (standard library, interpreter start, …)"

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


def leaf_file(stack: str) -> str:
    """The file of the innermost frame of one raw py-spy stack line (without its count)."""
    leaf = stack.rsplit(";", 1)[-1].strip()
    match = _FRAME.match(leaf)
    return match.group("file") if match else leaf


def layer_of(path: str) -> str:
    for name, fragments in LAYERS:
        if any(f in path for f in fragments):
            return name
    return OTHER


def layer_samples(raw: str) -> Counter[str]:
    """Samples per layer in a py-spy `--format raw` profile ("frame;frame;… count" lines)."""
    out: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        out[layer_of("/" + leaf_file(stack).lstrip("/"))] += int(count)
    return out


def top_functions(raw: str, n: int = 15) -> list[tuple[str, int]]:
    """The `n` innermost frames (function and file) with the most samples."""
    out: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            leaf = stack.rsplit(";", 1)[-1].strip()
            leaf = re.sub(r":\d+\)$", ")", leaf)
            out[leaf] += int(count)
    return out.most_common(n)


def layer_table(samples: Counter[str], us_per_token: float | None) -> str:
    """Markdown: layer, % of the profiled CPU, µs per token (the share of `us_per_token`)."""
    total = sum(samples.values())
    lines = ["| layer | % of its CPU | µs per token |", "|---|---|---|"]
    for name in [n for n, _ in LAYERS] + [OTHER]:
        share = samples.get(name, 0) / total if total else 0.0
        us = f"{share * us_per_token:.1f}" if us_per_token is not None else "—"
        lines.append(f"| {name} | {100 * share:.1f} | {us} |")
    lines.append(f"| all ({total} samples) | 100 | {us_per_token or 0:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="a raw py-spy profile (fidelity.py --profile)")
    parser.add_argument("--us-per-token", type=float, default=None)
    parser.add_argument("--top", type=int, default=15, help="also list the N busiest functions")
    args = parser.parse_args(argv)
    raw = args.profile.read_text()
    print(layer_table(layer_samples(raw), args.us_per_token))
    total = sum(layer_samples(raw).values()) or 1
    print()
    for leaf, count in top_functions(raw, args.top):
        print(f"{100 * count / total:5.1f} %  {leaf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
