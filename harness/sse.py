"""An incremental Server-Sent Events decoder: bytes in as they arrive, events out.

It follows WHATWG HTML §9.2.6 ("Interpreting an event stream"); the few leniencies
the harness needs are counted in `SSEDecoder.anomalies` (catalogue §1, P4). A completion
stream is never reconnected, so `retry` and the last event ID change no behaviour (P3).
Each event carries the `t` of the read that delivered its terminating blank line: that
is when the event arrived (docs/design.md, "the latency ladder"). Pure module: it imports only the
standard library, never reads a clock and does no I/O, so it is deterministic in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EventTooLarge", "SSEDecoder", "SSEEvent"]

_BOM = b"\xef\xbb\xbf"
_LF = 10
_COLON = 58
_SPACE = 32


@dataclass(slots=True, frozen=True)
class SSEEvent:
    """One dispatched event.

    `data` is the data buffer with exactly one trailing LF removed, so `data: a` then
    `data:` gives `"a\\n"`. `id` is the last event ID in force at dispatch (it persists
    across events, per spec); `None` until an `id` field is seen. `t` is the
    `perf_counter()` seconds passed to the `feed()` call that delivered the blank line
    that ended the event, not the time of its first byte. `error` is the value of a
    non-standard `error:` field line in the block (llama.cpp sends `error: {json}`),
    else `None`.
    """

    data: str
    event: str
    id: str | None
    t: float
    error: str | None = None


class EventTooLarge(Exception):
    """A pending event, or an unterminated line, grew past `max_event_bytes` (SSE-15).

    `events` holds the events that the failing `feed()` call had completed before the
    limit was passed, so no event is lost however the bytes were split. The decoder is
    unusable afterwards: close the stream.
    """

    def __init__(self, max_event_bytes: int, events: list[SSEEvent]) -> None:
        super().__init__(f"pending SSE event exceeds max_event_bytes={max_event_bytes}")
        self.max_event_bytes = max_event_bytes
        self.events = events


class SSEDecoder:
    """Turn the bytes of one `text/event-stream` body into `SSEEvent`s, read by read.

    >>> decoder = SSEDecoder()
    >>> decoder.feed(b'data: {"a":', 0.1)
    []
    >>> decoder.feed(b" 1}\\n\\n", 0.2)
    [SSEEvent(data='{"a": 1}', event='message', id=None, t=0.2, error=None)]
    >>> decoder.close()

    `comments` counts comment lines (keep-alives such as `: ping`). `anomalies` counts,
    by kind, what the spec tolerates but a well-behaved server does not send:

    - `invalid_utf8`: a decoded value (data, event, id, error) held invalid UTF-8, which
      became U+FFFD. Comments and unknown field names are never decoded, so not checked.
    - `invalid_retry`: a `retry` value that is not all ASCII digits (ignored, per spec).
    - `unknown_field`: a field the spec does not define, e.g. `DATA`, `data `, `  data`.
    - `error_field`: an `error:` field line; its value is kept in `SSEEvent.error`.
    - `empty_data`: a block whose `data` lines held nothing (`data\\n\\n`); dropped.
    - `extra_space`: a `data` line whose value still starts with a space once the one
      space after the colon was removed (`data:  {...}`); one count per such line.

    `unterminated_event` is set by `close()` when the stream ended inside an event.
    """

    __slots__ = (
        "_at_start",
        "_data",
        "_error",
        "_event",
        "_id",
        "_idle",
        "_in_block",
        "_line",
        "_skip_lf",
        "anomalies",
        "comments",
        "max_event_bytes",
        "unterminated_event",
    )

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_event_bytes = max_event_bytes
        self.comments = 0
        self.anomalies: dict[str, int] = {}
        self.unterminated_event = False
        #: the unterminated line carried over from earlier reads (never a CR or LF)
        self._line = bytearray()
        #: the pending event's data buffer: each value plus LF, still undecoded
        self._data = bytearray()
        self._event: str | None = None
        self._error: str | None = None
        self._id: str | None = None
        #: a field line (of any kind) was seen since the last blank line
        self._in_block = False
        #: the last read ended with a CR: an LF opening the next read ends nothing
        self._skip_lf = False
        #: no byte seen yet, so a BOM (perhaps in pieces) may still be stripped
        self._at_start = True
        #: nothing is pending: a read of one whole `data:` event may take the fast path
        self._idle = False

    def feed(self, data: bytes, t: float) -> list[SSEEvent]:
        """Decode the bytes of one read that arrived at `t`; return the events it ends.

        Raises `EventTooLarge` when the pending event's data buffer plus the current
        line passes `max_event_bytes`.
        """
        if self._idle:
            # The common read on an LLM stream is one whole `data: {...}\n\n` event with
            # nothing pending: decode it with a few C-level scans and no line loop.
            n = len(data)
            if (
                data.endswith(b"\n\n")
                and data.startswith(b"data:")
                and data.find(b"\n") == n - 2
                and b"\r" not in data
                and n - 2 <= self.max_event_bytes
            ):
                # WHATWG §9.2.6: strip exactly one space after the colon.
                raw = data[6:-2] if data[5] == _SPACE else data[5:-2]
                try:
                    text = raw.decode()
                except UnicodeDecodeError:
                    text = self._decode(raw)
                if not text:
                    # catalogue SSE-11: `data:\n\n` would be an empty event; drop it.
                    self._note("empty_data")
                    return []
                if raw[0] == _SPACE:
                    self._note("extra_space")  # catalogue SSE-04
                return [SSEEvent(text, "message", self._id, t)]
        return self._feed_lines(data, t)

    def close(self) -> None:
        """End of stream. A pending event without its blank line is discarded (§9.2.6).

        Sets `unterminated_event` when anything was pending: a partial line, or field
        lines with no blank line after them (catalogue SSE-10).
        """
        if self._line or self._in_block:
            self.unterminated_event = True
        self._line.clear()
        self._data.clear()
        self._event = self._error = None
        self._in_block = False
        self._skip_lf = False
        self._idle = not self._at_start

    # ---------------------------------------------------------------- the general path

    def _feed_lines(self, data: bytes | bytearray, t: float) -> list[SSEEvent]:
        if not data:
            return []
        line = self._line
        if self._at_start:
            # WHATWG: the UTF-8 decode algorithm drops one BOM at the start of the
            # stream, and only there. It may arrive in pieces: hold a prefix of it.
            if line:
                data = bytes(line) + data
                line.clear()
            if len(data) < len(_BOM) and _BOM.startswith(data):
                line += data
                return []
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
            self._at_start = False
        if self._skip_lf:
            # catalogue SSE-03: the CR that ended the last read has already ended its
            # line; an LF right after it is the second half of a CRLF, not a blank line.
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if b"\r" in data:
            # §9.2.6: CRLF, lone CR and lone LF all end a line; make them all LF. A CR
            # at the very end ends its line now (SSE-03): remember to swallow an LF
            # that may open the next read.
            self._skip_lf = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        limit = self.max_event_bytes
        last = data.rfind(b"\n")
        if last < 0:
            # No line ends here: only append, so a long line is linear (SSE-15a).
            line += data
            if len(line) + len(self._data) > limit:
                raise EventTooLarge(limit, [])
            self._idle = False
            return []
        chunk: bytes | bytearray
        if line:
            last += len(line)
            line += data
            chunk = line
        else:
            chunk = data
        events: list[SSEEvent] = []
        pending = self._data
        find = chunk.find
        pos = 0
        while pos <= last:
            end = find(b"\n", pos)
            if end == pos:
                # §9.2.6: a blank line dispatches the event.
                if self._in_block:
                    event = self._dispatch(t)
                    if event is not None:
                        events.append(event)
            elif end - pos + len(pending) > limit:
                raise EventTooLarge(limit, events)  # catalogue SSE-15c
            elif chunk[pos] == _COLON:
                self.comments += 1  # §9.2.6: a comment; nothing else to do
            else:
                self._field(chunk[pos:end])
            pos = end + 1
        if chunk is line:
            del line[:pos]
        else:
            line += chunk[pos:]
        if len(line) + len(pending) > limit:
            raise EventTooLarge(limit, events)  # catalogue SSE-15b
        self._idle = not line and not self._in_block and not self._skip_lf
        return events

    def _field(self, line: bytes | bytearray) -> None:
        # §9.2.6: the name is what precedes the first colon; the value follows it, minus
        # one leading space. A line with no colon is a field with an empty value.
        self._in_block = True
        colon = line.find(b":")
        if colon < 0:
            name = line
            value = line[:0]
        else:
            name = line[:colon]
            start = colon + 2 if line[colon + 1 : colon + 2] == b" " else colon + 1
            value = line[start:]
        # Field names are case-sensitive: `DATA` and `data ` are unknown (SSE-11).
        if name == b"data":
            if value[:1] == b" ":
                self._note("extra_space")  # catalogue SSE-04
            self._data += value
            self._data.append(_LF)
        elif name == b"event":
            self._event = self._decode(value)
        elif name == b"id":
            # §9.2.6: an ID with a NUL is ignored; otherwise it persists across events.
            if b"\x00" not in value:
                self._id = self._decode(value)
        elif name == b"retry":
            # Never used: a completion stream is not reconnected (catalogue P3).
            # bytes.isdigit accepts ASCII digits only, and is False for an empty value.
            if not value.isdigit():
                self._note("invalid_retry")
        elif name == b"error":
            # Not in the spec: llama.cpp reports a mid-stream failure as
            # `error: {json}`, often with no data line. Keep it, so the protocol layer
            # sees the failure.
            self._error = self._decode(value)
            self._note("error_field")
        else:
            self._note("unknown_field")

    def _dispatch(self, t: float) -> SSEEvent | None:
        pending = self._data
        event_type = self._event
        error = self._error
        self._event = self._error = None
        self._in_block = False
        text = ""
        if pending:
            # Each data line added an LF; the spec removes exactly one (SSE-07).
            text = self._decode(pending)[:-1]
            pending.clear()
            if not text and error is None:
                # WHATWG would dispatch `data\n\n` with empty data; no API sends that on
                # purpose and no protocol can use it, so drop it and count it (SSE-11).
                self._note("empty_data")
                return None
        elif error is None:
            # §9.2.6: an empty data buffer dispatches nothing (type reset above).
            return None
        return SSEEvent(text, event_type or "message", self._id, t, error)

    def _decode(self, raw: bytes | bytearray) -> str:
        # WHATWG: UTF-8 decode; invalid bytes become U+FFFD. LF and CR never occur
        # inside a multi-byte sequence, so decoding whole lines (never a partial one)
        # gives exactly what decoding the whole stream would.
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self._note("invalid_utf8")
            return raw.decode(errors="replace")

    def _note(self, kind: str) -> None:
        anomalies = self.anomalies
        anomalies[kind] = anomalies.get(kind, 0) + 1
