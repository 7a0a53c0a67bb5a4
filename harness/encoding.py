"""Content-Encoding of a response body, decoded as the bytes arrive.

The client asks for `Accept-Encoding: identity`, but a proxy may compress anyway (and flush
after every event, so a stream still arrives event by event). Compressed bytes must never reach
the SSE parser: each read is decompressed as it arrives and its output keeps that read's
arrival time, so timings are the same as for the uncompressed stream. A compressor that does
not flush per event delivers many events in one read; the burst detector then says so.

Pure: standard library only (zlib); reads no clock.
"""

from __future__ import annotations

import zlib
from typing import Protocol


class UnsupportedEncoding(Exception):
    """A Content-Encoding this module cannot decode (e.g. `br`, `zstd`)."""


class BodyDecoder(Protocol):
    """Decodes one response body incrementally."""

    def decode(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class _ZlibDecoder:
    """gzip (RFC 1952) or deflate. `deflate` is meant to be zlib-wrapped (RFC 1950) but some
    servers send raw deflate (RFC 1951): the first bytes decide."""

    __slots__ = ("_decoder", "_gzip", "_head")

    def __init__(self, *, gzip: bool) -> None:
        self._gzip = gzip
        self._decoder: zlib._Decompress | None = (
            zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        )
        self._head = b""

    def decode(self, data: bytes) -> bytes:
        decoder = self._decoder
        if decoder is None:
            # deflate: wait for two bytes to tell a zlib header from raw deflate
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            cmf, flg = data[0], data[1]
            wrapped = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            decoder = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            self._decoder = decoder
        try:
            return decoder.decompress(data)
        except zlib.error as exc:
            raise ValueError(f"bad {'gzip' if self._gzip else 'deflate'} data") from exc

    def flush(self) -> bytes:
        if self._decoder is None:
            return b""
        try:
            return self._decoder.flush()
        except zlib.error as exc:
            raise ValueError("bad compressed data") from exc


def body_decoder(content_encoding: str | None) -> BodyDecoder | None:
    """The decoder for a response's Content-Encoding; None for identity (or none given).
    Raises `UnsupportedEncoding` for anything else, and for stacked encodings."""
    if content_encoding is None:
        return None
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise UnsupportedEncoding(content_encoding)
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder(gzip=True)
    if coding == "deflate":
        return _ZlibDecoder(gzip=False)
    raise UnsupportedEncoding(coding)
