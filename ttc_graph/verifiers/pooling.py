"""Process reward models on vLLM's pooling runner: in this process or on a server.

The input layout and the step positions are those of
:class:`~ttc_graph.verifiers.prm.PRMVerifier` (the same :class:`BasePRMVerifier`
code); vLLM only runs the forward pass, with the ``token_classify`` task and
``use_activation=False``, so it returns two raw logits per token and the scores
are the same softmax as with transformers:

- a per-token classifier (``Qwen2ForProcessRewardModel``, the architecture of
  Qwen2.5-Math-PRM, which vLLM implements natively) runs as it is;
- a causal-LM PRM (``chat``, ``step_tag``) is converted by vLLM into a two-label
  token classifier whose weights are the LM head's rows of the good and bad
  tokens (``--convert classify`` with ``classifier_from_token`` and
  ``method: no_post_processing``); :func:`vllm_prm_args` gives those flags.

:class:`VLLMPRMVerifier` drives a ``vllm.LLM`` (``load_prm(..., engine="vllm")``);
:class:`PoolingPRMVerifier` POSTs token ids to a server's ``/pooling`` route
(``load_prm(url=...)``, or the verifier spec ``http://host:port``), so the policy
and the PRM can each run on their own replicas (docs/serving.md).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import httpx
import torch
from pydantic import Field, PrivateAttr

from ttc_graph.errors import InputError, ModelLoadError, ServerError
from ttc_graph.verifiers.forward import ReadRow
from ttc_graph.verifiers.prm import BasePRMVerifier, PRMFormat
from ttc_graph.verifiers.prm_source import PRMSource, prm_source

# Every token's output, not only those of vLLM's step tag (Qwen2ForProcessRewardModel
# defaults to STEP pooling on token 151651): the step positions are found here, from
# character offsets, and a chat PRM is read one token before its marker.
POOLER_CONFIG = {"task": "token_classify", "tok_pooling_type": "ALL"}


def vllm_overrides(
    fmt: PRMFormat, tokenizer: Any, vocab_ids: Sequence[int] | None
) -> dict[str, Any]:
    """``vllm.LLM`` keyword arguments that make a PRM of ``fmt`` a two-label token classifier."""
    kwargs: dict[str, Any] = {"runner": "pooling", "pooler_config": dict(POOLER_CONFIG)}
    if fmt != "classifier" and vocab_ids is not None:
        tokens = tokenizer.convert_ids_to_tokens(list(vocab_ids))
        kwargs["convert"] = "classify"
        kwargs["hf_overrides"] = {"classifier_from_token": tokens, "method": "no_post_processing"}
    return kwargs


def vllm_prm_args(model: str | os.PathLike[str], **load_options: Any) -> list[str]:
    """The ``vllm serve`` flags that serve ``model`` for :class:`PoolingPRMVerifier`.

    ``load_options`` are :func:`~ttc_graph.verifiers.load_prm`'s (``format``,
    ``good_token``, ...). Only the tokenizer and config are read, never the weights.

    >>> vllm_prm_args("Qwen/Qwen2.5-Math-PRM-7B")  # doctest: +SKIP
    ['--runner', 'pooling',
     '--pooler-config', '{"task": "token_classify", "tok_pooling_type": "ALL"}']
    """
    src = prm_source(model, weights=False, **load_options)
    kwargs = vllm_overrides(src.format, src.tokenizer, src.token_ids()[0])
    args = ["--runner", kwargs["runner"], "--pooler-config", json.dumps(kwargs["pooler_config"])]
    if "convert" in kwargs:
        args += ["--convert", kwargs["convert"]]
        args += ["--hf-overrides", json.dumps(kwargs["hf_overrides"])]
    return args


def _at_positions(per_token: Any, row: ReadRow, what: str) -> torch.Tensor:
    """The rows of one sequence's per-token output at ``row.positions``."""
    data = torch.as_tensor(per_token, dtype=torch.float32)
    if data.dim() != 2 or data.shape[0] != len(row.ids):
        raise ModelLoadError(
            f"{what} returned output of shape {tuple(data.shape)} for {len(row.ids)} tokens; a "
            "PRM on the pooling runner returns one row of logits per token: serve it with "
            "the flags of ttc_graph.verifiers.vllm_prm_args(), whose --pooler-config asks for "
            "every token (tok_pooling_type ALL)."
        )
    return data[row.positions]


