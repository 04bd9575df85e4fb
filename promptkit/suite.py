"""Eval suites: ``evals/<name>.yaml``, validated into a :class:`Suite`.

Paths in a suite are relative to the suite file. Prompts are looked up in the
nearest ``prompts/`` folder above the suite (or ``prompts_dir``). A suite expands
into variants, one per prompt version x model x shot count.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from promptkit.define.datasets import Dataset, load_dataset
from promptkit.define.prompts import Prompt, PromptLibrary
from promptkit.define.shots import ShotSettings
from promptkit.errors import BadInput, PromptkitError, SuiteError, yaml_problem
from promptkit.scorers import BoundScorer, ScorerSetup, make_scorer

__all__ = ["DEFAULT_MODEL", "ModelSpec", "Suite", "Variant", "load_suite", "select_suite"]

DEFAULT_MODEL = "local/smollm2"
SUITE_KEYS = {
    "description": "what the suite measures",
    "dataset": "the rows to score: a path, or {path, id}",
    "inputs": "dataset columns passed to the template: a list, or {variable: column}",
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
    "concurrency": "requests in flight per model",
    "timeout": "seconds allowed per request",
    "rpm": "requests per minute per model (default: no limit)",
    "retries": "attempts after the first on rate limits, server errors and timeouts",
    "prices": "dollars per million tokens: {model: {input_per_1m, output_per_1m}}",
    "limit": "score only the first N rows",
    "prompts_dir": "folder of prompt families (default: nearest prompts/ above the suite)",
    "gate": "CI rules: {min: {metric: value}, max_regression: margin} (see promptkit.ci.gate)",
}
SHOT_KEYS = ("k", "strategy", "seed", "token_budget")
PRICE_KEYS = ("input_per_1m", "output_per_1m")
MODEL_OPTION_KEYS_RESERVED = ("name",)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    prompt: Prompt
    model: ModelSpec
    shots: int | None  # None: as many examples as fit the token budget

    @property
    def id(self) -> str:
        k = "max" if self.shots is None else str(self.shots)
        return f"{self.prompt.ref} | {self.model.name} | k={k}"


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
    concurrency: int | None = None
    timeout: float = 120.0
    limit: int | None = None
    rpm: float | None = None
    retries: int | None = None
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    library: PromptLibrary | None = None

    def variants(self) -> list[Variant]:
        """Prompt x model x shots; a template that never reads ``examples`` runs zero-shot
        only, since more shots would repeat the same request under another name."""
        variants = []
        for prompt in self.prompts:
            shots = self.shots if prompt.uses_examples else (0,)
            variants += [Variant(prompt, model, k) for model in self.models for k in shots]
        return variants

    def with_models(self, names: Sequence[str]) -> Suite:
        return replace(self, models=tuple(ModelSpec(n) for n in names))

    def with_prompts(self, refs: Sequence[str]) -> Suite:
        assert self.library is not None
        return replace(self, prompts=tuple(self.library.get(r) for r in refs))


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; every problem is a one-line :class:`SuiteError`."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError("suite file not found", path=path, hint="check the path")
    text = path.read_text("utf-8")
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
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        problem, line = yaml_problem(exc)
        raise SuiteError(
            f"invalid YAML: {problem}",
            path=path,
            line=line,
            hint="fix the YAML syntax",
        ) from None
    if not isinstance(data, dict):
        raise SuiteError("a suite must be a YAML mapping", path=path, hint="see evals/*.yaml")
    lines = {}
    if isinstance(node, yaml.MappingNode):
        lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return data, lines


class _Builder:
    """Turns the raw mapping into a Suite, one validated key at a time."""

    def __init__(self, path: Path, data: dict[str, Any], lines: dict[str, int]) -> None:
        self.path, self.data, self.lines = path, data, lines
        self.base = path.parent

    def resolve(self, relative: Any) -> Path:
        """A path written in the suite, relative to the suite's folder, without '..' parts."""
        return Path(os.path.normpath(self.base / str(relative)))

    def error(self, key: str, message: str, hint: str) -> SuiteError:
        return SuiteError(message, path=self.path, line=self.lines.get(key), hint=hint)

    def build(self) -> Suite:
        for key in self.data:
            if key not in SUITE_KEYS:
                raise self.error(
                    key, f"unknown key {key!r}", f"known keys: {', '.join(SUITE_KEYS)}"
                )
        for key in ("dataset", "prompts"):
            if key not in self.data:
                raise self.error(key, f"missing key {key!r}", f"{key}: {SUITE_KEYS[key]}")
        self._load_scorer_files()
        dataset = self._dataset("dataset")
        inputs = self._inputs()
        reference = self._optional_str("reference")
        pool = self._dataset("examples") if "examples" in self.data else None
        needed = [*inputs.values(), *([reference] if reference else [])]
        dataset.require_columns(needed, needed_by=f"suite {self.path}")
        if pool is not None:
            pool.require_columns(needed, needed_by=f"suite {self.path} (example pool)")
        library = self._library()
        shots, shot_settings = self._shots(pool)
        return Suite(
            path=str(self.path),
            name=self.path.stem,
            description=str(self.data.get("description") or ""),
            dataset=dataset,
            inputs=inputs,
            reference=reference,
            pool=pool,
            prompts=self._prompts(library),
            models=self._models(),
            shots=shots,
            shot_settings=shot_settings,
            params=self._mapping("params"),
            scorers=self._scorers(library),
            repeat=self._positive_int("repeat", 1),
            seed=self._int("seed", 0),
            concurrency=self._positive_int("concurrency", None),
            timeout=float(self._number("timeout", 120.0)),
            limit=self._positive_int("limit", None),
            rpm=self._optional_number("rpm"),
            retries=self._non_negative_int("retries"),
            prices=self._prices(),
            raw=self.data,
            library=library,
        )

    def _with_key(self, key: str, exc: PromptkitError) -> PromptkitError:
        if exc.path is None:
            exc.path, exc.line = str(self.path), self.lines.get(key)
        return exc

    def _dataset(self, key: str) -> Dataset:
        spec = self.data[key]
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or "path" not in spec:
            raise self.error(key, f"{key!r} needs a path", f"{key}: {SUITE_KEYS[key]}")
        return load_dataset(self.resolve(spec["path"]), id_column=spec.get("id"))

    def _inputs(self) -> dict[str, str]:
        spec = self.data.get("inputs")
        if spec is None:
            raise self.error("inputs", "missing key 'inputs'", f"inputs: {SUITE_KEYS['inputs']}")
        if isinstance(spec, str):
            spec = [spec]
        if isinstance(spec, list) and all(isinstance(c, str) for c in spec):
            return {c: c for c in spec}
        if isinstance(spec, dict):
            return {str(k): str(v) for k, v in spec.items()}
        raise self.error("inputs", "bad 'inputs'", SUITE_KEYS["inputs"])

    def _library(self) -> PromptLibrary:
        if "prompts_dir" in self.data:
            return PromptLibrary(self.resolve(self.data["prompts_dir"]))
        for folder in [self.base, *self.base.resolve().parents]:
            if (folder / "prompts").is_dir():
                return PromptLibrary(folder / "prompts")
        return PromptLibrary(Path.cwd() / "prompts")

    def _prompts(self, library: PromptLibrary) -> tuple[Prompt, ...]:
        refs = self.data["prompts"]
        refs = [refs] if isinstance(refs, str) else refs
        if not isinstance(refs, list) or not refs:
            raise self.error("prompts", "'prompts' must list prompt references", "e.g. [x@v1]")
        try:
            return tuple(library.get(str(ref)) for ref in refs)
        except BadInput as exc:
            if exc.path is not None and Path(exc.path).is_dir():
                # an unknown family or version: the fix is the reference in this suite
                exc.message = f"{exc.message} in {exc.path}"
                exc.path = None
            raise self._with_key("prompts", exc) from None

    def _models(self) -> tuple[ModelSpec, ...]:
        spec = self.data.get("models", [DEFAULT_MODEL])
        spec = [spec] if isinstance(spec, str | dict) else spec
        models = []
        for entry in spec or []:
            if isinstance(entry, str):
                models.append(ModelSpec(entry))
            elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
                options = {k: v for k, v in entry.items() if k != "name"}
                models.append(ModelSpec(entry["name"], options))
            else:
                raise self.error("models", f"bad model entry {entry!r}", SUITE_KEYS["models"])
        if not models:
            raise self.error("models", "'models' is empty", SUITE_KEYS["models"])
        return tuple(models)

    def _shots(self, pool: Dataset | None) -> tuple[tuple[int | None, ...], ShotSettings]:
        spec = self.data.get("shots", [0])
        if not isinstance(spec, dict):
            spec = {"k": spec}
        for key in spec:
            if key not in SHOT_KEYS:
                raise self.error(
                    "shots", f"unknown shots key {key!r}", f"known keys: {', '.join(SHOT_KEYS)}"
                )
        ks = spec.get("k", [0])
        ks = ks if isinstance(ks, list) else [ks]
        counts: list[int | None] = []
        for k in ks:
            if k == "max":
                counts.append(None)
            elif isinstance(k, int) and not isinstance(k, bool) and k >= 0:
                counts.append(k)
            else:
                raise self.error("shots", f"bad shot count {k!r}", "use integers >= 0 or 'max'")
        budget = spec.get("token_budget")
        if None in counts and budget is None:
            raise self.error("shots", "k: max needs a token_budget", "add shots.token_budget")
        if any(counts) and pool is None:
            raise self.error("shots", "few-shot needs an example pool", "add 'examples: <path>'")
        try:
            settings = ShotSettings(
                strategy=str(spec.get("strategy", "first")),
                seed=int(spec.get("seed", self.data.get("seed", 0))),
                token_budget=int(budget) if budget is not None else None,
            )
        except BadInput as exc:
            raise self._with_key("shots", exc) from None
        return tuple(counts), settings

    def _scorers(self, library: PromptLibrary) -> tuple[BoundScorer, ...]:
        specs = self.data.get("scorers") or ["exact_match"]
        specs = specs if isinstance(specs, list) else [specs]
        setup = ScorerSetup(suite_path=self.path, prompts=library)
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
        files = self.data.get("scorer_files") or []
        for name in files if isinstance(files, list) else [files]:
            file = self.resolve(name)
            if not file.is_file():
                raise self.error("scorer_files", f"scorer file {file} not found", "fix the path")
            spec = importlib.util.spec_from_file_location(f"promptkit_user.{file.stem}", file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)

    def _mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            raise self.error(key, f"{key!r} must be a mapping", SUITE_KEYS[key])
        return value

    def _optional_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.error(key, f"{key!r} must be a column name", SUITE_KEYS[key])
        return value

    def _number(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise self.error(key, f"{key!r} must be a positive number", SUITE_KEYS[key])
        return float(value)

    def _optional_number(self, key: str) -> float | None:
        return self._number(key, 1.0) if key in self.data else None

    def _non_negative_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise self.error(key, f"{key!r} must be an integer >= 0", SUITE_KEYS[key])
        return value

    def _prices(self) -> dict[str, dict[str, float]]:
        prices = self._mapping("prices")
        for model, price in prices.items():
            fields_ok = isinstance(price, dict) and set(price) <= set(PRICE_KEYS) and price
            numbers_ok = fields_ok and all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                for v in price.values()
            )
            if not numbers_ok:
                raise self.error(
                    "prices",
                    f"bad price for {model!r}: {price!r}",
                    "give {input_per_1m: DOLLARS, output_per_1m: DOLLARS} per million tokens",
                )
        return prices

    def _int(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"{key!r} must be an integer", SUITE_KEYS[key])
        return value

    def _positive_int(self, key: str, default: int | None) -> Any:
        value = self.data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.error(key, f"{key!r} must be an integer >= 1", SUITE_KEYS[key])
        return value
