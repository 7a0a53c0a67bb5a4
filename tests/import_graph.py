"""The import graph of a package, read from its source: which module imports which name.

`package_modules(root, package)` lists a package's modules (subpackages included) by dotted
name; `parse_imports()` reads one module's imports as the names it loads at run time (top
level and inside functions, relative ones resolved, `if TYPE_CHECKING:` bodies skipped, since
they never run); `import_cycles()` finds the cycles. Used by tests/unit/test_layering.py.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One imported name as a module path, with the line that imports it."""

    name: str
    line: int


def module_name(path: Path, root: Path) -> str:
    """`root/harness/report/__init__.py` → `harness.report`."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` (a folder under `root`) by dotted name, sorted."""
    return {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, skipping `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from _import_nodes(ast.Module(body=child.orelse, type_ignores=[]))
        else:
            yield from _import_nodes(child)


def parse_imports(
    source: str, module: str, *, is_package: bool, known: Collection[str]
) -> tuple[Import, ...]:
    """What `module` (whose text is `source`) imports at run time: `from a import b` is `a.b`
    when that is one of the `known` modules, else `a`; relative imports are resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in _import_nodes(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            anchor = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        if base == "__future__":
            continue
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            found.append(Import(submodule if submodule in known else base, node.lineno))
    return tuple(dict.fromkeys(found))  # `from a import b, c` is one import of `a`


def import_cycles(graph: Mapping[str, Collection[str]]) -> list[frozenset[str]]:
    """The strongly connected components of `graph` (module → modules it imports) that are
    cycles: more than one module, or one that imports itself (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles
