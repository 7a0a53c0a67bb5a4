"""The reliability catalogue's stream cases, replayed through StreamReader byte for byte.

Every case runs in three segmentations (catalogue P5): as scripted (one read per step), one byte
per read, and random splits with 10 seeds; the figures must be identical. Times are the step
times: a byte's read time is its step's time, so splitting never changes timing. A case's
`protocol` (default openai) names the registered protocol that reads it.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import Mode
from harness.protocols import WireProtocol
from harness.protocols.registry import make_protocol
from harness.record import RequestRecord
from harness.stream import DEFAULT_MAX_EVENT_BYTES, StreamReader

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).with_name("cases.yaml")).read_text(encoding="utf-8")
)

_HEAD = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":'


def _event(payload: str) -> str:
    return f"data: {payload}\n\n"


def _token(text: str) -> str:
    content = json.dumps(text, ensure_ascii=False)
    return _event(_HEAD + '[{"index":0,"delta":{"content":' + content + '},"finish_reason":null}]}')


def _typed_event(kind: str, fields: dict[str, Any] | None) -> str:
    """`event: kind` and a data line `{"type": kind, **fields}` (Anthropic, Responses)."""
    payload = json.dumps({"type": kind, **(fields or {})}, separators=(",", ":"))
    return f"event: {kind}\ndata: {payload}\n\n"


def _expand(item: Any) -> str:
    """One step item -> the exact text it stands for (catalogue §0 shorthands)."""
    if isinstance(item, dict):
        if "ev" in item:
            kind, *fields = item["ev"]
            return _typed_event(kind, fields[0] if fields else None)
        if "blank_lines" in item:
            blank_lines: int = item["blank_lines"]
            return "\n" * blank_lines
        if "data_bytes" in item:
            data_bytes: int = item["data_bytes"]
            return "data: " + "x" * data_bytes
        if "multi" in item:
            text, cumulative = item["multi"]
            return _event(
                '{"choices":[{"index":0,"delta":{"content":"' + text + '"}}],'
                '"usage":{"prompt_tokens":10,"completion_tokens":' + str(cumulative) + "}}"
            )
        raise ValueError(f"unknown step item {item!r}")
    if item == "R":
        return _event(
            _HEAD + '[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
        )
    if item == "D":
        return "data: [DONE]\n\n"
    if m := re.fullmatch(r"T\((.*)\)", item, re.S):
        return _token(m.group(1))
    if m := re.fullmatch(r"F\((.*)\)", item):
        return _event(_HEAD + '[{"index":0,"delta":{},"finish_reason":"' + m.group(1) + '"}]}')
    if m := re.fullmatch(r"U\((\d+),(\d+)\)", item):
        p, c = int(m.group(1)), int(m.group(2))
        usage = f'{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{p + c}}}'
        return _event(_HEAD + '[],"usage":' + usage + "}")
    return str(item)


def _steps(case: dict[str, Any]) -> list[tuple[float, bytes]]:
    """The case's reads as (time in seconds, exact bytes)."""
    steps: list[tuple[float, bytes]] = []
    for at_ms, *items in case["steps"]:
        texts: list[str] = []
        for item in items:
            if isinstance(item, dict) and "reasoning" in item:
                # N reasoning chunks every `every_ms`, starting at this step's time
                field, n, every_ms = item["reasoning"]
                for i in range(n):
                    payload = '{"choices":[{"index":0,"delta":{"' + field + '":"r"}}]}'
                    steps.append(((at_ms + i * every_ms) / 1000, _event(payload).encode()))
                continue
            texts.append(_expand(item))
        if texts:
            text = "".join(texts)
            steps.append((at_ms / 1000, _transform(text, case.get("transform")).encode()))
    return steps


def _transform(text: str, how: str | None) -> str:
    if how is None:
        return text
    if how == "crlf":
        return text.replace("\n", "\r\n")
    if how == "cr":
        return text.replace("\n", "\r")
    if how == "data_nospace":
        return text.replace("data: ", "data:")
    if how == "data_twospaces":
        return text.replace("data: ", "data:  ")
    raise ValueError(f"unknown transform {how!r}")


