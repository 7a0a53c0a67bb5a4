"""The minimal Locust baseline (benchmarks/README.md): FastHttpUser, raw `readline()`, nothing else.

What a careful person writes in 40 lines to time a stream with Locust: POST a streaming chat
completion, read geventhttpclient's raw response line by line, take `perf_counter()` as soon as
each line is returned. TTFT is the first `data:` line with non-empty `"content":"…"`, measured
from just before the POST; ITL is the gap between consecutive such lines. Raw samples are written
as JSON at quit to `--baseline-out` (or `$BASELINE_OUT`): {"ttft_s": [...], "itl_s": [...],
"ttft_later_s": [...] (every request but each user's first, which opens its connection),
"requests": n, "errors": n, "tokens": n, "duration_s": s}.

    locust -f benchmarks/baseline_locustfile.py --headless -u 32 -r 32 -t 20s \
        --host http://127.0.0.1:8000/v1 --baseline-out baseline.json BaselineUser
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from locust import FastHttpUser, events, task

BODY = {
    "model": "mock-llm",
    "messages": [{"role": "user", "content": "Write a haiku about load testing."}],
    "stream": True,
    "stream_options": {"include_usage": True},
}
HEADERS = {"Accept": "text/event-stream"}
samples: dict[str, Any] = {"ttft_s": [], "itl_s": [], "requests": 0, "errors": 0, "tokens": 0}
samples["ttft_later_s"] = []  # TTFT of every request but each user's first (no TCP connect)
clock = {"start": 0.0, "stop": 0.0}


class BaselineUser(FastHttpUser):
    first = True

    @task
    def stream(self) -> None:
        ttft, itl, later = samples["ttft_s"], samples["itl_s"], samples["ttft_later_s"]
        first, self.first = self.first, False
        t0 = time.perf_counter()
        last, tokens = 0.0, 0
        try:
            response = self.client.post(
                "/chat/completions", json=BODY, headers=HEADERS, stream=True
            )
            raw = response._response  # geventhttpclient's HTTPSocketPoolResponse
            while line := raw.readline(b"\n"):
                t = time.perf_counter()
                if line.startswith(b"data:") and b'"content":"' in line:
                    if b'"content":""' in line:
                        continue  # the role chunk: no token yet
                    if tokens == 0:
                        ttft.append(t - t0)
                        if not first:
                            later.append(t - t0)
                    else:
                        itl.append(t - last)
                    last, tokens = t, tokens + 1
        except Exception:  # noqa: BLE001 - a baseline: count it and move on
            samples["errors"] += 1
            return
        samples["requests"] += 1
        samples["tokens"] += tokens


@events.init_command_line_parser.add_listener
def _options(parser: Any, **_: Any) -> None:
    parser.add_argument("--baseline-out", default=os.environ.get("BASELINE_OUT", ""))


@events.test_start.add_listener
def _start(**_: Any) -> None:
    clock["start"] = time.perf_counter()


@events.test_stop.add_listener
def _stop(**_: Any) -> None:
    clock["stop"] = time.perf_counter()


@events.quitting.add_listener
def _write(environment: Any, **_: Any) -> None:
    path = environment.parsed_options.baseline_out
    if path:
        samples["duration_s"] = (clock["stop"] or time.perf_counter()) - clock["start"]
        with open(path, "w") as f:
            json.dump(samples, f)
