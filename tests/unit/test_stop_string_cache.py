"""The stop-string matcher cache: built once per tokenizer and stop strings, freed with
its tokenizer (a policy unloaded does not leave its vocabulary behind)."""

from __future__ import annotations

import gc
import weakref

from tokenizers import Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE
from transformers import PreTrainedTokenizerFast

from ttc_graph.policy.generation import _STOP_MATCHERS, stop_string_criteria


def small_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer of the 256 byte symbols (the layout SmolLM2's has)."""
    symbols = pre_tokenizers.ByteLevel.alphabet()
    inner = Tokenizer(BPE({s: i for i, s in enumerate(sorted(symbols))}, merges=[]))
    inner.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    inner.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=inner)


def test_one_matcher_per_tokenizer_and_stop_strings() -> None:
    tok = small_tokenizer()
    first = stop_string_criteria(tok, ("\n\n",))
    assert stop_string_criteria(tok, ("\n\n",)) is first
    assert stop_string_criteria(tok, ("Step",)) is not first
    assert stop_string_criteria(small_tokenizer(), ("\n\n",)) is not first


def test_a_matcher_goes_with_its_tokenizer() -> None:
    tok = small_tokenizer()
    matcher = weakref.ref(stop_string_criteria(tok, ("\n\n",)))
    assert tok in _STOP_MATCHERS
    del tok
    gc.collect()
    assert matcher() is None
