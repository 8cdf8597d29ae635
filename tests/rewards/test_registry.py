"""Reward registry, batch scoring and the TRL adapter."""

from __future__ import annotations

import pytest

from lvr1kit.rewards import REWARDS, RewardBreakdown, as_trl_reward, compute_rewards, get_reward, register_reward

GOOD = "<think>x</think><answer>{}</answer>"


def test_known_rewards_registered() -> None:
    assert {"format", "mc", "numeric", "r1v", "open_ended", "timestamp_grounding"} <= set(REWARDS)


def test_unknown_reward_suggests_and_lists() -> None:
    with pytest.raises(KeyError, match="did you mean 'mc'.*known rewards: .*format"):
        get_reward("mcc")


def test_compute_rewards_passes_only_accepted_columns() -> None:
    out = compute_rewards(
        "mc",
        [GOOD.format("B"), GOOD.format("C"), "garbage"],
        answer=["B", "B", "B"],
        options=[None, None, None],
        video=["a.mp4", "b.mp4", "c.mp4"],  # unused columns are ignored
    )
    assert [b.total for b in out] == pytest.approx([1.0, 0.1, 0.0])
    assert [b.parse_ok for b in out] == [True, True, False]


def test_compute_rewards_checks_column_lengths_and_missing_columns() -> None:
    with pytest.raises(ValueError, match="column 'answer' has 1 values for 2 completions"):
        compute_rewards("mc", ["a", "b"], answer=["B"])
    with pytest.raises(TypeError, match="answer"):
        compute_rewards("mc", ["a"])


def test_reward_kwargs_fix_parameters() -> None:
    out = compute_rewards("mc", ["<answer>B</answer>"], answer=["B"], reward_kwargs={"w_acc": 0.5, "w_fmt": 0.5})
    assert out[0].total == 0.5


def test_trl_adapter_signature_and_conversational_completions() -> None:
    fn = as_trl_reward("mc", w_acc=1.0, w_fmt=0.0)
    completions = [[{"role": "assistant", "content": GOOD.format("A")}], [{"role": "assistant", "content": "C"}]]
    totals = fn(
        prompts=[[{"role": "user", "content": "q"}]] * 2,
        completions=completions,
        answer=["A", "B"],
        completion_ids=[[1, 2], [3]],
        trainer_state=object(),  # TRL passes non-column kwargs too
    )
    assert totals == [1.0, 0.0]
    assert fn.__name__ == "lvr1_mc"
    with pytest.raises(KeyError):
        as_trl_reward("nope")


def test_register_reward_adds_one_entry() -> None:
    @register_reward("_test_length")
    def length_reward(completion: str) -> RewardBreakdown:
        return RewardBreakdown(total=float(len(completion)))

    try:
        assert compute_rewards("_test_length", ["abc"])[0].total == 3.0
        with pytest.raises(ValueError, match="already registered"):
            register_reward("_test_length")(lambda completion: RewardBreakdown(0.0))
    finally:
        del REWARDS["_test_length"]
