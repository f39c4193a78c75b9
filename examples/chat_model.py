"""ChatTTC: a chat model that searches, dropped into an existing LangChain chain.

    python examples/chat_model.py

The chain below is written for any chat model (``ChatOpenAI``, ``ChatOllama``, ...).
Swapping in ``ChatTTC`` is the only change: every answer is now weighted best-of-N
over the embedded SmolLM2-135M-Instruct, checked by the grounded verifier. Per call,
``configurable`` asks for less (or more) search. ``TTC_GRAPH_MAX_TOKENS`` sets the
tokens per solution (default 96; the test suite runs it shorter).

To make a served model think longer instead, pass it as the policy:
``ChatTTC(policy=ChatOpenAI(base_url="http://localhost:8000/v1", model=...), n=8)``.
"""

import os

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from ttc_graph import ChatTTC


def main() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Solve the problem. End with: The final answer is $\\boxed{{N}}$."),
            ("human", "{problem}"),
        ]
    )
    # Was: chat = ChatOpenAI(model="gpt-4o-mini", max_tokens=96)
    chat = ChatTTC(
        strategy="weighted",
        n=8,
        max_tokens=int(os.environ.get("TTC_GRAPH_MAX_TOKENS", "96")),
        temperature=0.7,
        seed=0,
    )
    chain = prompt | chat | StrOutputParser()
    problem = "A box holds 6 eggs. How many eggs are in 3 boxes?"
    print("solution:", chain.invoke({"problem": problem}).strip())

    # The message itself says what the search chose and what it cost.
    message = (prompt | chat).invoke({"problem": problem})
    meta = message.response_metadata
    print(f"answer: {meta['answer']} (score {meta['score']}, {meta['n']} candidates)")
    print(f"usage: {message.usage_metadata}")

    # A quick answer this time: two candidates, majority vote, no verifier needed.
    quick = chain.with_config(configurable={"n": 2, "strategy": "majority"})
    print("quick:", quick.invoke({"problem": "What is 15 + 27?"}).strip()[-60:])

    # Streamed: the chosen solution, step by step, once the search has chosen it.
    for chunk in chat.stream("What is 9 + 6?"):
        print("chunk:", repr(chunk.content))


if __name__ == "__main__":
    main()
