"""YAML read strictly, for files people commit: one-line errors with file:line:col.

PyYAML follows YAML 1.1, whose implicit types surprise people: an unquoted `no` is the
boolean false, `0755` is the octal 493, `12:30` is the base-60 integer 750, `1_000` is 1000,
and `1e3` is the *string* '1e3' (catalogue CFG-01). It also keeps the last of two equal keys
without a word, and expands aliases without a limit. So this module never calls
`yaml.safe_load` on the document: it composes the node tree (safe, no Python objects, aliases
not expanded), checks it (size, alias expansion), and hands `Node`s to a schema walker
(`harness.scenario`) that asks for typed values: `node.string()`, `node.integer()`, … Each
accessor raises `ConfigError` with one line naming the file, line, column, key path, the value
as written, what is allowed, and for the YAML 1.1 traps what YAML made of it.

Pure: standard library and PyYAML only.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from harness.errors import ConfigError

#: A scenario is a few dozen lines; anything this large is the wrong file (catalogue CFG-03).
MAX_FILE_BYTES = 1024 * 1024
#: Values a document may expand to through aliases before it is refused as an alias bomb.
MAX_EXPANDED_NODES = 100_000

_TAG = "tag:yaml.org,2002:"
_DECIMAL_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_DECIMAL_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")
_ENV_REF = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KIND = {
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "null": "null",
    "str": "string",
    "timestamp": "date",
    "binary": "binary",
    "seq": "list",
    "map": "mapping",
    "set": "set",
    "omap": "ordered mapping",
    "pairs": "pairs",
    "merge": "merge key (<<)",
}


def read_yaml(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Node | None:
    """Read and compose a YAML file; None when it holds no document (empty or comments).

    Raises `ConfigError` for a missing file, a directory, a file over `max_bytes`, bytes
    that are not UTF-8 (a UTF-8 byte-order mark is accepted), a syntax error (tabs used for
    indentation, …), several documents, or aliases that expand past `MAX_EXPANDED_NODES`.
    """
    label = os.fspath(path)
    file = Path(path)
    try:
        if file.is_dir():
            raise ConfigError(f"{label}: is a directory, expected a YAML file")
        with file.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise ConfigError(
            f"{label}: larger than {max_bytes:,} bytes, the most a scenario file may be; "
            "is this the right file?"
        )
    text = _decode(data, label)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.composer.ComposerError as exc:
        raise _yaml_error(label, exc) from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(label, exc) from None
    except yaml.YAMLError as exc:  # a reader error (control character): position in the text
        raise ConfigError(f"{label}: YAML syntax error: {_one_line(str(exc))}") from None
    if root is None:
        return None
    _check_expansion(root, label)
    return Node(root, label, "")


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")  # catalogue CFG-03: a UTF-8 BOM is accepted
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
        raise ConfigError(
            f"{label}:{line}:{column}: not UTF-8 (byte 0x{data[start]:02x}); save the file as UTF-8"
        ) from None


def _yaml_error(label: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
    problem = exc.problem or exc.context or "invalid YAML"
    if "'\\t'" in problem:
        problem = "a tab character; YAML indents with spaces only"
    elif "expected a single document" in (exc.context or ""):
        problem = "a second document (---); a scenario is one document"
    return ConfigError(f"{where}: YAML syntax error: {_one_line(problem)}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_expansion(root: yaml.Node, label: str) -> None:
    """Refuse a document whose aliases expand it past MAX_EXPANDED_NODES (catalogue CFG-03).

    Composing never expands aliases (an alias is the same node object), so this counts the
    expanded size with memoisation, in time linear in the number of distinct nodes.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias counts once instead of looping
        total = 1
        if isinstance(node, SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                mark = child.start_mark
                raise ConfigError(
                    f"{label}:{mark.line + 1}:{mark.column + 1}: the document expands to more "
                    f"than {MAX_EXPANDED_NODES:,} values through aliases (*name); refusing "
                    "to load it (an alias bomb?)"
                )
        sizes[id(node)] = total
        return total

    size(root)


@dataclass(frozen=True, slots=True)
class Node:
    """One composed YAML node with its file and key path, and typed accessors.

    `path` is the key path of the value for messages (`slos[0].max`). Accessors raise
    `ConfigError` with ``file:line:col: path: problem`` — the one line a user needs.
    """

    node: yaml.Node
    file: str
    path: str

    # -------------------------------------------------------------- positions, errors

    @property
    def line(self) -> int:
        """1-based line of the value."""
        return int(self.node.start_mark.line) + 1

    @property
    def column(self) -> int:
        """1-based column of the value."""
        return int(self.node.start_mark.column) + 1

    @property
    def where(self) -> str:
        """``file:line:col``."""
        return f"{self.file}:{self.line}:{self.column}"

    def error(self, problem: str) -> ConfigError:
        """A `ConfigError` for this value: ``file:line:col: path: problem``."""
        prefix = f"{self.path}: " if self.path else ""
        return ConfigError(f"{self.where}: {prefix}{problem}")

    @property
    def kind(self) -> str:
        """What YAML made of the value: "string", "boolean", "integer", "list", …"""
        tag = self.node.tag
        if tag.startswith(_TAG):
            return _KIND.get(tag[len(_TAG) :], f"!!{tag[len(_TAG) :]}")
        return f"tagged {tag}"

    @property
    def text(self) -> str:
        """The scalar as written in the file (not what YAML made of it)."""
        value = self.node.value
        return value if isinstance(value, str) else ""

    @property
    def is_plain(self) -> bool:
        """An unquoted scalar: the only kind YAML 1.1 resolves to bool/int/float/null."""
        return isinstance(self.node, ScalarNode) and self.node.style is None

    def _got(self) -> str:
        """``got <kind> <value>`` for messages, with what YAML made of a plain scalar."""
        if isinstance(self.node, MappingNode):
            return "got a mapping"
        if isinstance(self.node, SequenceNode):
            return "got a list"
        kind = self.kind
        if kind == "null":
            return "got null (an empty value or ~)"
        if kind == "boolean":
            return f"got boolean {str(_construct(self.node)).lower()}"
        if kind == "string":
            return f"got string {self.text!r}"
        return f"got {kind} {self.text}"

    def _trap(self) -> str:
        """The YAML 1.1 reading of a plain scalar, when it surprises (catalogue CFG-01)."""
        if not self.is_plain:
            return ""
        kind, text = self.kind, self.text
        if kind == "boolean" and text.lower() not in ("true", "false"):
            return f' (unquoted no/yes/on/off are booleans in YAML 1.1; write "{text}")'
        if kind in ("integer", "number"):
            try:
                value = _construct(self.node)
            except ValueError:
                return ""
            digits = text.lstrip("+-")
            if ":" in text:
                return f" (YAML 1.1 reads {text} as the base-60 number {value})"
            if "_" in text:
                plain = text.replace("_", "")
                return f" (YAML 1.1 drops the underscores: {value}; write {plain})"
            if kind == "integer" and len(digits) > 1 and digits[0] == "0":
                if digits[1:2] in ("x", "X", "b", "B", "o", "O"):
                    return f" (a {_RADIX[digits[1].lower()]} literal, {value}; write {value})"
                return (
                    f" (YAML 1.1 reads a leading 0 as octal: {value}; write {digits.lstrip('0')})"
                )
        if kind == "string" and _DECIMAL_FLOAT.fullmatch(text):
            number = float(text)
            shown = int(number) if number.is_integer() else number
            return (
                f" (YAML 1.1 reads {text} as a string: it needs a dot and a signed exponent "
                f"such as 1.0e+3; write {shown})"
            )
        return ""

    def expected(self, what: str, *, hint: str = "") -> ConfigError:
        """``expected <what>, got <kind> <value>`` plus the YAML 1.1 reading, else `hint`."""
        return self.error(f"expected {what}, {self._got()}{self._trap() or hint}")

    # -------------------------------------------------------------- collections

    def is_mapping(self) -> bool:
        return isinstance(self.node, MappingNode)

    def is_list(self) -> bool:
        return isinstance(self.node, SequenceNode)

    def mapping(self, allowed: tuple[str, ...], *, what: str = "a mapping") -> dict[str, Node]:
        """The keys of a mapping: unknown keys (with a suggestion) and duplicates are errors."""
        entries = self.entries(what=what)
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                raise key_node.error(_unknown_key(key, allowed))
        return {key: value for key, (_, value) in entries.items()}

    def entries(self, *, what: str = "a mapping") -> dict[str, tuple[Node, Node]]:
        """Every (key node, value node) of a mapping, by key; any string keys allowed."""
        if not isinstance(self.node, MappingNode):
            raise self.expected(what)
        out: dict[str, tuple[Node, Node]] = {}
        for key_raw, value_raw in self.node.value:
            key_node = Node(key_raw, self.file, self.path)  # errors name the parent path
            if key_raw.tag == _TAG + "merge":
                raise key_node.error("merge keys (<<) are not supported; write the keys out")
            if not isinstance(key_raw, ScalarNode) or key_raw.tag != _TAG + "str":
                raise key_node.error(f"keys must be strings, {key_node._got()}{key_node._trap()}")
            key = key_raw.value
            child = Node(value_raw, self.file, _join(self.path, key))
            if key in out:
                first = out[key][0].line
                raise key_node.error(f"duplicate key {key!r} (lines {first} and {key_node.line})")
            out[key] = (key_node, child)
        return out

    def items(self, *, what: str = "a list") -> list[Node]:
        """The elements of a list, each with its index in the path."""
        if not isinstance(self.node, SequenceNode):
            raise self.expected(what)
        return [
            Node(child, self.file, f"{self.path}[{i}]") for i, child in enumerate(self.node.value)
        ]

    # -------------------------------------------------------------- scalars

    def string(self, *, environ: Mapping[str, str] | None = None, empty: bool = False) -> str:
        """A string. With `environ`, ``${NAME}`` and ``${NAME:-default}`` are substituted."""
        if not (isinstance(self.node, ScalarNode) and self.node.tag == _TAG + "str"):
            raise self.expected("a string")
        value = self.text
        if environ is not None:
            value = self._interpolate(value, environ)
        if not empty and not value.strip():
            raise self.error("expected a non-empty string")
        return value

    def _interpolate(self, text: str, environ: Mapping[str, str]) -> str:
        if "$" not in text:
            return text

        def substitute(match: re.Match[str]) -> str:
            name, _, default = match.group(1).partition(":-")
            if not _ENV_NAME.fullmatch(name):
                raise self.error(f"${{{match.group(1)}}} is not a variable reference ${{NAME}}")
            value = environ.get(name)
            if value is None or (value == "" and ":-" in match.group(1)):
                if ":-" in match.group(1):
                    return default
                raise self.error(f"references ${{{name}}}, which is not set")
            return value

        parts = text.split("$${")  # "$${" writes a literal "${"
        out = [_ENV_REF.sub(substitute, part) for part in parts]
        for part in out:
            if "${" in part:
                raise self.error("an unterminated ${ (write $${ for a literal ${)")
        return "${".join(out)

    def integer(self, *, minimum: int | None = None, maximum: int | None = None) -> int:
        """A plain decimal integer within [minimum, maximum]."""
        if not (
            isinstance(self.node, ScalarNode)
            and self.node.tag == _TAG + "int"
            and _DECIMAL_INT.fullmatch(self.text)
        ):
            raise self.expected("an integer")
        value = int(self.text)
        _check_range(self, value, minimum, maximum, self.text)
        return value

    def number(
        self,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        above: float | None = None,
    ) -> float:
        """A finite decimal number within [minimum, maximum] (and > `above` if given)."""
        if not (
            isinstance(self.node, ScalarNode)
            and self.node.tag in (_TAG + "int", _TAG + "float")
            and (_DECIMAL_INT.fullmatch(self.text) or _DECIMAL_FLOAT.fullmatch(self.text))
        ):
            raise self.expected("a number")
        value = float(self.text)
        if not math.isfinite(value):
            raise self.expected("a finite number")
        if above is not None and not (value > above and (maximum is None or value <= maximum)):
            limit = f" and at most {_fmt(maximum)}" if maximum is not None else ""
            raise self.error(
                f"expected a number greater than {_fmt(above)}{limit}, got {self.text}"
            )
        _check_range(self, value, minimum, maximum, self.text)
        return value

    def choice(self, allowed: tuple[str, ...]) -> str:
        """One of `allowed` (strings), with a suggestion for a near miss."""
        listed = ", ".join(allowed)
        if not (isinstance(self.node, ScalarNode) and self.node.tag == _TAG + "str"):
            raise self.expected(f"one of {listed}")
        value = self.text
        if value not in allowed:
            hint = _suggest(value, allowed)
            raise self.error(f"expected one of {listed}, got {value!r}{hint}")
        return value

    def plain_value(self) -> Any:
        """The value as JSON-compatible Python data (for pass-through keys like extra_body).

        Keys must be strings and unique; dates, binary and custom tags are refused.
        """
        node = self.node
        if isinstance(node, MappingNode):
            return {key: value.plain_value() for key, (_, value) in self.entries().items()}
        if isinstance(node, SequenceNode):
            return [child.plain_value() for child in self.items()]
        kind = self.kind
        if self._trap():  # a YAML 1.1 surprise: ask for what was meant (catalogue CFG-01)
            raise self.expected("a JSON value")
        if kind in ("string", "boolean", "null"):
            return _construct(node)
        if kind in ("integer", "number"):
            value = _construct(node)
            if isinstance(value, float) and not math.isfinite(value):
                raise self.expected("a finite number")
            return value
        raise self.expected("a JSON value (string, number, boolean, null, list or mapping)")


_RADIX = {"x": "hexadecimal", "b": "binary", "o": "octal"}


def _check_range(
    node: Node, value: float, minimum: float | None, maximum: float | None, text: str
) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        noun = "an integer" if isinstance(value, int) else "a number"
        if minimum is not None and maximum is not None:
            allowed = f"{noun} from {_fmt(minimum)} to {_fmt(maximum)}"
        elif minimum is not None:
            allowed = f"{noun} of at least {_fmt(minimum)}"
        else:
            allowed = f"{noun} of at most {_fmt(maximum or 0)}"
        raise node.error(f"expected {allowed}, got {text}")


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _construct(node: yaml.Node) -> Any:
    return yaml.SafeLoader(b"").construct_object(node, deep=True)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(word: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def _unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    hint = _suggest(key, allowed)
    return f"unknown key {key!r}{hint} (allowed: {', '.join(allowed)})"


def suggest(word: str, allowed: tuple[str, ...] | list[str]) -> str:
    """`` — did you mean 'x'?`` for a near miss of one of `allowed`, else ""."""
    return _suggest(word, allowed)
