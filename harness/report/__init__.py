"""Reports of a finished run: sinks that are plain functions of the summary document.

`summary.py` builds the `summary.json` document (docs/design.md; schema
"locust-llm/summary/v1"), writes it with its Markdown twin, report.html and junit.xml, and
loads it back; `summary.schema.json` is the JSON Schema of that document; `markdown.py`
renders the batch-vs-streaming comparison table for a terminal, a CI log or `summary.md`
(its rows are `rows.py`'s, its sentences `notes.py`'s; a run with targets is laid out by
`side_by_side.py`; `targets.py` compares the targets, the winner of each figure named only
when significant, and `overhead.py` says what a gateway adds to its upstream);
`path.py` says what the path to the server did (its headers per mode, anomalies in words);
`html.py` (with `svg.py`'s charts) the self-contained HTML report; `junit.py` one JUnit test
case per SLO; `cost.py` the estimated cost; `enrich.py` and `timeline.py` what the reports
need beyond the totals (quantiles, figures over time); `live.py` the web UI tab's table,
its live document and CSV. All of these are standard library only (the Locust glue that
finishes a run is harness.finish). Importing this package pulls in nothing, so nothing is
re-exported here and callers import the submodules they need.
"""
