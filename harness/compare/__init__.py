"""`locust-llm compare BASE NEW`: did a change make it slower? (docs/compare.md).

`inputs.py` reads BASE and NEW (a report folder or a summary.json) and `samples.py` their
requests.jsonl.gz; `figures.py` says what is compared and reads each run's estimate from its
summary; `intervals.py` (Wilson, Poisson, MOVER) and `bootstrap.py` make the 95 % intervals;
`verdict.py` judges a change (worse, better, no significant change; a regression beyond the
threshold); `changes.py` compares every target, mode and figure; `workload.py` warns of
different workloads; `text.py`, `markdown.py`, `html.py` and `junit.py` render compare.md,
compare.html and compare.junit.xml; `command.py` is the command. All are plain functions of the
two runs' files (the report layer: standard library, the core and the reports only). Importing
this package pulls in nothing, so callers import the submodules they need.
"""
