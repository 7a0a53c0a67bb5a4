"""Load models: when requests are sent, not how they are measured.

`plan` (config layer) reads a run's load: closed-loop users, or an open-loop arrival rate,
stages, warm-up, the in-flight cap. `schedule` (core) draws the one global arrival schedule
from a seed. `open_loop` (Locust layer) paces each process's share of it into the users.
"""
