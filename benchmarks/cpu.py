"""CPU accounting shared by the benchmarks: a process's CPU time and a core's busy ticks from
/proc, the tokens the mock wrote, and CPU µs per token.

CPU per token is the load generator's own CPU time (utime + stime, `/proc/PID/stat`) over a
window, divided by the tokens the mock wrote in that window (its `/mock/stats`, read at both
ends): the same divisor for every load generator, whatever each one counts itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of `pid`, in seconds (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def cores_busy() -> dict[int, tuple[int, int]]:
    """Per core: (busy ticks, total ticks) so far, from /proc/stat."""
    out: dict[int, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *rest = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        ticks = [int(v) for v in rest[:8]]  # user nice system idle iowait irq softirq steal
        idle = ticks[3] + ticks[4]
        out[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return out


def mock_tokens_written(stats: dict[str, Any]) -> int:
    """Tokens the mock has written so far, from one `/mock/stats` document.

    A normal streamed reply is its head (written at once, in ``reaction_s``), one timed write
    per token, and one closing timed write (finish, usage, ``[DONE]``) when it completes
    (counted in ``completed``). So the timed writes (``lateness_s.count``) minus the completed
    streams are the tokens written, including those of streams still running. Exact for the
    benchmarks' mock (no faults, no reasoning or tool-call extras)."""
    timed = int((stats.get("lateness_s") or {}).get("count", 0))
    completed = sum(
        int(n) for by_mode in (stats.get("completed") or {}).values() for n in by_mode.values()
    )
    return timed - completed


def cpu_us_per_token(cpu_s: float | None, tokens: float | None) -> float | None:
    """CPU µs per token, None when either is unknown or no token was written."""
    if cpu_s is None or not tokens or tokens <= 0:
        return None
    return 1e6 * cpu_s / tokens
