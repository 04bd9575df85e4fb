"""What an ``hf/`` model computes: chat tokens, batched generation, label likelihoods.

Pure functions of a :class:`~promptkit.providers.hf_load.LoadedModel` and token ids;
the provider (:mod:`promptkit.providers.hf`) batches requests and calls them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.define.prompts import Message
from promptkit.errors import ProviderError
from promptkit.providers.base import Request, sample_seed
from promptkit.providers.hf_load import LoadedModel, import_hf

__all__ = [
    "GenerationSettings",
    "cut_at_stop",
    "encode_chat",
    "encode_text",
    "generate",
    "label_log_likelihoods",
]

_PLACEHOLDER = "\x00PROMPTKIT_CONTENT_{}\x00"


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
    if loaded.unpadded and len(prompts) > 1:
        return [reply for prompt in prompts for reply in generate(loaded, [prompt], settings)]
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


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The reply before its first stop string (llama.cpp and APIs leave the stop out)."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def label_log_likelihoods(
    loaded: LoadedModel, prompts: Sequence[Sequence[int]], labels: Sequence[str]
) -> list[list[float]]:
    """For each prompt, each label's summed token log-probability as the reply's start."""
    label_ids = [encode_text(loaded.tokenizer, label, special=False) for label in labels]
    rows = [(list(p), ids) for p in prompts for ids in label_ids]
    groups = [[row] for row in rows] if loaded.unpadded else [rows]
    sums = [total for group in groups for total in _label_sums(loaded, group)]
    return [sums[i : i + len(labels)] for i in range(0, len(sums), len(labels))]


def _label_sums(loaded: LoadedModel, rows: Sequence[tuple[list[int], list[int]]]) -> list[float]:
    """One forward pass over ``(prompt, label)`` rows: each label's summed log-probability."""
    torch, _ = import_hf()
    input_ids, mask = _left_pad(torch, [p + ids for p, ids in rows], loaded.pad_id, loaded.device)
    # Left padding puts every label at the end, so only the last few logits matter.
    keep = max(len(ids) for _, ids in rows) + 1
    positions = {} if loaded.unpadded else {"position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}
    with torch.inference_mode():
        logits = loaded.model(
            input_ids=input_ids,
            attention_mask=mask,
            **positions,
            **_keep_logits(loaded.model, keep),
        ).logits[:, -keep:]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
    sums = []
    for row, (_, ids) in enumerate(rows):
        # The logits at position i predict token i + 1; the label is the last len(ids) tokens.
        targets = torch.tensor(ids, device=logprobs.device).unsqueeze(-1)
        picked = logprobs[row, keep - 1 - len(ids) : keep - 1].gather(-1, targets)
        sums.append(float(picked.sum()))
    return sums


def _keep_logits(model: Any, keep: int) -> dict[str, int]:
    """Ask for the last ``keep`` logits only, under whichever name this version uses."""
    parameters = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in parameters:
            return {name: keep}
    return {}
