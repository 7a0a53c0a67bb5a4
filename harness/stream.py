"""StreamReader: the per-chunk hot path from response bytes to a filled `RequestRecord`.

The client calls `feed(data, t)` with each read's bytes and the read's time on the
`perf_counter()` clock (when the bytes arrived: see `harness.arrival`), and `end(t)` at a clean
end of the body. Tests feed the catalogue's exact bytes the
same way, with no socket. Per chunk: one decode, one JSON parse, one append.

Pure: standard library only; reads no clock.
"""

from __future__ import annotations

from harness.errors import ErrorClass
from harness.protocols import StreamStep, WireProtocol
from harness.record import RequestRecord
from harness.sse import EventTooLarge, SSEDecoder

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


class StreamReader:
    """Reads one streamed response into `record`.

    `feed()` returns True once the response is settled: `[DONE]` arrived (the request ended at
    that event's time) or the record failed. Bytes after `[DONE]` go to `feed_trailing()`: a
    late usage chunk is accepted there without moving the end (catalogue OAI-18 e).
    """

    __slots__ = ("_decoder", "_json_body", "_protocol", "_started", "done", "record")

    def __init__(
        self,
        protocol: WireProtocol,
        record: RequestRecord,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._protocol = protocol
        self._decoder = SSEDecoder(max_event_bytes)
        self.record = record
        self.done = False
        self._started = False
        #: set when the body turned out to be raw JSON, not SSE (catalogue OAI-10)
        self._json_body: bytearray | None = None

    def feed(self, data: bytes, t: float) -> bool:
        """Bytes that arrived at `t`. True when the response is settled."""
        record = self.record
        if not self._started:
            head = data.lstrip()
            if not head:
                return False
            self._started = True
            if head[:1] == b"{":
                self._json_body = bytearray()
        if self._json_body is not None:
            self._json_body += data
            return False
        too_large = False
        try:
            events = self._decoder.feed(data, t)
        except EventTooLarge as exc:
            events, too_large = exc.events, True
        read_event = self._protocol.read_event
        for event in events:
            step = read_event(event, record)
            if step is StreamStep.CONTINUE:
                continue
            if step is StreamStep.DONE:
                self.done = True
                self._protocol.end_stream(record, event.t, done=True)
            self._settle()
            return True
        if too_large:
            record.fail(ErrorClass.EVENT_TOO_LARGE, t)  # catalogue SSE-15
            self._settle()
            return True
        return False

    def end(self, t: float) -> None:
        """The body ended cleanly at `t` without `[DONE]` (close-delimited or chunked end)."""
        if self._json_body is not None:
            # a JSON document where SSE was expected: an error body, else the wrong type
            body = bytes(self._json_body)
            if self._protocol.is_error_body(body):
                self.fail(ErrorClass.ERROR_IN_BODY, t)
            elif self._protocol.is_completion_body(body):
                # the server ignored `stream: true` and sent one whole completion
                self.record.note("stream_not_honored")
                self._protocol.read_body(body, self.record, t)
                self._settle()
            else:
                self.fail(ErrorClass.BAD_CONTENT_TYPE, t)
            return
        decoder = self._decoder
        decoder.close()
        if decoder.unterminated_event:
            self.record.note("unterminated_final_event")  # catalogue SSE-10
        self._protocol.end_stream(self.record, t, done=False)
        self._settle()

    def fail(self, error_class: ErrorClass, t: float) -> None:
        """The transport failed at `t` (reset, truncation, deadline)."""
        self.record.fail(error_class, t)
        self._settle()

    def feed_trailing(self, data: bytes) -> None:
        """Bytes after `[DONE]`: take a late usage chunk, ignore the rest."""
        try:
            events = self._decoder.feed(data, 0.0)
        except EventTooLarge as exc:
            events = exc.events
        for event in events:
            self._protocol.read_trailing_event(event, self.record)

    def _settle(self) -> None:
        decoder = self._decoder
        if decoder.comments:
            self.record.note("comment", decoder.comments)
            decoder.comments = 0
        if decoder.anomalies:
            for kind, n in decoder.anomalies.items():
                self.record.note(kind, n)
            decoder.anomalies.clear()
