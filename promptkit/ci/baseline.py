"""Baselines: what a run is compared with before its prompts may be merged.

Three sources, one result (a list of :class:`Pair`, head variant -> baseline variant):

* ``with_git_baseline(suite, "main")``: the suite's prompts *as they are at a git
  ref*, read from git objects, run beside the working tree's prompts in the same
  run, on the same rows. A template whose content is unchanged since the ref is
  not run twice: its baseline is its own rows. A changed one is added as a
  :class:`BaselinePrompt`, shown as ``sentiment@v2 (base 1a2b3c4)``. Its requests
  are the very requests the base branch sent, so a shared response cache answers
  them without a model call.
* ``run_baseline(RUN)``: a stored run.
* ``run_baseline(FILE)``: a committed baseline file (``save_baseline_file``): the
  per-row scores of a run, enough for a paired comparison without re-running.

A head prompt's baseline is the same version at the base when it exists there,
else the family's newest version at the base (a new version is compared with
the one it replaces); a family the base does not have has no baseline.

The pairing is stored as ``baseline.json`` in the run folder, so ``load_outcome``
(and ``promptkit show``) recompute the comparison from the journals at any time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.ci.gitrefs import GitTree, repo_root
from promptkit.define.ensembles import ENSEMBLE_MODEL
from promptkit.define.prompts import Prompt, parse_ref
from promptkit.define.retrieval import docs_part
from promptkit.errors import BadInput
from promptkit.paths import DEFAULT_ROOT
from promptkit.results.compare import Comparison, compare_many
from promptkit.results.store import RunStore, load_run
from promptkit.results.summary import VariantSummary, summarize
from promptkit.suite import Suite, Variant

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BASELINE_FILE_FORMAT",
    "BaselineLink",
    "BaselinePrompt",
    "Pair",
    "PairResult",
    "RunOutcome",
    "is_baseline_prompt",
    "load_outcome",
    "read_reported",
    "reported_by_model",
    "run_baseline",
    "save_baseline_file",
    "with_git_baseline",
]

BASELINE_FILE_FORMAT = "promptkit-baseline/1"
LINK_FILE = "baseline.json"


class BaselinePrompt(Prompt):
    """A prompt version read from a git commit; its ``ref`` says where it came from."""

    def __init__(
        self, *, family: str, version: int, source: str, path: str | Path, label: str
    ) -> None:
        self.label = label  # before compiling: the template is named after ``ref``
        super().__init__(family=family, version=version, source=source, path=path)

    @property
    def ref(self) -> str:
        return f"{self.family}@v{self.version} ({self.label})"


def is_baseline_prompt(ref: str) -> bool:
    """True for refs like ``sentiment@v2 (base 1a2b3c4)``; a plain ref has no space."""
    return " (" in ref


@dataclass(frozen=True)
class Pair:
    head: str  # a variant id of this run
    base: str | None  # a variant id of this run or of the baseline run; None: nothing to compare
    note: str  # why this pairing, in a few words


@dataclass(frozen=True)
class BaselineLink:
    """What a run was compared with; stored as ``baseline.json`` in the run folder."""

    kind: str  # "git", "run" or "file"
    source: str  # the ref as given, or the run folder / file path
    label: str  # shown in reports, e.g. "main at 1a2b3c4"
    pairs: tuple[Pair, ...]
    commit: str | None = None

    def save(self, run_folder: Path) -> None:
        data = asdict(self)
        data["pairs"] = [asdict(p) for p in self.pairs]
        text = json.dumps(data, indent=2, ensure_ascii=False)
        (run_folder / LINK_FILE).write_text(text + "\n", "utf-8")

    @classmethod
    def load(cls, run_folder: Path) -> BaselineLink | None:
        path = run_folder / LINK_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text("utf-8"))
        pairs = tuple(Pair(**p) for p in data.pop("pairs"))
        return cls(pairs=pairs, **data)


# --- a git ref as the baseline --------------------------------------------------------


def with_git_baseline(suite: Suite, ref: str) -> tuple[Suite, BaselineLink]:
    """``suite`` plus the base versions of its prompts at ``ref`` that differ from head's."""
    if suite.library is None:
        raise BadInput("the suite has no prompt library", path=suite.path)
    prompts_dir = suite.library.root
    tree = GitTree(repo_root(prompts_dir), ref)
    label = f"base {tree.short}"
    by_hash = {p.hash: p for p in suite.prompts}
    added: dict[str, Prompt] = {}
    base_of: dict[str, Prompt | None] = {}
    for prompt in suite.prompts:
        base = _base_version(tree, prompts_dir, prompt, label)
        if base is not None and base.hash not in by_hash:
            base = added.setdefault(base.hash, base)
        elif base is not None:
            base = by_hash[base.hash]  # head already runs this exact template: reuse its rows
        base_of[prompt.ref] = base
    combined = replace(suite, prompts=(*suite.prompts, *added.values()))
    pairs = tuple(
        _git_pair(variant, base_of[variant.prompt.ref], combined.variants())
        for variant in suite.variants()
    )
    where = f"{ref} at {tree.short}" if not tree.commit.startswith(ref) else tree.short
    return combined, BaselineLink("git", ref, where, pairs, tree.commit)


