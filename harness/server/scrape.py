"""Fetch and parse one scrape of a server's Prometheus endpoint: `scrape()`; and the child
process that scrapes every few seconds while the load runs: ``python -m
harness.server.scrape URL --every S``.

`scrape()` GETs the URL (no proxy: the target's own endpoint), parses the body with
prometheus-client's text parser, recognises the engine by its metric names
(harness.server.engines) and keeps only the samples that engine's roles read. Whatever goes
wrong — refused, no answer, an HTTP error, HTML, a body that is not the text format — is a
`Snapshot` with a one-line `error`, never an exception: a failed scrape is a warning.

The child writes one JSON line per scrape (`Snapshot.to_json`) to its standard output, the
first after one interval, runs on the cores its parent is not pinned to (when it is pinned and
there are others), and exits when its standard input closes (the load generator
stopped, or died): it never outlives the run. The bearer key for a metrics endpoint on the
target's own host comes in the environment variable `BEARER_VARIABLE`, never on the command
line.

Its own layer: the pure core, prometheus-client and the standard library's network modules.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from harness import __version__
from harness.server.engines import UNKNOWN, recognise
from harness.server.snapshot import Labels, Snapshot, labels_of

#: the environment variable that carries the bearer key to the child
BEARER_VARIABLE = "LOCUST_LLM_SCRAPE_BEARER"
#: the largest exposition read (vLLM's is a few hundred kB)
MAX_BYTES = 32 * 1024 * 1024
_ACCEPT = "text/plain; version=0.0.4"


def scrape(
    url: str,
    *,
    timeout_s: float,
    bearer: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Snapshot:
    """One scrape of `url`: the engine's samples, or the one-line reason it failed."""
    headers = {"Accept": _ACCEPT, "User-Agent": f"locust-llm/{__version__}"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout_s) as r:
            body = r.read(MAX_BYTES + 1)
            content_type = r.headers.get("Content-Type", "") or ""
    except urllib.error.HTTPError as exc:
        return Snapshot(clock(), error=f"HTTP {exc.code} {exc.reason}".strip())
    except (urllib.error.URLError, OSError) as exc:
        return Snapshot(clock(), error=_why(exc, timeout_s))
    t = clock()
    if len(body) > MAX_BYTES:
        return Snapshot(t, error=f"more than {MAX_BYTES // 2**20} MiB: not a metrics page")
    text = body.decode("utf-8", errors="replace")
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        shown = content_type.split(";")[0].strip() or "no Content-Type"
        return Snapshot(t, error=f"answered HTML ({shown}), not Prometheus metrics")
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as exc:  # noqa: BLE001 - the parser raises several kinds on bad text
        detail = " ".join(str(exc).split())[:80]
        return Snapshot(t, error=f"not the Prometheus text format ({detail})")
    return reduce(families, t)


def reduce(families: Iterable[Metric], t: float) -> Snapshot:
    """The samples of the recognised engine's roles, from parsed `families`."""
    parsed = list(families)
    engine = recognise(f.name for f in parsed)
    if engine is None:
        return Snapshot(t, engine=UNKNOWN)
    wanted = engine.sample_names()
    samples: dict[str, dict[Labels, float]] = {}
    for family in parsed:
        for sample in family.samples:
            if sample.name in wanted:
                series = samples.setdefault(sample.name, {})
                key = labels_of(sample.labels)
                series[key] = series.get(key, 0.0) + float(sample.value)
    return Snapshot(t, engine=engine.name, samples=samples)


def _why(exc: BaseException, timeout_s: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        return "cannot connect (connection refused)"
    if isinstance(reason, socket.timeout | TimeoutError):
        return f"no answer within {timeout_s:g}s"
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host"
    text = " ".join(str(getattr(reason, "strerror", None) or reason).split())
    return f"cannot connect ({text or type(reason).__name__})"


# ------------------------------------------------------------------ the child process


def main(argv: Sequence[str] | None = None) -> int:
    """Scrape `url` every `--every` seconds, one JSON line each, until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m harness.server.scrape")
    parser.add_argument("url")
    parser.add_argument("--every", type=float, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args(argv)
    _off_the_load_generators_cores()
    bearer = os.environ.get(BEARER_VARIABLE) or None
    next_at = time.perf_counter() + args.every
    while True:
        if _stdin_closed(max(next_at - time.perf_counter(), 0.0)):
            return 0
        snapshot = scrape(args.url, timeout_s=args.timeout, bearer=bearer)
        try:
            sys.stdout.write(json.dumps(snapshot.to_json(), separators=(",", ":")) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            return 0
        next_at = max(next_at + args.every, time.perf_counter())


def _off_the_load_generators_cores() -> None:
    """A load generator pinned to some cores (taskset, `--cpu`) passes its pinning on to its
    children: move this one to the machine's other cores, if it has any it may use."""
    try:
        inherited = os.sched_getaffinity(0)
        others = set(range(os.cpu_count() or 1)) - inherited
        if others:
            os.sched_setaffinity(0, others)
    except (AttributeError, OSError):  # not Linux, or a cpuset that forbids the others
        pass


def _stdin_closed(wait_s: float) -> bool:
    """Wait up to `wait_s`; True when standard input closed (the parent is done)."""
    readable, _, _ = select.select([sys.stdin], [], [], wait_s)
    return bool(readable) and not os.read(sys.stdin.fileno(), 4096)


if __name__ == "__main__":
    raise SystemExit(main())
