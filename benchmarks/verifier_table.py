"""How well each verifier recognises the right answer among a stored sample.

Reads the shared best-of-N sample of a ``ttc-graph eval`` run (any run whose
strategies included ``coverage`` or a best-of-N selection) and scores every
candidate with each verifier, offline. Per verifier it reports:

- AUROC of the candidate score for "the final answer is right" (all candidates
  of all problems pooled; 0.5 is chance);
- weighted best-of-N and vanilla best-of-N accuracy at each N (the first N
  candidates of the sample, as the eval itself replays smaller N), beside
  coverage (any of the first N right) and majority vote;
- with ``--time K``: the verifier's time to score N fresh candidates against the
  time the policy took to generate them, on this machine, over K problems.

    python benchmarks/verifier_table.py runs/arith/results.sqlite \\
        --verifiers arithmetic,grounded,auto --ns 1,4,16 --json docs/data/verifiers.json

The reference answer is used for grading only; the verifiers never see it. Each
answer is read again from its stored text (:func:`reread`), so old samples are
graded by today's answer reading.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from ttc_graph.answers import extract_answer
from ttc_graph.evaluation import provenance
from ttc_graph.evaluation.grading import grade
from ttc_graph.strategies.selection import select
from ttc_graph.verifiers import load_verifier


def auroc(positives: list[float], negatives: list[float]) -> float | None:
    """P(a random right candidate outscores a random wrong one); ties count half."""
    if not positives or not negatives:
        return None
    ordered = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    # Rank-sum with average ranks for ties (Mann-Whitney U).
    rank_sum, i = 0.0, 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        mean_rank = (i + j + 1) / 2
        rank_sum += mean_rank * sum(label for _, label in ordered[i:j])
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def reread(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every answer read again from its stored text by the current
    :func:`~ttc_graph.answers.extract_answer` (and a greedy record's ``correct`` with it),
    so that samples stored before a change to answer reading are graded as it reads
    them today."""
    candidates = [{**c, "answer": extract_answer(c["text"])} for c in record["candidates"] or []]
    out = {**record, "candidates": candidates or record["candidates"]}
    if len(candidates) == 1:  # greedy: the record's answer is its one candidate's
        out["answer"] = candidates[0]["answer"]
        out["correct"] = grade(out["answer"], record["reference"])
    return out


def read_samples(db_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The config and the stored shared samples (strategy ``samples``) of one eval run."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT config_hash, record FROM results WHERE strategy = 'samples' ORDER BY rowid"
    ).fetchall()
    if not rows:
        raise SystemExit(f"{db_path}: no stored best-of-N sample (run eval with coverage).")
    hashes = {h for h, _ in rows}
    if len(hashes) > 1:
        raise SystemExit(f"{db_path}: samples of {len(hashes)} configurations; use one run.")
    (config_text,) = db.execute(
        "SELECT config FROM configs WHERE config_hash = ?", (rows[0][0],)
    ).fetchone()
    return json.loads(config_text), [reread(json.loads(r)) for _, r in rows]


def questions_of(records: list[dict[str, Any]], dataset: Path | None) -> dict[str, str]:
    """Problem id → question text: generated arithmetic ids carry their own recipe
    (``arith-d2-s100-3``); a JSONL dataset is read from ``dataset``."""
    from ttc_graph.evaluation.arithmetic import generate_problem
    from ttc_graph.evaluation.problems import load_problems

    if dataset is not None:
        return {p.id: p.question for p in load_problems(str(dataset)).problems}
    out = {}
    for record in records:
        pid = record["problem_id"]
        _, d, s, i = pid.split("-")
        out[pid] = generate_problem(int(i), difficulty=int(d[1:]), seed=int(s[1:])).question
    return out


