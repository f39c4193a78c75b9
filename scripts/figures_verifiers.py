"""Generated blocks of docs/verifiers.md: verifier tables, trained heads, checker counts.

Raw files: the verifier tables written by ``benchmarks/verifier_table.py``, the
trained heads' cards (the step-labelled one in ``docs/data``, the shipped
outcome-labelled one in the package), ``docs/data/claim-counts.json``.
"""

from __future__ import annotations

from typing import Any

from figures_eval import CURVE, claim
from figures_raw import REPO, fixed, load, num, pct, plain, source_line, table

SEED0 = "docs/data/verifiers-arith-seed0.json"
SEED100 = "docs/data/verifiers-train-seed100-votes.json"
GSM8K = "docs/data/verifiers-gsm8k-heldout.json"
STEP_CARD = "docs/data/trained-checker-card.json"
HEAD_DIR = "ttc_graph/verifiers/heads/smollm2-135m-instruct"
HEAD_CARD = f"{HEAD_DIR}/verifier.json"
CLAIMS = "docs/data/claim-counts.json"


def _v(path: str, name: str) -> dict[str, Any]:
    row: dict[str, Any] = load(path)["verifiers"][name]
    return row


def verifier_speed() -> str:
    """Scoring time per solution of the pure-Python verifiers, from the seed-0 table."""
    raw = load(SEED0)
    solutions = raw["problems"] * raw["candidates_per_problem"]
    ms = {
        name: 1000 * _v(SEED0, name)["scoring_seconds"] / solutions
        for name in ("arithmetic", "grounded")
    }
    return (
        f"Both checkers are pure Python: scoring the {num(solutions)} stored solutions of "
        f"the seed-0 set took {plain(ms['arithmetic'], 2)} ms per solution with "
        f"`ArithmeticVerifier` and {plain(ms['grounded'], 2)} ms with `GroundedVerifier` "
        "(votes from the work included).\n\n" + source_line(SEED0)
    )


def votes_seed100() -> str:
    """The votes from the work on the training seed."""
    raw, g = load(SEED100), _v(SEED100, "grounded")
    rows = [
        [
            "scores alone",
            pct(g["weighted_no_votes"]["4"]),
            pct(g["weighted_no_votes"]["16"]),
            pct(raw["coverage"]["16"]),
        ],
        [
            "scores + votes from the work",
            pct(g["weighted"]["4"]),
            f"**{pct(g['weighted']['16'])}**",
            "",
        ],
    ]
    header = [
        f"seed {raw['config']['dataset'].rsplit('=', 1)[1]} (training), grounded checker",
        "weighted best-of-4",
        "weighted best-of-16",
        "coverage@16",
    ]
    changed = g["votes_changed"]
    return (
        table(header, rows)
        + "\n"
        + f"At N = 16 the votes turn {changed['wrong_to_right']} problems from wrong to right "
        f"and {changed['right_to_wrong']} from right to wrong.\n\n" + source_line(SEED100)
    )


def claim_counts() -> str:
    """The arithmetic checker on human-written reference solutions."""
    raw = load(CLAIMS)
    gsm, math = raw["gsm8k_train_500.jsonl"], raw["math500.jsonl"]
    twins = raw["gsm8k_corrupted_twins"]

    def flagged(entry: dict[str, Any]) -> str:
        return ", ".join(f"`{text}`" for text in entry["flagged_text"]) or "none"

    return (
        f"Measured on the shared data (development data: a test reads the same solutions): "
        f"on {gsm['solutions']} GSM8K reference solutions (all but the evaluation lines "
        f"{gsm['skipped_lines'][0]}–{gsm['skipped_lines'][1]}, which nothing else reads) it "
        f"reads {num(gsm['claims'])} "
        f"claims and flags {gsm['flagged']} ({flagged(gsm)}); on the {math['solutions']} "
        f"MATH-500 solutions it reads {num(math['claims'])} claims and flags "
        f"{math['flagged']} ({flagged(math)}). Some flags are typos in the reference, others "
        "are the checker misreading prose or layout: read the list before trusting a flag. "
        f"Changing one calculator result in each GSM8K reference ({twins['solutions']} "
        f"solutions) ranks {twins['original_scored_higher']} originals above their corrupted "
        "twin.\n\n" + source_line(CLAIMS)
    )


