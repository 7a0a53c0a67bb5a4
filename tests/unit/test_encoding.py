"""Content-Encoding decoders: byte for byte, in any split, and the encodings refused."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from harness.encoding import UnsupportedEncoding, body_decoder

PLAIN = b"data: " + b"x" * 5000 + b"\n\n" + b"data: [DONE]\n\n"


def _decode_in_pieces(encoding: str, data: bytes, seed: int) -> bytes:
    decoder = body_decoder(encoding)
    assert decoder is not None
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 64)
        out.append(decoder.decode(data[i : i + n]))
        i += n
    out.append(decoder.flush())
    return b"".join(out)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 means it
        ("deflate", lambda d: zlib.compress(d, wbits=-15)),  # raw deflate, as some send it
        ("GZIP", gzip.compress),
        ("identity, gzip", gzip.compress),
    ],
)
def test_compressed_bodies_decode_exactly_in_any_split(
    encoding: str, compress: object, seed: int
) -> None:
    assert callable(compress)
    assert _decode_in_pieces(encoding, compress(PLAIN), seed) == PLAIN


def test_a_flushed_event_decodes_as_soon_as_its_bytes_arrive() -> None:
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    decoder = body_decoder("gzip")
    assert decoder is not None
    first = gz.compress(b"data: a\n\n") + gz.flush(zlib.Z_SYNC_FLUSH)
    assert decoder.decode(first) == b"data: a\n\n"


@pytest.mark.parametrize("encoding", [None, "", "identity", " Identity "])
def test_identity_needs_no_decoder(encoding: str | None) -> None:
    assert body_decoder(encoding) is None


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br", "gzip, gzip"])
def test_other_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding):
        body_decoder(encoding)


def test_corrupt_data_is_a_value_error() -> None:
    decoder = body_decoder("gzip")
    assert decoder is not None
    with pytest.raises(ValueError, match="gzip"):
        decoder.decode(b"\x1f\x8b\x08\x00garbage-not-deflate" * 4)
