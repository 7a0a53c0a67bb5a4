"""locust-llm: a Locust extension that measures LLM inference endpoints, batch vs streaming.

This module stays light: it must not import locust, gevent, httpx or prometheus_client, because
importing Locust monkey-patches the process with gevent. Locust users live in `harness.users`.
"""

__version__ = "0.1.0"
