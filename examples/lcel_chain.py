"""A strategy graph as one step of an LCEL chain.

    python examples/lcel_chain.py

prompt | majority-vote best-of-N | StrOutputParser: the chain returns the answer
string; the AIMessage in the middle carries the candidates and usage.
``TTC_GRAPH_MAX_TOKENS`` sets the tokens per solution (default 96; the test suite
runs it shorter).
"""

import os

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from ttc_graph import as_chain, create_best_of_n, load_policy
from ttc_graph.policy import SamplingParams


def main() -> None:
    policy = load_policy()  # embedded SmolLM2-135M-Instruct; pass a hub id or dir for another
    graph = create_best_of_n(
        policy=policy,
        n=4,
        selection="majority",
        sampling=SamplingParams(
            temperature=0.7, max_new_tokens=int(os.environ.get("TTC_GRAPH_MAX_TOKENS", "96"))
        ),
        seed=0,
    )
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Solve the problem. End with: The final answer is $\\boxed{{N}}$."),
            ("human", "{problem}"),
        ]
    )
    chain = prompt | as_chain(graph) | StrOutputParser()
    for problem in ["What is 15 + 27?", "A box holds 6 eggs. How many eggs are in 3 boxes?"]:
        print(f"{problem} -> {chain.invoke({'problem': problem})}")

    # The middle of the chain is an AIMessage with the details in response_metadata.
    message = (prompt | as_chain(graph)).invoke({"problem": "What is 15 + 27?"})
    votes = [c["answer"] for c in message.response_metadata["candidates"]]
    print(f"votes: {votes}; usage: {message.response_metadata['usage']}")


if __name__ == "__main__":
    main()
