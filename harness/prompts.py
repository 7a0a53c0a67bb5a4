"""Prompts a scenario sends: inline chat messages, a JSONL file, or synthetic text.

`read_prompt_file()` reads one prompt per JSONL line with errors naming the file and line;
`synthetic_prompts()` makes reproducible prompts of about N input tokens;
`messages_from_node()` reads a chat conversation written inline in the scenario;
`SYNTHETIC_WORDS` is the vocabulary of synthetic text (defined in harness.workload.text).
Pure: standard library, harness.strict_yaml and harness.workload.text only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.strict_yaml import Node
from harness.workload.text import SYNTHETIC_WORDS as SYNTHETIC_WORDS  # public here too

#: Prompt files are read whole; beyond this they are the wrong file.
MAX_PROMPT_FILE_BYTES = 256 * 1024 * 1024
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


def read_prompt_file(file: Path, node: Node) -> tuple[Prompt, ...]:
    """Prompts from a JSONL file: per line ``{"messages": [...]}``, ``{"prompt": "..."}``,
    a JSON string, or a JSON list of messages. Blank lines are skipped.
    """
    try:
        if file.is_dir():
            raise node.error(f"{file} is a directory, expected a JSONL file")
        with file.open("rb") as f:
            data = f.read(MAX_PROMPT_FILE_BYTES + 1)
    except FileNotFoundError:
        raise node.error(f"no such file: {file}") from None
    except OSError as exc:
        raise node.error(f"cannot read {file} ({exc.strerror or exc})") from None
    if len(data) > MAX_PROMPT_FILE_BYTES:
        raise node.error(f"{file} is larger than {MAX_PROMPT_FILE_BYTES:,} bytes")
    prompts: list[Prompt] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{file}:{number}"
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            raise ConfigError(f"{where}: not UTF-8; save the file as UTF-8") from None
        if not line:
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}:{exc.colno}: not JSON ({exc.msg})") from None
        prompts.append(_prompt_from_json(item, where))
    if not prompts:
        raise node.error(f"{file} holds no prompts (one JSON object per line)")
    return tuple(prompts)


def _prompt_from_json(item: Any, where: str) -> Prompt:
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


#: The vocabulary of synthetic prompts (harness.workload.text, where the workload's synthetic
#: text comes from too): short, common English words that most BPE tokenizers give one token
#: each (with its leading space), so N words make a prompt of about N input tokens.
_WORDS = SYNTHETIC_WORDS  # the name it had before it was public


def synthetic_prompts(input_tokens: int, count: int, seed: int) -> tuple[str, ...]:
    """`count` prompts of about `input_tokens` tokens each, the same for the same seed."""
    rng = random.Random(seed)
    lead = "Continue this text: "
    body = max(input_tokens - 4, 1)  # the lead-in is about four tokens
    return tuple(lead + " ".join(rng.choices(SYNTHETIC_WORDS, k=body)) for _ in range(count))
