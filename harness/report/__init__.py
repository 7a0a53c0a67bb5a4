"""Reports of a finished run: sinks that are plain functions of the summary document.

`summary.py` builds the `summary.json` document (DESIGN.md §4, schema
"locust-llm/summary/v1"), writes it with its Markdown twin and loads it back;
`summary.schema.json` is the JSON Schema of that document; `markdown.py` renders the
batch-vs-streaming comparison table for a terminal, a CI log or `summary.md`. Standard
library only: importing this package pulls in no Locust, gevent, httpx or Prometheus, so
nothing is re-exported here and callers import the submodules they need.
"""
