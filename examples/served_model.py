"""A served model as the policy: ChatOpenAI pointed at a vLLM (or llama.cpp) server.

    vllm serve Qwen/Qwen2.5-Math-1.5B-Instruct --port 8000
    TTC_GRAPH_SERVER_URL=http://localhost:8000/v1 python examples/served_model.py

The strategy graphs only need a policy, so swapping the embedded model for a
server is one line: ``ChatModelPolicy(ChatOpenAI(base_url=...))``. Best-of-N asks
the server for all ``n`` candidates in one request; the step search sends the
steps so far as a trailing assistant message that vLLM continues
(``continue_final_message``). Several machines behind one URL scale this out.

Environment: ``TTC_GRAPH_SERVER_URL`` (required), ``TTC_GRAPH_SERVER_MODEL`` (default:
the first model the server lists), ``TTC_GRAPH_SERVER_KEY`` (default: none),
``TTC_GRAPH_MAX_TOKENS`` (per solution or step, default 512), ``TTC_GRAPH_PRM_URL``
(a PRM served by vLLM's pooling runner, docs/serving.md; default: the arithmetic
checker as verifier).
"""

import os
import sys

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from ttc_graph import ArithmeticVerifier, create_beam_search, create_best_of_n, load_prm
from ttc_graph.policy import ChatModelPolicy, SamplingParams

QUESTION = (
    "A shop sells pens at 3 dollars each. Tom buys 4 pens and pays with 20 dollars. "
    "How much change does he get?"
)


def served_chat_model(url: str) -> ChatOpenAI:
    """A ChatOpenAI client for the server at ``url`` (an OpenAI-compatible /v1 base)."""
    key = SecretStr(os.environ.get("TTC_GRAPH_SERVER_KEY", "none"))
    model = os.environ.get("TTC_GRAPH_SERVER_MODEL")
    if not model:
        # vLLM and llama.cpp answer /v1/models; use what the server was started with.
        probe = ChatOpenAI(base_url=url, api_key=key, max_retries=0)
        model = probe.root_client.models.list().data[0].id
    return ChatOpenAI(base_url=url, api_key=key, model=model, timeout=300, max_retries=2)


def main() -> int:
    url = os.environ.get("TTC_GRAPH_SERVER_URL")
    if not url:
        print(
            "Set TTC_GRAPH_SERVER_URL to an OpenAI-compatible server, e.g.\n"
            "  vllm serve Qwen/Qwen2.5-Math-1.5B-Instruct --port 8000\n"
            "  TTC_GRAPH_SERVER_URL=http://localhost:8000/v1 python examples/served_model.py",
            file=sys.stderr,
        )
        return 2
    chat = served_chat_model(url)
    policy = ChatModelPolicy(chat, max_concurrency=16, continue_final_message=True)
    prm_url = os.environ.get("TTC_GRAPH_PRM_URL")
    # The PRM on its own replicas (vllm serve <prm> --runner pooling ..., docs/serving.md).
    verifier = load_prm(url=prm_url) if prm_url else ArithmeticVerifier()
    sampling = SamplingParams(
        temperature=0.8, max_new_tokens=int(os.environ.get("TTC_GRAPH_MAX_TOKENS", "512"))
    )

    best_of_n = create_best_of_n(
        policy=policy, verifier=verifier, n=8, selection="weighted", sampling=sampling, seed=0
    )
    result = best_of_n.invoke({"question": QUESTION})
    print(f"model: {policy.model_id}")
    print(f"best-of-8 answer: {result['answer']}")
    print(f"  candidates: {[c['answer'] for c in result['candidates']]}")
    print(f"  usage: {result['usage']}")

    beam = create_beam_search(
        policy=policy, verifier=verifier, n=4, beam_width=2, max_steps=4, sampling=sampling, seed=0
    )
    result = beam.invoke({"question": QUESTION})
    print(f"beam search answer: {result['answer']}")
    print(f"  usage: {result['usage']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