def _base_version(tree: GitTree, prompts_dir: Path, prompt: Prompt, label: str) -> Prompt | None:
    versions = tree.versions(prompts_dir, prompt.family)
    if not versions:
        return None
    version = prompt.version if prompt.version in versions else versions[-1]
    found = tree.version_source(prompts_dir, prompt.family, version)
    if found is None:
        return None
    source, where = found
    return BaselinePrompt(
        family=prompt.family, version=version, source=source, path=where, label=label
    )


def _git_pair(head: Variant, base: Prompt | None, variants: Sequence[Variant]) -> Pair:
    if base is None:
        return Pair(head.id, None, "new prompt family: no baseline")
    if base is head.prompt:
        return Pair(head.id, head.id, "unchanged since base")
    match = _closest([v for v in variants if v.prompt is base and v.model == head.model], head)
    if match is None:
        return Pair(head.id, None, f"no {base.ref} variant with these shots")
    if base.version == head.prompt.version:
        return Pair(head.id, match.id, "changed in place since base")
    return Pair(head.id, match.id, f"new version; base is {base.family}@v{base.version}")


def _closest(candidates: Sequence[Variant], head: Variant) -> Variant | None:
    """The candidate with head's shot and passage counts, else the only candidate there is."""
    same = [v for v in candidates if (v.shots, v.docs) == (head.shots, head.docs)]
    if same:
        return same[0]
    return candidates[0] if len(candidates) == 1 else None


# --- a stored run or a committed baseline file as the baseline ------------------------


def run_baseline(
    suite: Suite, source: str | Path, *, root: str | Path = DEFAULT_ROOT
) -> BaselineLink:
    """Pair ``suite``'s variants with those of a stored run or a baseline file."""
    kind, location, frame = _load_source(source, root)
    label = Path(location).name if kind == "run" else str(source)
    variants = _variant_table(frame)
    pairs = tuple(_stored_pair(variant, variants) for variant in suite.variants())
    return BaselineLink(kind, location, f"{kind} {label}", pairs)


def _load_source(source: str | Path, root: str | Path) -> tuple[str, str, pd.DataFrame]:
    path = Path(source)
    if path.is_file():
        return "file", os.path.abspath(path), read_baseline_file(path)
    folder = RunStore(root).find(source)
    return "run", os.path.abspath(folder), load_run(folder, root=root)


@dataclass(frozen=True)
class _StoredVariant:
    id: str
    prompt: str
    family: str
    version: int
    hash: str
    model: str
    shots: str


def _variant_table(frame: pd.DataFrame) -> list[_StoredVariant]:
    if frame.empty:
        return []
    columns = ["variant", "prompt", "prompt_hash", "model", "shots"]
    table = []
    for variant, prompt, hash_, model, shots in (
        frame[columns].drop_duplicates().itertuples(index=False)
    ):
        if is_baseline_prompt(str(prompt)) or model == ENSEMBLE_MODEL:
            continue  # the stored run's own baseline variants and ensembles are not candidates
        family, version = parse_ref(str(prompt))
        table.append(
            _StoredVariant(
                str(variant), str(prompt), family, version or 0, str(hash_), str(model), str(shots)
            )
        )
    return table


