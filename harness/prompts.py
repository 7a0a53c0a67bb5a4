"""Prompts as a scenario writes them: inline chat messages, and one JSON prompt.

`messages_from_node()` reads a chat conversation written inline in the scenario;
`prompt_from_json()` reads one prompt of a JSONL file (harness.workload.jsonl reads the file),
with errors naming where it is. Pure: standard library and harness.strict_yaml only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError
from harness.strict_yaml import Node

ROLES = ("system", "developer", "user", "assistant", "tool")

Prompt = str | tuple[Mapping[str, Any], ...]
"""A user message text, or a conversation (chat messages) sent as is."""


def messages_from_node(node: Node) -> tuple[Mapping[str, Any], ...]:
    """A conversation written in the scenario: a list of {role, content[, name]}."""
    items = node.items(what="a list of chat messages")
    if not items:
        raise node.error("expected at least one chat message")
    messages = []
    for item in items:
        keys = item.mapping(("role", "content", "name"), what="a chat message {role, content}")
        for needed in ("role", "content"):
            if needed not in keys:
                raise item.error(f"missing key {needed!r}")
        message: dict[str, Any] = {
            "role": keys["role"].choice(ROLES),
            "content": keys["content"].string(),
        }
        if "name" in keys:
            message["name"] = keys["name"].string()
        messages.append(message)
    return tuple(messages)


def prompt_from_json(item: Any, where: str) -> Prompt:
    expected = (
        'expected {"messages": [{"role": …, "content": …}, …]}, {"prompt": "…"}, '
        "a string, or a list of messages"
    )
    if isinstance(item, str) and item.strip():
        return item
    if isinstance(item, dict):
        if isinstance(item.get("prompt"), str) and item["prompt"].strip():
            return str(item["prompt"])
        item = item.get("messages")
    if isinstance(item, list) and item:
        for i, message in enumerate(item):
            if not (
                isinstance(message, dict)
                and message.get("role") in ROLES
                and isinstance(message.get("content"), str | list)
            ):
                raise ConfigError(
                    f'{where}: message {i}: expected {{"role": one of {", ".join(ROLES)}, '
                    '"content": "…"}'
                )
        return tuple(item)
    raise ConfigError(f"{where}: {expected}")
