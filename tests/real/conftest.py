"""Real third-party servers as subprocesses on 127.0.0.1: llama.cpp's llama-server and LiteLLM.

`bash scripts/real-servers` installs them (docs/real-servers.md) and writes
`$LOCUST_LLM_CACHE/real-servers.json` (default `~/.cache/locust-llm`); without that manifest
every test here skips with one line saying so. `scripts/test` runs the script first, so in CI
they run. Each server is started by a fixture and always stopped, bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, locust_llm

CACHE = Path(os.environ.get("LOCUST_LLM_CACHE") or Path.home() / ".cache" / "locust-llm")
MANIFEST = CACHE / "real-servers.json"


def manifest() -> dict[str, Any]:
    """What scripts/real-servers installed; skips the test when it was not run."""
    reason = f"real servers not installed ({MANIFEST} missing): run `bash scripts/real-servers`"
    if not MANIFEST.is_file():
        pytest.skip(reason)
    data: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for key in ("llama_server", "model", "litellm"):
        if not Path(data[key]).is_file():
            pytest.skip(
                f"real servers incomplete ({data[key]} missing): run `bash scripts/real-servers`"
            )
    return data


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> bytes:
    with urllib.request.urlopen(
        urllib.request.Request(url, headers=headers or {}), timeout=timeout
    ) as response:
        body: bytes = response.read()
        return body


def _stop_group(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGTERM the process group we started (the server and any worker it forked), then
    SIGKILL it if it lingers; reap the process."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):  # workers left after the leader exited
        os.killpg(process.pid, signal.SIGKILL)


def _log_tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------------- llama.cpp


@dataclass
class LlamaServer:
    """A llama-server process serving Gemma 3 270M on 127.0.0.1:`port` with /metrics on."""

    binary: str
    model: str
    port: int
    slots: int
    log: Path
    threads: int = 2
    process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.origin + "/v1"

    def start(self, timeout: float = 120.0) -> float:
        """Start it and wait until /health answers 200 (503 while it loads the model).
        Returns the perf_counter time it became ready."""
        cmd = [
            self.binary, "-m", self.model, "--host", "127.0.0.1", "--port", str(self.port),
            "--metrics", "-np", str(self.slots), "-c", str(1024 * self.slots),
            "-t", str(self.threads), "--no-webui",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.perf_counter() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"llama-server exited with {self.process.returncode}:\n{_log_tail(self.log)}"
                )
            try:
                http_get(self.origin + "/health", timeout=2)
                return time.perf_counter()
            except (OSError, urllib.error.HTTPError):
                pass
            if time.perf_counter() > deadline:
                raise AssertionError(
                    f"llama-server not ready in {timeout:.0f} s:\n{_log_tail(self.log)}"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: a crash, no goodbye to the clients."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process)

    def metrics(self) -> dict[str, float]:
        """The `llamacpp:` series of /metrics, by name without the prefix."""
        values: dict[str, float] = {}
        for line in http_get(self.origin + "/metrics").decode().splitlines():
            if line.startswith("llamacpp:"):
                name, value = line.split()
                values[name.removeprefix("llamacpp:")] = float(value)
        return values

    def model_id(self) -> str:
        models = json.loads(http_get(self.url + "/models"))
        model_id: str = models["data"][0]["id"]
        return model_id


@pytest.fixture
def llama_server_factory(tmp_path: Path) -> Iterator[Any]:
    """Makes llama-servers (`factory(slots=…)`, not yet started); all are stopped at the end."""
    real = manifest()
    servers: list[LlamaServer] = []

    def factory(slots: int = 2, port: int | None = None) -> LlamaServer:
        server = LlamaServer(
            binary=real["llama_server"],
            model=real["model"],
            port=port or free_port(),
            slots=slots,
            log=tmp_path / f"llama-server-{len(servers)}.log",
        )
        servers.append(server)
        return server

    try:
        yield factory
    finally:
        for server in servers:
            server.stop()


# ---------------------------------------------------------------------------------- LiteLLM


@dataclass
class LiteLLM:
    """A LiteLLM proxy on 127.0.0.1:`port`; `key` is its master key (the clients' API key)."""

    port: int
    key: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"


def litellm_config(upstreams: dict[str, str], metrics: bool = False) -> str:
    """A LiteLLM config routing each model name to an OpenAI-compatible base URL; with
    `metrics`, its Prometheus callback on and its /metrics open (with no database LiteLLM
    cannot check a key there)."""
    lines = ["model_list:"]
    for name, base_url in upstreams.items():
        lines += [
            f"  - model_name: {name}",
            "    litellm_params:",
            "      model: openai/mock-llm",
            f"      api_base: {base_url}",
            "      api_key: none",
        ]
    if metrics:
        lines += [
            "litellm_settings:",
            '  callbacks: ["prometheus"]',
            "  require_auth_for_metrics_endpoint: false",
        ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def run_litellm(
    upstreams: dict[str, str],
    workdir: Path,
    timeout: float = 120.0,
    env_extra: dict[str, str] | None = None,
    metrics: bool = False,
) -> Iterator[LiteLLM]:
    """Start `litellm --config …` (one worker, no database, the packaged cost map: offline)
    and wait for /health/liveliness; stop it afterwards."""
    real = manifest()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "litellm.yaml"
    config.write_text(litellm_config(upstreams, metrics), encoding="utf-8")
    log = workdir / "litellm.log"
    port = free_port()
    key = "sk-" + secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "DATABASE_"))}
    env.update(LITELLM_MASTER_KEY=key, LITELLM_LOCAL_MODEL_COST_MAP="True", NO_COLOR="1")
    env.update(env_extra or {})
    with log.open("ab") as out:
        process = subprocess.Popen(
            [real["litellm"], "--config", str(config), "--host", "127.0.0.1", "--port",
             str(port), "--num_workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, cwd=workdir, env=env, start_new_session=True,
        )  # fmt: skip
    proxy = LiteLLM(port, key, process, log)
    try:
        deadline = time.perf_counter() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"litellm exited with {process.returncode}:\n{_log_tail(log)}")
            try:
                http_get(f"http://127.0.0.1:{port}/health/liveliness", timeout=2)
                break
            except (OSError, urllib.error.HTTPError):
                pass
            if time.perf_counter() > deadline:
                raise AssertionError(f"litellm not ready in {timeout:.0f} s:\n{_log_tail(log)}")
            time.sleep(0.2)
        yield proxy
    finally:
        _stop_group(process)


# ---------------------------------------------------------------------------------- locust-llm


def _cli_env(env: dict[str, str] | None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    environ.pop("OPENAI_API_KEY", None)
    environ["PYTHONPATH"] = str(ROOT)
    return {**environ, **(env or {})}


def locust_llm_run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`locust-llm run ARGS…` as a user runs it, in its own process, to the end."""
    return locust_llm("run", *args, cwd=cwd, env=env, timeout=timeout)


def locust_llm_start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """`locust-llm run ARGS…` started in the background (stderr piped, stdout dropped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(None),
    )


def summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return data
