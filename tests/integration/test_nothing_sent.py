"""A run that cannot send anything ends at once, in one line, with exit code 2 — never 0.

Real `locust` and `locust-llm run` subprocesses against a tiny stdlib HTTP server (its own
process, on a free loopback port) that plays what real servers answer on `GET /v1/models`: a
base URL without `/v1` (404), llama.cpp while it loads its model (503 "Loading model"), a
LiteLLM proxy without a key (500) and with a wrong one (400). The server counts every POST,
so each test also proves that no completion request was sent. And users that fail in
`on_start` log one line, not a traceback each, and end the run at once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, stop_process

pytestmark = pytest.mark.slow

LOCUSTFILE = ROOT / "harness" / "locustfile.py"
KEY = "sk-test-abcdefgh12345678"

#: the test server: `python -c SERVER MODE LOADING_S`; prints its port, then serves.
#: MODE: ok | loading (503 on every route for LOADING_S, then ok) | litellm-nokey (500) |
#: litellm-badkey (400, echoing the key it got, as a careless gateway might)
SERVER = r"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE, LOADING_S = sys.argv[1], float(sys.argv[2])
STARTED = time.monotonic()
POSTS = 0
LOCK = threading.Lock()
LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
NOKEY = {"error": {"message": "Internal Server Error, No api key passed in.",
                   "type": "auth_error", "param": "None", "code": "500"}}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def refusal(self):
        if MODE == "loading" and time.monotonic() - STARTED < LOADING_S:
            return 503, LOADING
        if MODE == "litellm-nokey":
            return 500, NOKEY
        if MODE == "litellm-badkey":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            return 400, {"error": {"message": "Authentication Error, Invalid proxy server "
                         f"token passed. Received API Key = {key}\nKey Hash (Token) =e3b0c4",
                         "type": "auth_error", "param": "None", "code": "400"}}
        return None

    def do_GET(self):
        if self.path == "/count":
            return self.send(200, {"posts": POSTS})
        refusal = self.refusal()
        if refusal:
            return self.send(*refusal)
        if self.path == "/v1/models":
            return self.send(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})
        self.send(404, {"detail": "Not Found"})

    def do_POST(self):
        global POSTS
        with LOCK:
            POSTS += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        refusal = self.refusal()
        if refusal:
            return self.send(*refusal)
        if self.path != "/v1/chat/completions":
            return self.send(404, {"detail": "Not Found"})
        self.send(200, {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "hi there"}}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                  "total_tokens": 5}})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Target:
    def __init__(self, port: int) -> None:
        self.origin = f"http://127.0.0.1:{port}"

    def posts(self) -> int:
        with urllib.request.urlopen(self.origin + "/count", timeout=5) as response:
            return int(json.load(response)["posts"])


@contextmanager
def serve(mode: str, loading_s: float = 0.0) -> Iterator[Target]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, mode, str(loading_s)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield Target(int(process.stdout.readline()))
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> Any:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
        env={**os.environ, "OPENAI_API_KEY": KEY, **(env or {})},
    )


def _locust(
    host: str, *args: str, env: dict[str, str] | None = None, tmp_path: Path | None = None
) -> Any:
    return _run(
        "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "-u", "2", "-r", "2", "-t", "20s", *args, env=env,
    )  # fmt: skip


def _cli_run(host: str, *, tmp_path: Path, env: dict[str, str] | None = None) -> Any:
    return _run(
        "-m", "harness.cli", "run", "--host", host, "--headless", "--users", "2",
        "--run-time", "20s", "--out", str(tmp_path / "out"), env=env,
    )  # fmt: skip


def _the_error_line(stderr: str) -> str:
    """The one line that says why; fails if there are more, or any traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr[-3000:]
    assert KEY[-12:] not in stderr  # the key, or its tail
    return errors[0]


@pytest.mark.parametrize("runner", ["locust", "locust-llm run"])
def test_a_base_url_without_v1_stops_at_the_404_suggesting_v1(runner: str, tmp_path: Path) -> None:
    with serve("ok") as server:
        run = _locust if runner == "locust" else _cli_run
        result = run(server.origin, tmp_path=tmp_path)
        posts = server.posts()
    assert result.returncode == 2, result.stderr[-3000:]
    assert _the_error_line(result.stderr) == (
        f"locust-llm: error: GET {server.origin}/models returned 404: the base URL usually "
        f"ends in /v1 — try --host {server.origin}/v1"
    )
    assert posts == 0


def test_a_404_on_a_v1_base_stays_a_warning_and_the_run_goes_on() -> None:
    """Some servers list no models: with /v1 the 404 is not a reason to stop."""
    with serve("ok") as server:
        result = _locust(
            server.origin + "/v1/sub/v1", "-t", "2s", "--llm-model", "m", "BatchUser"
        )  # a /v1 base where nothing is served: every request is a 404
        posts = server.posts()
    assert "/v1/sub/v1/models returned 404: the model is not checked" in result.stderr
    assert posts > 0  # the run did go on (and failed: every completion was a 404)
    assert result.returncode == 1, result.stderr[-3000:]


