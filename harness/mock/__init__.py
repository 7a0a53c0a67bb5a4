"""The embedded OpenAI-compatible mock server: the yardstick of the harness.

Run it as its own process, ``python -m harness.mock --port 0 --ttft 200ms --itl 20ms``;
it prints ``mock listening on http://127.0.0.1:PORT/v1`` once ready. `MockServer` serves
a `LatencyProfile` whose token times are exact (see `harness.mock.server`); `Emitter` is
the reusable timer-driven writer behind it. Standard library only: nothing here may
import ``harness.sse``, ``harness.protocols``, ``harness.record`` or ``harness.stats``,
so that a bug shared with the harness's parser cannot cancel out in the tests.
"""

from harness.mock.emitter import Action, Completion, Emitter
from harness.mock.lateness import LatenessRecorder
from harness.mock.profiles import LatencyProfile, parse_duration
from harness.mock.server import MockServer

__all__ = [
    "Action",
    "Completion",
    "Emitter",
    "LatencyProfile",
    "LatenessRecorder",
    "MockServer",
    "parse_duration",
]
