"""Eval suites: ``evals/<name>.yaml``, validated into a :class:`Suite`.

Paths in a suite are relative to the suite file. Prompts are looked up in the
nearest ``prompts/`` folder above the suite (or ``prompts_dir``). A suite expands
into variants, one per prompt version x model x shot count.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from promptkit.define.conversations import ConversationSpec, conversation_spec, read_conversations
from promptkit.define.datasets import Dataset, load_dataset
from promptkit.define.ensembles import EnsembleSpec, ensemble_specs, resolve_members
from promptkit.define.files import is_dir, is_file, parse_yaml, read_text
from promptkit.define.prompts import Prompt, PromptLibrary
from promptkit.define.retrieval import RetrievalSpec, docs_suffix, read_retrieval
from promptkit.define.scorer_files import load_scorer_files
from promptkit.define.shots import ShotSettings, ShotSpec, read_shots
from promptkit.define.validate import (
    Where,
    concurrency,
    finite_number,
    key_lines,
    known_keys,
    mapping,
    non_negative_int,
    positive_int,
    positive_number,
    request_params,
    seed_value,
    string,
    string_list,
)
from promptkit.errors import BadInput, PromptkitError, SuiteError
from promptkit.providers.base import check_model_entry, split_model_name
from promptkit.scorers import BoundScorer, ScorerSetup, make_scorer
from promptkit.scorers.similarity import require_embeddings

__all__ = ["DEFAULT_MODEL", "ModelSpec", "Suite", "Variant", "load_suite", "select_suite"]

DEFAULT_MODEL = "local/smollm2"
SUITE_KEYS = {
    "description": "what the suite measures",
    "dataset": "the rows to score: a path, or {path, id}",
    "inputs": "dataset columns passed to the template: a list, or {variable: column}",
    "conversation": "a column of {role, content} turns: COLUMN, or {column, roles}",
    "reference": "the column holding the expected answer",
    "examples": "the few-shot example pool: a path, or {path, id}",
    "prompts": "prompt references, e.g. [sentiment@v1, sentiment@v2]",
    "models": "provider/model names, or {name: ..., options...}",
    "shots": "shot counts, e.g. [0, 4], or {k, strategy, seed, token_budget}",
    "params": "model parameters such as temperature and max_tokens",
    "scorers": "scorer names, or {name: {args}}",
    "scorer_files": "Python files that register the suite's own scorers",
    "repeat": "independent samples per case",
    "seed": "seed for sampling and shot selection",
    "concurrency": "requests in flight per model, or auto (a window that follows the server)",
    "timeout": "seconds allowed per request",
    "rpm": "requests per minute per model (default: no limit)",
    "retries": "attempts after the first on rate limits, server errors and timeouts",
    "prices": "dollars per million tokens: {model: {input_per_1m, output_per_1m}}",
    "limit": "score only the first N rows",
    "prompts_dir": "folder of prompt families (default: nearest prompts/ above the suite)",
    "gate": "CI rules: {min: {metric: value}, max_regression: margin} (see promptkit.ci.gate)",
    "ensembles": "virtual variants from others' answers: [{name, of: [VARIANT, ...], rule}]",
    "retrieval": "passages per row: {documents: PATH, k: [0, 2, 4], by: COLUMN, method: bm25}",
}
PRICE_KEYS = ("input_per_1m", "output_per_1m")
DATASET_KEYS = ("path", "id")
# Caps on sizes: past them a number is a typo (1e20 repeats), and saying so beats running on.
MAX_REPEAT = 10_000
MAX_CONCURRENCY = 10_000
MAX_RETRIES = 100
MAX_TIMEOUT_S = 86_400.0
MIN_RPM = 0.01


@dataclass(frozen=True)
class ModelSpec:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Where the suite names it (``models[2]``); empty for a model given on the command line.
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Variant:
    prompt: Prompt
    model: ModelSpec
    shots: int | None  # None: as many examples as fit the token budget
    docs: int | None = None  # passages retrieved per row; None: the suite retrieves none

    @property
    def id(self) -> str:
        k = "max" if self.shots is None else str(self.shots)
        return f"{self.prompt.ref} | {self.model.name} | k={k}{docs_suffix(self.docs)}"


@dataclass(frozen=True)
class Suite:
    path: str
    name: str
    description: str
    dataset: Dataset
    inputs: Mapping[str, str]  # template variable -> dataset column
    reference: str | None
    pool: Dataset | None
    prompts: tuple[Prompt, ...]
    models: tuple[ModelSpec, ...]
    shots: tuple[int | None, ...]
    shot_settings: ShotSettings
    params: Mapping[str, Any]
    scorers: tuple[BoundScorer, ...]
    repeat: int = 1
    seed: int = 0
    concurrency: int | str | None = None  # an integer, or "auto" (run/adaptive.py)
    timeout: float = 120.0
    limit: int | None = None
    rpm: float | None = None
    retries: int | None = None
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    library: PromptLibrary | None = None
    conversation: ConversationSpec | None = None
    #: Virtual variants combining others' answers (members as written; see
    #: promptkit.define.ensembles and promptkit.run.ensembles).
    ensembles: tuple[EnsembleSpec, ...] = ()
    retrieval: RetrievalSpec | None = None  # promptkit.define.retrieval
    #: The suite file's line of each key path (``models[2].params``), for messages.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def where(self, key: str) -> Where:
        """A key of this suite file, for a one-line message that names its line."""
        return Where(self.path, key, self.lines, SuiteError, SUITE_KEYS)

    def variants(self) -> list[Variant]:
        """Prompt x model x shots x passages; a template that never reads ``examples`` runs
        zero-shot only, and one that never reads ``documents`` with no passages, since more
        would repeat the same request under another name."""
        variants = []
        for prompt in self.prompts:
            shots = self.shots if prompt.uses_examples else (0,)
            docs: tuple[int | None, ...] = (None,)
            if self.retrieval is not None:
                docs = self.retrieval.counts if prompt.uses_documents else (0,)
            variants += [
                Variant(prompt, model, k, d) for model in self.models for k in shots for d in docs
            ]
        return variants

    def with_models(self, names: Sequence[str]) -> Suite:
        return replace(self, models=tuple(ModelSpec(n) for n in names))

    def with_prompts(self, refs: Sequence[str]) -> Suite:
        assert self.library is not None
        return replace(self, prompts=tuple(self.library.get(r) for r in refs))


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; every problem is a one-line :class:`SuiteError`."""
    path = Path(path)
    if not is_file(path):
        raise SuiteError("suite file not found", path=path, hint="check the path")
    text = read_text(path, error=SuiteError)
    data, lines = _read_yaml(text, path)
    return _Builder(path, data, lines).build()


