"""Prometheus text exposition (format 0.0.4) written by hand, as ``prometheus_client`` writes it.

The mock publishes a vLLM-shaped ``GET /metrics`` (`harness.mock.engine_metrics`) without the
``prometheus_client`` package: it is standard library only and shares no code with the harness,
whose scraper reads what this writes. The lines are the ones ``prometheus_client``'s
``generate_latest`` writes for the same values, byte for byte (without its ``_created``
samples): ``# HELP`` then ``# TYPE`` per family (a counter's family named with its ``_total``),
labels sorted by name, label values escaped (``\\``, ``"``, newline), values in Go's float
format (``1.0``, ``0.001``, ``1e+06``, ``+Inf``; from 1e10 on ``prometheus_client`` writes an
extra 0 in the exponent, this writes Go's). Standard library only; like the rest of the mock it
must not import the harness.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["CONTENT_TYPE", "family_head", "format_value", "histogram_lines", "sample_line"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of the text format (what ``prometheus_client`` answers with)."""

Labels = Sequence[tuple[str, str]]


def format_value(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` reads back, the way
    ``prometheus_client`` writes it: Python's shortest repr, but with an exponent once the
    integer part has more than 6 digits, and ``+Inf``, ``-Inf``, ``NaN``.

    >>> format_value(1), format_value(0.001), format_value(20000), format_value(1234567.5)
    ('1.0', '0.001', '20000.0', '1.2345675e+06')
    """
    x = float(value)
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if math.isnan(x):
        return "NaN"
    text = repr(x)
    dot = text.find(".")
    if x > 0 and dot > 6:  # Go switches to an exponent sooner than Python does
        digits = (text[:dot] + text[dot + 1 :]).rstrip("0")
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(labels: Labels) -> str:
    if not labels:
        return ""
    pairs = ",".join(f'{name}="{_escape(value)}"' for name, value in sorted(labels))
    return "{" + pairs + "}"


def family_head(name: str, help_text: str, kind: str) -> str:
    """The ``# HELP`` and ``# TYPE`` lines of a family (``kind``: counter, gauge, histogram;
    a counter's ``name`` is its sample name, with ``_total``)."""
    doc = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def sample_line(name: str, labels: Labels, value: float) -> str:
    """One sample: ``name{labels} value``."""
    return f"{name}{_label_text(labels)} {format_value(value)}\n"


def histogram_lines(
    name: str, labels: Labels, bounds: Sequence[float], counts: Iterable[int], total: float
) -> str:
    """A histogram's samples for one label set: ``_bucket`` (cumulative, ``le`` ascending,
    ``+Inf`` last), ``_count``, ``_sum``. ``counts``: the observations per bucket, not
    cumulative, one more than ``bounds`` (the last: above every bound)."""
    out = []
    running = 0
    edges = [*(format_value(b) for b in bounds), "+Inf"]
    for edge, n in zip(edges, counts, strict=True):
        running += n
        out.append(sample_line(f"{name}_bucket", [*labels, ("le", edge)], running))
    out.append(sample_line(f"{name}_count", labels, running))
    out.append(sample_line(f"{name}_sum", labels, total))
    return "".join(out)
