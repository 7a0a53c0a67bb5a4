"""How finished requests reach the harness's sinks and Locust: `publish()`.

Each finished request is published once:

1. its goodput verdict is set from the run's limits (`record.met_goodput`, harness.load.goodput),
   then the run's `RunStats` (harness.run: high-resolution, mergeable; workers ship deltas to the
   master) observes it, and the run notes its server path;
2. the `llm_request` event (`environment.events.llm_request`) carries its `RequestRecord` to
   every sink;
3. Locust `request` events, one row per *request*, never per chunk: `stream e2e`
   (the request itself: success, or failure named by its error class), and for successful
   streams `stream ttft` and `stream tpot`; `batch e2e` for batch requests (with several
   targets each row is the target's: `fast: stream e2e`). This is the only
   place where durations become milliseconds. A cancelled request (in flight when the run
   stopped) is neither success nor failure: it gets no row.

Locust glue: imports locust (through harness.run).
"""

from __future__ import annotations

from locust.env import Environment

from harness.errors import SUCCESS_OUTCOMES, Mode, Outcome, RequestError
from harness.load.goodput import meets
from harness.options import config_for
from harness.record import RequestRecord
from harness.run import llm_run

REQUEST_TYPE = "LLM"


class EmptyCompletion(Exception):
    """A 200 response that carried no token (outcome `empty`): a failure by default."""

    def __str__(self) -> str:
        return "empty"

    def __repr__(self) -> str:
        return "EmptyCompletion('empty')"


def publish(environment: Environment, record: RequestRecord, response_bytes: int = 0) -> None:
    """Publish one finished request: `llm_request`, Locust rows, statistics."""
    run = llm_run(environment)
    limits = config_for(environment).goodput
    if limits is not None:  # judged once, here; the statistics count the verdict
        record.met_goodput = meets(record, limits)
    run.observe(record)
    if record.path_headers:
        run.observe_path(str(record.mode), record.path_headers)
    run.llm_request.fire(record=record, environment=environment)
    if record.outcome is Outcome.CANCELLED:
        return  # neither success nor failure (docs/design.md)
    fire_request = environment.events.request.fire
    mode = record.mode
    e2e_s = record.e2e_s
    # with several targets, Locust's table has each target's rows: `fast: stream e2e`
    row = f"{record.target}: " if record.target else ""
    name = f"{row}{mode.value} e2e"
    exception: Exception | None = None
    if record.outcome not in SUCCESS_OUTCOMES:
        if record.outcome is Outcome.EMPTY:
            exception = EmptyCompletion()
        else:
            assert record.error_class is not None
            exception = RequestError(record.error_class, status=record.status)
    context = {"model": record.model, "target": record.target}
    fire_request(
        request_type=REQUEST_TYPE,
        name=name,
        response_time=_ms(e2e_s),
        response_length=response_bytes,
        response=None,
        context=context,
        exception=exception,
    )
    if exception is not None or mode is not Mode.STREAM:
        return
    ttft_s = record.ttft_s
    if ttft_s is not None:
        fire_request(
            request_type=REQUEST_TYPE,
            name=f"{row}stream ttft",
            response_time=_ms(ttft_s),
            response_length=0,
            response=None,
            context=context,
            exception=None,
        )
    tpot_s = record.tpot_s
    if tpot_s is not None:
        fire_request(
            request_type=REQUEST_TYPE,
            name=f"{row}stream tpot",
            response_time=_ms(tpot_s),
            response_length=0,
            response=None,
            context=context,
            exception=None,
        )


def _ms(seconds: float | None) -> float:
    return 0.0 if seconds is None else seconds * 1000.0
