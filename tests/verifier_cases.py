"""What the verifier tests score, in both tiers: one question and three candidates
(a right two-step solution, a wrong one, a one-step answer)."""

QUESTION = "Tom has 12 apples and buys 30 more. How many apples does he have?"
CANDIDATES = [
    ["12 + 30 = 42.\n\n", "The answer is 42."],
    ["12 - 30 = -18.\n\n", "The answer is -18."],
    ["He has 42 apples."],
]
