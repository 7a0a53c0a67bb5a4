"""Load models: when requests are sent, not how they are measured (docs/load.md).

- `plan` (config): a run's load — closed-loop users, or open-loop rates — in stages, with
  warm-ups and the in-flight cap; `schedule` (core): the one global arrival schedule, drawn
  from a seed and shared out between processes; `accounting` (core): what became of each due
  request; `summary` (config): `run.load` and `stages[]` of summary.json.
- `pacer` (transport): sub-millisecond wake-ups on a timerfd; `open_loop` (Locust): paces the
  schedule into the users, drives the stages and a sweep's decisions.
- `sweep` (config): a sweep's points, the knee and the highest rate within SLO; `goodput`
  (core): the requests whose own figures met per-request limits; `confidence` (core): 95 %
  intervals of percentiles.
"""