def select_suite(
    suite: str | Path | Suite, models: Sequence[str] = (), prompts: Sequence[str] = ()
) -> Suite:
    """``suite`` (loaded if it is a path) with ``models``/``prompts`` replacing its lists."""
    loaded = suite if isinstance(suite, Suite) else load_suite(suite)
    if models:
        loaded = loaded.with_models(models)
    if prompts:
        loaded = loaded.with_prompts(prompts)
    return loaded


def _read_yaml(text: str, path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    data, node = parse_yaml(text, path=path, error=SuiteError)
    if not isinstance(data, dict):
        raise SuiteError("a suite must be a YAML mapping", path=path, hint="see evals/*.yaml")
    return data, key_lines(node)


class _Builder:
    """Turns the raw mapping into a Suite, one validated key at a time."""

    def __init__(self, path: Path, data: dict[str, Any], lines: dict[str, int]) -> None:
        self.path, self.data, self.lines = path, data, lines
        self.base = path.parent

    def resolve(self, relative: Any) -> Path:
        """A path written in the suite, relative to the suite's folder, without '..' parts."""
        return Path(os.path.normpath(self.base / str(relative)))

    def error(self, key: str, message: str, hint: str) -> SuiteError:
        return SuiteError(message, path=self.path, line=self.where(key).line, hint=hint)

    def where(self, key: str) -> Where:
        return Where(str(self.path), key, self.lines, SuiteError, SUITE_KEYS)

    def build(self) -> Suite:
        known_keys(self.data, SUITE_KEYS, self.where(""))
        for key in ("dataset", "prompts"):
            if key not in self.data:
                raise self.error(key, f"missing key {key!r}", f"{key}: {SUITE_KEYS[key]}")
        self._load_scorer_files()
        dataset = self._dataset("dataset")
        conversation = self._conversation()
        inputs = self._inputs(conversation)
        reference = self._optional_str("reference")
        pool = self._dataset("examples") if "examples" in self.data else None
        needed = [*inputs.values(), *([reference] if reference else [])]
        dataset.require_columns(needed, needed_by=f"suite {self.path}")
        if pool is not None:
            pool.require_columns(needed, needed_by=f"suite {self.path} (example pool)")
        if conversation is not None:  # every turn checked, and parsed, before any call
            dataset = read_conversations(dataset, conversation)
            pool = read_conversations(pool, conversation) if pool is not None else None
        library = self._library()
        shots = self._shots(pool)
        retrieval = self._retrieval(dataset, inputs)
        suite = Suite(
            path=str(self.path),
            name=self.path.stem,
            description=self._optional_str("description") or "",
            dataset=dataset,
            inputs=inputs,
            reference=reference,
            pool=pool,
            prompts=self._prompts(library),
            models=self._models(),
            shots=shots.counts,
            shot_settings=shots.settings,
            params=request_params(self.data.get("params"), self.where("params")),
            scorers=self._scorers(library, retrieval),
            repeat=self._optional(positive_int, "repeat", cap=MAX_REPEAT) or 1,
            seed=self._seed(),
            concurrency=self._optional(concurrency, "concurrency", cap=MAX_CONCURRENCY),
            timeout=self._optional(positive_number, "timeout", cap=MAX_TIMEOUT_S) or 120.0,
            limit=self._optional(positive_int, "limit"),
            rpm=_rpm(self.data.get("rpm"), self.where("rpm")),
            retries=self._optional(non_negative_int, "retries", cap=MAX_RETRIES),
            prices=self._prices(),
            raw=self.data,
            library=library,
            conversation=conversation,
            retrieval=retrieval,
            lines=self.lines,
        )
        for bound in suite.scorers:  # e.g. a judge's human verdicts, before any call
            bound.check_rows(dataset)
        return self._with_ensembles(suite)

    def _with_ensembles(self, suite: Suite) -> Suite:
        """The suite with its ensembles, each member checked to name one variant."""
        if self.data.get("ensembles") is None:
            return suite
        where = self.where("ensembles")
        specs = ensemble_specs(self.data["ensembles"], where)
        ids = [v.id for v in suite.variants()]
        for spec in specs:
            resolve_members(spec, ids, where)
        return replace(suite, ensembles=specs)

    def _with_key(self, key: str, exc: PromptkitError) -> PromptkitError:
        if exc.path is None:
            exc.path, exc.line = str(self.path), self.where(key).line
        return exc

    def _optional(self, read: Any, key: str, **limits: Any) -> Any:
        """``read(value, where, **limits)`` for a key that may be absent (then None)."""
        value = self.data.get(key)
        return None if value is None else read(value, self.where(key), **limits)

    def _seed(self) -> int:
        value = self.data.get("seed")
        return 0 if value is None else seed_value(value, self.where("seed"))

    def _dataset(self, key: str) -> Dataset:
        spec, where = self.data[key], self.where(key)
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or "path" not in spec:
            raise self.error(key, f"{key!r} needs a path", f"{key}: {SUITE_KEYS[key]}")
        known_keys(spec, DATASET_KEYS, where)
        path = string(spec["path"], where.at("path"), what="a file path")
        column = spec.get("id")
        if column is not None:
            column = string(column, where.at("id"), what="a column name")
        return load_dataset(self.resolve(path), id_column=column)

    def _conversation(self) -> ConversationSpec | None:
        value = self.data.get("conversation")
        return None if value is None else conversation_spec(value, self.where("conversation"))

    def _inputs(self, conversation: ConversationSpec | None) -> dict[str, str]:
        """The inputs; a conversation column reaches the template under its own name
        unless ``inputs`` maps it to another."""
        spec, where = self.data.get("inputs"), self.where("inputs")
        if spec is None and conversation is not None:
            return {conversation.column: conversation.column}
        inputs = self._input_columns(spec, where)
        column = conversation.column if conversation else None
        if column is not None and column not in inputs.values():
            if column in inputs:
                raise where.fail(
                    f"input {column!r} maps another column, not the conversation",
                    f"map the conversation yourself: inputs: {{VARIABLE: {column}}}",
                )
            inputs[column] = column
        return inputs

    def _input_columns(self, spec: Any, where: Where) -> dict[str, str]:
        if spec is None:
            raise self.error("inputs", "missing key 'inputs'", f"inputs: {SUITE_KEYS['inputs']}")
        if isinstance(spec, dict):
            for name, column in spec.items():
                string(name, where.at(str(name)), what="a variable name")
                string(column, where.at(str(name)), what="a column name")
            return dict(spec)
        columns = string_list(spec, where, what="column names")
        if not columns:
            raise where.fail("'inputs' is empty", SUITE_KEYS["inputs"])
        return {c: c for c in columns}

    def _library(self) -> PromptLibrary:
        if "prompts_dir" in self.data:
            name = string(self.data["prompts_dir"], self.where("prompts_dir"), what="a folder")
            return PromptLibrary(self.resolve(name))
        for folder in [self.base, *self.base.resolve().parents]:
            if (folder / "prompts").is_dir():
                return PromptLibrary(folder / "prompts")
        return PromptLibrary(Path.cwd() / "prompts")

    def _prompts(self, library: PromptLibrary) -> tuple[Prompt, ...]:
        refs = self.data["prompts"]
        if not refs:
            raise self.error("prompts", "'prompts' must list prompt references", "e.g. [x@v1]")
        refs = string_list(refs, self.where("prompts"), what="prompt references such as x@v1")
        if len(set(refs)) != len(refs):
            twice = next(r for r in refs if refs.count(r) > 1)
            raise self.error("prompts", f"prompt {twice!r} is listed twice", "list it once")
        try:
            return tuple(library.get(ref) for ref in refs)
        except BadInput as exc:
            if exc.path is not None and is_dir(exc.path):
                # an unknown family or version: the fix is the reference in this suite
                exc.message = f"{exc.message} in {exc.path}"
                exc.path = None
            raise self._with_key("prompts", exc) from None

    def _models(self) -> tuple[ModelSpec, ...]:
        spec = self.data.get("models", [DEFAULT_MODEL])
        listed = isinstance(spec, list)
        entries = spec if listed else [spec]
        models = []
        for index, entry in enumerate(entries):
            where = self.where("models").at(index) if listed else self.where("models")
            models.append(_model_entry(entry, where))
        if not models:
            raise self.error("models", "'models' is empty", SUITE_KEYS["models"])
        names = [m.name for m in models]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise self.error("models", f"model {twice!r} is listed twice", "list it once")
        return tuple(models)

    def _shots(self, pool: Dataset | None) -> ShotSpec:
        shots = read_shots(self.data.get("shots", [0]), self.where("shots"), seed=self._seed())
        if any(shots.counts) and pool is None:
            raise self.error("shots", "few-shot needs an example pool", "add 'examples: <path>'")
        return shots

    def _retrieval(self, dataset: Dataset, inputs: Mapping[str, str]) -> RetrievalSpec | None:
        if self.data.get("retrieval") is None:
            return None
        try:
            spec = read_retrieval(self.data["retrieval"], self.where("retrieval"), self.resolve)
        except BadInput as exc:  # the collection's own errors name the collection
            raise self._with_key("retrieval", exc) from None
        columns = list(spec.by or inputs.values())
        dataset.require_columns(columns, needed_by=f"suite {self.path} (retrieval.by)")
        if spec.method == "embedding":
            require_embeddings("retrieval method 'embedding'")
        return spec

    def _scorers(
        self, library: PromptLibrary, retrieval: RetrievalSpec | None
    ) -> tuple[BoundScorer, ...]:
        specs = self.data.get("scorers") or ["exact_match"]
        specs = specs if isinstance(specs, list) else [specs]
        ids = retrieval.ids if retrieval is not None else None
        setup = ScorerSetup(suite_path=self.path, prompts=library, document_ids=ids)
        try:
            bound = tuple(make_scorer(s, setup=setup) for s in specs)
        except BadInput as exc:
            raise self._with_key("scorers", exc) from None
        metrics = [b.metric for b in bound]
        duplicate = next((m for m in metrics if metrics.count(m) > 1), None)
        if duplicate:
            raise self.error(
                "scorers", f"metric {duplicate!r} appears twice", "give one a 'metric: NAME'"
            )
        return bound

    def _load_scorer_files(self) -> None:
        load_scorer_files(
            self.data.get("scorer_files") or [], self.where("scorer_files"), self.resolve
        )

    def _optional_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        what = "a column name" if key == "reference" else "a string"
        return string(value, self.where(key), what=what)

    def _prices(self) -> dict[str, dict[str, float]]:
        where = self.where("prices")
        prices = mapping(self.data.get("prices") or {}, where, what=SUITE_KEYS["prices"])
        hint = "give {input_per_1m: DOLLARS, output_per_1m: DOLLARS} per million tokens"
        for model, price in prices.items():
            place = where.at(str(model))
            if not isinstance(price, dict) or not price:
                raise place.fail(f"bad price for {model!r}: {price!r}", hint)
            known_keys(price, PRICE_KEYS, place)
            for key, value in price.items():
                finite_number(value, place.at(key), minimum=0, hint=hint)
        return prices


def _model_entry(entry: Any, where: Where) -> ModelSpec:
    """``provider/model``, or ``{name, concurrency, rpm, params, extra_params, ...}``
    with the options its provider declares, each checked for type and range."""
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise where.expected("a model name or {name: provider/model, ...}", entry)
    name = string(entry["name"], where.at("name"), what="a provider/model name")
    try:
        split_model_name(name)
        check_model_entry(name, entry, where)
    except BadInput as exc:
        if exc.path is None:
            exc.path, exc.line = where.path, where.line
        raise
    if entry.get("concurrency") is not None:
        concurrency(entry["concurrency"], where.at("concurrency"), cap=MAX_CONCURRENCY)
    _rpm(entry.get("rpm"), where.at("rpm"))
    request_params(entry.get("params"), where.at("params"))
    if entry.get("extra_params") is not None:
        string_list(entry["extra_params"], where.at("extra_params"), what="parameter names")
    options = {k: v for k, v in entry.items() if k != "name"}
    return ModelSpec(name, options, key=where.key)


def _rpm(value: Any, where: Where) -> float | None:
    if value is None:
        return None
    return finite_number(value, where, minimum=MIN_RPM, hint="requests per minute, e.g. 60")