def _segment(steps: list[tuple[float, bytes]], how: str) -> list[tuple[float, bytes]]:
    if how == "scripted":
        return steps
    if how == "bytewise":
        return [(t, data[i : i + 1]) for t, data in steps for i in range(len(data))]
    seed = int(how.removeprefix("random"))
    rng = random.Random(seed)
    reads: list[tuple[float, bytes]] = []
    for t, data in steps:
        i = 0
        while i < len(data):
            n = rng.randint(1, 4096) if rng.random() < 0.3 else rng.randint(1, 16)
            reads.append((t, data[i : i + n]))
            i += n
    return reads


def _protocol(case: dict[str, Any]) -> WireProtocol:
    return make_protocol(case.get("protocol", "openai"))


def replay(case: dict[str, Any], how: str) -> RequestRecord:
    """Feed a case's bytes through a StreamReader as a client would."""
    protocol = _protocol(case)
    record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1" + protocol.path)
    record.t0 = 0.0
    record.text = []
    reader = StreamReader(protocol, record, case.get("max_event_bytes", DEFAULT_MAX_EVENT_BYTES))
    reads = _segment(_steps(case), how)
    settled = False
    t = 0.0
    for t, data in reads:
        if reader.done:
            reader.feed_trailing(data)
            continue
        if settled:
            break
        settled = reader.feed(data, t)
    if not settled and case.get("end", "eof") == "eof":
        reader.end(t)
    return record


def figures(record: RequestRecord) -> dict[str, Any]:
    """Everything a case may assert, rounded to 0.1 µs."""

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 7)

    per_chunk = record.tokens_per_chunk
    return {
        "outcome": record.outcome.value if record.outcome else None,
        "error_class": record.error_class.value if record.error_class else None,
        "finish_reason": record.finish_reason,
        "ttft": r(record.ttft_s),
        "ttfc": r(record.ttfc_s),
        "chunks": record.chunk_count,
        "gaps": [r(g) for g in record.inter_chunk_gaps()],
        "itl": [r(g) for g in record.itl_samples()],
        "last_token": r(record.t_last_token),
        "e2e": r(record.e2e_s),
        "tpot": r(record.tpot_s),
        "output_tokens": record.output_tokens,
        "input_tokens": record.input_tokens,
        "source": record.output_tokens_source,
        "tokens_per_chunk_known": per_chunk is not None,
        "text": "".join(record.text or []),
        "anomalies": record.anomalies or {},
        "tool_call": r(record.tool_call_s),
        "tool_call_bytes": record.tool_call_bytes,
        "reasoning_tokens": record.reasoning_tokens,
        "reasoning_events": record.reasoning_events,
        "reasoning_share": r(record.reasoning_share),
    }


SEGMENTATIONS = ["scripted", "bytewise", *[f"random{seed}" for seed in range(10)]]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_catalogue_case(case: dict[str, Any]) -> None:
    got = figures(replay(case, "scripted"))
    for key, want in case["expect"].items():
        value = got[key]
        approximate = (isinstance(want, float) and value is not None) or (
            isinstance(want, list) and want and isinstance(want[0], float)
        )
        if approximate:
            assert value == pytest.approx(want, abs=1e-6), key
        else:
            assert value == want, f"{key}: got {value!r}, want {want!r}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_catalogue_case_is_identical_however_the_bytes_are_split(case: dict[str, Any]) -> None:
    scripted = figures(replay(case, "scripted"))
    for how in SEGMENTATIONS[1:]:
        assert figures(replay(case, how)) == scripted, how


def test_whole_response_in_one_read_gives_the_same_tokens_and_outcome() -> None:
    """Catalogue P5 (b): all bytes in one read at the last time; timing collapses, counts stay."""
    for case in CASES:
        steps = _steps(case)
        whole = {**case}
        scripted = figures(replay(case, "scripted"))
        at = steps[-1][0]
        protocol = _protocol(case)
        record = RequestRecord(mode=Mode.STREAM, model="m", endpoint="/v1" + protocol.path)
        record.text = []
        reader = StreamReader(
            protocol, record, whole.get("max_event_bytes", DEFAULT_MAX_EVENT_BYTES)
        )
        settled = reader.feed(b"".join(d for _, d in steps), at)
        if not settled and case.get("end", "eof") == "eof":
            reader.end(at)
        got = figures(record)
        for key in ("outcome", "error_class", "chunks", "text"):
            assert got[key] == scripted[key], (case["id"], key)