def _stored_pair(head: Variant, stored: Sequence[_StoredVariant]) -> Pair:
    shots = "max" if head.shots is None else str(head.shots)
    same_family = [
        s for s in stored if s.family == head.prompt.family and s.model == head.model.name
    ]
    if not same_family:
        return Pair(head.id, None, "no baseline variant for this prompt family and model")
    exact = [s for s in same_family if s.version == head.prompt.version]
    pool = exact or [s for s in same_family if s.version == max(x.version for x in same_family)]
    docs = docs_part(head.id)
    chosen = next(
        (s for s in pool if s.shots == shots and docs_part(s.id) == docs),
        pool[0] if len(pool) == 1 else None,
    )
    if chosen is None:
        return Pair(head.id, None, f"no baseline variant with k={shots}{docs or ''}")
    if chosen.hash == head.prompt.hash:
        note = "same template"
    elif exact:
        note = "template differs from the baseline's"
    else:
        note = f"new version; base is {chosen.prompt}"
    return Pair(head.id, chosen.id, note)


def save_baseline_file(
    run: str | Path | None, path: str | Path, *, root: str | Path = DEFAULT_ROOT
) -> Path:
    """Write a run's per-row scores (head variants only) as a baseline file to commit."""
    folder = RunStore(root).find(run)
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    frame = load_run(folder, root=root)
    variants = []
    for info in _variant_table(frame):
        rows = frame[(frame["variant"] == info.id) & frame["error"].isna()]
        variants.append({**_variant_header(info), "rows": _per_row(rows, meta["metrics"])})
    data = {
        "format": BASELINE_FILE_FORMAT,
        "run_id": folder.name,
        "suite": meta.get("suite"),
        "created": meta.get("created"),
        "git": meta.get("git"),
        "metrics": meta["metrics"],
        "reported": reported_by_model(frame),
        "variants": variants,
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return target


#: The journal columns that say what the endpoint reports about the model that answered.
REPORTED_COLUMNS = {"models": "reported_model", "fingerprints": "system_fingerprint"}


def reported_by_model(frame: pd.DataFrame) -> dict[str, dict[str, list[str]]]:
    """Per model of the run: the distinct model names and system fingerprints its
    answers reported (sorted; empty where the endpoint says nothing)."""
    if frame.empty or "model" not in frame:
        return {}
    reported: dict[str, dict[str, list[str]]] = {}
    for model, rows in frame.groupby("model", sort=True):
        reported[str(model)] = {
            key: sorted({str(v) for v in rows[column].dropna()}) if column in rows else []
            for key, column in REPORTED_COLUMNS.items()
        }
    return reported


def read_reported(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """The ``reported`` section of a baseline file; ``{}`` for files written before it."""
    read_baseline_file(path)  # the same checks and the same one-line errors
    data = json.loads(Path(path).read_text("utf-8"))
    section = data.get("reported")
    if not isinstance(section, dict):
        return {}
    return {
        str(model): {key: [str(v) for v in entry.get(key, [])] for key in REPORTED_COLUMNS}
        for model, entry in section.items()
        if isinstance(entry, dict)
    }


def _variant_header(info: _StoredVariant) -> dict[str, Any]:
    return {
        "variant": info.id,
        "prompt": info.prompt,
        "prompt_hash": info.hash,
        "model": info.model,
        "shots": info.shots,
    }


def _per_row(rows: pd.DataFrame, metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One record per row id, repeats averaged (the unit a paired comparison uses)."""
    import pandas as pd

    columns = [f"score.{m}" for m in metrics if f"score.{m}" in rows]
    extra = [c for c in ("prompt_tokens", "completion_tokens", "cost") if c in rows]
    records = []
    # A column with no number in it (cost, where no price is known) holds None: as
    # floats it is NaN, and left out below, rather than dropped by numeric_only.
    numbers = rows[columns + extra].apply(pd.to_numeric, errors="coerce")
    for row_id, group in numbers.groupby(rows["row_id"], sort=True):
        means = group.mean()
        scores = {c[6:]: float(means[c]) for c in columns if means[c] == means[c]}
        usage = {c: float(means[c]) for c in extra if means[c] == means[c]}
        records.append({"row_id": str(row_id), "scores": scores, **usage})
    return records


def read_baseline_file(path: str | Path) -> pd.DataFrame:
    """A baseline file as a run-like frame: one row per row id and variant."""
    import pandas as pd

    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read baseline file: {exc}", path=path) from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FILE_FORMAT:
        raise BadInput(
            "not a promptkit baseline file",
            path=path,
            hint="write one with 'promptkit show RUN --save-baseline FILE'",
        )
    records = []
    for variant in data.get("variants", []):
        header = {k: variant[k] for k in ("variant", "prompt", "prompt_hash", "model", "shots")}
        for row in variant.get("rows", []):
            scores = {f"score.{k}": v for k, v in row.get("scores", {}).items()}
            usage = {k: v for k, v in row.items() if k not in ("row_id", "scores")}
            records.append({**header, "row_id": row["row_id"], "error": None, **scores, **usage})
    frame: pd.DataFrame = pd.DataFrame.from_records(records)
    frame.attrs["run_id"] = data.get("run_id")
    return frame


# --- the outcome: a run, its baseline and the paired comparisons -------------------------


@dataclass(frozen=True)
class PairResult:
    pair: Pair
    comparison: Comparison | None  # None: no baseline, or the very same variant


@dataclass(frozen=True)
class RunOutcome:
    """A stored run with everything reports and the gate need."""

    run_id: str
    path: Path
    meta: dict[str, Any]
    frame: pd.DataFrame
    metrics: list[str]
    summaries: list[VariantSummary]  # this run's variants, baseline ones included
    link: BaselineLink | None = None
    pairs: list[PairResult] = field(default_factory=list)
    base_summaries: list[VariantSummary] = field(default_factory=list)  # paired base variants

    @property
    def head(self) -> list[VariantSummary]:
        """The variants under test: every variant that is not a baseline one."""
        return [s for s in self.summaries if not is_baseline_prompt(s.prompt)]

    @property
    def family(self) -> int:
        """How many comparisons the pairs' p-values were Holm-adjusted over, together."""
        return next((p.comparison.family for p in self.pairs if p.comparison), 0)


def load_outcome(run: str | Path | None = None, *, root: str | Path = DEFAULT_ROOT) -> RunOutcome:
    """Read a run (latest by default) and recompute its comparison with its baseline."""
    folder = RunStore(root).find(run)
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    frame = load_run(folder, root=root)
    metrics = list(meta.get("metrics") or [])
    summaries = summarize(frame, metrics)
    link = BaselineLink.load(folder)
    if link is None:
        return RunOutcome(folder.name, folder, meta, frame, metrics, summaries)
    base_frame = frame if link.kind == "git" else _reload(link, root)
    pairs = _compare(link.pairs, base_frame, frame, metrics)
    paired = {p.base for p in link.pairs if p.base}
    if link.kind == "git":
        heads = {p.head for p in link.pairs}
        base_summaries = [s for s in summaries if s.variant in paired - heads]
    else:
        chosen = base_frame[base_frame["variant"].isin(paired)] if paired else base_frame[:0]
        base_summaries = summarize(chosen, metrics)
    return RunOutcome(
        folder.name, folder, meta, frame, metrics, summaries, link, pairs, base_summaries
    )


def _reload(link: BaselineLink, root: str | Path) -> pd.DataFrame:
    try:
        if link.kind == "file":
            return read_baseline_file(link.source)
        return load_run(link.source, root=root)
    except BadInput as exc:
        raise BadInput(
            f"the baseline of this run is gone: {exc.message}",
            path=link.source,
            hint="restore it, or compare again with --baseline-run",
        ) from None


def _compare(
    pairs: Sequence[Pair], base_frame: pd.DataFrame, frame: pd.DataFrame, metrics: Sequence[str]
) -> list[PairResult]:
    """Every pair with a baseline compared, as one Holm family (all pairs and metrics)."""
    same_run = base_frame is frame
    compared = [p for p in pairs if p.base is not None and not (same_run and p.base == p.head)]
    comparisons = iter(
        compare_many([(p.base or "", p.head) for p in compared], base_frame, frame, metrics)
    )
    return [PairResult(p, next(comparisons) if p in compared else None) for p in pairs]
