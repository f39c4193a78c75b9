"""Process reward models: the three layouts used in the literature, run with transformers.

``chat``
    Each step is a user turn answered by an assistant turn ``+``; a step's score
    is P("+") against P("-") where the model predicts that answer
    (RLHFlow/Llama3.1-8B-PRM-Deepseek-Data and -Mistral-Data).
``step_tag``
    ``question step1 ки\\nstep2 ки``; a step's score is P("+") against P("-") read
    at its tag (peiyi9979/math-shepherd-mistral-7b-prm).
``classifier``
    A chat with the steps joined by ``<extra_0>`` in the assistant turn and a
    two-label head on every token; a step's score is P(label 1) at its separator
    (Qwen/Qwen2.5-Math-PRM-7B).

Marker positions are located from character offsets, never by searching for a
token id, so a "+" or "-" inside the question or a step cannot be mistaken for one.

:class:`BasePRMVerifier` holds all of that (the tokenizer side); a subclass only
says how the two logits at each chosen token are computed: :class:`PRMVerifier`
with a transformers model, and the vLLM ones in :mod:`ttc_graph.verifiers.pooling`
with a ``vllm.LLM`` or a server's pooling endpoint.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field, PrivateAttr

from ttc_graph.errors import InputError, ModelLoadError, ServerError
from ttc_graph.verifiers.base import Verifier
from ttc_graph.verifiers.forward import ReadRow, read_logits

PRMFormat = Literal["chat", "step_tag", "classifier"]
PRM_FORMATS: tuple[str, ...] = get_args(PRMFormat)
QWEN_PRM_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."
_PROBE_QUESTION = "What is 1 + 1?"
_PROBE_STEPS = ["1 + 1 = 2.", "The answer is 2."]


@dataclass(frozen=True)
class _Layout:
    text: str
    markers: list[int]  # character offset of each step's marker in ``text``
    marker: str  # the marker text at those offsets
    add_special_tokens: bool


class BasePRMVerifier(Verifier):
    """A PRM's input layout and scores, whatever runs its forward pass.

    Subclasses implement :meth:`read_logits`. Construction checks that the
    tokenizer has the format's tokens and that one probe solution scores, so a
    model that is not a PRM of that format fails here, not mid-search.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    tokenizer: Any = Field(repr=False)
    format: PRMFormat
    model_id: str = "PRM"
    """Shown in error messages and as the runnable's name."""
    batch_size: int = 8
    """Candidates per forward pass; lower it if the GPU runs out of memory."""
    good_token: str = "+"
    bad_token: str = "-"
    step_tag: str = "ки"
    separator: str = "<extra_0>"
    system_prompt: str = QWEN_PRM_SYSTEM_PROMPT
    """System message of the ``classifier`` layout (empty: none)."""

    _vocab_ids: list[int] | None = PrivateAttr(default=None)
    _marker_id: int | None = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        # Checked after pydantic has built the object, so that errors reach the
        # caller as they are instead of wrapped in a ValidationError.
        super().__init__(**kwargs)
        self._validate()

    def _validate(self) -> None:
        """Resolve the format's token ids and score a probe solution."""
        if self.format not in PRM_FORMATS:
            raise InputError(f"Unknown PRM format {self.format!r}; use one of {PRM_FORMATS}.")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {self.batch_size!r}.")
        if self.name is None:
            self.name = f"{type(self).__name__}({self.model_id})"
        self._resolve_tokens()
        try:
            self.score_steps(_PROBE_QUESTION, [_PROBE_STEPS])
        except ServerError:
            raise  # the server's fault, not the model's: its message says what to check
        except (IndexError, RuntimeError, ValueError) as exc:
            raise ModelLoadError(
                f"{self.model_id} does not work as a {self.format!r} PRM: {exc}"
            ) from exc

    # -- scoring -----------------------------------------------------------------

    @abstractmethod
    def read_logits(self, rows: Sequence[ReadRow]) -> list[Any]:
        """For each row, a ``(len(row.positions), 2)`` float tensor of logits.

        The two columns are (good token, bad token) for the ``chat`` and ``step_tag``
        layouts (:func:`prm_token_ids`) and the classifier's labels (bad, good) otherwise.
        """

    def max_tokens(self) -> int | None:
        """The longest input the model accepts, if known."""
        return None

    def check_vocab(self, vocab_ids: list[int]) -> None:
        """Raise :class:`ModelLoadError` if the model's vocabulary lacks ``vocab_ids``."""

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """One forward pass per ``batch_size`` candidates, reading every step's score."""
        rows = [
            self._locate(self._layout(question, steps), i) for i, steps in enumerate(candidates)
        ]
        logits = self.read_logits(rows)
        scores = []
        for row_logits in logits:
            if row_logits.shape[-1] != 2:
                raise ModelLoadError(
                    f"{self.model_id}'s head gives {row_logits.shape[-1]} outputs per token; a "
                    "classifier PRM gives 2 (bad, good). This model is not such a PRM."
                )
            probs = row_logits.softmax(dim=-1)
            # LM layouts list (good, bad); a classifier head has label 1 = good.
            good = probs[:, 1] if self._vocab_ids is None else probs[:, 0]
            scores.append([float(p) for p in good])
        return scores

    def _locate(self, layout: _Layout, index: int) -> ReadRow:
        enc = self.tokenizer(
            layout.text,
            add_special_tokens=layout.add_special_tokens,
            return_offsets_mapping=True,
        )
        ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
        limit = self.max_tokens()
        if isinstance(limit, int) and len(ids) > limit:
            raise InputError(
                f"Candidate {index} is {len(ids)} tokens long with the question, more than "
                f"{self.model_id} accepts ({limit}); score shorter solutions."
            )
        positions = []
        t = 0
        for step, start in enumerate(layout.markers):
            t = marker_token(offsets, start, len(layout.marker), first=t)
            if t >= 0 and self._marker_id is not None and ids[t] != self._marker_id:
                t = -1
            if t < 0:
                raise InputError(
                    f"{self.model_id}: no single {layout.marker!r} token after step {step} of "
                    f"candidate {index}; the tokenizer merges it with the text around it."
                )
            # A chat PRM predicts its "+" from the token before it.
            positions.append(t - 1 if self.format == "chat" else t)
        return ReadRow(ids=ids, positions=positions)

    # -- layouts -----------------------------------------------------------------

    def _layout(self, question: str, steps: Sequence[str]) -> _Layout:
        clean = [s.strip() for s in steps]
        question = question.strip()
        if self.format == "step_tag":
            return self._step_tag_layout(question, clean)
        if self.format == "chat":
            return self._chat_layout(question, clean)
        return self._classifier_layout(question, clean)

    def _step_tag_layout(self, question: str, steps: list[str]) -> _Layout:
        text, markers = f"{question} ", []
        for k, step in enumerate(steps):
            text += ("\n" if k else "") + f"{step} "
            markers.append(len(text))
            text += self.step_tag
        return _Layout(text, markers, self.step_tag, add_special_tokens=True)

    def _chat_layout(self, question: str, steps: list[str]) -> _Layout:
        conversation: list[dict[str, str]] = []
        markers = []
        for k, step in enumerate(steps):
            content = f"{question} {step}" if k == 0 else step
            conversation.append({"role": "user", "content": content})
            markers.append(len(self._render(conversation, generation_prompt=True)))
            conversation.append({"role": "assistant", "content": self.good_token})
        text = self._render(conversation, generation_prompt=False)
        return self._check_markers(
            _Layout(text, markers, self.good_token, add_special_tokens=False)
        )

    def _classifier_layout(self, question: str, steps: list[str]) -> _Layout:
        messages = [{"role": "user", "content": question}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        head = self._render(messages, generation_prompt=True)
        body, markers = "", []
        for step in steps:
            body += step
            markers.append(len(head) + len(body))
            body += self.separator
        text = self._render([*messages, {"role": "assistant", "content": body}], False)
        return self._check_markers(_Layout(text, markers, self.separator, add_special_tokens=False))

    def _render(self, messages: list[dict[str, str]], generation_prompt: bool) -> str:
        return str(
            self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation_prompt
            )
        )

    def _check_markers(self, layout: _Layout) -> _Layout:
        # Offsets come from rendering prefixes of the chat; a template that renders
        # a prefix differently from the full chat would put them in the wrong place.
        for start in layout.markers:
            if layout.text[start : start + len(layout.marker)] != layout.marker:
                raise InputError(
                    f"{self.model_id}'s chat template renders a conversation differently "
                    f"from its beginning, so the {layout.marker!r} markers cannot be located."
                )
        return layout

    # -- tokens ------------------------------------------------------------------

    def _resolve_tokens(self) -> None:
        self._vocab_ids, self._marker_id = prm_token_ids(
            self.tokenizer,
            self.format,
            good_token=self.good_token,
            bad_token=self.bad_token,
            separator=self.separator,
            model_id=self.model_id,
        )
        if self._vocab_ids is not None:
            self.check_vocab(self._vocab_ids)


