"""The deployment's Prometheus files, checked with Debian's promtool and prometheus.

They need system packages (scripts/system-deps installs them), so they live here rather than
in tests/unit with the rest of tests/unit/test_deploy.py.
"""

from __future__ import annotations

import re
import subprocess

from tests.conftest import system_tool
from tests.unit.test_deploy import PROMETHEUS_CONFIG, _compose, _long_flags


def test_promtool_accepts_the_prometheus_config() -> None:
    result = subprocess.run(
        [system_tool("promtool"), "check", "config", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_prometheus_service_uses_flags_prometheus_has() -> None:
    """Debian's prometheus (2.42) stands in for the image's; these flags are in both."""
    result = subprocess.run(
        [system_tool("prometheus"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    declared = set(re.findall(r"--[\w.-]+", result.stdout + result.stderr))
    command = _compose()["services"]["prometheus"]["command"]
    assert set(_long_flags(command)) <= declared, set(_long_flags(command)) - declared
