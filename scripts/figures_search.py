"""Generated blocks of issue 27 (step search, the prompt, the step verifier).

Each function returns one block's Markdown from committed raw files in ``docs/data/``;
a sentence that states a direction is checked against the data by :func:`claim`.
"""

from __future__ import annotations

import re
from typing import Any

from figures_eval import claim
from figures_raw import load, num, pct, source_line, table

PROMPT_STUDY = "docs/data/prompt-study-seed100.json"


def _prompt_rows() -> list[dict[str, Any]]:
    return list(load(PROMPT_STUDY)["rows"])


def prompt_study() -> str:
    """The candidate system prompts on the training seed, and which one the rule picks."""
    raw = load(PROMPT_STUDY)
    rows = _prompt_rows()
    settings = raw["settings"]
    body = table(
        ["prompt", "difficulty", "per-sample", "coverage@16", "weighted@16", "majority@16",
         "mean tokens", f"cut off at {settings['max_new_tokens']}"],
        [
            [f"`{r['prompt']}`", str(r["difficulty"]), pct(r["per_sample_accuracy"], 1),
             pct(r["coverage@16"], 1), pct(r["weighted@16"], 1), pct(r["majority@16"], 1),
             num(r["mean_completion_tokens"]), pct(r["cut_off_share"], 0)]
            for r in sorted(rows, key=lambda r: (r["difficulty"], r["prompt"]))
        ],
    )  # fmt: skip
    names = sorted({r["prompt"] for r in rows})
    levels = sorted({r["difficulty"] for r in rows})
    mean_cov = {
        n: sum(r["coverage@16"] for r in rows if r["prompt"] == n)
        / sum(1 for r in rows if r["prompt"] == n)
        for n in names
    }
    per_sample = {n: sum(r["per_sample_accuracy"] for r in rows if r["prompt"] == n) for n in names}
    best = max(names, key=lambda n: (mean_cov[n], per_sample[n]))
    claim(best == "neutral", "the rule keeps the neutral prompt as the default")
    at = {(r["prompt"], r["difficulty"]): r for r in rows}
    examples = [n for n in names if n != best]
    claim(
        all(
            at[n, d]["cut_off_share"] < at[best, d]["cut_off_share"]
            for n in examples
            for d in levels
        ),
        "the worked examples shorten the answers",
    )
    claim(
        all(at[n, 1]["majority@16"] > at[best, 1]["majority@16"] for n in examples)
        and all(at[n, 1]["weighted@16"] > at[best, 1]["weighted@16"] for n in examples),
        "the examples help the votes at difficulty 1",
    )
    claim(
        all(at[n, d]["coverage@16"] < at[best, d]["coverage@16"] for n in examples for d in levels),
        "fewer problems have any right sample with the examples",
    )
    others = ", ".join(f"`{n}` {pct(mean_cov[n], 1)}" for n in names if n != best)
    return (
        f"{settings['limit']} problems of each difficulty ({', '.join(map(str, levels))}) of "
        f"the training seed {settings['data_seed']}, N = {settings['n']}, "
        f"{settings['max_new_tokens']} tokens, {settings['dtype']}:\n\n" + body + "\n"
        f"By the rule (highest coverage@16 averaged over the difficulties, then per-sample "
        f"accuracy) the default stays `{best}` ({pct(mean_cov[best], 1)}, against {others}). "
        "The worked examples shorten the answers (fewer are cut off at every difficulty) "
        "and help both votes at difficulty 1, but at every difficulty fewer problems have "
        "any right sample, which is what a verifier or a search can reach. At "
        f"{settings['max_new_tokens']} tokens {pct(at[best, max(levels)]['cut_off_share'], 0)} "
        f"of the default prompt's difficulty-{max(levels)} samples are cut off, so the "
        "issue-27 runs allow 256 tokens per solution.\n\n" + source_line(PROMPT_STUDY)
    )


STEP_VERIFIER = "docs/data/step-verifier-seed100/verifier.json"


def step_verifier_positions() -> str:
    """Step AUROC by position: the grounded checker, outcome-trained and rollout-trained heads."""
    card = load(STEP_VERIFIER)
    v, s, t = card["validation"], card["samples"], card["training"]
    positions = list(v["checker_fixed_weights"]["step_auroc_by_position"])

    def cells(by_position: dict[str, float | None]) -> list[str]:
        return ["–" if by_position[p] is None else f"{by_position[p]:.3f}" for p in positions]

    rows = [
        ["grounded checker (hand-set weights)", "none", *cells(
            v["checker_fixed_weights"]["step_auroc_by_position"]),
         f"{v['checker_fixed_weights']['auroc']:.3f}"],
    ]  # fmt: skip
    for r in v["table"]:
        outcome = r["features"].endswith("(outcome labels)")
        name = r["features"].removesuffix(" (outcome labels)")
        rows.append([f"head on `{name}`", "outcome" if outcome else "rollouts (soft)",
                     *cells(r["step_auroc_by_position"]), f"{r['auroc']:.3f}"])  # fmt: skip
    chosen = next(r for r in v["table"] if r["features"] == v["chosen"])
    rollouts = int(re.search(r"--rollouts (\d+)", card["command"])[1])  # type: ignore[index]
    grounded = v["checker_fixed_weights"]["step_auroc_by_position"]
    beaten = all(
        chosen["step_auroc_by_position"][p] < grounded[p] for p in positions if grounded[p]
    )
    claim(beaten, "the grounded checker ranks step prefixes better at every position")
    claim(chosen["step_auroc_by_position"]["1"] < 0.5, "the chosen head is below chance on plans")
    return (
        f"{s['problems']} problems of the training seed {t['data_seed']} (difficulty "
        f"{', '.join(map(str, t['difficulty']))}), N = {t['n']}, "
        f"{t['sampling']['max_new_tokens']} tokens; grouped {v['folds']}-fold, out-of-fold "
        "scores; step AUROC against whether any rollout from the prefix reached the "
        "reference, AUROC (final) against right final answers:\n\n"
        + table(
            [
                "scorer",
                "labels",
                *[f"step {p}" + (" (plan)" if p == "1" else "") for p in positions],
                "AUROC (final)",
            ],
            rows,
        )
        + "\n"
        + source_line(STEP_VERIFIER)
        + "\n"
        + f"**Not the step verifier the issue hoped for.** Of {s['candidates']} candidates "
        f"{s['right_candidates']} are right, and the soft labels of {num(s['step_examples'])} "
        f"step prefixes sum to {num(s['positive_step_examples'])}: too few positives for a "
        f"head to learn from. The chosen head (`{v['chosen']}`) ranks plans below chance out of "
        f"fold ({chosen['step_auroc_by_position']['1']:.3f}), and the grounded checker, "
        "which the rollouts never saw, ranks prefixes better at every position "
        f"({grounded['1']:.3f} on plans). What limits it is the policy: a 135M model "
        f"whose samples are right {pct(s['right_candidates'] / s['candidates'], 1)} of the "
        "time here, so that rollouts from almost every prefix fail. More problems (the "
        "issue sized 100 × 8 × 4 rollouts; this 2-core session afforded "
        f"{s['problems']} × {t['n']} × {rollouts}) or a stronger "
        "policy are the next steps.\n"
    )
