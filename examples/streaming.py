"""Watch a beam search as it runs: custom stream events from every node.

    python examples/streaming.py

Events: candidate_generated, step_scored, beam_pruned, answer_chosen. A UI can
draw the tree live from them; the final state also holds the full trace.
``TTC_GRAPH_MAX_TOKENS`` sets the tokens per step (default 48; the test suite runs
it shorter).
"""

import os

from ttc_graph import create_beam_search, load_policy
from ttc_graph.policy import SamplingParams
from ttc_graph.verifiers import ArithmeticVerifier


def main() -> None:
    graph = create_beam_search(
        policy=load_policy(),
        verifier=ArithmeticVerifier(),
        n=4,
        beam_width=2,
        max_steps=3,
        sampling=SamplingParams(
            temperature=0.8, max_new_tokens=int(os.environ.get("TTC_GRAPH_MAX_TOKENS", "48"))
        ),
        seed=0,
    )
    question = {"question": "Lena reads 12 pages a day for 3 days. How many pages does she read?"}
    for mode, chunk in graph.stream(question, stream_mode=["custom", "updates"]):
        if mode == "updates":
            print(f"-- node finished: {', '.join(chunk)}")
            continue
        event = chunk["event"]
        if event == "candidate_generated":
            print(f"   + {chunk['id']:<6} {chunk['text'].strip()[:60]!r}")
        elif event == "step_scored":
            print(f"   ~ {chunk['id']:<6} score {chunk['score']:.2f}")
        elif event == "beam_pruned":
            print(f"   kept {chunk['kept']} finished {chunk['finished']} pruned {chunk['pruned']}")
        elif event == "answer_chosen":
            print(f"answer: {chunk['answer']} (from {chunk['id']})")


if __name__ == "__main__":
    main()