def rescored(
    verifier: Any, question: str, candidates: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The candidates as the graph's score node leaves them with ``verifier``: each with
    its aggregated score and the votes its work lends (``support``) for a weighted vote."""
    scores = verifier.score(question, [c["steps"] for c in candidates])
    return [
        {**c, "score": s, "support": verifier.support(question, c["steps"])}
        for c, s in zip(candidates, scores, strict=True)
    ]


def table(
    records: list[dict[str, Any]], questions: dict[str, str], verifier: Any, ns: list[int]
) -> dict[str, Any]:
    """AUROC and accuracy at each N for one verifier over the stored candidates."""
    positives: list[float] = []
    negatives: list[float] = []
    weighted = dict.fromkeys(ns, 0)
    unvoted = dict.fromkeys(ns, 0)  # the same vote without the work's votes (support)
    vanilla = dict.fromkeys(ns, 0)
    gained = lost = 0  # problems the votes turn right / wrong at the largest N
    seconds = 0.0
    for record in records:
        candidates = record["candidates"]
        started = time.perf_counter()
        scored = rescored(verifier, questions[record["problem_id"]], candidates)
        seconds += time.perf_counter() - started
        right = [grade(c["answer"], record["reference"]) for c in candidates]
        for c, ok in zip(scored, right, strict=True):
            (positives if ok else negatives).append(c["score"])
        plain = [{**c, "support": {}} for c in scored]
        for n in ns:
            voted, without = (
                right[select(scored[:n], "weighted")],
                right[select(plain[:n], "weighted")],
            )
            weighted[n] += voted
            unvoted[n] += without
            vanilla[n] += right[select(scored[:n], "vanilla")]
            if n == ns[-1]:
                gained += voted and not without
                lost += without and not voted
    problems = len(records)
    return {
        "auroc": auroc(positives, negatives),
        "right_candidates": len(positives),
        "wrong_candidates": len(negatives),
        "weighted": {n: weighted[n] / problems for n in ns},
        "weighted_no_votes": {n: unvoted[n] / problems for n in ns},
        "votes_changed": {"wrong_to_right": gained, "right_to_wrong": lost},
        "vanilla": {n: vanilla[n] / problems for n in ns},
        "scoring_seconds": seconds,
    }


def baselines(records: list[dict[str, Any]], ns: list[int]) -> dict[str, Any]:
    """Coverage (any of the first N right) and majority vote at each N."""
    coverage = dict.fromkeys(ns, 0)
    majority = dict.fromkeys(ns, 0)
    for record in records:
        candidates = record["candidates"]
        right = [grade(c["answer"], record["reference"]) for c in candidates]
        for n in ns:
            coverage[n] += any(right[:n])
            majority[n] += right[select(candidates[:n], "majority")]
    problems = len(records)
    return {
        "coverage": {n: coverage[n] / problems for n in ns},
        "majority": {n: majority[n] / problems for n in ns},
    }


def timing(
    policy: Any, verifiers: dict[str, Any], questions: list[str], config: dict[str, Any], n: int
) -> Any:
    """Seconds to generate N candidates for K questions vs seconds to score them."""
    from ttc_graph import create_best_of_n
    from ttc_graph.policy import SamplingParams

    sampling = SamplingParams(max_new_tokens=config["sampling"]["max_new_tokens"])
    graph = create_best_of_n(policy=policy, n=n, selection="majority", sampling=sampling, seed=1)
    out: dict[str, Any] = {"problems": len(questions), "n": n, "generation_seconds": 0.0}
    batches = []
    for q in questions:
        result = graph.invoke({"question": q})
        out["generation_seconds"] += result["usage"]["seconds"]
        batches.append((q, [c["steps"] for c in result["candidates"]]))
    for name, verifier in verifiers.items():
        started = time.perf_counter()
        for q, candidates in batches:
            verifier.score(q, candidates)
            for steps in candidates:  # the votes, as the score node asks for them
                verifier.support(q, steps)
        spent = time.perf_counter() - started
        out[name] = {"seconds": spent, "share_of_generation": spent / out["generation_seconds"]}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path, help="results.sqlite of a ttc-graph eval run")
    parser.add_argument("--verifiers", default="arithmetic,grounded,auto")
    parser.add_argument("--ns", default="1,4,16")
    parser.add_argument("--time", type=int, default=0, help="time verifiers on K fresh problems")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", type=Path, help="the JSONL the run used (not arithmetic)")
    parser.add_argument("--json", type=Path, help="write the table as JSON here")
    args = parser.parse_args()

    from ttc_graph import load_policy

    record = provenance.begin()
    ns = [int(v) for v in args.ns.split(",")]
    config, records = read_samples(args.db)
    questions = questions_of(records, args.dataset)
    embedded = "(embedded)" in str(config["model"])
    policy = load_policy(None if embedded else config["model"], device=args.device)
    verifiers = {name: load_verifier(name, policy=policy) for name in args.verifiers.split(",")}
    report: dict[str, Any] = {
        "db": str(args.db),
        "config": config,
        "problems": len(records),
        "candidates_per_problem": len(records[0]["candidates"]),
        "machine": f"{platform.machine()} {platform.processor()} "
        f"python {platform.python_version()}",
        "command": " ".join(sys.argv),
        **baselines(records, ns),
        "verifiers": {},
    }
    for name, verifier in verifiers.items():
        report["verifiers"][name] = table(records, questions, verifier, ns)
    if args.time:
        fresh = [questions[r["problem_id"]] for r in records][: args.time]
        report["timing"] = timing(policy, verifiers, fresh, config, max(ns))
    print(f"{len(records)} problems, coverage {report['coverage']}, majority {report['majority']}")
    for name, row in report["verifiers"].items():
        auc = row["auroc"]
        print(f"{name:>12}: AUROC {auc if auc is None else round(auc, 3)}  "
              f"weighted {row['weighted']} (no votes {row['weighted_no_votes']}, "
              f"changed {row['votes_changed']})  vanilla {row['vanilla']}")  # fmt: skip
    if "timing" in report:
        print(json.dumps(report["timing"], indent=1))
    report["provenance"] = provenance.finish(record)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
