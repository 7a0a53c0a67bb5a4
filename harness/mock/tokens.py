"""How the mock counts prompt tokens: a fixed rule, like a real server's, without a tokenizer.

The rule (docs/mock.md says the same):

- **text**: each whitespace-separated word is ``ceil(len(word) / 4)`` tokens, so a word of up
  to 4 characters is 1 token, ``"people"`` 2, ``"understanding"`` 4 (characters, not bytes);
- **chat** (``/v1/chat/completions``): a chat template adds `CHAT_REPLY_TOKENS` (3, to start the
  reply) plus `CHAT_MESSAGE_TOKENS` (4, role and separators) per message to the text tokens of
  every message's content (the ``text`` parts of a content list; other parts count nothing);
- **completions** (``/v1/completions``): the text tokens of the prompt (each string of a list
  of prompts), no template; a prompt given as token ids is as many tokens as ids.

So ``"say hello to the mock"`` is 6 tokens (``hello`` is 2) as a completion prompt, and as the
one user message of a chat request 6 + 3 + 4 = 13. Deterministic and free: no model file, no
download. Standard library only; like the rest of the mock it must not import the harness: the
mock is the yardstick, and the harness's own estimates must not be what it measures against.
"""

from __future__ import annotations

__all__ = [
    "CHARS_PER_TOKEN",
    "CHAT_MESSAGE_TOKENS",
    "CHAT_REPLY_TOKENS",
    "chat_template_tokens",
    "text_tokens",
]

#: characters of a word per token (rounded up): BPE tokenizers average about 4 for English;
#: `text_tokens` hard-codes it as a shift
CHARS_PER_TOKEN = 4
#: tokens the chat template adds to start the assistant's reply
CHAT_REPLY_TOKENS = 3
#: tokens the chat template adds per message: its role and separators
CHAT_MESSAGE_TOKENS = 4


def text_tokens(text: str) -> int:
    """Tokens of ``text``: ``ceil(len(word) / 4)`` per whitespace-separated word.

    >>> text_tokens("say hello to the mock"), text_tokens("understanding people")
    (6, 6)
    """
    # (len + 3) // 4 in a list comprehension: the fastest form (this runs on the mock's one
    # thread, between timed writes, for every word of every prompt)
    return sum([(len(word) + 3) >> 2 for word in text.split()])


def chat_template_tokens(messages: int) -> int:
    """Tokens the chat template adds to a conversation of ``messages`` messages.

    >>> chat_template_tokens(1), chat_template_tokens(3)
    (7, 15)
    """
    return CHAT_REPLY_TOKENS + CHAT_MESSAGE_TOKENS * messages