class VLLMPRMVerifier(BasePRMVerifier):
    """A PRM on a ``vllm.LLM`` pooling engine in this process.

    Make it with ``load_prm(model, engine="vllm")``; the scores equal
    :class:`~ttc_graph.verifiers.PRMVerifier`'s on the same weights.

    >>> from ttc_graph import load_prm  # doctest: +SKIP
    >>> prm = load_prm("Qwen/Qwen2.5-Math-PRM-7B", engine="vllm")
    >>> prm.invoke({"question": "What is 2 + 2?", "candidates": [["2 + 2 = 4.", "4"]]})
    [[0.98, 0.99]]
    """

    llm: Any = Field(repr=False)
    """A ``vllm.LLM`` made with ``runner="pooling"`` (:func:`vllm_overrides`)."""

    # vllm.LLM is not thread-safe; concurrent searches (graph.batch) score in threads.
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def read_logits(self, rows: Sequence[ReadRow]) -> list[Any]:
        """One ``encode`` call for all rows (vLLM batches them itself)."""
        from vllm import PoolingParams

        with self._lock:
            outputs = self.llm.encode(
                [{"prompt_token_ids": row.ids} for row in rows],
                pooling_task="token_classify",
                pooling_params=PoolingParams(use_activation=False),
                use_tqdm=False,
            )
        return [
            _at_positions(out.outputs.data, row, f"vLLM ({self.model_id})")
            for out, row in zip(outputs, rows, strict=True)
        ]

    def max_tokens(self) -> int | None:
        return int(self.llm.llm_engine.model_config.max_model_len)


def server_root(url: str) -> str:
    """``http://host:port`` from a server URL given with or without ``/v1``."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InputError(f"A PRM server URL starts with http:// or https://, got {url!r}.")
    root = url.strip().rstrip("/")
    return root.removesuffix("/v1")


class PoolingPRMVerifier(BasePRMVerifier):
    """A PRM served by vLLM's pooling runner, reached over HTTP.

    The tokenizer runs here (to lay the steps out and find their positions); the
    server gets token ids on ``POST /pooling`` with ``task="token_classify"`` and
    returns two logits per token. Serve the PRM with the flags of
    :func:`vllm_prm_args`, and make this with ``load_prm(url=...)``:

    >>> from ttc_graph import load_prm  # doctest: +SKIP
    >>> prm = load_prm(url="http://prm-host:8001")  # the tokenizer of the served model
    >>> prm.invoke({"question": "What is 2 + 2?", "candidates": [["2 + 2 = 4.", "4"]]})
    [[0.98, 0.99]]

    A server that cannot be reached or answers with an error raises
    :class:`~ttc_graph.errors.ServerError` naming the URL.
    """

    url: str
    """The server, ``http://host:port`` (a trailing ``/v1`` is ignored)."""
    served_model: str
    """The name the server answers to (``--served-model-name``; ``/v1/models``)."""
    timeout_s: float = 120.0
    """Seconds one request may take (connecting: at most 10)."""
    max_model_len: int | None = None
    """The server's ``--max-model-len``; longer candidates are refused here."""

    def read_logits(self, rows: Sequence[ReadRow]) -> list[Any]:
        """One request per ``batch_size`` rows."""
        out: list[Any] = []
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            body = {
                "model": self.served_model,
                "input": [row.ids for row in chunk],
                "task": "token_classify",
                "use_activation": False,
            }
            answer = request_json(self.url, "/pooling", self.timeout_s, body)
            data = sorted(answer.get("data") or [], key=lambda d: int(d.get("index", 0)))
            if len(data) != len(chunk):
                raise ServerError(
                    f"The PRM server at {self.url} returned {len(data)} results for "
                    f"{len(chunk)} inputs."
                )
            what = f"The PRM server at {self.url}"
            out += [_at_positions(d["data"], row, what) for d, row in zip(data, chunk, strict=True)]
        return out

    def max_tokens(self) -> int | None:
        return self.max_model_len