def prm_token_ids(
    tokenizer: Any,
    format: PRMFormat,
    *,
    good_token: str = "+",
    bad_token: str = "-",
    separator: str = "<extra_0>",
    model_id: str = "PRM",
) -> tuple[list[int] | None, int | None]:
    """A PRM's ``(good, bad)`` token ids (``None`` for a classifier) and marker token id.

    The marker id is that of the ``chat`` layout's ``+`` answer or the
    ``classifier`` layout's separator (``None`` for ``step_tag``, whose tag may be
    merged with the space before it). Raises :class:`ModelLoadError` when the
    tokenizer cannot write the layout's tokens as single tokens.

    >>> prm_token_ids(tokenizer, "classifier")  # doctest: +SKIP
    (None, 151651)
    """
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if format in ("chat", "classifier") and not has_template:
        raise ModelLoadError(
            f"{model_id}: a {format!r} PRM needs a tokenizer with a chat template, "
            "and this one has none. Use the PRM's own tokenizer, or format='step_tag'."
        )

    def single(text: str) -> int:
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ModelLoadError(
                f"{model_id} is not a {format!r} PRM: its tokenizer writes {text!r} as "
                f"{len(ids)} tokens, but this format reads one token there."
            )
        return int(ids[0])

    if format == "classifier":
        return None, single(separator)
    if format == "chat":
        vocab_ids = [single(good_token), single(bad_token)]
        marker: int | None = vocab_ids[0]
    else:
        # Encoded together, as in training, so each gets its in-context form.
        ids = tokenizer.encode(f"{good_token} {bad_token}", add_special_tokens=False)
        if len(ids) != 2:
            raise ModelLoadError(
                f"{model_id} is not a step-tag PRM: its tokenizer writes "
                f"'{good_token} {bad_token}' as {len(ids)} tokens, not 2."
            )
        vocab_ids, marker = [int(i) for i in ids], None
    if vocab_ids[0] == vocab_ids[1]:
        raise InputError("good_token and bad_token must be different tokens.")
    return vocab_ids, marker


