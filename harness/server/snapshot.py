"""One scrape of a server's Prometheus endpoint, as plain data: `Snapshot`.

A snapshot holds, for the engine it recognised, the samples its roles read (harness.server
.engines): sample name → label set → value, taken when the response arrived (`t`,
`time.perf_counter()`, CLOCK_MONOTONIC: comparable across the processes of one machine). A
scrape that failed holds its reason in `error` and no samples. `to_json`/`from_json` carry
it from the scraping child process to the load generator, one JSON line each.

Pure: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.server.engines import UNKNOWN

#: a label set, sorted by name
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape found (or why it found nothing)."""

    t: float
    engine: str = UNKNOWN
    samples: Mapping[str, Mapping[Labels, float]] = field(default_factory=dict)
    #: why the scrape failed, one line; None when it worked
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def has(self, name: str) -> bool:
        """Whether the sample `name` is there (with any labels)."""
        return bool(self.samples.get(name))

    def total(self, name: str) -> float | None:
        """The sum of `name` over its label sets; None when it is not there."""
        series = self.samples.get(name)
        if not series:
            return None
        return math.fsum(series.values())

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON-ready data (labels as objects)."""
        return {
            "t": self.t,
            "engine": self.engine,
            "error": self.error,
            "samples": {
                name: [[dict(labels), value] for labels, value in series.items()]
                for name, series in self.samples.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Snapshot:
        """The snapshot `to_json` wrote; ValueError when `data` is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("t"), int | float):
            raise ValueError("not a snapshot: expected an object with a time t")
        error = data.get("error")
        samples: dict[str, dict[Labels, float]] = {}
        raw = data.get("samples") or {}
        if not isinstance(raw, dict):
            raise ValueError("not a snapshot: samples is not an object")
        for name, series in raw.items():
            out: dict[Labels, float] = {}
            for labels, value in series:
                out[labels_of(labels)] = float(value)
            samples[str(name)] = out
        return cls(
            t=float(data["t"]),
            engine=str(data.get("engine") or UNKNOWN),
            samples=samples,
            error=None if error is None else str(error),
        )


def labels_of(labels: Mapping[str, str]) -> Labels:
    """A label mapping as a sorted `Labels` tuple."""
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))