def request_json(url: str, route: str, timeout_s: float, body: dict[str, Any] | None = None) -> Any:
    """GET (``body`` is ``None``) or POST ``route`` on the server at ``url``; its JSON answer.

    Raises :class:`ServerError` naming the URL when the server cannot be reached,
    times out, or answers with an HTTP error (with the start of its message).
    """
    target = server_root(url) + route
    timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
    try:
        if body is None:
            resp = httpx.get(target, timeout=timeout)
        else:
            resp = httpx.post(target, json=body, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ServerError(
            f"The PRM server at {target} did not answer within {timeout_s:.0f} s "
            f"({type(exc).__name__}); raise timeout_s or check the server."
        ) from exc
    except httpx.HTTPError as exc:
        raise ServerError(
            f"Cannot reach the PRM server at {target}: {type(exc).__name__}: {exc}. Is it "
            "running (vllm serve ... --runner pooling) and is the URL right?"
        ) from exc
    if resp.status_code != 200:
        raise ServerError(
            f"The PRM server at {target} answered HTTP {resp.status_code}: "
            f"{resp.text[:300].strip()}"
        )
    try:
        return resp.json()
    except ValueError as exc:
        raise ServerError(f"The PRM server at {target} did not answer JSON.") from exc


def server_model_info(url: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """The first model the server lists on ``/v1/models`` (``id``, ``root``, ``max_model_len``)."""
    listed = request_json(url, "/v1/models", timeout_s).get("data") or []
    if not listed:
        raise ServerError(f"The server at {server_root(url)} lists no model on /v1/models.")
    return dict(listed[0])


def connect_prm(
    url: str,
    *,
    model: str | os.PathLike[str] | None = None,
    format: PRMFormat | None = None,
    timeout_s: float = 120.0,
    trust_remote_code: bool = False,
    **fields: Any,
) -> PoolingPRMVerifier:
    """A :class:`PoolingPRMVerifier` for the PRM served at ``url`` (``load_prm(url=...)``).

    The served name, its ``max_model_len`` and (without ``model``) the path or hub
    id the server was started with come from ``/v1/models``; the tokenizer and
    config are read from ``model`` or that path here. Construction scores one probe
    solution on the server, so a wrong URL or model fails now, not mid-search.
    """
    if not isinstance(timeout_s, int | float) or not timeout_s > 0:
        raise InputError(f"timeout_s must be a number of seconds > 0, got {timeout_s!r}.")
    info = server_model_info(url, timeout_s=min(30.0, float(timeout_s)))
    tokenizer_from = model if model is not None else info.get("root") or info.get("id")
    batch_size = fields.pop("batch_size", 8)
    src = prm_source(
        str(tokenizer_from), format=format, trust_remote_code=trust_remote_code, weights=False,
        **fields,
    )  # fmt: skip
    limit = info.get("max_model_len")
    return PoolingPRMVerifier(
        url=server_root(url), served_model=str(info["id"]), timeout_s=float(timeout_s),
        max_model_len=int(limit) if isinstance(limit, int) else None, tokenizer=src.tokenizer,
        format=src.format, model_id=f"{src.name} at {server_root(url)}", batch_size=batch_size,
        **src.options,
    )  # fmt: skip


def load_vllm_prm(
    src: PRMSource,
    *,
    device: torch.device,
    dtype: str | torch.dtype | None,
    batch_size: int,
    trust_remote_code: bool,
    engine_options: dict[str, Any],
) -> VLLMPRMVerifier:
    """A :class:`VLLMPRMVerifier` over ``vllm.LLM(src.source, runner="pooling", ...)``.

    Raises :class:`InputError` naming the extra when vLLM is not installed, and
    :class:`ModelLoadError` when vLLM cannot run the architecture on its pooling runner.
    """
    from ttc_graph.policy.vllm_engine import engine_arguments, import_vllm

    vllm = import_vllm()  # the missing extra is named before anything else
    common = engine_arguments(device, dtype)
    _check_poolable(vllm, src)
    vocab_ids, _ = src.token_ids()
    kwargs: dict[str, Any] = {
        "model": src.source,
        **common,
        **vllm_overrides(src.format, src.tokenizer, vocab_ids),
        **({"trust_remote_code": True} if trust_remote_code else {}),
        **engine_options,
    }
    try:
        llm = vllm.LLM(**kwargs)
    except Exception as exc:  # vLLM raises anything from ValueError to RuntimeError
        raise ModelLoadError(
            f"vLLM could not load the PRM {src.name!r} ({', '.join(src.architectures)}) on its "
            f"pooling runner: {type(exc).__name__}: {str(exc)[:300]}. Use engine='transformers'."
        ) from exc
    return VLLMPRMVerifier(
        llm=llm, tokenizer=src.tokenizer, format=src.format, model_id=src.name,
        batch_size=batch_size, **src.options,
    )  # fmt: skip


def _check_poolable(vllm: Any, src: PRMSource) -> None:
    """Refuse, before any weights load, an architecture vLLM cannot run as this PRM."""
    supported = set(vllm.ModelRegistry.get_supported_archs())
    archs = src.architectures
    if src.format == "classifier":
        # A *ForTokenClassification is the causal LM of the same family with a head.
        ok = any(
            a in supported or a.replace("ForTokenClassification", "ForCausalLM") in supported
            for a in archs
            if "ProcessRewardModel" in a or a.endswith("ForTokenClassification")
        )
    else:
        ok = any(a.endswith("ForCausalLM") and a in supported for a in archs)
    if not ok:
        raise ModelLoadError(
            f"vLLM {getattr(vllm, '__version__', '')} cannot run {src.name} "
            f"({', '.join(archs) or 'unknown architecture'}) as a {src.format!r} PRM on its "
            "pooling runner; use engine='transformers'."
        )
