"""Token counts for fine-tuning files: tiktoken with the encodings litellm ships (nothing is
downloaded), and OpenAI's default number of epochs for a file's size."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.providers.base import CHARS_PER_TOKEN, estimate_text_tokens

# -- token counts -----------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCounter:
    name: str  # which tokenizer, and whether the figures are estimates
    exact: bool
    count: Callable[[str], int]


_TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_OFFLINE_ENCODINGS = ("o200k_base", "cl100k_base")  # the ones litellm ships


def token_counter(model: str | None = None) -> TokenCounter:
    """The tokenizer of ``model`` where one is available offline, else an estimate."""
    name, own = _encoding_name(model)
    encoding = _offline_encoding(name)
    if encoding is None:
        return TokenCounter(
            f"estimate: about {CHARS_PER_TOKEN} characters a token (no offline tokenizer)",
            False,
            estimate_text_tokens,
        )
    label = f"{name} (tiktoken, bundled with litellm)"
    if not own:
        label += f"; not {model or 'the model'}'s own tokenizer, so figures are estimates"
    return TokenCounter(label, own, lambda text: len(encoding.encode(text, disallowed_special=())))


def _encoding_name(model: str | None) -> tuple[str, bool]:
    if model:
        try:
            from tiktoken.model import encoding_name_for_model

            name = encoding_name_for_model(model.rpartition("/")[2])
        except (ImportError, KeyError):
            return "cl100k_base", False
        if name in _OFFLINE_ENCODINGS:
            return name, True
    return "cl100k_base", False


def _litellm_tokenizers() -> Path | None:
    # litellm ships tiktoken's cache files so tiktoken works offline; find them without
    # importing litellm, which takes seconds.
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"


def _offline_encoding(name: str) -> Any:
    """The encoding from a local cache file, or ``None``: tiktoken would go to the network."""
    try:
        import tiktoken
    except ImportError:
        return None
    key = hashlib.sha1(_TIKTOKEN_URL.format(name).encode()).hexdigest()  # tiktoken's cache key
    for folder in (os.environ.get("TIKTOKEN_CACHE_DIR"), _litellm_tokenizers()):
        if folder and (Path(folder) / key).is_file():
            previous = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
            try:
                return tiktoken.get_encoding(name)  # loaded once, then kept by tiktoken
            finally:
                if previous is None:
                    del os.environ["TIKTOKEN_CACHE_DIR"]
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = previous
    return None


def example_tokens(row: Mapping[str, Any], fmt: str, counter: TokenCounter) -> int:
    """Tokens of one example, counted as the cookbook does (3 per message, 3 to prime)."""
    if fmt == "completion":
        return counter.count(str(row.get("prompt", ""))) + counter.count(
            str(row.get("completion", ""))
        )
    total = 3
    for message in row.get("messages") or []:
        if not isinstance(message, dict):
            continue
        total += 3
        for key, value in message.items():
            if isinstance(value, str):
                total += counter.count(value) + (1 if key == "name" else 0)
    return total


def default_epochs(examples: int) -> int:
    """OpenAI's default epoch count for a training file of this size (from the cookbook)."""
    target, low, high = 3, 100, 25_000
    if examples <= 0:
        return target
    if examples * target < low:
        return min(25, low // examples)
    if examples * target > high:
        return max(1, high // examples)
    return target
