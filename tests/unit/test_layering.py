"""The layers of `harness/` and what each may import, checked on every module's source.

Every module under `harness/` (subpackages included) is read as an AST; its imports, at the
top and inside functions, must be ones its layer allows: harness modules of the layers listed
in `Layer.may_import`, third-party packages listed in `Layer.libraries`, and the standard
library (its network modules only where `Layer.network` says so). Imports under
`if TYPE_CHECKING:` are never executed and are not checked: a type may be named from anywhere.
A module that is in no layer fails the test, so a new module cannot slip through; CONTRIBUTING.md
describes the layers in words.

Known violations, fixed on other branches, are listed by name in `KNOWN_VIOLATIONS` and
`KNOWN_CYCLES`: their tests are expected to fail (strict xfail), so once fixed they fail
as XPASS until their entry is removed.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.import_graph import Import, import_cycles, package_modules, parse_imports

#: standard-library modules that open connections or serve: the transport's and the mock's
NETWORK_STDLIB = (
    "asyncio",
    "http",
    "select",
    "selectors",
    "socket",
    "socketserver",
    "ssl",
    "urllib.request",
    "wsgiref",
    "xmlrpc",
)

#: what the runtime check looks for in `sys.modules` after importing the pure layers
PATCHING_OR_SERVING = (
    "flask",
    "gevent",
    "geventhttpclient",
    "httpx",
    "locust",
    "prometheus_client",
)


@dataclass(frozen=True)
class Layer:
    """A group of harness modules with the same import rules."""

    name: str
    what: str
    #: modules by dotted name; a name ending in ".*" is a package and everything under it
    modules: tuple[str, ...]
    #: the layers whose modules it may import (its own included when listed)
    may_import: frozenset[str]
    #: the third-party top-level packages it may import
    libraries: frozenset[str] = frozenset()
    #: whether it may import the standard library's network modules (NETWORK_STDLIB)
    network: bool = False


LAYERS = (
    Layer(
        "core",
        "the pure measurement core: bytes -> events -> a request record -> statistics",
        (
            "harness",
            "harness.errors",
            "harness.sse",
            "harness.protocols.*",
            "harness.record",
            "harness.stats",
            "harness.load.confidence",
            "harness.encoding",
            "harness.stream",
            "harness.retry",
            "harness.redact",
            "harness.target",
            "harness.load",
            "harness.load.schedule",
            "harness.load.accounting",
            "harness.load.goodput",
            "harness.load.paired",
            "harness.workload",
            "harness.workload.lengths",
            "harness.workload.text",
            "harness.workload.calibration",
            "harness.workload.tally",
            "harness.server",
            "harness.server.engines",
            "harness.server.snapshot",
            "harness.server.view",
        ),
        may_import=frozenset({"core"}),
        libraries=frozenset({"orjson"}),
    ),
    Layer(
        "config",
        "settings, scenarios, prompts and SLOs: pure, plus PyYAML",
        (
            "harness.strict_yaml",
            "harness.checks",
            "harness.prompts",
            "harness.scenario",
            "harness.slo",
            "harness.effective",
            "harness.settings",
            "harness.readers",
            "harness.exit_code",
            "harness.exporters.prometheus_config",
            "harness.load.plan",
            "harness.load.summary",
            "harness.load.sweep",
            "harness.workload.records",
            "harness.workload.sharegpt",
            "harness.workload.jsonl",
            "harness.workload.trace",
            "harness.workload.source",
            "harness.workload.config",
            "harness.targets",
        ),
        may_import=frozenset({"core", "config"}),
        libraries=frozenset({"yaml"}),
    ),
    Layer(
        "report",
        "the reports: plain functions of a finished run's summary",
        ("harness.report.*", "harness.compare.*"),
        may_import=frozenset({"core", "config", "report"}),
    ),
    Layer(
        "transport",
        "HTTP on gevent: sends one request and times its bytes near the socket",
        (
            "harness.client",
            "harness.transport.*",
            "harness.arrival",
            "harness.deadline",
            "harness.preflight",
            "harness.load.pacer",
            "harness.calibrate",
        ),
        may_import=frozenset({"core", "config", "transport"}),
        libraries=frozenset({"gevent", "geventhttpclient"}),
        network=True,
    ),
    Layer(
        "scrape",
        "one scrape of a server's Prometheus endpoint, parsed with prometheus-client's text "
        "parser (in the load generator before and after the load, in its own process during it)",
        ("harness.server.scrape",),
        may_import=frozenset({"core"}),
        libraries=frozenset({"prometheus_client"}),
        network=True,
    ),
    Layer(
        "locust",
        "Locust glue: the --llm-... options, the llm_request event and the run, the LLM tab",
        (
            "harness.options",
            "harness.events",
            "harness.run",
            "harness.timeline_sampler",
            "harness.server_watch",
            "harness.finish",
            "harness.webui",
            "harness.load.open_loop",
        ),
        may_import=frozenset({"core", "config", "report", "transport", "scrape", "locust"}),
        libraries=frozenset({"flask", "gevent", "locust"}),
    ),
    Layer(
        "exporters",
        "sinks that publish a running test to other systems; they depend on the run",
        ("harness.exporters.*",),
        may_import=frozenset({"core", "config", "report", "locust", "exporters"}),
        libraries=frozenset({"gevent", "locust", "prometheus_client"}),
    ),
    Layer(
        "users",
        "the user classes a locustfile imports; importing them plugs in every extension",
        ("harness.users", "harness.extensions", "harness.locustfile"),
        may_import=frozenset(
            {"core", "config", "report", "transport", "locust", "exporters", "users"}
        ),
        libraries=frozenset({"gevent", "locust"}),
    ),
    Layer(
        "cli",
        "the locust-llm command",
        ("harness.cli",),
        may_import=frozenset(
            {"core", "config", "report", "transport", "locust", "exporters", "users", "mock"}
        ),
        libraries=frozenset({"locust"}),
    ),
    Layer(
        "mock",
        "the mock server, a yardstick: it shares no code (no parser) with the harness",
        ("harness.mock.*",),
        may_import=frozenset({"mock"}),
        network=True,
    ),
)

#: imports across layers that the table does not allow in general, each with its reason
ALLOWED_EDGES = {
    ("harness.scenario", "harness.mock.faults"): (
        "a scenario's mock faults are checked with the mock's own grammar (at call time)"
    ),
}

#: modules whose imports break the intended layering today, and why; their tests xfail
KNOWN_VIOLATIONS: dict[str, str] = {}

#: import cycles today, as their modules; their modules' cycle tests xfail
KNOWN_CYCLES: tuple[frozenset[str], ...] = ()


# ------------------------------------------------------------------------------ the checker


@cache
def _sources() -> dict[str, Path]:
    return package_modules(ROOT, "harness")


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    path = _sources()[module]
    known = set(_sources())
    return parse_imports(
        path.read_text(), module, is_package=path.name == "__init__.py", known=known
    )


def _matches(module: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        package = pattern.removesuffix(".*")
        return module == package or module.startswith(package + ".")
    return module == pattern


def layer_of(module: str) -> Layer | None:
    for layer in LAYERS:
        if any(_matches(module, pattern) for pattern in layer.modules):
            return layer
    return None


def _is_under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(module: str) -> list[str]:
    """Every import of `module` that its layer does not allow, one line each."""
    layer = layer_of(module)
    assert layer is not None, f"{module} is in no layer"
    found = []
    for imp in imports_of(module):
        where = f"{module}:{imp.line} imports {imp.name}"
        top = imp.name.partition(".")[0]
        if top == "harness":
            target = layer_of(imp.name)
            if target is None or (module, imp.name) in ALLOWED_EDGES:
                continue  # an unknown module fails test_every_module_is_in_a_layer
            if target.name not in layer.may_import:
                found.append(f"{where} ({target.name}): {layer.name} may not import it")
        elif top in sys.stdlib_module_names:
            if _is_under(imp.name, NETWORK_STDLIB) and not layer.network:
                found.append(f"{where}: {layer.name} opens no connection")
        elif top not in layer.libraries:
            found.append(f"{where}: not a library of {layer.name} ({sorted(layer.libraries)})")
    return found


@cache
def _cycles() -> tuple[frozenset[str], ...]:
    graph = {m: {i.name for i in imports_of(m) if i.name in _sources()} for m in _sources()}
    return tuple(import_cycles(graph))


def _params(known: set[str], reasons: dict[str, str]) -> list[object]:
    return [
        pytest.param(
            module, marks=pytest.mark.xfail(strict=True, reason=reasons.get(module, "known"))
        )
        if module in known
        else module
        for module in _sources()
        if layer_of(module) is not None
    ]


_IN_KNOWN_CYCLE = {m for cycle in KNOWN_CYCLES for m in cycle}
_CYCLE_REASON = dict.fromkeys(_IN_KNOWN_CYCLE, "a known import cycle (KNOWN_CYCLES)")


# ------------------------------------------------------------------------------ the table


def test_every_module_is_in_a_layer() -> None:
    missing = [m for m in _sources() if layer_of(m) is None]
    assert missing == [], (
        f"{missing}: add each to a Layer's modules in LAYERS ({__file__}) and to "
        "CONTRIBUTING.md's layers: 'core' if it needs only the standard library, 'transport' "
        "if it talks HTTP, 'locust' if it imports Locust, …"
    )


def test_every_entry_of_the_table_names_a_module() -> None:
    patterns = [p for layer in LAYERS for p in layer.modules]
    stale = [p for p in patterns if not any(_matches(m, p) for m in _sources())]
    stale += [m for m in [*KNOWN_VIOLATIONS, *_IN_KNOWN_CYCLE] if m not in _sources()]
    stale += [f"{a} -> {b}" for a, b in ALLOWED_EDGES if a not in _sources() or b not in _sources()]
    assert stale == [], f"{stale} no longer exist: remove them from {__file__}"


def test_the_layers_are_listed_in_the_order_they_may_import() -> None:
    """Each layer imports only layers listed before it (or itself), so imports point down;
    the mock alone stands apart and imports nothing else."""
    names = [layer.name for layer in LAYERS]
    for position, layer in enumerate(LAYERS):
        assert layer.may_import <= {*names[: position + 1], "mock"}, layer.name
    assert next(layer for layer in LAYERS if layer.name == "mock").may_import == {"mock"}


# ------------------------------------------------------------------------------ the modules


@pytest.mark.parametrize("module", _params(set(KNOWN_VIOLATIONS), KNOWN_VIOLATIONS))
def test_module_imports_only_what_its_layer_allows(module: str) -> None:
    found = violations(module)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", _params(_IN_KNOWN_CYCLE, _CYCLE_REASON))
def test_module_is_on_no_import_cycle(module: str) -> None:
    cycles = [sorted(c) for c in _cycles() if module in c]
    assert not cycles, f"{module} is on an import cycle with {cycles}"


def test_no_import_cycle_other_than_the_known_ones() -> None:
    """A cycle that is not exactly one of KNOWN_CYCLES (a new one, or a known one that
    grew) fails here, whichever modules it goes through."""
    cycles = [sorted(c) for c in _cycles() if c not in KNOWN_CYCLES]
    assert not cycles, f"import cycles: {cycles}"


# ------------------------------------------------------------------------------ at run time


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return result.stdout.strip()


def test_importing_the_pure_layers_loads_nothing_that_patches_or_serves() -> None:
    """Importing Locust monkey-patches the process with gevent: the pure layers never do."""
    pure = [
        m
        for m in _sources()
        if (layer := layer_of(m)) and layer.name in {"core", "config", "report"}
        if m not in KNOWN_VIOLATIONS
    ]
    code = (
        "import sys\n"
        f"for name in {pure!r}: __import__(name)\n"
        f"print(sorted(m for m in sys.modules if m.partition('.')[0] in {PATCHING_OR_SERVING!r}))\n"
    )
    assert _run(code) == "[]"


def test_importing_the_mock_loads_nothing_of_the_harness() -> None:
    mock = [
        m
        for m in _sources()
        if (layer := layer_of(m)) and layer.name == "mock" and not m.endswith(".__main__")
    ]
    code = (
        "import sys\n"
        f"for name in {mock!r}: __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('harness.')"
        " and not m.startswith('harness.mock')))\n"
    )
    assert _run(code) == "[]"


# ------------------------------------------------------------------------------ the reader


def test_the_reader_sees_function_level_and_relative_imports_but_not_type_checking_ones() -> None:
    source = (
        "from __future__ import annotations\n"
        "import gevent.socket\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling, value\n"
        "from ..record import RequestRecord\n"
        "if TYPE_CHECKING:\n"
        "    from harness.options import RunConfig\n"
        "else:\n"
        "    import json\n"
        "def late() -> None:\n"
        "    from harness.events import llm_run\n"
    )
    known = {"harness.pkg.sibling", "harness.pkg", "harness.record", "harness.events"}
    found = parse_imports(source, "harness.pkg.mod", is_package=False, known=known)
    assert [(i.name, i.line) for i in found] == [
        ("gevent.socket", 2),
        ("typing", 3),
        ("harness.pkg.sibling", 4),
        ("harness.pkg", 4),
        ("harness.record", 5),
        ("json", 9),
        ("harness.events", 11),
    ]


def test_the_cycle_finder_finds_every_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "d"}, "e": {"a"}}
    assert sorted(sorted(c) for c in import_cycles(graph)) == [["a", "b", "c"], ["d"]]
