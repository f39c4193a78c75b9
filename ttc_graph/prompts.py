"""The prompts the strategies send, stated once (plain text: no LangChain here)."""

from __future__ import annotations

# Neutral on purpose: no worked example, so no problem that the README, demo, docs
# or tests use can leak into the model's answers through the prompt.
DEFAULT_SYSTEM_PROMPT = (
    "Solve the math problem step by step. Put a blank line between steps. Write each "
    "calculation as an equation with the numbers from the problem and its result. "
    "Finish with the sentence: The final answer is $\\boxed{ANSWER}$."
)

CRITIQUE_PROMPT = (
    "Here is a solution to the problem above:\n\n{solution}\n\n{hint}"
    "Check it step by step. Point out the first mistake and how to fix it. "
    "If every step is right, say: No mistakes."
)

REFINE_PROMPT = (
    "Your earlier solution:\n\n{solution}\n\nA reviewer said:\n\n{critique}\n\n"
    "Write a corrected solution from the start, step by step, ending with "
    "The final answer is $\\boxed{{ANSWER}}$."
)