class PRMVerifier(BasePRMVerifier):
    """A learned process reward model run with transformers; create it with
    :func:`ttc_graph.load_prm`.

    It can also wrap a model and tokenizer already in memory:

    >>> prm = PRMVerifier(model=m, tokenizer=t, format="chat")  # doctest: +SKIP
    >>> prm.invoke({"question": "What is 2 + 2?", "candidates": [["2 + 2 = 4.", "4"]]})
    [[0.93, 0.97]]
    """

    model: Any = Field(repr=False)
    """A transformers causal LM (``chat``, ``step_tag``) or per-token classifier."""

    def read_logits(self, rows: Sequence[ReadRow]) -> list[Any]:
        """Batched forward passes of :attr:`model` (:func:`.forward.read_logits`)."""
        return read_logits(self.model, rows, batch_size=self.batch_size, vocab_ids=self._vocab_ids)

    def max_tokens(self) -> int | None:
        limit = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return limit if isinstance(limit, int) else None

    def check_vocab(self, vocab_ids: list[int]) -> None:
        head = self.model.get_output_embeddings()
        size = head.weight.shape[0] if head is not None else None
        if size is not None and max(vocab_ids) >= size:
            raise ModelLoadError(
                f"{self.model_id}'s vocabulary ({size}) lacks the tokenizer's good/bad token "
                "ids; the tokenizer does not belong to this model."
            )


def marker_token(
    offsets: Sequence[tuple[int, int]], start: int, length: int, *, first: int = 0
) -> int:
    """Index of the one token spelling ``text[start:start + length]``, or -1.

    The token may include one character before the marker (a sentencepiece
    "▁ки" spells " ки") but nothing after it.
    """
    t = first
    while t < len(offsets) and offsets[t][1] <= start:
        t += 1
    if t < len(offsets) and offsets[t][0] >= start - 1 and offsets[t][1] == start + length:
        return t
    return -1
