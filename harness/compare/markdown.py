"""compare.md: the comparison for a CI log, a pull request comment or a terminal.

The first lines say the verdict and name the changes judged worse, the worst first (a
regression, beyond the threshold, before one within it), then the better ones; then each
run's line, how the intervals were made, one table per target and mode (figure, BASE, NEW,
change, its 95 % interval, verdict), what only one run has, and the warnings. `locust-llm
compare` prints it too. Pure: standard library and the report layer only.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.compare.bootstrap import RESAMPLES
from harness.compare.changes import Change, Comparison
from harness.compare.inputs import RunInput
from harness.compare.text import (
    change_line,
    change_text,
    interval_text,
    threshold_text,
    value_text,
    verdict_text,
)
from harness.compare.verdict import Verdict

#: how a section's target and mode read in its heading
SECTION_SEPARATOR = " · "


def verdict_sentence(comparison: Comparison) -> str:
    """``2 figures worse by more than 10 % (exit code 1)`` or ``no figure worse by more than
    10 % (exit code 0)``."""
    n = len(comparison.regressions)
    limit = threshold_text(comparison.threshold)
    if n == 0:
        return f"No figure worse by more than {limit} (exit code 0)"
    return f"{n} figure{'' if n == 1 else 's'} worse by more than {limit} (exit code 1)"


def headline_changes(comparison: Comparison) -> list[Change]:
    """The changes the first lines name: the worse ones (regressions first, each group worst
    first), then the better ones (the most improved first)."""
    worse = comparison.worse
    better = [c for c in comparison.changes if c.verdict is Verdict.BETTER]
    better.sort(key=lambda c: c.worse_by)
    return [c for c in worse if c.regression] + [c for c in worse if not c.regression] + better


def headline_lines(comparison: Comparison) -> list[str]:
    """`headline_changes`, one line each (harness.compare.text `change_line`)."""
    return [change_line(c) for c in headline_changes(comparison)]


def method_sentence(comparison: Comparison) -> str:
    """How the latency intervals were made, in one sentence."""
    if comparison.bootstrap:
        return (
            f"Latency intervals: bootstrap over both runs' requests.jsonl.gz ({RESAMPLES:,} "
            "resamples; ITL by request). Failure ratio: Newcombe; rates: Poisson."
        )
    lacking = [r.label for r in (comparison.base, comparison.new) if r.records_path is None]
    verb = "have" if len(lacking) == 2 else "has"
    why = f" ({' and '.join(lacking)} {verb} no requests.jsonl.gz)" if lacking else ""
    return (
        f"Latency intervals: MOVER on each summary's ci95{why}. "
        "Failure ratio: Newcombe; rates: Poisson."
    )


def sections(comparison: Comparison) -> Iterator[tuple[str, list[Change]]]:
    """The changes grouped by target and mode, in report order, with each group's title."""
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in comparison.changes:
        groups.setdefault((change.target, change.mode), []).append(change)
    for (target, mode), changes in groups.items():
        yield (f"{target}{SECTION_SEPARATOR}{mode}" if target else mode), changes


def row_title(change: Change) -> str:
    """A change's name inside its section: ``TTFT p50``, ``failure ratio``."""
    return f"{change.figure.title} {change.percentile}".strip()


def run_line(run: RunInput, *, code: bool = True) -> str:
    """``BASE `llm-report/summary.json` · http://… · 32 users · started …`` (the path
    without backquotes when not `code`)."""
    path = f"`{run.summary_path}`" if code else str(run.summary_path)
    parts = [f"{run.label} {path}"]
    info = run.run
    for key in ("scenario", "host"):
        value = info.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
    users = info.get("users")
    if isinstance(users, int) and not isinstance(users, bool):
        parts.append(f"{users:,} user{'' if users == 1 else 's'}")
    started = info.get("started_at")
    if isinstance(started, str) and started:
        parts.append(f"started {started}")
    return " · ".join(parts)


def render_markdown(comparison: Comparison) -> str:
    """The whole compare.md."""
    title = "REGRESSION" if comparison.regressions else "no regression"
    lines = [f"# locust-llm compare: {title}", "", f"**{verdict_sentence(comparison)}**", ""]
    headline = headline_lines(comparison)
    if headline:
        lines += [f"- {line}" for line in headline] + [""]
    lines += [f"{run_line(comparison.base)}  ", f"{run_line(comparison.new)}  "]
    lines += [
        f"Threshold {threshold_text(comparison.threshold)}. {method_sentence(comparison)}",
        "",
    ]
    for title_text, changes in sections(comparison):
        lines += [
            f"## {title_text}",
            "",
            "| figure | BASE | NEW | change | 95 % interval | verdict |",
            "|---|--:|--:|--:|--:|---|",
        ]
        for change in changes:
            verdict = verdict_text(change, comparison.threshold)
            if change.regression:
                verdict = f"**{verdict}**"
            figure = change.figure
            lines.append(
                f"| {row_title(change)} | {value_text(figure, change.base)} | "
                f"{value_text(figure, change.new)} | {change_text(change)} | "
                f"{interval_text(figure, change.interval)} | {verdict} |"
            )
        lines.append("")
    if any(None in c.interval for c in comparison.changes):
        lines += [
            "An open end (∞): too few requests to bound that percentile in one of the runs.",
            "",
        ]
    if comparison.only:
        lines += ["## Only in one run", ""] + [f"- {item}" for item in comparison.only] + [""]
    if comparison.warnings:
        lines += ["## Warnings", ""] + [f"- {item}" for item in comparison.warnings] + [""]
    lines.append(
        "A change is worse or better when its 95 % interval excludes zero; it fails the "
        "comparison when it is worse by more than the threshold (docs/compare.md)."
    )
    return "\n".join(lines) + "\n"
