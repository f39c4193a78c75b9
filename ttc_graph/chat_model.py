"""``ChatTTC``: a LangChain chat model that answers by searching.

Swap it for ``ChatOpenAI`` (or any chat model) in a chain and every answer is a
test-time compute search: N samples and a verifier, a beam search, a self-refinement.
Its fields are the strategy, the policy that writes candidates (the embedded model, a
model id or directory, or *any* LangChain chat model), the verifier, and the run
options of :data:`ttc_graph.strategies.OPTIONS` (``n``, ``seed``, ``beam_width``, ...;
``max_tokens`` stands for ``max_new_tokens``, as in every LangChain chat model).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, ClassVar

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.callbacks.manager import adispatch_custom_event, dispatch_custom_event
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig, ensure_config
from pydantic import ConfigDict, Field, PrivateAttr, create_model

from ttc_graph.errors import InputError, TTCGraphError
from ttc_graph.strategies.context import unknown_option
from ttc_graph.strategies.options import OPTIONS
from ttc_graph.strategies.registry import SPECS, get_spec

_RENAMED = {"max_new_tokens": "max_tokens"}
"""Run options that ChatTTC spells as LangChain's chat models do."""
_OPTION_OF = {field: option for option, field in _RENAMED.items()}
_STREAM_CALL: ContextVar[RunnableConfig | None] = ContextVar("ttc_graph_stream_call", default=None)
"""The config of a ``stream``/``astream`` call, for its ``_stream`` (see ``_stream_child``)."""
_POLICIES: dict[str, Any] = {}
_POLICIES_LOCK = threading.Lock()


class UnsupportedError(TTCGraphError, NotImplementedError):
    """A chat-model feature a search cannot offer; the message says what to use instead."""


def _option_fields() -> dict[str, Any]:
    """One field per run option (``None``: the strategy's default)."""
    return {
        _RENAMED.get(name, name): (Any, Field(default=None, description=option.help))
        for name, option in OPTIONS.items()
    }


_ChatTTCFields = create_model(
    "_ChatTTCFields", __base__=BaseChatModel, __module__=__name__, **_option_fields()
)


