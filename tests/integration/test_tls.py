"""HTTPS endpoints: a real TLS proxy (`tests.tls_proxy`) in front of the mock, on loopback.

The certificates are made here with the `openssl` command (a throwaway CA and a server
certificate for 127.0.0.1). Trusting the CA through `SSL_CERT_FILE`, the run works and says its
reads were timed when `recv()` returned (OpenSSL reads the socket, so there are no kernel
stamps); not trusting it, preflight refuses in one line and nothing is sent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, MockProcess, counts_by_mode, run_mock, stop_process


@dataclass(frozen=True)
class TLSEndpoint:
    url: str  # https://127.0.0.1:PORT/v1
    ca_file: Path
    mock: MockProcess


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for IP 127.0.0.1 signed by it: (ca, cert, key)."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=locust-llm test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


@pytest.fixture(scope="module")
def tls_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSEndpoint]:
    ca, cert, key = _make_certificates(tmp_path_factory.mktemp("tls"))
    with run_mock("--ttft", "50ms", "--itl", "10ms", "--tokens", "16") as mock:
        upstream = mock.origin.removeprefix("http://")
        proxy = subprocess.Popen(
            [sys.executable, "-m", "tests.tls_proxy", "--upstream", upstream,
             "--cert", str(cert), "--key", str(key)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proxy.stdout is not None
            line = proxy.stdout.readline()
            match = re.fullmatch(r"tls listening on (https://127\.0\.0\.1:\d+)\n", line)
            assert match is not None, f"unexpected first line {line!r}"
            yield TLSEndpoint(f"{match[1]}/v1", ca, mock)
        finally:
            stop_process(proxy)
            if proxy.stdout is not None:
                proxy.stdout.close()


def _run(endpoint: TLSEndpoint, out: Path, *, trust: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    if trust:
        env["SSL_CERT_FILE"] = str(endpoint.ca_file)
    return subprocess.run(
        [
            sys.executable, "-m", "harness.cli", "run", "--host", endpoint.url, "--headless",
            "--users", "4", "--run-time", "4s", "--out", str(out),
        ],
        capture_output=True, text=True, timeout=120, cwd=out.parent, env=env, check=False,
    )  # fmt: skip


def test_an_https_endpoint_is_measured_with_recv_times(
    tls_endpoint: TLSEndpoint, tmp_path: Path
) -> None:
    before = counts_by_mode(tls_endpoint.mock.stats())
    result = _run(tls_endpoint, tmp_path / "out", trust=True)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["run"]["read_clock"] == "recv"
    assert summary["run"]["host"] == tls_endpoint.url
    received = counts_by_mode(tls_endpoint.mock.stats())
    for mode in ("stream", "batch"):
        figures = summary["modes"][mode]
        assert figures["requests"] > 0
        assert figures["outcomes"] == {"ok": figures["requests"]}
        assert received.get(mode, 0) - before.get(mode, 0) == figures["requests"]
    stream = summary["modes"]["stream"]
    # through TLS and the proxy: the mock's timing within a few milliseconds
    assert abs(stream["ttft_s"]["p50"] - 0.050) < 0.005, stream["ttft_s"]
    assert abs(stream["itl_s"]["p50"] - 0.010) < 0.001, stream["itl_s"]
    assert stream["output_tokens"] == 16 * stream["requests"]


def test_an_untrusted_certificate_stops_the_run_before_it_starts(
    tls_endpoint: TLSEndpoint, tmp_path: Path
) -> None:
    """Catalogue NET-03 (self-signed): preflight says so in one line, exit 2, nothing sent."""
    before = counts_by_mode(tls_endpoint.mock.stats())
    result = _run(tls_endpoint, tmp_path / "out", trust=False)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"locust-llm: error: TLS handshake with {tls_endpoint.url} failed "
        "(CERTIFICATE_VERIFY_FAILED)"
    )
    assert counts_by_mode(tls_endpoint.mock.stats()) == before
