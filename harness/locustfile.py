"""The locustfile `locust-llm run` and `locust-llm demo` use: both modes, equal weights.

Users copy `locustfiles/batch_vs_stream.py` instead; this one ships inside the package so the
command works from any directory.
"""

from harness.users import BatchUser, StreamingUser

__all__ = ["BatchUser", "StreamingUser"]