def trained_steps() -> str:
    """The step-labelled heads' validation table (the card of the GPU run)."""
    v = load(STEP_CARD)["validation"]
    names = {
        "checker": "checker (fitted)",
        "confidence": "confidence",
        "hidden": "hidden",
        "checker+confidence": "checker + confidence",
        "checker+confidence+hidden": "checker + confidence + hidden",
    }
    rows = [
        [names[r["features"]], num(r["n_features"]), fixed(r["auroc"], 3), pct(r["weighted"])]
        for r in v["table"]
    ]
    hand = v["checker_fixed_weights"]
    rows += [
        [
            "**grounded checker, hand-set weights**",
            "",
            f"**{fixed(hand['auroc'], 3)}**",
            f"**{pct(hand['weighted'])}**",
        ],
        ["majority vote", "", "", pct(v["majority"])],
        ["coverage (any right)", "", "", pct(v["coverage"])],
    ]
    header = ["feature set", "#", "AUROC (final answer)", "weighted best-of-16"]
    return table(header, rows) + "\n" + source_line(STEP_CARD)


def seed0_ranking() -> str:
    """Pooled ranking against per-problem selection on the seed-0 set."""
    a, g = _v(SEED0, "arithmetic"), _v(SEED0, "grounded")
    problems = load(SEED0)["problems"]
    claim(g["weighted"]["16"] > 2 * a["weighted"]["16"], "grounded picks far more than arithmetic")
    return (
        f"On the {problems} problems of data seed 0 that "
        f"[the evaluation]({CURVE}) "
        "reports (not held out: the table was re-scored as the rules changed) the AUROC of "
        f"right vs wrong candidates is {fixed(a['auroc'])} for the arithmetic checker and "
        f"{fixed(g['auroc'])} for the grounded one — about the same ranking power — yet "
        f"weighted best-of-16 picks a right answer on {pct(g['weighted']['16'])} with the "
        f"grounded checker and {pct(a['weighted']['16'])} with the arithmetic one: what "
        "matters for selection is the top of the ranking per problem, not the pooled "
        "ranking.\n"
    )


def verifiers_seed0() -> str:
    """Every verifier on the seed-0 sample: AUROC, weighted (with and without votes), vanilla."""
    raw = load(SEED0)
    labels = {
        "arithmetic": "arithmetic checker",
        "grounded": "grounded checker (`auto`)",
        "trained": "outcome-trained checker head (`trained`)",
        "grounded+trained": "both, equal weights (`grounded+trained`)",
    }
    best_auroc = max(_v(SEED0, n)["auroc"] for n in labels)
    best_16 = max(_v(SEED0, n)["weighted"]["16"] for n in labels)

    def bold(text: str, on: bool) -> str:
        return f"**{text}**" if on else text

    rows = []
    for name, label in labels.items():
        r = _v(SEED0, name)
        rows.append(
            [
                label,
                bold(fixed(r["auroc"], 3), r["auroc"] == best_auroc),
                pct(r["weighted"]["4"]),
                bold(pct(r["weighted"]["16"]), r["weighted"]["16"] == best_16),
                pct(r["weighted_no_votes"]["16"]),
                pct(r["vanilla"]["16"]),
            ]
        )
    rows.append(
        [
            "majority vote / coverage",
            "",
            f"{pct(raw['majority']['4'])} / {pct(raw['coverage']['4'])}",
            f"{pct(raw['majority']['16'])} / {pct(raw['coverage']['16'])}",
            "",
            "",
        ]
    )
    header = [
        f"{raw['problems']} problems, data seed 0",
        "AUROC",
        "weighted@4",
        "weighted@16",
        "… scores alone",
        "vanilla best-of-16",
    ]
    g = _v(SEED0, "grounded")["votes_changed"]
    shares = [
        t["share_of_generation"] for name, t in load(GSM8K)["timing"].items() if isinstance(t, dict)
    ]
    return (
        table(header, rows)
        + "\n"
        + source_line(SEED0)
        + "\n"
        + f"At N=16 the grounded checker's votes turn {g['wrong_to_right']} problems from "
        f"wrong to right and {g['right_to_wrong']} from right to wrong. All four are pure "
        "Python over the text (the head reads only the checker's features): scoring 16 "
        f"candidates, votes included, takes {pct(min(shares))}–{pct(max(shares))} of the "
        "time the policy takes to generate them (measured on the GSM8K development set, "
        "[evaluation.md](evaluation.md#development-gsm8k-the-same-table-100-word-problems)), "
        "far under the 10 % goal.\n"
    )


