"""LLM-as-judge: any policy model grades each step of a solution."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import ConfigDict, Field, PrivateAttr

from ttc_graph.errors import InputError
from ttc_graph.policy.base import Completion, GenerationRequest, SamplingParams
from ttc_graph.policy.huggingface import HuggingFacePolicy
from ttc_graph.verifiers.base import Verifier
from ttc_graph.verifiers.forward import ReadRow, read_logits

JUDGE_SYSTEM_PROMPT = (
    "You are a careful maths teacher. You check a student's solution one step at a time."
)
YES_NO_QUESTION = "Is step {step} correct? Answer Yes or No."
RATING_QUESTION = (
    "How likely is step {step} to be correct? Reply with one number from 0 (surely wrong) "
    "to 10 (surely right)."
)
_RATING = re.compile(r"(?<![\d.])(10|\d(?:\.\d+)?)(?:\s*/\s*10)?(?![\d])")
_STEP_NAME = re.compile(r"\bstep\s*\d+", re.IGNORECASE)
_YES = re.compile(r"\b(yes|correct|right)\b", re.IGNORECASE)
_NO = re.compile(r"\b(no|incorrect|wrong)\b", re.IGNORECASE)


class LLMJudgeVerifier(Verifier):
    """Asks a policy model whether each step is correct.

    With a :class:`~ttc_graph.policy.HuggingFacePolicy` (the embedded model
    included) the score of step *k* is P(yes) / (P(yes) + P(no)) for the first
    token of the answer to "Is step *k* correct? Answer Yes or No.", where "yes"
    pools the single-token spellings of ``yes_words`` (likewise ``no_words``). All
    (candidate, step) prompts run as one batched forward pass, in chunks of
    ``batch_size``. Any other policy (a served chat model without token
    probabilities) is asked for a 0-10 rating, generated greedily after
    ``rating_prefix`` and divided by 10; a reply without a rating is an error.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    policy: Any = Field(repr=False)
    """A :class:`~ttc_graph.policy.Policy`; a HuggingFacePolicy enables ``logprobs``."""
    method: Literal["auto", "logprobs", "generate"] = "auto"
    """``auto``: ``logprobs`` for a HuggingFacePolicy, else ``generate``."""
    batch_size: int = 16
    system_prompt: str = JUDGE_SYSTEM_PROMPT
    yes_words: tuple[str, ...] = ("Yes", "yes", "Correct", "correct")
    no_words: tuple[str, ...] = ("No", "no", "Incorrect", "incorrect", "Wrong", "wrong")
    max_new_tokens: int = 8
    """Room for the rating in ``generate`` mode."""
    rating_prefix: str = "Rating (0-10):"
    """Start of the judge's reply in ``generate`` mode, so that even a small model
    answers with a number; use "" for a policy that cannot continue a partial reply."""

    _yes_ids: list[int] = PrivateAttr(default_factory=list)
    _no_ids: list[int] = PrivateAttr(default_factory=list)

    def __init__(self, **kwargs: Any) -> None:
        # Checked after pydantic has built the object, so that errors reach the
        # caller as they are instead of wrapped in a ValidationError.
        super().__init__(**kwargs)
        self._validate()

    def _validate(self) -> None:
        """Validate the policy and, for ``logprobs``, find the yes/no token ids."""
        if self.policy is None or not callable(getattr(self.policy, "sample", None)):
            raise InputError(
                "LLMJudgeVerifier needs a policy with a sample() method, e.g. load_policy()."
            )
        if self.method not in ("auto", "logprobs", "generate"):
            raise InputError(
                f"method must be 'auto', 'logprobs' or 'generate', got {self.method!r}."
            )
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise InputError("batch_size and max_new_tokens must be >= 1.")
        if self.uses_logprobs:
            self._yes_ids = self._single_token_ids(self.yes_words)
            self._no_ids = self._single_token_ids(self.no_words)
            if not self._yes_ids or not self._no_ids or set(self._yes_ids) & set(self._no_ids):
                raise InputError(
                    "yes_words and no_words need at least one single-token word each, and no "
                    f"token in common (got yes ids {self._yes_ids}, no ids {self._no_ids})."
                )

    @property
    def uses_logprobs(self) -> bool:
        """True when steps are scored from next-token probabilities."""
        if self.method == "logprobs":
            if not isinstance(self.policy, HuggingFacePolicy):
                raise InputError(
                    "method='logprobs' needs a HuggingFacePolicy (a local model); other "
                    "policies are judged with method='generate'."
                )
            return True
        return self.method == "auto" and isinstance(self.policy, HuggingFacePolicy)

    def request(self, question: str, steps: Sequence[str], step: int) -> GenerationRequest:
        """The judging prompt for step ``step`` (0-based) of a solution."""
        ask = YES_NO_QUESTION if self.uses_logprobs else RATING_QUESTION
        shown = "\n\n".join(f"Step {i + 1}: {s.strip()}" for i, s in enumerate(steps[: step + 1]))
        user = f"Problem:\n{question.strip()}\n\nSolution so far:\n{shown}\n\n"
        return GenerationRequest(
            messages=(
                SystemMessage(self.system_prompt),
                HumanMessage(user + ask.format(step=step + 1)),
            ),
            prefix="" if self.uses_logprobs else self.rating_prefix,
        )

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """Judge every (candidate, step) prefix in one batched call."""
        requests = self._requests(question, candidates)
        if self.uses_logprobs:
            flat = self._yes_probabilities(requests)
        else:
            completions = self.policy.sample(requests, n=1, params=self._greedy())
            flat = self._ratings(completions, candidates)
        return _unflatten(flat, candidates)

    async def ascore_steps(
        self, question: str, candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Async twin; ``generate`` mode awaits the policy's ``asample``."""
        if self.uses_logprobs:
            return await super().ascore_steps(question, candidates)
        requests = self._requests(question, candidates)
        completions = await self.policy.asample(requests, n=1, params=self._greedy())
        return _unflatten(self._ratings(completions, candidates), candidates)

    def _requests(
        self, question: str, candidates: Sequence[Sequence[str]]
    ) -> list[GenerationRequest]:
        return [self.request(question, steps, k) for steps in candidates for k in range(len(steps))]

    # -- logprobs ------------------------------------------------------------------

    def _yes_probabilities(self, requests: list[GenerationRequest]) -> list[float]:
        tokenizer = self.policy.tokenizer
        rows = []
        for request in requests:
            ids = tokenizer(self.policy.render(request), add_special_tokens=False)["input_ids"]
            rows.append(ReadRow(ids=list(ids), positions=[len(ids) - 1]))
        logits = read_logits(
            self.policy.model,
            rows,
            batch_size=self.batch_size,
            vocab_ids=self._yes_ids + self._no_ids,
        )
        # Softmax over the yes and no tokens only: the mass on other tokens cancels.
        return [float(row.softmax(dim=-1)[0, : len(self._yes_ids)].sum()) for row in logits]

    def _single_token_ids(self, words: tuple[str, ...]) -> list[int]:
        ids: list[int] = []
        for word in words:
            for variant in (word, " " + word):
                encoded = self.policy.tokenizer.encode(variant, add_special_tokens=False)
                if len(encoded) == 1 and encoded[0] not in ids:
                    ids.append(int(encoded[0]))
        return ids

    # -- generate ------------------------------------------------------------------

    def _greedy(self) -> SamplingParams:
        return SamplingParams(temperature=0.0, max_new_tokens=self.max_new_tokens)

    def _ratings(
        self, completions: list[list[Completion]], candidates: Sequence[Sequence[str]]
    ) -> list[float]:
        where = [(i, k) for i, steps in enumerate(candidates) for k in range(len(steps))]
        ratings = []
        for (i, k), (completion, *_) in zip(where, completions, strict=True):
            rating = parse_rating(completion.text)
            if rating is None:
                raise RuntimeError(
                    f"The judge's reply for step {k} of candidate {i} has no rating: "
                    f"{completion.text[:200]!r}. Use a stronger judge model, or a "
                    "HuggingFacePolicy (scored from token probabilities)."
                )
            ratings.append(rating)
        return ratings


def parse_rating(text: str) -> float | None:
    """Read a 0-10 rating (or a yes/no verdict) from a judge's reply, as a score in [0, 1]."""
    # "Step 2 is fine: 8" names the step before rating it.
    match = _RATING.search(_STEP_NAME.sub(" ", text))
    if match is not None:
        return float(match.group(1)) / 10
    yes, no = _YES.search(text), _NO.search(text)
    if yes and (not no or yes.start() < no.start()):
        return 1.0
    if no:
        return 0.0
    return None


def _unflatten(flat: list[float], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
    out, start = [], 0
    for steps in candidates:
        out.append(flat[start : start + len(steps)])
        start += len(steps)
    return out
