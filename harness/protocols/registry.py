"""The wire protocols a run can speak, by the name a scenario's `target.protocol` gives.

A new protocol is one module in `harness/protocols/` and one entry here. Pure: standard
library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from harness.errors import ConfigError
from harness.protocols import WireProtocol
from harness.protocols.anthropic import AnthropicProtocol
from harness.protocols.openai import OpenAIProtocol
from harness.protocols.responses import ResponsesProtocol

#: builds a protocol; `chat` picks chat completions over legacy completions where a protocol
#: has both (OpenAI's `--llm-endpoint`)
ProtocolFactory = Callable[..., WireProtocol]

DEFAULT_PROTOCOL = "openai"

PROTOCOLS: Mapping[str, ProtocolFactory] = MappingProxyType(
    {
        "openai": OpenAIProtocol,
        "anthropic": AnthropicProtocol,
        "responses": ResponsesProtocol,
    }
)


def protocol_names() -> tuple[str, ...]:
    """The registered names, in registration order (`openai` first)."""
    return tuple(PROTOCOLS)


def make_protocol(name: str = DEFAULT_PROTOCOL, *, chat: bool = True) -> WireProtocol:
    """The protocol registered as `name`."""
    factory = PROTOCOLS.get(name)
    if factory is None:
        raise ConfigError(
            f"unknown protocol {name!r}: expected one of {', '.join(protocol_names())}"
        )
    return factory(chat=chat)
