"""The reference open-loop client: a plain asyncio program, standard library only.

A constant schedule (one request every 1/rate s) is put on the event loop with `loop.call_at`,
one call per due time. When a request falls due it goes out on an idle keep-alive connection,
on a new one while fewer than --max-in-flight are open, or else waits for the first connection
to come free (that wait is schedule lag). Each request is a chat completion with max_tokens 8;
a stream is read until `data: [DONE]` and the chunked end, a batch body by Content-Length.
Per request it keeps the due time, the send time (just before writing) and the end. It prints
one JSON line: achieved rate, schedule lag p50/p99/max, and its CPU over the window.

    python benchmarks/asyncio_open_loop.py --host http://127.0.0.1:8000/v1 --rate 100 -t 10
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import sys
import time
from collections import deque
from urllib.parse import urlsplit

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def request_bytes(host: str, path: str, stream: bool, max_tokens: int) -> bytes:
    body: dict[str, object] = {"model": "mock-llm", "stream": stream, "max_tokens": max_tokens}
    body["messages"] = [{"role": "user", "content": "Say hello."}]
    if stream:
        body["stream_options"] = {"include_usage": True}
    data = json.dumps(body, separators=(",", ":")).encode()
    head = f"POST {path}/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


async def exchange(conn: Conn, request: bytes, stream: bool) -> bool:
    """Write one request and read its whole answer; whether it was a 200."""
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if stream:
        buf = b""
        while not (b"data: [DONE]" in buf and buf.endswith(b"0\r\n\r\n")):
            more = await reader.read(65536)
            if not more:
                raise ConnectionError("closed mid-stream")
            buf = buf[-64:] + more
    else:
        length = [
            v
            for k, _, v in (x.partition(b":") for x in head.split(b"\r\n"))
            if k.lower() == b"content-length"
        ]
        if not length:
            raise ConnectionError("no Content-Length")
        await reader.readexactly(int(length[0]))
    return head.startswith(b"HTTP/1.1 200")


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted `values`."""
    return values[max(1, math.ceil(q * len(values))) - 1]


async def run(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.host)
    stream = args.mode == "stream"
    request = request_bytes(url.netloc, url.path.rstrip("/"), stream, args.max_tokens)
    loop = asyncio.get_running_loop()
    idle: list[Conn] = []
    waiting: deque[float] = deque()  # due times with no connection free
    sends: list[tuple[float, float]] = []  # due, send (just before writing)
    ends: list[tuple[float, bool]] = []  # end, whether it was a 200
    tasks: set[asyncio.Task[None]] = set()
    opened = 0

    async def serve(conn: Conn | None, due: float) -> None:
        nonlocal opened
        try:
            if conn is None:
                conn = await asyncio.open_connection(url.hostname, url.port)
            while True:
                sends.append((due, time.perf_counter()))  # loop.time()'s clock: CLOCK_MONOTONIC
                ok = await exchange(conn, request, stream)
                ends.append((time.perf_counter(), ok))
                if not waiting:
                    idle.append(conn)
                    return
                due = waiting.popleft()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            ends.append((time.perf_counter(), False))
            opened -= 1
            if conn is not None:
                conn[1].close()

    def on_due(due: float) -> None:
        nonlocal opened
        if idle or opened < args.max_in_flight:
            conn = idle.pop() if idle else None
            opened += conn is None
            task = loop.create_task(serve(conn, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            waiting.append(due)

    n = int(args.rate * args.run_time)
    start = loop.time() + 0.2
    for i in range(n):
        loop.call_at(start + i / args.rate, on_due, start + i / args.rate)
    mark = functools.partial(print, file=sys.stderr, flush=True)  # the pacing window
    loop.call_at(start - 0.001, mark, "window start")
    cpu0 = time.process_time()
    await asyncio.sleep(start + args.run_time - loop.time())
    cpu_s, unsent = time.process_time() - cpu0, len(waiting)
    mark("window end")
    waiting.clear()
    if tasks:  # what is in flight may finish, briefly; then it is cancelled
        _, late = await asyncio.wait(tasks, timeout=2.0)
        for task in late:
            task.cancel()
    lags = sorted(max(send - due, 0.0) for due, send in sends if send < start + args.run_time)
    result: dict[str, object] = {"offered_rate_per_s": args.rate, "scheduled": n}
    result |= {"sent": len(lags), "achieved_rate_per_s": len(lags) / args.run_time}
    result |= {"completed": len(ends), "failed": sum(not ok for _, ok in ends)}
    result |= {"unsent_at_end": unsent}
    result |= {"connections": opened, "cpu_s": cpu_s, "window_s": args.run_time}
    if lags:
        result["schedule_lag_s"] = {
            "p50": quantile(lags, 0.50),
            "p99": quantile(lags, 0.99),
            "max": lags[-1],
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Reference open-loop client (asyncio).")
    parser.add_argument("--host", required=True, help="base URL up to /v1")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("-t", "--run-time", type=float, default=10.0, help="seconds (10)")
    parser.add_argument("--max-in-flight", type=int, default=512, help="connections (512)")
    parser.add_argument("--max-tokens", type=int, default=8, help="max_tokens (8)")
    parser.add_argument("--mode", choices=["stream", "batch"], default="stream")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
