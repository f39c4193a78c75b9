"""Particle filtering: its resampling (statistics, seeding), and the real graph driven by a
scripted policy and verifier (copies and drops in the trace, budgets, early end, bad input)."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest

from scripted import QUESTION, ScriptedPolicy, ScriptedVerifier
from ttc_graph.errors import InputError
from ttc_graph.strategies import build_strategy
from ttc_graph.strategies.particle_filter import resample, resampling_weights


def graph(policy: ScriptedPolicy | None = None, **arguments: Any) -> Any:
    return build_strategy(
        "particle_filter",
        policy=policy or ScriptedPolicy(),
        verifier=ScriptedVerifier(),
        **arguments,
    )


def run(g: Any, **context: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events, result = [], {}
    for mode, chunk in g.stream(
        {"question": QUESTION}, context=context, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            events.append(chunk)
        else:
            result = chunk
    return result, events


# -- resampling -----------------------------------------------------------------------------


def test_weights_are_a_softmax_of_the_scores_over_the_temperature() -> None:
    weights = resampling_weights([0.9, 0.1, None], temperature=0.5)
    expected = [math.exp(1.8), math.exp(0.2), 1.0]
    assert weights == pytest.approx([e / sum(expected) for e in expected])
    assert resampling_weights([0.3, 0.3], temperature=10.0) == pytest.approx([0.5, 0.5])
    # A low temperature all but picks the leader; a high one flattens the weights.
    assert resampling_weights([0.9, 0.1], temperature=0.01)[0] > 0.999


def test_multinomial_draws_follow_the_weights() -> None:
    weights = [0.6, 0.3, 0.1]
    rng = random.Random(0)
    counts = Counter(i for _ in range(2_000) for i in resample(weights, 10, rng, "multinomial"))
    shares = [counts[i] / 20_000 for i in range(3)]
    assert shares == pytest.approx(weights, abs=0.015)


def test_systematic_draws_each_particle_floor_or_ceil_of_its_share() -> None:
    rng = random.Random(1)
    for _ in range(500):
        raw = [rng.random() for _ in range(rng.randint(2, 9))]
        weights = [w / sum(raw) for w in raw]
        count = rng.randint(1, 12)
        drawn = resample(weights, count, random.Random(rng.random()), "systematic")
        assert len(drawn) == count
        assert drawn == sorted(drawn)
        tally = Counter(drawn)
        for i, w in enumerate(weights):
            assert math.floor(count * w) - 1e-9 <= tally[i] <= math.ceil(count * w) + 1e-9


def test_resampling_is_seeded() -> None:
    weights = [0.4, 0.35, 0.25]
    for method in ("systematic", "multinomial"):
        first = resample(weights, 7, random.Random(42), method)
        assert first == resample(weights, 7, random.Random(42), method)


# -- the graph --------------------------------------------------------------------------------


def test_likely_particles_are_copied_and_unlikely_ones_dropped() -> None:
    result, events = run(graph(seed=1), n=4)
    resampled = [e for e in events if e["event"] == "particles_resampled"]
    assert resampled, "a resampling each iteration with open particles"
    second = resampled[1]
    # The step "7 * 5 = 35." scores 0.2 against 0.9: it is the one dropped.
    (dropped,) = second["dropped"]
    assert "35" in result["trace"][dropped]["text"]
    assert result["trace"][dropped]["status"] == "pruned"
    (copied,) = [node for node in result["trace"].values() if node.get("copies")]
    assert copied["copies"] == 2
    assert second["drawn"].count(copied["id"]) == 2
    # Both copies continue from the node they were drawn from.
    children = [n for n in result["trace"].values() if n["parent"] == copied["id"]]
    assert len(children) == 2
    assert len(result["candidates"]) == 4, "the number of particles is kept"
    assert result["answer"] == "12"


def test_the_same_seed_repeats_the_search_and_seeds_change_the_draws() -> None:
    def draws(seed: int) -> list[list[str]]:
        _, events = run(graph(), n=8, seed=seed, pf_temperature=0.2)
        return [e["drawn"] for e in events if e["event"] == "particles_resampled"]

    assert draws(3) == draws(3)
    assert len({str(draws(seed)) for seed in range(6)}) > 1


def test_a_token_budget_ends_the_search_with_the_best_so_far() -> None:
    free, _ = run(graph(seed=2), n=4)
    limited, _ = run(graph(seed=2), n=4, budget_tokens=20)
    assert free["budget_limited"] is False
    assert limited["budget_limited"] is True
    assert limited["usage"]["completion_tokens"] < free["usage"]["completion_tokens"]
    assert limited["solution"], "a limited search still answers"


def test_the_search_ends_early_when_every_particle_finished() -> None:
    result, events = run(graph(seed=0), n=4, max_steps=8)
    iterations = [e for e in events if e["event"] == "beam_pruned"]
    assert len(iterations) == 3, "three steps to a final answer, not eight iterations"
    assert all(c["finish_reason"] == "eos" for c in result["candidates"])


def test_the_step_limit_ends_open_particles() -> None:
    result, _ = run(graph(seed=0), n=4, max_steps=1)
    assert [c["finish_reason"] for c in result["candidates"]] == ["stop"] * 4
    assert all(c["text"].endswith("\n\n") for c in result["candidates"])


def test_weighted_selection_votes_over_the_finished_particles() -> None:
    result, _ = run(graph(seed=1), n=4, selection="weighted")
    assert result["answer"] == "12"
    assert result["options"]["selection"] == "weighted"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"n": 1}, "n must be at least 2 particles"),
        ({"pf_temperature": 0.0}, "option 'pf_temperature' must be > 0"),
        ({"pf_temperature": -1.0}, "option 'pf_temperature' must be > 0"),
        ({"pf_temperature": math.nan}, "option 'pf_temperature' must be a finite number"),
        ({"pf_temperature": math.inf}, "option 'pf_temperature' must be a finite number"),
        ({"resampling": "stratified"}, "option 'resampling' must be one of systematic"),
        ({"beam_width": 2}, "particle_filter takes no option 'beam_width'"),
    ],
)
def test_bad_settings_are_refused_before_any_generation(
    context: dict[str, Any], message: str
) -> None:
    policy = ScriptedPolicy()
    with pytest.raises(InputError, match=message):
        graph(policy).invoke({"question": QUESTION}, context=context)
    assert policy.calls == []
    with pytest.raises(InputError, match="needs a verifier"):
        build_strategy("particle_filter", policy=policy)
