"""A run's per-request samples, read from its `requests.jsonl.gz`, for the bootstrap.

`read_samples(path, label)` groups the records by (target, mode) (target "" in a one-target
run; warm-up requests left out, as in the figures) and keeps, for each group, what the
bootstrap resamples: each latency figure's values over the timed requests (successes, the
requests whose latencies the histograms hold), sorted; the ITL samples of each timed request
(`RequestRecord.itl_samples()`, per token, grouped by request); and the output tokens of the
requests that counted them, with their sum of squares (the spread of a compound count).
A bad file is a `ConfigError` of one line naming the side, the file and the line. Pure apart
from reading the file: standard library, the core and the report layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.compare.bootstrap import ClusteredSample
from harness.errors import ConfigError, Outcome
from harness.report.records import RECORDS_FILE, read_records

#: the latency figures with one value per request, as `RequestRecord` properties
PER_REQUEST_FIGURES = ("ttft_s", "tpot_s", "e2e_s", "first_visible_s")
#: the figure with many values per request
ITL = "itl_s"

GroupKey = tuple[str, str]
"""(target, mode)"""


@dataclass(slots=True)
class GroupSamples:
    """The samples of one (target, mode): `values` by figure (sorted once reading is done),
    ITL samples per timed request, and the output tokens of the requests that finished
    without failing (`tokens`, `tokens_squared` = Σ tokensᵢ²)."""

    values: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in PER_REQUEST_FIGURES}
    )
    itl_groups: list[list[float]] = field(default_factory=list)
    tokens: int = 0
    tokens_squared: int = 0
    _itl: ClusteredSample | None = None

    @property
    def itl(self) -> ClusteredSample:
        """The ITL samples grouped by request, for the request-level bootstrap."""
        if self._itl is None:
            self._itl = ClusteredSample(self.itl_groups)
        return self._itl


def read_samples(path: Path, label: str) -> dict[GroupKey, GroupSamples]:
    """The samples of every (target, mode) in the records file at `path`."""
    groups: dict[GroupKey, GroupSamples] = {}
    try:
        for record, _ in read_records(path):
            key = (record.target, str(record.mode))
            group = groups.get(key)
            if group is None:
                group = groups[key] = GroupSamples()
            outcome = record.outcome
            if outcome is not Outcome.FAILED and outcome is not Outcome.CANCELLED:
                tokens = record.output_tokens
                group.tokens += tokens
                group.tokens_squared += tokens * tokens
            if not record.timed:
                continue
            values = group.values
            for name in PER_REQUEST_FIGURES:
                value = getattr(record, name)
                if value is not None:
                    values[name].append(value)
            itl = list(record.itl_samples())
            if itl:
                group.itl_groups.append(itl)
    except ConfigError as exc:
        text = str(exc).removeprefix(f"{RECORDS_FILE}: ")
        if text.startswith(f"{path}: "):
            raise ConfigError(f"{label} {exc}") from None
        raise ConfigError(f"{label} {path}: {text}") from None
    for group in groups.values():
        for figure_values in group.values.values():
            figure_values.sort()
    return groups
