"""Sinks and UI parts that plug into a Locust run: importing this module registers them.

Each extension registers its own Locust listeners (options, init, reports) in its own module;
`harness.users` imports this module, so any locustfile that uses the harness's users gets them.
The order matters once: Locust fires `quitting` in the reverse order of its listeners, and the
records sink (harness.exporters.request_records), attached after harness.finish, closes
requests.jsonl.gz before the reports are written.
"""

from __future__ import annotations

from harness import finish, server_watch, webui  # noqa: F401
from harness.exporters import prometheus, request_records  # noqa: F401
