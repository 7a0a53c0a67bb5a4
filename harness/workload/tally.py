"""The workload's figures: lengths asked for against lengths served, per turn, per prefix use.

`WorkloadStats` sits beside `harness.stats.RunStats` and has its shape: `observe()` every
finished request, ship `take_delta()` from a worker and `merge_wire()` it on the master
(deltas are disjoint, so the master ends with the union), `reset()` on Locust's "reset
stats", and read `summary()`, keyed by mode ("stream" first), each block only with the parts
that have data. Like `RunStats`, it keeps a run's targets apart (one tally per mode and
target, `tallies()`) and `summary(target=…)` reads one of them; without a target, every
target's requests together::

    {"lengths": {"input": {"requested": H, "served": H}, "output": {...}},
     "by_turn": {"1": {"requests": n, "ttft_s": H, "first_visible_s": H, "e2e_s": H,
                       "input_tokens": H}, "2": ..., "4-7": ..., "8+": ...},
     "prefix": {"first_use": {"requests": n, "ttft_s": H, "first_visible_s": H},
                "reuse": {...}}}

H is a `LatencyHistogram` summary; token lengths are recorded in one (as floats: the count
and mean are exact, percentiles within its 0.1 %) and shown without "ci95", latencies with it.

What counts (cancelled requests never do; docs/design.md): lengths of successful (timed)
requests only, each histogram where the value is known: the input asked for
(`requested_input_tokens`) and the server's `usage.prompt_tokens`, the output asked for
(`requested_output_tokens`, its max_tokens) and the output served (`output_tokens`; not for a
batch answer without usage, whose count would be its messages, not its tokens). `by_turn`
counts every request of a conversation turn, and takes the latencies and served input of the
timed ones; `prefix` the same for requests with a shared prefix, split by whether that prefix
was used before in the process. `warnings()` compares served with requested lengths over the
requests that have both.

Pure core: standard library, harness.errors and harness.stats; it never reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness.errors import MODES, Mode, Outcome
from harness.stats import LatencyHistogram

if TYPE_CHECKING:
    from harness.record import RequestRecord

#: conversation turns grouped for the summary, in order
TURN_BUCKETS = ("1", "2", "3", "4-7", "8+")
#: a shared prefix's first use in a process, then its reuses
PREFIX_USES = ("first_use", "reuse")
#: the directions of a length, as the summary names them
DIRECTIONS = ("input", "output")
#: version of the wire form between workers and the master
WIRE_VERSION = 1
#: served lengths whose mean differs from the requested mean by more than this share warn
LENGTH_DRIFT = 0.10

#: a tally's key: (mode, target)
_Key = tuple[str, str]
_TURN_FIGURES = ("ttft_s", "first_visible_s", "e2e_s", "input_tokens")
_PREFIX_FIGURES = ("ttft_s", "first_visible_s")
#: figures that are token lengths, shown without a confidence interval
_TOKEN_FIGURES = frozenset({"requested", "served", "input_tokens"})


def turn_bucket(turn: int) -> str:
    """The `TURN_BUCKETS` entry of conversation turn `turn` (1, 2, …)."""
    if turn < 1:
        raise ValueError(f"a conversation turn is 1 or more, got {turn}")
    if turn <= 3:
        return str(turn)
    return "4-7" if turn <= 7 else "8+"


class ModeTally:
    """The workload figures of one mode's requests to one target ("" in a one-target run), as
    flat named counts and histograms.

    Names are dotted paths into the summary block: ``lengths.input.requested``,
    ``by_turn.4-7.requests``, ``prefix.reuse.ttft_s``. ``pairs.<direction>.*`` are three
    counts over the timed requests that have both a requested and a served length (how many,
    and the sums of each), which `warnings` compares; they are not in the summary.
    """

    __slots__ = ("counts", "histograms", "mode", "target")

    def __init__(self, mode: str, target: str = "") -> None:
        self.mode = mode
        self.target = target
        self.counts: dict[str, int] = {}
        self.histograms: dict[str, LatencyHistogram] = {}

    def observe(self, record: RequestRecord) -> None:
        """Count one request of this mode that was not cancelled."""
        timed = record.timed
        asked = (
            record.requested_input_tokens is not None or record.requested_output_tokens is not None
        )
        if timed and asked:  # lengths are compared where the workload asked for one
            served_output: int | None = record.output_tokens
            if record.mode is Mode.BATCH and record.output_tokens_source != "server":
                served_output = None  # no usage: the count is of messages, not tokens
            self._pair("input", record.requested_input_tokens, record.input_tokens)
            self._pair("output", record.requested_output_tokens, served_output)
        if record.turn is not None:
            where = f"by_turn.{turn_bucket(record.turn)}"
            self._count(f"{where}.requests", 1)
            if timed:
                self._record(f"{where}.ttft_s", record.ttft_s)
                self._record(f"{where}.first_visible_s", record.first_visible_s)
                self._record(f"{where}.e2e_s", record.e2e_s)
                self._record(f"{where}.input_tokens", record.input_tokens)
        if record.prefix_reuse is not None:
            where = "prefix.reuse" if record.prefix_reuse else "prefix.first_use"
            self._count(f"{where}.requests", 1)
            if timed:
                self._record(f"{where}.ttft_s", record.ttft_s)
                self._record(f"{where}.first_visible_s", record.first_visible_s)

    def _pair(self, direction: str, requested: int | None, served: int | None) -> None:
        self._record(f"lengths.{direction}.requested", requested)
        self._record(f"lengths.{direction}.served", served)
        if requested is not None and served is not None:
            self._count(f"pairs.{direction}.requests", 1)
            self._count(f"pairs.{direction}.requested", requested)
            self._count(f"pairs.{direction}.served", served)

    def _count(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def _record(self, name: str, value: float | None) -> None:
        if value is None:
            return
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = LatencyHistogram()
        histogram.record(float(value))

    def merge(self, other: ModeTally) -> None:
        """Add `other`'s counts and histograms to this tally's."""
        for name, n in other.counts.items():
            self._count(name, n)
        for name, histogram in other.histograms.items():
            mine = self.histograms.get(name)
            if mine is None:
                self.histograms[name] = histogram.copy()
            else:
                mine.merge(histogram)

    def copy(self) -> ModeTally:
        """An independent tally with the same data."""
        new = ModeTally(self.mode, self.target)
        new.merge(self)
        return new

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-safe dict."""
        return {
            "mode": self.mode,
            "target": self.target,
            "counts": dict(self.counts),
            "histograms": {name: h.to_wire() for name, h in self.histograms.items()},
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ModeTally:
        """Rebuild a tally from `to_wire()`'s output."""
        tally = cls(wire["mode"], str(wire.get("target", "")))  # no target: an older worker
        tally.counts.update(wire["counts"])
        for name, h in wire["histograms"].items():
            tally.histograms[name] = LatencyHistogram.from_wire(h)
        return tally

    def summary(self) -> dict[str, Any]:
        """This mode's block (see the module docstring); empty parts are left out."""
        block: dict[str, Any] = {}
        lengths = {
            direction: self._part(f"lengths.{direction}", ("requested", "served"))
            for direction in DIRECTIONS
        }
        _put_nonempty(block, "lengths", lengths)
        by_turn = {
            b: self._part(f"by_turn.{b}", ("requests", *_TURN_FIGURES)) for b in TURN_BUCKETS
        }
        _put_nonempty(block, "by_turn", by_turn)
        prefix = {u: self._part(f"prefix.{u}", ("requests", *_PREFIX_FIGURES)) for u in PREFIX_USES}
        _put_nonempty(block, "prefix", prefix)
        return block

    def _part(self, where: str, figures: Iterable[str]) -> dict[str, Any]:
        part: dict[str, Any] = {}
        for figure in figures:
            name = f"{where}.{figure}"
            if name in self.counts:
                part[figure] = self.counts[name]
                continue
            histogram = self.histograms.get(name)
            summary = histogram.summary() if histogram is not None else None
            if summary is not None:
                if figure in _TOKEN_FIGURES:
                    del summary["ci95"]
                part[figure] = summary
        return part

    def warnings(self) -> list[str]:
        """One line per direction whose served mean differs from the requested mean by more
        than `LENGTH_DRIFT`, over the requests that have both."""
        lines = []
        for direction in DIRECTIONS:
            n = self.counts.get(f"pairs.{direction}.requests", 0)
            requested = self.counts.get(f"pairs.{direction}.requested", 0)
            if n == 0 or requested <= 0:
                continue
            served = self.counts.get(f"pairs.{direction}.served", 0)
            drift = (served - requested) / requested
            if abs(drift) > LENGTH_DRIFT:
                lines.append(_drift_line(self.mode, direction, requested / n, served / n, drift))
        return lines


def _put_nonempty(block: dict[str, Any], key: str, parts: dict[str, dict[str, Any]]) -> None:
    kept = {name: part for name, part in parts.items() if part}
    if kept:
        block[key] = kept


def _drift_line(mode: str, direction: str, requested: float, served: float, drift: float) -> str:
    """The warning for one mode and direction whose served mean drifted by `drift` (a share)."""
    percent = round(abs(drift) * 100)
    if direction == "output":
        sign = "+" if drift > 0 else "−"
        head = (
            f"{mode}: served output tokens averaged {served:.0f} against {requested:.0f} "
            f"requested ({sign}{percent} %): "
        )
        if drift < 0:
            return head + (
                "the server stopped early (EOS); ask it to ignore EOS "
                "(ignore_eos / min_tokens, see docs/workloads.md)"
            )
        return head + "the server's usage counts more output tokens than max_tokens allows"
    figures = f"(averaged {served:.0f} against {requested:.0f})"
    if drift > 0:
        return (
            f"{mode}: the server counted {percent} % more input tokens than requested {figures}: "
            "its chat template adds tokens, or the calibration is off"
        )
    return (
        f"{mode}: the server counted {percent} % fewer input tokens than requested {figures}: "
        "the calibration is off (calibrate against the server, see docs/workloads.md)"
    )


class WorkloadStats:
    """The workload figures of a run by mode and target, and the worker → master exchange.

    As `harness.stats.RunStats`: locally `observe()` and read `summary()`; on a worker ship
    `take_delta()` each report, on the master `merge_wire()` each one. The wire form is
    ``{"v": WIRE_VERSION, "modes": [ModeTally.to_wire(), ...]}``.
    """

    __slots__ = ("_pending", "_totals")

    def __init__(self) -> None:
        # observations since the last take_delta, and everything before it, by (mode, target)
        self._pending: dict[_Key, ModeTally] = {}
        self._totals: dict[_Key, ModeTally] = {}

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request (a cancelled one is not counted)."""
        if record.outcome is Outcome.CANCELLED:
            return
        key = (str(record.mode), record.target)
        tally = self._pending.get(key)
        if tally is None:
            tally = self._pending[key] = ModeTally(*key)
        tally.observe(record)

    def take_delta(self) -> dict[str, Any]:
        """The wire form of everything observed since the last call, then reset."""
        pending, self._pending = self._pending, {}
        wire = _wire(pending)
        _merge_tallies(self._totals, pending.values(), copy=False)
        return wire

    def merge_wire(self, wire: dict[str, Any]) -> None:
        """Add a `take_delta()` or `to_wire()` result (e.g. from a worker)."""
        if wire.get("v") != WIRE_VERSION:
            raise ValueError(f"workload stats wire version {wire.get('v')!r} != {WIRE_VERSION}")
        tallies = (ModeTally.from_wire(t) for t in wire["modes"])
        _merge_tallies(self._totals, tallies, copy=False)

    def to_wire(self) -> dict[str, Any]:
        """The wire form of everything (does not reset the delta)."""
        return _wire(self._view())

    def reset(self) -> None:
        """Forget everything (Locust's "reset stats")."""
        self._pending = {}
        self._totals = {}

    def _view(self) -> dict[_Key, ModeTally]:
        if not self._pending:
            return self._totals
        if not self._totals:
            return self._pending
        view = {key: tally.copy() for key, tally in self._totals.items()}
        _merge_tallies(view, self._pending.values(), copy=True)
        return view

    def tallies(self) -> list[ModeTally]:
        """Every (mode, target) tally with all data so far ("stream" first, then by target).
        Read-only."""
        view = self._view()
        return [view[key] for key in sorted(view, key=_mode_order)]

    def _by_mode(self, target: str | None) -> list[ModeTally]:
        """One tally per mode ("stream" first): `target`'s, or every target's merged."""
        merged: dict[_Key, ModeTally] = {}
        tallies = (t for t in self.tallies() if target is None or t.target == target)
        for tally in tallies:
            key = (tally.mode, "")
            mine = merged.get(key)
            if mine is None:
                merged[key] = mine = ModeTally(tally.mode, tally.target if target else "")
            mine.merge(tally)
        return list(merged.values())

    def summary(self, *, target: str | None = None) -> dict[str, dict[str, Any]]:
        """The blocks by mode ("stream" first), only modes with data: of the requests sent to
        `target` (a name of `targets:`), or of every request when None."""
        blocks = {tally.mode: tally.summary() for tally in self._by_mode(target)}
        return {mode: block for mode, block in blocks.items() if block}

    def warnings(self) -> list[str]:
        """Lengths served far from those requested: one line per mode and direction, over
        every target's requests."""
        return [line for tally in self._by_mode(None) for line in tally.warnings()]


def _mode_order(key: _Key) -> tuple[int, str, str]:
    mode, target = key
    return (MODES.index(mode) if mode in MODES else len(MODES), mode, target)


def _wire(tallies: dict[_Key, ModeTally]) -> dict[str, Any]:
    return {"v": WIRE_VERSION, "modes": [t.to_wire() for t in tallies.values()]}


def _merge_tallies(
    into: dict[_Key, ModeTally], tallies: Iterable[ModeTally], *, copy: bool
) -> None:
    for tally in tallies:
        key = (tally.mode, tally.target)
        mine = into.get(key)
        if mine is None:
            into[key] = tally.copy() if copy else tally
        else:
            mine.merge(tally)