class ChatTTC(_ChatTTCFields):  # type: ignore[misc,valid-type]
    """A chat model that searches: each answer is a test-time compute strategy's choice.

    Args:
        strategy: A strategy name (:data:`ttc_graph.strategies.SPECS`): ``weighted``
            (default), ``majority``, ``best_of_n``, ``beam_search``, ``dvts``,
            ``adaptive``, ``self_refine``, ``greedy``.
        policy: What writes the candidates: ``None`` (the embedded model), a model id,
            directory or GGUF path (:func:`ttc_graph.load_policy`), a loaded policy, or
            any LangChain chat model (``ChatOpenAI(base_url=...)`` to a vLLM server),
            wrapped in :class:`~ttc_graph.policy.ChatModelPolicy`.
        verifier: What scores them: ``None`` (``auto`` where the strategy needs one), a
            spec as ``--verifier`` takes (``"grounded"``, a trained-verifier or PRM
            directory, ...), or a loaded :class:`~ttc_graph.verifiers.Verifier`.
        n, seed, max_tokens, temperature, top_p, beam_width, max_steps, ...: run options
            (``max_tokens`` is the option ``max_new_tokens``); ``None`` keeps the
            strategy's default. Each may also come per call:
            ``chat.with_config(configurable={"n": 4, "strategy": "majority"})``.

    ``invoke`` returns an ``AIMessage`` whose content is the chosen solution;
    ``response_metadata`` holds its ``answer``, the ``strategy``, ``n``, the chosen
    candidate's ``score`` and ``budget_limited``; ``usage_metadata`` counts every token
    of every candidate. ``stream`` yields the solution in chunks once the search has
    chosen it, and the search's events reach ``astream_events`` as custom events
    while it runs. ``batch`` runs the searches at once, sharing the policy's batches.

    Example:
        >>> from langchain_core.output_parsers import StrOutputParser
        >>> from langchain_core.prompts import ChatPromptTemplate
        >>> from ttc_graph import ChatTTC
        >>> chat = ChatTTC(strategy="weighted", n=8, max_tokens=128, seed=0)
        >>> chain = ChatPromptTemplate.from_template("{problem}") | chat | StrOutputParser()
        >>> chain.invoke({"problem": "What is 17 + 25?"})  # doctest: +SKIP
        >>> chat.with_config(configurable={"n": 2}).invoke("What is 2 + 3?")  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    strategy: str = "weighted"
    policy: Any = None
    verifier: Any = None

    SETTINGS: ClassVar[tuple[str, ...]] = ("strategy",)
    """Fields besides the run options that a call may change (``configurable``)."""

    _graphs: dict[tuple[str, Any], Any] = PrivateAttr(default_factory=dict)
    _verifiers: dict[Any, Any] = PrivateAttr(default_factory=dict)
    _loaded_policy: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, **fields: Any) -> None:
        """Check everything that needs no model now, not at the first call (after
        pydantic's validation, so that an error is the one-line ``InputError``)."""
        super().__init__(**fields)
        self._settings({})
        if self.policy is not None and not (
            isinstance(self.policy, str | os.PathLike | BaseChatModel)
            or callable(getattr(self.policy, "sample", None))
        ):
            raise InputError(
                "policy must be None (the embedded model), a model id or directory, a "
                "ttc-graph policy or a LangChain chat model, got "
                f"{type(self.policy).__name__}."
            )
        if isinstance(self.verifier, str | os.PathLike):
            from ttc_graph.specs import check_verifier_spec

            check_verifier_spec(self.verifier)

    @property
    def _llm_type(self) -> str:
        return "ttc-graph"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        strategy, _, options = self._settings({})
        return {
            "strategy": strategy,
            "policy": _name_of(self.policy, "embedded"),
            "verifier": _name_of(self.verifier, None),
            **options,
        }

    # -- settings --------------------------------------------------------------------

    def _settings(self, overrides: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        """The strategy, verifier and run options of one call: the fields, with
        ``overrides`` (call keywords and ``configurable``) applied, checked."""
        for key in overrides:
            if key not in self.SETTINGS and key not in _OPTION_OF and key not in OPTIONS:
                raise InputError(
                    f"ChatTTC takes no {key!r}; it takes strategy and the run options "
                    f"({', '.join(_RENAMED.get(n, n) for n in OPTIONS)})."
                )
        strategy = overrides.get("strategy", self.strategy)
        if strategy not in SPECS:
            raise InputError(f"Unknown strategy {strategy!r}; choose one of {', '.join(SPECS)}.")
        spec = get_spec(strategy)
        options: dict[str, Any] = {}
        for name in OPTIONS:
            field = _RENAMED.get(name, name)
            value = overrides.get(field, overrides.get(name, getattr(self, field)))
            if value is None:
                continue
            if name not in spec.options.names:
                raise InputError(unknown_option(strategy, field, spec.options.names))
            options[name] = value
        verifier = (
            self.verifier
            if self.verifier is not None
            else ("auto" if spec.needs_verifier else None)
        )
        spec.check(options, verifier=verifier is not None)
        return strategy, verifier, options

    def _call_settings(
        self, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """What ``configurable`` asks of this call (its keys that are ChatTTC's own),
        merged with the call's keywords (which win)."""
        configurable = ensure_config(config).get("configurable") or {}
        names = {*self.SETTINGS, *OPTIONS, *_OPTION_OF}
        return {**{k: v for k, v in configurable.items() if k in names}, **kwargs}

    # -- the graph ---------------------------------------------------------------------

    def _policy(self) -> Any:
        with self._lock:
            if self._loaded_policy is None:
                self._loaded_policy = _resolve_policy(self.policy)
            return self._loaded_policy

    def _graph(self, strategy: str, verifier: Any) -> Any:
        key = (strategy, verifier if isinstance(verifier, str | None) else id(verifier))
        with self._lock:
            if key in self._graphs:
                return self._graphs[key]
        policy = self._policy()
        loaded = self._verifier(verifier, policy)
        graph = get_spec(strategy).build(policy=policy, verifier=loaded)
        with self._lock:
            return self._graphs.setdefault(key, graph)

    def _verifier(self, verifier: Any, policy: Any) -> Any:
        if verifier is None or not isinstance(verifier, str | os.PathLike):
            return verifier
        with self._lock:
            if verifier not in self._verifiers:
                from ttc_graph.verifiers import load_verifier

                self._verifiers[verifier] = load_verifier(str(verifier), policy=policy)
            return self._verifiers[verifier]

    def _prepare(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        if stop:
            raise InputError(
                "ChatTTC does not take stop sequences: a search writes whole solutions "
                "(steps end at the step_delimiter option)."
            )
        strategy, verifier, options = self._settings(kwargs)
        return self._graph(strategy, verifier), {"messages": messages}, options

    # -- BaseChatModel -----------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        graph, graph_input, options = self._prepare(messages, stop, kwargs)
        result = graph.invoke(graph_input, _child(run_manager), context=options)
        return ChatResult(generations=[ChatGeneration(message=to_message(result))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        graph, graph_input, options = self._prepare(messages, stop, kwargs)
        result = await graph.ainvoke(graph_input, _child(run_manager), context=options)
        return ChatResult(generations=[ChatGeneration(message=to_message(result))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        graph, graph_input, options = self._prepare(messages, stop, kwargs)
        child = _child(run_manager) if run_manager else self._stream_child()
        result: dict[str, Any] = {}
        for mode, chunk in graph.stream(
            graph_input, child, context=options, stream_mode=["custom", "values"]
        ):
            if mode == "values":
                result = chunk
            elif child:
                dispatch_custom_event(chunk["event"], chunk, config=child)
        for piece in to_chunks(result):
            if run_manager is not None:
                run_manager.on_llm_new_token(piece.text, chunk=piece)
            yield piece

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        graph, graph_input, options = self._prepare(messages, stop, kwargs)
        child = _child(run_manager) if run_manager else self._stream_child()
        result: dict[str, Any] = {}
        async for mode, chunk in graph.astream(
            graph_input, child, context=options, stream_mode=["custom", "values"]
        ):
            if mode == "values":
                result = chunk
            elif child:
                await adispatch_custom_event(chunk["event"], chunk, config=child)
        for piece in to_chunks(result):
            if run_manager is not None:
                await run_manager.on_llm_new_token(piece.text, chunk=piece)
            yield piece

    def _stream_child(self) -> Any:
        """The child config of a ``stream``/``astream`` call (which hands ``_stream`` no run
        manager): rebuilt from the call's config, under the run id given to it there."""
        parent = _STREAM_CALL.get()
        if parent is None:
            return {}
        _STREAM_CALL.set(None)
        manager = CallbackManager.configure(
            parent.get("callbacks"),
            self.callbacks,
            self.verbose,
            parent.get("tags"),
            self.tags,
            parent.get("metadata"),
            self.metadata,
        )
        manager.parent_run_id = parent["run_id"]
        return {"callbacks": manager}

    # Per-call settings from ``configurable``: BaseChatModel hands ``_generate`` only
    # the call's keywords, so they are read here and passed on as keywords.

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """As any chat model's ``invoke``; ``configurable`` may change the search."""
        return super().invoke(input, config, stop=stop, **self._call_settings(config, kwargs))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """As any chat model's ``ainvoke``; ``configurable`` may change the search."""
        settings = self._call_settings(config, kwargs)
        return await super().ainvoke(input, config, stop=stop, **settings)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """As any chat model's ``stream``; ``configurable`` may change the search."""
        config = _with_run_id(config)
        settings = self._call_settings(config, kwargs)
        yield from super().stream(input, config, stop=stop, **settings)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """As any chat model's ``astream``; ``configurable`` may change the search."""
        config = _with_run_id(config)
        settings = self._call_settings(config, kwargs)
        async for chunk in super().astream(input, config, stop=stop, **settings):
            yield chunk

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        """Not available: a search answers; it does not call tools."""
        raise UnsupportedError(
            "ChatTTC searches for an answer and cannot call tools. To let an agent use a "
            "search, give the agent a strategy graph as a tool: ttc_graph.as_tool(graph, "
            "name=..., description=...), with its own tool-calling chat model."
        )

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
        """Not available: a search returns a solution text and its answer."""
        raise UnsupportedError(
            "ChatTTC returns a solution text; its final answer is in "
            "response_metadata['answer']. For structured output, pass ChatTTC's message "
            "to a parser or to a chat model that supports with_structured_output."
        )


def to_message(result: dict[str, Any]) -> AIMessage:
    """The ``AIMessage`` of a finished search (see :class:`ChatTTC`)."""
    return AIMessage(
        content=result.get("solution") or "",
        response_metadata=_metadata(result),
        usage_metadata=_usage(result),
    )


def to_chunks(result: dict[str, Any]) -> list[ChatGenerationChunk]:
    """A finished search's solution as chunks, one per step; the last carries the
    metadata and usage (so the chunks add up to :func:`to_message`)."""
    solution = result.get("solution") or ""
    chosen = _chosen(result)
    steps = list(chosen["steps"]) if chosen else []
    pieces = steps if steps and "".join(steps) == solution else [solution]
    chunks = [ChatGenerationChunk(message=AIMessageChunk(content=p)) for p in pieces[:-1]]
    last = AIMessageChunk(
        content=pieces[-1],
        response_metadata=_metadata(result),
        usage_metadata=_usage(result),
        chunk_position="last",
    )
    return [*chunks, ChatGenerationChunk(message=last)]


def _chosen(result: dict[str, Any]) -> dict[str, Any] | None:
    """The candidate the search chose (``None`` when it produced none)."""
    solution = result.get("solution")
    return next((c for c in result.get("candidates") or [] if c["text"] == solution), None)


def _metadata(result: dict[str, Any]) -> dict[str, Any]:
    chosen = _chosen(result)
    options = result.get("options") or {}
    return {
        "answer": result.get("answer"),
        "strategy": result.get("strategy"),
        "n": options.get("n", 1),
        "score": chosen["score"] if chosen else None,
        "budget_limited": bool(result.get("budget_limited")),
        "usage": dict(result.get("usage") or {}),
        "model_provider": "ttc-graph",
    }


def _usage(result: dict[str, Any]) -> Any:
    usage = result.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _with_run_id(config: RunnableConfig | None) -> RunnableConfig:
    """The call's config with the chat model's run id fixed now, so the search's runs can
    be its children (see :meth:`ChatTTC._stream_child`)."""
    config = ensure_config(config)
    config["run_id"] = config.get("run_id") or uuid.uuid4()
    _STREAM_CALL.set(config)
    return config


def _child(run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None) -> Any:
    """The config of the search inside a ChatTTC call: its runs (the graph, and in it the
    policy and verifier calls) are children of the chat model's run in a trace."""
    if run_manager is None:
        return {}
    manager = CallbackManager(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return {"callbacks": manager}


def _resolve_policy(policy: Any) -> Any:
    """A loaded policy from ``ChatTTC.policy`` (models loaded once per process)."""
    if isinstance(policy, BaseChatModel):
        from ttc_graph.policy.chat_model import ChatModelPolicy

        return ChatModelPolicy(policy)
    if policy is not None and not isinstance(policy, str | os.PathLike):
        return policy
    key = "" if policy is None else os.fspath(policy)
    with _POLICIES_LOCK:
        if key not in _POLICIES:
            from ttc_graph.policy import load_policy

            _POLICIES[key] = load_policy(policy)
        return _POLICIES[key]


def _name_of(obj: Any, default: str | None) -> str | None:
    if obj is None:
        return default
    if isinstance(obj, str | os.PathLike):
        return os.fspath(obj)
    return str(
        getattr(obj, "model_id", None) or getattr(obj, "model_name", None) or type(obj).__name__
    )
