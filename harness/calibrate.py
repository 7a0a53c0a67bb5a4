"""Measure the words → tokens ratio against the server's own usage (docs/workloads.md).

No tokenizer is downloaded. Before its first request, one process sends two small batch
requests (`max_tokens` 1) whose prompts are made of the synthetic vocabulary at two lengths,
and reads `usage.prompt_tokens` of each: the line through the two points gives tokens per
word and the tokens a request costs before any word (the chat template). Synthetic prompts,
shared prefixes and trace prompts are then sized with it. A server that reports no usage
leaves the assumed 1 token per word, with a warning.

Transport layer: it sends with the harness's own client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.client import LLMClient
from harness.errors import Mode
from harness.workload.calibration import (
    CALIBRATION_WORDS,
    Calibration,
    calibrate,
    calibration_prompts,
)


class CalibrationFailed(Exception):
    """The server's answers cannot calibrate lengths; the message is one line."""


def measure_calibration(
    client: LLMClient, model: str, params: Mapping[str, Any] | None = None
) -> Calibration:
    """Send the two calibration requests with `client`; their usage's line."""
    points: list[tuple[int, int]] = []
    for words, text in zip(CALIBRATION_WORDS, calibration_prompts(), strict=True):
        record = client.new_record(Mode.BATCH, model)
        body = client.protocol.build_body(
            model=model,
            prompt=text,
            stream=False,
            params={**(params or {}), "max_tokens": 1},
        )
        client.send(record, body)
        if record.error_class is not None:
            status = f" (HTTP {record.status})" if record.status else ""
            raise CalibrationFailed(f"the calibration request failed: {record.error_class}{status}")
        if record.input_tokens is None:
            raise CalibrationFailed("the server reports no usage.prompt_tokens")
        points.append((words, record.input_tokens))
    try:
        return calibrate(points[0], points[1])
    except ValueError as exc:
        raise CalibrationFailed(str(exc)) from None