@pytest.mark.parametrize("runner", ["locust", "locust-llm run"])
def test_a_server_loading_its_model_past_the_wait_stops_in_one_line(
    runner: str, tmp_path: Path
) -> None:
    env = {"LOCUST_LLM_PREFLIGHT_WAIT": "2s"}
    with serve("loading", loading_s=3600) as server:
        t = time.monotonic()
        run = _locust if runner == "locust" else _cli_run
        result = run(server.origin + "/v1", tmp_path=tmp_path, env=env)
        took = time.monotonic() - t
        posts = server.posts()
    assert result.returncode == 2, result.stderr[-3000:]
    assert _the_error_line(result.stderr) == (
        f"locust-llm: error: GET {server.origin}/v1/models still answers 503 (Loading model) "
        "after waiting 2s (--llm-preflight-wait)"
    )
    assert result.stderr.count("waiting up to 2s for the server to be ready") == 1
    assert posts == 0
    assert took < 15  # waited about 2 s, not the 20 s run time


def test_preflight_waits_for_a_server_that_finishes_loading_and_the_run_succeeds() -> None:
    with serve("loading", loading_s=2.0) as server:
        result = _locust(server.origin + "/v1", "-t", "2s", "BatchUser")
        posts = server.posts()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("answers 503 (Loading model): waiting up to 60s") == 1
    assert posts > 0
    assert "error:" not in result.stderr


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        (
            "litellm-nokey",
            "GET {base}/models returned HTTP 500: Internal Server Error, No api key passed in.",
        ),
        (
            "litellm-badkey",
            "GET {base}/models returned HTTP 400: Authentication Error, Invalid proxy server "
            "token passed. Received API Key = *** Key Hash (Token) =e3b0c4",
        ),
    ],
)
@pytest.mark.parametrize("runner", ["locust", "locust-llm run"])
def test_a_gateway_refusing_the_model_list_stops_with_its_message_redacted(
    mode: str, line: str, runner: str, tmp_path: Path
) -> None:
    with serve(mode) as server:
        base = server.origin + "/v1"
        run = _locust if runner == "locust" else _cli_run
        result = run(base, tmp_path=tmp_path)
        posts = server.posts()
    assert result.returncode == 2, result.stderr[-3000:]
    assert _the_error_line(result.stderr) == "locust-llm: error: " + line.format(base=base)
    assert posts == 0


FAILING_START = """
from harness.errors import ConfigError
from harness.users import BatchUser


class BrokenBatchUser(BatchUser):
    def _start(self):
        raise {exc}
"""


def test_users_that_all_fail_to_start_end_the_run_at_once_in_one_line() -> None:
    """Preflight skipped, no model given and no /v1: all 8 users fail in on_start (the model
    cannot be discovered). One line, no traceback per user, exit 2, long before the 20 s."""
    with serve("ok") as server:
        t = time.monotonic()
        result = _locust(server.origin, "-u", "8", "-r", "8", "--llm-no-preflight")
        took = time.monotonic() - t
        posts = server.posts()
    assert result.returncode == 2, result.stderr[-3000:]
    line = _the_error_line(result.stderr)
    assert re.search(
        r"locust-llm: error: every user failed to start \(8 of 8\): (Streaming|Batch)User: "
        rf"no model given and GET {server.origin}/models did not list one \(\w+\); pass "
        r"--llm-model NAME$",
        line,
    ), line
    assert posts == 0
    assert took < 15


def test_users_that_all_fail_to_start_for_a_harness_reason_exit_3(tmp_path: Path) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text(FAILING_START.format(exc='RuntimeError("boom")'))
    with serve("ok") as server:
        t = time.monotonic()
        result = _run(
            "-m", "locust", "-f", str(locustfile), "--headless", "--host",
            server.origin + "/v1", "-u", "4", "-r", "4", "-t", "20s",
        )  # fmt: skip
        took = time.monotonic() - t
        posts = server.posts()
    assert result.returncode == 3, result.stderr[-3000:]
    assert _the_error_line(result.stderr).endswith(
        "locust-llm: error: every user failed to start (4 of 4): BrokenBatchUser: "
        "RuntimeError: boom"
    )
    assert posts == 0
    assert took < 15


def test_some_users_failing_to_start_log_one_warning_and_the_others_run(
    tmp_path: Path,
) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text(
        FAILING_START.format(exc='ConfigError("no prompts")')
        + "\n\nclass GoodUser(BatchUser):\n    pass\n"
    )
    with serve("ok") as server:
        result = _run(
            "-m", "locust", "-f", str(locustfile), "--headless", "--host",
            server.origin + "/v1", "-u", "4", "-r", "4", "-t", "2s",
            "BrokenBatchUser", "GoodUser",
        )  # fmt: skip
        posts = server.posts()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "could not start" in line]
    assert len(warnings) == 1, result.stderr[-3000:]
    assert warnings[0].endswith("user(s) could not start: BrokenBatchUser: no prompts")
    assert posts > 0


def test_a_run_that_sent_nothing_for_another_reason_never_exits_0(tmp_path: Path) -> None:
    """0 users: nothing sent, exit 3, one line."""
    with serve("ok") as server:
        result = _run(
            "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host",
            server.origin + "/v1", "-u", "0", "-t", "2s",
        )  # fmt: skip
        posts = server.posts()
    assert posts == 0
    assert result.returncode == 3, result.stderr[-3000:]
    assert _the_error_line(result.stderr).endswith(
        "locust-llm: error: no request was sent: no user started, or the run ended before "
        "the first request"
    )
