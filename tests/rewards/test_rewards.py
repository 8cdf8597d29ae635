"""Reward functions: breakdown parts, weights, numeric equality, judge and similarity paths."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from lvr1kit.rewards import (
    JudgeClient,
    JudgeError,
    RewardBreakdown,
    format_reward,
    mc_accuracy_reward,
    numeric_accuracy_reward,
    open_ended_reward,
    r1v_reward,
    summarize_rewards,
    timestamp_grounding_reward,
)
from lvr1kit.rewards.grounding import find_timestamps

GOOD = "<think>the star is NW</think> <answer>{}</answer>"


def test_breakdown_is_frozen() -> None:
    b = RewardBreakdown(total=1.0, format=1.0, accuracy=1.0)
    with pytest.raises(AttributeError):
        b.total = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("completion", "answer", "total", "acc", "fmt", "parse_ok"),
    [
        (GOOD.format("B"), "B", 1.0, 1.0, 1.0, True),
        (GOOD.format("C"), "B", 0.1, 0.0, 1.0, True),
        ("<answer>B</answer>", "B", 0.9, 1.0, 0.0, True),
        ("B", "B", 0.9, 1.0, 0.0, True),
        (GOOD.format("A or B"), "B", 0.1, 0.0, 1.0, False),
        ("no answer at all, sorry", "B", 0.0, 0.0, 0.0, False),
        (GOOD.format("b."), "<answer>B</answer>", 1.0, 1.0, 1.0, True),
    ],
)
def test_mc_reward_table(completion: str, answer: str, total: float, acc: float, fmt: float, parse_ok: bool) -> None:
    r = mc_accuracy_reward(completion, answer=answer)
    assert (r.total, r.accuracy, r.format, r.parse_ok) == pytest.approx((total, acc, fmt, parse_ok))


def test_mc_weights_are_configurable() -> None:
    r = mc_accuracy_reward(GOOD.format("B"), answer="B", w_acc=0.5, w_fmt=0.5)
    assert r.total == 1.0
    r = mc_accuracy_reward("<answer>B</answer>", answer="B", w_acc=0.5, w_fmt=0.5)
    assert r.total == 0.5


def test_mc_bad_ground_truth_propagates() -> None:
    with pytest.raises(ValueError, match="not an option letter"):
        mc_accuracy_reward(GOOD.format("B"), answer="the red one")


def test_mc_uses_options_for_text_answers() -> None:
    r = mc_accuracy_reward(GOOD.format("the blue agent"), answer="B", options=["red agent", "blue agent", "x", "y"])
    assert (r.accuracy, r.extras["choice"]) == (1.0, "B")
    r = mc_accuracy_reward(GOOD.format("E"), answer="E", options=["a", "b", "c", "d", "e"])
    assert r.accuracy == 1.0


@pytest.mark.parametrize(
    ("pred", "truth", "acc", "parse_ok"),
    [
        (r"\frac{1}{2}", "0.5", 1.0, True),
        (r"\dfrac{1}{2}", "1/2", 1.0, True),
        ("1/2", "0.5", 1.0, True),
        ("0.50", r"\frac{1}{2}", 1.0, True),
        ("50%", "0.5", 1.0, True),
        (r"50\%", "50", 1.0, True),
        ("1,000", "1000", 1.0, True),
        (r"$\boxed{-3}$", "-3", 1.0, True),
        ("12 seconds", "12", 1.0, True),
        ("0.333", "1/3", 0.0, True),  # outside the default rel_tol 1e-4
        ("0.33333", "1/3", 1.0, True),
        ("13", "12", 0.0, True),
        ("twelve", "12", 0.0, False),
        ("", "12", 0.0, False),
    ],
)
def test_numeric_reward_table(pred: str, truth: str, acc: float, parse_ok: bool) -> None:
    r = numeric_accuracy_reward(GOOD.format(pred), answer=truth)
    assert (r.accuracy, r.parse_ok) == (acc, parse_ok)
    assert r.total == pytest.approx(0.9 * acc + 0.1)


def test_numeric_tolerance_and_bad_truth() -> None:
    assert numeric_accuracy_reward(GOOD.format("0.33"), answer="1/3", rel_tol=0.02).accuracy == 1.0
    with pytest.raises(ValueError, match="not a number"):
        numeric_accuracy_reward(GOOD.format("1"), answer="red")


def test_format_reward() -> None:
    assert format_reward(GOOD.format("B")).total == 1.0
    assert format_reward("<answer>B</answer>").total == 0.0
    assert format_reward("<answer>B</answer>").accuracy is None


def test_r1v_dispatches_on_ground_truth() -> None:
    assert r1v_reward(GOOD.format("(B)"), answer="B").extras["choice"] == "B"
    assert r1v_reward(GOOD.format("0.5"), answer="1/2").accuracy == 1.0
    assert r1v_reward(GOOD.format("red  ball"), answer="red ball").accuracy == 1.0
    assert r1v_reward(GOOD.format("blue ball"), answer="red ball").accuracy == 0.0
    empty = r1v_reward(GOOD.format(""), answer="red ball")
    assert (empty.accuracy, empty.parse_ok) == (0.0, False)


def test_open_ended_similarity_threshold() -> None:
    close = open_ended_reward(GOOD.format("the red agent left"), answer="The red agent left.")
    assert (close.accuracy, close.extras["graded_by"]) == (1.0, "similarity")
    far = open_ended_reward(GOOD.format("a blue square"), answer="The red agent left.")
    assert far.accuracy == 0.0
    strict = open_ended_reward(GOOD.format("the red agent"), answer="the red agent left", similarity_threshold=0.99)
    assert strict.accuracy == 0.0
    empty = open_ended_reward(GOOD.format(""), answer="x")
    assert (empty.parse_ok, empty.accuracy) == (False, 0.0)


class _Judge(BaseHTTPRequestHandler):
    mode = "yes"

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        request = json.loads(self.rfile.read(length))
        assert request["messages"][0]["role"] == "user"
        if self.mode == "500":
            self.send_error(500, "boom")
            return
        if self.mode == "slow":
            threading.Event().wait(1.0)
        content = {"yes": "Yes.", "no": "no", "maybe": "perhaps"}.get(self.mode, "yes")
        body = {"choices": [{"message": {"content": content}}]} if self.mode != "junk" else {"oops": 1}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def judge_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(server: HTTPServer, timeout_s: float = 5.0) -> JudgeClient:
    return JudgeClient(base_url=f"http://127.0.0.1:{server.server_port}/v1", model="judge", timeout_s=timeout_s)


@pytest.mark.parametrize(("mode", "acc"), [("yes", 1.0), ("no", 0.0)])
def test_open_ended_judge_verdicts(judge_server: HTTPServer, mode: str, acc: float) -> None:
    _Judge.mode = mode
    r = open_ended_reward(GOOD.format("completely different words"), answer="x", judge=_client(judge_server))
    assert (r.accuracy, r.extras["graded_by"]) == (acc, "judge")


@pytest.mark.parametrize(
    ("mode", "match"),
    [("500", "HTTP 500"), ("maybe", "neither yes nor no"), ("junk", "no choices"), ("slow", "timeout")],
)
def test_judge_errors_raise(judge_server: HTTPServer, mode: str, match: str) -> None:
    _Judge.mode = mode
    with pytest.raises(JudgeError, match=match):
        open_ended_reward(GOOD.format("a"), answer="a", judge=_client(judge_server, timeout_s=0.2))


def test_judge_unreachable_raises() -> None:
    client = JudgeClient(base_url="http://127.0.0.1:9/v1", model="judge", timeout_s=1.0)
    with pytest.raises(JudgeError, match="unreachable|timeout"):
        client.same_meaning("a", "a")


def test_judge_error_fallback_is_recorded(judge_server: HTTPServer) -> None:
    _Judge.mode = "500"
    r = open_ended_reward(
        GOOD.format("the red agent"), answer="the red agent", judge=_client(judge_server), on_judge_error="fallback"
    )
    assert r.accuracy == 1.0
    assert r.extras["graded_by"] == "similarity"
    assert "HTTP 500" in r.extras["judge_error"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at 12s", [(12.0, 12.0)]),
        ("at 12.5 s", [(12.5, 12.5)]),
        ("near 12 seconds in", [(12.0, 12.0)]),
        ("at 0:12", [(12.0, 12.0)]),
        ("at 1:05", [(65.0, 65.0)]),
        ("at 00:01:05", [(65.0, 65.0)]),
        ("[12-20s]", [(12.0, 20.0)]),
        ("from 12s-20s", [(12.0, 20.0)]),
        ("0:12–0:20", [(12.0, 20.0)]),
        ("12 to 20 seconds", [(12.0, 20.0)]),
        ("zone 3, 2 agents, 4-5 stars", []),
        ("at 12s and 0:30", [(12.0, 12.0), (30.0, 30.0)]),
    ],
)
def test_find_timestamps_table(text: str, expected: list[tuple[float, float]]) -> None:
    assert find_timestamps(text) == expected


def test_timestamp_grounding_reward() -> None:
    windows = [(10.0, 20.0), (60.0, 70.0)]
    text = (
        "<think>at 0:12 the star drops; at 21s it moves; [100-110s] nothing; at 1:05 it returns</think>"
        "<answer>B</answer>"
    )
    r = timestamp_grounding_reward(text, windows, tolerance_s=0.5)
    assert (r.total, r.extras["num_cited"], r.extras["num_grounded"]) == (0.5, 4, 2)
    assert timestamp_grounding_reward(text, windows, tolerance_s=1.0).total == 0.75  # 21s is within 20 + 1
    none = timestamp_grounding_reward("<think>no times</think><answer>B</answer>", windows)
    assert (none.total, none.extras["num_cited"], none.extras["no_citations"]) == (0.0, 0, True)
    answer_only = timestamp_grounding_reward("<think>x</think><answer>at 12s</answer>", windows)
    assert answer_only.extras["num_cited"] == 0  # only the reasoning is read
    with pytest.raises(ValueError, match="start_s <= end_s"):
        timestamp_grounding_reward(text, [(5.0, 1.0)])


def test_summarize_rewards_metric_names() -> None:
    batch = [mc_accuracy_reward(GOOD.format(x), answer="B") for x in ("B", "C", "A or B", "B")]
    m = summarize_rewards(batch)
    assert m["reward/total"] == pytest.approx((1.0 + 0.1 + 0.1 + 1.0) / 4)
    assert (m["reward/accuracy"], m["reward/format"], m["reward/parse_fail"]) == (0.5, 1.0, 1.0)
    assert summarize_rewards([]) == {}
