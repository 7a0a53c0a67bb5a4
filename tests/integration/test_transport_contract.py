"""The transport's contract with geventhttpclient and gevent (harness.transport.geventhttp).

The adapter is the one module that uses those libraries' private attributes, and it names them
in `REQUIRED`. These tests hold that list to the installed libraries and to the adapter's own
source, and show what a run does when a release has renamed one: it stops at start with one
line naming the versions and the attribute, exit code 3, before any request is sent.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import gevent
import geventhttpclient
import pytest

from harness.transport import TransportUnsupported
from harness.transport import geventhttp as adapter
from tests.conftest import ROOT

ADAPTER = ROOT / "harness" / "transport" / "geventhttp.py"
LOCUSTFILE = ROOT / "harness" / "locustfile.py"
VERSIONS = f"geventhttpclient {geventhttpclient.__version__} and gevent {gevent.__version__}"


def _private_accesses(tree: ast.AST) -> set[str]:
    """`_name` attributes read or written anywhere in `tree` (dunders aside), also through
    `getattr(x, "_name", …)`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        else:
            continue
        if name.startswith("_") and not name.startswith("__"):
            found.add(name)
    return found


def _own_names(tree: ast.Module) -> set[str]:
    """Names the adapter defines itself: its classes' slots and attributes, module names."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            own.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    own.add(target.id)
                if isinstance(target, ast.Name) and target.id == "__slots__":
                    value = node.value
                    if isinstance(value, ast.Tuple):
                        own.update(
                            e.value
                            for e in value.elts
                            if isinstance(e, ast.Constant) and isinstance(e.value, str)
                        )
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
            own.add(node.target.attr)
        elif isinstance(node, ast.Global):
            own.update(node.names)
    # attributes the adapter's own stand-in classes set on themselves in __init__
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.startswith("_"):
            for item in ast.walk(node):
                if (
                    isinstance(item, ast.Attribute)
                    and isinstance(item.value, ast.Name)
                    and item.value.id == "self"
                ):
                    own.add(item.attr)
    return own


def test_the_installed_libraries_have_every_attribute_the_adapter_relies_on() -> None:
    assert adapter.missing_attributes() == []
    adapter.check_transport()  # does not raise


def test_every_private_attribute_the_adapter_touches_is_in_its_checked_list() -> None:
    tree = ast.parse(ADAPTER.read_text())
    required = {name for names in adapter.REQUIRED.values() for name in names}
    unlisted = _private_accesses(tree) - _own_names(tree) - required
    assert unlisted == set(), f"private attributes used but not checked at start: {unlisted}"


def test_every_owner_in_the_list_is_really_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name a library does not have is reported, for each owner, as `Owner.name`."""
    extended = {owner: (*names, "_no_such_attribute") for owner, names in adapter.REQUIRED.items()}
    monkeypatch.setattr(adapter, "REQUIRED", extended)
    expected = sorted(f"{owner.removesuffix('()')}._no_such_attribute" for owner in extended)
    assert sorted(adapter.missing_attributes()) == expected


def test_a_missing_attribute_is_one_line_with_the_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(adapter, "_checked", False)
    monkeypatch.delattr(geventhttpclient.HTTPClient, "_build_request")
    with pytest.raises(TransportUnsupported) as raised:
        adapter.check_transport()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{VERSIONS} lack HTTPClient._build_request, which locust-llm's")


def test_no_other_harness_module_imports_geventhttpclient() -> None:
    """The adapter is the only door to geventhttpclient (the mock is a separate program)."""
    importers = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        if path == ADAPTER or "mock" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "geventhttpclient" or n.startswith("geventhttpclient.") for n in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []


# -- a run on libraries that lack one --------------------------------------------------------

#: runs Locust as `python -m locust` does, after taking one attribute away
RUN_WITHOUT = """
import sys
import locust  # monkey-patches first, as `locust` itself does
import geventhttpclient.client
del geventhttpclient.client.HTTPClient._build_request
from locust.main import main
sys.argv = ["locust", *sys.argv[1:]]
main()
"""


def _locust_without_build_request(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, "-f", str(LOCUSTFILE), "--headless",
         "--host", "http://127.0.0.1:9/v1", "-u", "2", "-r", "2", "-t", "20s",
         "--llm-model", "m", *args],
        capture_output=True, text=True, timeout=90, cwd=ROOT, check=False,
    )  # fmt: skip


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr[-3000:]
    return [line for line in stderr.splitlines() if "error:" in line]


@pytest.mark.slow
def test_a_run_on_a_library_without_an_attribute_stops_at_preflight_with_exit_3() -> None:
    result = _locust_without_build_request()
    assert result.returncode == 3, result.stderr[-3000:]
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(
        f"locust-llm: error: {VERSIONS} lack HTTPClient._build_request, which"
    ), lines


@pytest.mark.slow
def test_without_preflight_the_users_cannot_start_and_the_run_exits_3() -> None:
    result = _locust_without_build_request("--llm-no-preflight")
    assert result.returncode == 3, result.stderr[-3000:]
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    line = (
        r"locust-llm: error: every user failed to start \(2 of 2\): (Streaming|Batch)User: "
        r"TransportUnsupported: " + re.escape(f"{VERSIONS} lack HTTPClient._build_request, ")
    )
    assert re.search(line + r".*pyproject\.toml names$", lines[0]), lines
