"""Sinks and UI parts that plug into a Locust run: importing this module registers them.

Each extension registers its own Locust listeners (options, init, reports) in its own module;
`harness.users` imports this module, so any locustfile that uses the harness's users gets them.
"""

from __future__ import annotations

from harness import finish, webui  # noqa: F401
from harness.exporters import prometheus  # noqa: F401
