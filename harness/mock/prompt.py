"""What the mock reads from a request's prompt: its tokens, and what tests check was sent.

`read_chat` reads the ``messages`` of a ``/v1/chat/completions`` body, `read_completion` the
``prompt`` of a ``/v1/completions`` body; both validate it (`BadRequest`, answered with a 400
naming the param) and return a `Prompt`: its token count by the rule of `harness.mock.tokens`,
and a summary of what was sent (roles, assistant turns, first and last user text, a hash of
the prefix) for ``/mock/stats`` ``received``. It is built once, while the request is parsed,
before its reply is scheduled. Standard library only; like the rest of the mock it must not
import the harness: the mock is the yardstick.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from harness.mock.tokens import chat_template_tokens, text_tokens

__all__ = [
    "EXCERPT_CHARS",
    "PREFIX_CHARS",
    "BadRequest",
    "Prompt",
    "read_chat",
    "read_completion",
]

#: characters kept of the first and the last user message
EXCERPT_CHARS = 200
#: characters of the concatenated contents that ``prefix_sha1`` hashes
PREFIX_CHARS = 2_000


class BadRequest(Exception):
    """A body the mock does not accept; answered with a 400 naming ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class Prompt:
    """A request's prompt as the mock read it.

    ``tokens``: its prompt tokens (`harness.mock.tokens`); ``messages``: how many chat
    messages (0 for ``/v1/completions``); ``roles``: each message's role, in order;
    ``assistant``: the text of each assistant message, in order; ``first_user`` and
    ``last_user``: the first `EXCERPT_CHARS` characters of the first and the last user
    message (for ``/v1/completions``: of the first and the last prompt); ``prefix_sha1``: the
    SHA-1 (hex, of UTF-8) of the first `PREFIX_CHARS` characters of every content
    concatenated in order, without separators. A message's text is its string content, or
    its content list's ``text`` parts joined with ``"\\n"`` (None: empty). A prompt of token
    ids reads as the ids in decimal, separated by spaces.
    """

    tokens: int
    messages: int = 0
    roles: tuple[str, ...] = ()
    assistant: tuple[str, ...] = ()
    first_user: str = ""
    last_user: str = ""
    prefix_sha1: str = hashlib.sha1(b"").hexdigest()


def _prefix_sha1(texts: list[str]) -> str:
    prefix, length = [], 0
    for text in texts:
        if length >= PREFIX_CHARS:
            break
        prefix.append(text[: PREFIX_CHARS - length])
        length += len(prefix[-1])
    return hashlib.sha1("".join(prefix).encode("utf-8")).hexdigest()


def _message_text(content: object) -> tuple[str, int]:
    """A message's text and its text tokens; raises `BadRequest` for a non-string text."""
    if content is None:
        return "", 0
    if isinstance(content, list):  # content parts: the text ones count
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise BadRequest("'messages' must hold strings", "messages")
                texts.append(text)
        return "\n".join(texts), sum(text_tokens(t) for t in texts)
    if not isinstance(content, str):
        raise BadRequest("'messages' must hold strings", "messages")
    return content, text_tokens(content)


def read_chat(messages: object) -> Prompt:
    """The `Prompt` of a chat body's ``messages``: a non-empty array of objects with a role."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", "messages")
    roles: list[str] = []
    texts: list[str] = []
    assistant: list[str] = []
    users: list[str] = []
    tokens = chat_template_tokens(len(messages))
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest("each message must be an object with a 'role'", "messages")
        role: str = message["role"]
        text, n = _message_text(message.get("content"))
        tokens += n
        roles.append(role)
        texts.append(text)
        if role == "assistant":
            assistant.append(text)
        elif role == "user":
            users.append(text)
    return Prompt(
        tokens=tokens,
        messages=len(messages),
        roles=tuple(roles),
        assistant=tuple(assistant),
        first_user=users[0][:EXCERPT_CHARS] if users else "",
        last_user=users[-1][:EXCERPT_CHARS] if users else "",
        prefix_sha1=_prefix_sha1(texts),
    )


def read_completion(prompt: object) -> Prompt:
    """The `Prompt` of a completions body's ``prompt``: a string, or a non-empty array of
    strings or of token ids."""
    texts: list[str] | None = None
    tokens = 0
    if isinstance(prompt, str):
        texts = [prompt]
        tokens = text_tokens(prompt)
    elif isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            texts = [str(p) for p in prompt]
            tokens = sum(text_tokens(p) for p in texts)
        elif all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            texts = [" ".join(str(p) for p in prompt)]
            tokens = len(prompt)  # already token ids
    if texts is None:
        message = "'prompt' must be a string, an array of strings or of token ids"
        raise BadRequest(message, "prompt")
    return Prompt(
        tokens=tokens,
        first_user=texts[0][:EXCERPT_CHARS],
        last_user=texts[-1][:EXCERPT_CHARS],
        prefix_sha1=_prefix_sha1(texts),
    )
