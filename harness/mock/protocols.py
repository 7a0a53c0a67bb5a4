"""The wire protocols the mock speaks besides its OpenAI fast path, by route.

`SHAPES` maps ``/v1/messages`` to Anthropic Messages (`harness.mock.anthropic`) and
``/v1/responses`` to OpenAI Responses (`harness.mock.responses`); `CHAT_EXTRAS`
(`harness.mock.chat_extras`) answers ``/v1/chat/completions`` when the profile asks for
reasoning or a tool call. The server and fault injection take them from here. Standard
library only; like the rest of the mock it must not import the harness.
"""

from __future__ import annotations

from harness.mock.anthropic import ANTHROPIC
from harness.mock.chat_extras import CHAT_EXTRAS
from harness.mock.completions import Endpoint
from harness.mock.responses import RESPONSES
from harness.mock.wire_shape import WireShape

__all__ = ["CHAT_EXTRAS", "SHAPES"]

SHAPES: dict[Endpoint, WireShape] = {Endpoint.MESSAGES: ANTHROPIC, Endpoint.RESPONSES: RESPONSES}