def verifier_ships() -> str:
    """Why the head ships as `trained` and the default stays grounded."""
    g, t = _v(SEED0, "grounded"), _v(SEED0, "trained")
    return (
        "So the verifier that ships for the embedded model is this outcome-trained head "
        "(`--verifier trained`), and the default stays the grounded checker: on the seed-0 "
        "problems the two pick about the same share of right answers from their scores "
        f"alone ({pct(g['weighted_no_votes']['16'])} and {pct(t['weighted_no_votes']['16'])}), "
        f"and the grounded checker's votes from the work take it to {pct(g['weighted']['16'])}.\n"
    )


def _head_weights() -> dict[str, float]:
    """The shipped head's logistic weights per unit of each raw feature (weight / scale)."""
    from safetensors.numpy import load_file

    card = load(HEAD_CARD)
    weights = load_file(str(REPO / HEAD_DIR / "head.safetensors"))["0.weight"][0]
    scales = card["standardization"]["scale"]
    return {
        name.removeprefix("checker."): float(w) / s
        for name, w, s in zip(card["feature_names"], weights, scales, strict=True)
    }


def trained_outcome() -> str:
    """The outcome-labelled head against the step-labelled one and the hand-set weights."""
    steps, head = load(STEP_CARD)["validation"], load(HEAD_CARD)["validation"]
    (step_row,) = [r for r in steps["table"] if r["features"] == "checker"]
    (head_row,) = [r for r in head["table"] if r["features"] == "checker"]
    hand = head["checker_fixed_weights"]
    problems = head["problems"]
    rows = [
        ["checker, step labels (above)", fixed(step_row["auroc"], 3), pct(step_row["weighted"])],
        [
            "**checker, outcome labels**",
            f"**{fixed(head_row['auroc'], 3)}**",
            f"**{pct(head_row['weighted'])}**",
        ],
        ["grounded checker, hand-set weights", fixed(hand["auroc"], 3), pct(hand["weighted"])],
        ["coverage (any right)", "", pct(head["coverage"])],
    ]
    gain = head_row["weighted"] - hand["weighted"]
    header = ["feature set", "AUROC (final answer)", "weighted best-of-16"]
    return (
        table(header, rows)
        + "\n"
        + source_line(STEP_CARD, HEAD_CARD)
        + "\n"
        + "Outcome labels are what make a fitted head competitive: "
        f"{pct(step_row['weighted'])} → {pct(head_row['weighted'])} on the same features. It is "
        f"{plain(100 * gain, 2)} points ({round(gain * problems)} problems of {problems}) above "
        "the hand-set weights out of fold, which is inside the noise of "
        f"{problems} problems.\n"
    )


def _signed(value: float) -> str:
    """A weight as the docs write it: ``−1.4``, ``+1.6``, ``0``."""
    shown = plain(abs(value), 1)
    if shown == "0":
        return "0"
    return ("−" if value < 0 else "+") + shown


def head_weights() -> str:
    """Three of the shipped head's weights beside the hand-set ones."""
    from ttc_graph.verifiers.grounded import DEFAULT_WEIGHTS

    fitted = _head_weights()
    shown = [
        ("wrong", "a wrong calculation"),
        ("no_claims", '"nothing checkable"'),
        ("answer_is_last", '"the answer is the last result"'),
    ]
    lines = [
        f"- {label} {_signed(fitted[name])} (hand-set {_signed(DEFAULT_WEIGHTS.get(name, 0.0))});"
        for name, label in shown
    ]
    lines[-1] = lines[-1].removesuffix(";") + "."
    return (
        "Its weights also explain why it is not the default. Per unit of each feature "
        f"(`{HEAD_DIR}/head.safetensors` over the card's scales), the head gives:\n\n"
        + "\n".join(lines)
        + "\n"
    )


def trained_vs_grounded() -> str:
    """The head against the grounded checker on the seed-0 set, after the rule."""
    g, t = _v(SEED0, "grounded"), _v(SEED0, "trained")
    claim(t["auroc"] > g["auroc"], "the head ranks better pooled")
    claim(t["weighted"]["16"] <= g["weighted"]["16"], "but does not pick more right answers")
    return (
        "On the seed-0 set (the table above), the head ranks candidates better when all "
        f"problems are pooled (AUROC {fixed(t['auroc'], 3)} against {fixed(g['auroc'], 3)}) "
        "but picks no more right answers per problem (weighted best-of-16 "
        f"{pct(t['weighted']['16'])}, against the grounded checker's {pct(g['weighted']['16'])} "
        f"with its votes from the work and {pct(g['weighted_no_votes']['16'])} on its scores "
        "alone).\n\n" + source_line(SEED0)
    )
