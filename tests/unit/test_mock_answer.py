"""What the mock's answer says, piece by piece, and how each protocol ends it.

Pure: `harness.mock.answer` plans the pieces (reasoning, text, a tool call's JSON), and the
protocol shapes turn a cut answer into their stop reasons and statuses.
"""

from __future__ import annotations

import json

from harness.mock.answer import plan_answer
from harness.mock.anthropic import ANTHROPIC
from harness.mock.completions import Endpoint, Generation
from harness.mock.profiles import LatencyProfile
from harness.mock.prompt import Prompt
from harness.mock.responses import RESPONSES


def gen(max_tokens: int | None = None) -> Generation:
    return Generation(Endpoint.MESSAGES, "m", True, True, max_tokens, Prompt(5))


def test_reasoning_pieces_come_first_and_count_as_output() -> None:
    answer = plan_answer(gen(), LatencyProfile(output_tokens=3, reasoning_tokens=2))
    assert [p.kind for p in answer.pieces] == ["reasoning"] * 2 + ["text"] * 3
    assert answer.joined("reasoning") == " think0 think1"
    assert (answer.output_tokens, answer.visible_tokens, answer.finish) == (5, 3, "stop")


def test_a_tool_call_is_one_json_object_in_one_piece_per_token() -> None:
    answer = plan_answer(gen(), LatencyProfile(output_tokens=3, tool_call=True))
    assert [p.text for p in answer.pieces] == ['{"location":" tok0', " tok1", ' tok2"}']
    assert json.loads(answer.joined("tool")) == {"location": " tok0 tok1 tok2"}


def test_max_tokens_cuts_a_tool_call_s_json() -> None:
    answer = plan_answer(gen(max_tokens=2), LatencyProfile(output_tokens=3, tool_call=True))
    assert (answer.finish, answer.joined("tool"), answer.tool_input) == (
        "length",
        '{"location":" tok0 tok1',
        {},
    )


def test_anthropic_stop_reasons_and_thinking_usage() -> None:
    def body(max_tokens: int | None, **profile: object) -> dict[str, object]:
        answer = plan_answer(gen(max_tokens), LatencyProfile(output_tokens=3, **profile))  # type: ignore[arg-type]
        return dict(json.loads(ANTHROPIC.batch_body(gen(max_tokens), answer, 0)))

    assert body(None)["stop_reason"] == "end_turn"
    assert body(2)["stop_reason"] == "max_tokens"
    assert body(None, tool_call=True)["stop_reason"] == "tool_use"
    assert body(None, reasoning_tokens=4)["usage"] == {
        "input_tokens": 5,
        "output_tokens": 7,
        "output_tokens_details": {"thinking_tokens": 4},
    }


def test_responses_cut_by_max_output_tokens_is_incomplete() -> None:
    g = Generation(Endpoint.RESPONSES, "m", False, True, 2, Prompt(5))
    doc = json.loads(RESPONSES.batch_body(g, plan_answer(g, LatencyProfile(output_tokens=3)), 0))
    assert (doc["status"], doc["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert doc["output"][0]["content"][0]["text"] == " tok0 tok1"
