"""What the HTML report shows, computed from a stored run.

Everything comes from the run folder: the journal, ``meta.json`` and the
template sources the run used. Figures are recomputed from the journal (the
source of truth) with the same functions the terminal table and ``compare``
use, so the page never disagrees with them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.ci.baseline import BaselineLink, PairResult, load_outcome
from promptkit.define.ensembles import ENSEMBLE_MODEL
from promptkit.define.files import read_text
from promptkit.define.prompts import Prompt, parse_ref
from promptkit.errors import BadInput, PromptError, PromptkitError
from promptkit.paths import DEFAULT_ROOT
from promptkit.report.plots import ConfusionMatrix, Distribution, ScoreBar, ShotPoint
from promptkit.results.compare import Comparison, compare_many, run_metrics
from promptkit.results.store import JournalRow, RunStore, load_run, read_journal
from promptkit.results.summary import VariantSummary, best_variants, summarize

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Difference",
    "RunContent",
    "VariantView",
    "as_text",
    "curve_point",
    "load_content",
    "mean_sent",
    "run_facts",
]

PALETTE = (
    "#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed",
    "#0891b2", "#dc2626", "#65a30d", "#4b5563", "#c026d3",
)  # fmt: skip
NO_ANSWER = "(no label)"
NO_REFERENCE = "(none)"
OTHER = "(other)"
_MAX_EXTRA_LABELS = 8


@dataclass(frozen=True)
class Difference:
    """One metric of one variant minus the reference, on the rows both scored."""

    mean: float
    low: float
    high: float
    p_holm: float
    n: int
    fixed: int  # rows the reference failed and this variant passed
    broken: int
    method: str = ""  # the method that made the interval (newcombe-score, bootstrap)

    @property
    def significant(self) -> bool:
        return self.n > 0 and self.p_holm < 0.05


@dataclass(frozen=True)
class VariantView:
    summary: VariantSummary
    label: str
    color: str
    best: frozenset[str] = frozenset()  # metrics whose best mean this variant holds
    differences: Mapping[str, Difference] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.summary.variant

    @property
    def cost_per_call(self) -> float | None:
        return self.summary.cost_per_call


@dataclass
class RunContent:
    run_id: str
    folder: Path
    meta: dict[str, Any]
    journal: list[JournalRow]
    frame: pd.DataFrame
    metrics: list[str]
    variants: list[VariantView]
    reference: str | None  # the variant every other is compared with
    reference_is_baseline: bool
    templates: dict[str, Prompt]

    @property
    def resolved_suite(self) -> Mapping[str, Any]:
        suite = self.meta.get("resolved_suite")
        return suite if isinstance(suite, Mapping) else {}


def load_content(
    run: str | Path | None = None,
    *,
    baseline: str | None = None,
    root: str | Path = DEFAULT_ROOT,
) -> RunContent:
    """Read a run and compute the summaries and paired differences the page shows."""
    folder = RunStore(root).find(run)
    meta = _read_meta(folder)
    frame = load_run(folder, root=root)
    metrics = _metrics(meta, frame)
    summaries = summarize(frame, metrics)
    ids = [s.variant for s in summaries]
    reference, is_baseline = _reference(ids, baseline, meta, folder)
    pairs = _baseline_pairs(folder, root) if baseline is None else None
    if pairs:
        # A run made with --baseline/--baseline-run: each variant against its own base.
        reference, is_baseline = (
            next((p.pair.base for p in pairs if p.pair.base in ids), None),
            True,
        )
        differences = _as_differences([(p.pair.head, p.comparison) for p in pairs if p.comparison])
    else:
        differences = _differences(frame, ids, reference, metrics)
    labels = _labels(summaries)
    colors = _colors(summaries)
    best = {m: best_variants(summaries, m) for m in metrics}
    variants = [
        VariantView(
            summary=s,
            label=labels[s.variant],
            color=colors[s.variant],
            best=frozenset(m for m in metrics if s.variant in best[m]),
            differences=differences.get(s.variant, {}),
        )
        for s in summaries
    ]
    return RunContent(
        run_id=folder.name,
        folder=folder,
        meta=meta,
        journal=list(read_journal(folder)),
        frame=frame,
        metrics=metrics,
        variants=variants,
        reference=reference,
        reference_is_baseline=is_baseline,
        templates=_templates(folder, meta),
    )


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "meta.json"
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read the run's metadata: {exc}", path=path) from None
    return meta if isinstance(meta, dict) else {}


def _metrics(meta: Mapping[str, Any], frame: pd.DataFrame) -> list[str]:
    named = [str(m) for m in meta.get("metrics") or []]
    found = run_metrics(frame)
    return named + [m for m in found if m not in named]


def _reference(
    ids: Sequence[str], baseline: str | None, meta: Mapping[str, Any], folder: Path
) -> tuple[str | None, bool]:
    """The baseline if one was asked for or the run marks one, else the first variant."""
    if baseline is not None:
        matches = [v for v in ids if v == baseline] or [v for v in ids if baseline in v]
        if len(matches) != 1:
            what = "no variant" if not matches else "several variants"
            verb = "matches" if not matches else "match"
            raise BadInput(
                f"{what} of run {folder.name} {verb} baseline {baseline!r}",
                hint=f"give one of: {'; '.join(ids)}",
            )
        return matches[0], True
    marked = meta.get("baseline")
    if isinstance(marked, str) and marked in ids:
        return marked, True
    return (ids[0], False) if len(ids) > 1 else (None, False)


def _differences(
    frame: pd.DataFrame, ids: Sequence[str], reference: str | None, metrics: Sequence[str]
) -> dict[str, dict[str, Difference]]:
    """Paired differences against the reference, Holm-adjusted across variants and metrics."""
    if reference is None or not metrics:
        return {}
    others = [v for v in ids if v != reference]
    comparisons = compare_many([(reference, v) for v in others], frame, frame, metrics)
    return _as_differences(list(zip(others, comparisons, strict=True)))


def _baseline_pairs(folder: Path, root: str | Path) -> list[PairResult]:
    """The pairs a baseline run recorded in ``baseline.json``; empty when it has none."""
    if BaselineLink.load(folder) is None:
        return []
    return load_outcome(folder, root=root).pairs


def _as_differences(
    comparisons: Sequence[tuple[str, Comparison]],
) -> dict[str, dict[str, Difference]]:
    """Differences per variant and metric, from comparisons made as one Holm family."""
    result: dict[str, dict[str, Difference]] = {}
    for variant, comparison in comparisons:
        result[variant] = {}
        for m in comparison.metrics:
            d = m.difference
            result[variant][m.metric] = Difference(
                d.mean, d.low, d.high, m.p_holm, d.n, len(m.fixed), len(m.broken), d.interval
            )
    return result


def _labels(summaries: Sequence[VariantSummary]) -> dict[str, str]:
    """Short names: the model is named only when the run used more than one."""
    several_models = len({s.model for s in summaries}) > 1
    labels = {}
    for s in summaries:
        if s.model == ENSEMBLE_MODEL:  # no model and no shots of its own
            labels[s.variant] = s.prompt
            continue
        parts = [s.prompt, s.model] if several_models else [s.prompt]
        docs = [] if s.docs is None else [f"docs={s.docs}"]
        labels[s.variant] = " · ".join([*parts, f"k={s.shots}", *docs])
    return labels


def _series(summary: VariantSummary, several_models: bool) -> str:
    """One line of the shots curve: a prompt version (and model, and passage count)."""
    name = f"{summary.prompt} · {summary.model}" if several_models else summary.prompt
    return name if summary.docs is None else f"{name} · docs={summary.docs}"


def _colors(summaries: Sequence[VariantSummary]) -> dict[str, str]:
    """One colour per prompt version (and model), shared by its shot counts."""
    several_models = len({s.model for s in summaries}) > 1
    series = list(dict.fromkeys(_series(s, several_models) for s in summaries))
    return {
        s.variant: PALETTE[series.index(_series(s, several_models)) % len(PALETTE)]
        for s in summaries
    }


def _templates(folder: Path, meta: Mapping[str, Any]) -> dict[str, Prompt]:
    """The exact template sources the run stored, parsed again (the working tree may differ).

    A baseline version read from git (``cls@v1 (base 1a2b3c4)``) may share its file
    name with the working tree's version, so each source is found by its hash.
    """
    templates = {}
    for ref, info in (meta.get("prompts") or {}).items():
        family, version = parse_ref(ref.split(" (")[0])
        stored = folder / "prompts" / family
        candidates = [
            stored / f"v{version}.{info.get('hash')}.jinja",
            stored / f"v{version}.jinja",
            Path(str(info.get("path", ""))),
        ]
        for path in candidates:
            try:
                source = read_text(path, error=PromptError)
                prompt = Prompt(family=family, version=version or 0, source=source, path=path)
            except (OSError, PromptkitError):
                continue  # the page says the template is missing rather than failing whole
            if prompt.hash == info.get("hash", prompt.hash):
                templates[ref] = prompt
                break
    return templates


# --- plots ------------------------------------------------------------------------


def score_bars(content: RunContent) -> dict[str, list[ScoreBar]]:
    bars: dict[str, list[ScoreBar]] = {}
    for metric in content.metrics:
        bars[metric] = []
        for v in content.variants:
            est = v.summary.scores[metric]
            bars[metric].append(
                ScoreBar(v.label, v.color, est.mean, est.low, est.high, metric in v.best)
            )
    return bars


def shot_points(content: RunContent) -> list[ShotPoint]:
    """Points of the shots curve; empty unless some prompt version ran at several k."""
    if not content.metrics:
        return []
    several_models = len({v.summary.model for v in content.variants}) > 1
    sent = mean_sent(content.journal, "shot_ids")
    metric = content.metrics[0]
    points = [
        curve_point(v, metric, _series(v.summary, several_models), v.color, sent.get(v.id, 0.0))
        for v in content.variants
        if v.summary.scores[metric].n and v.summary.model != ENSEMBLE_MODEL
    ]
    counts: dict[str, set[float]] = {}
    for p in points:
        counts.setdefault(p.series, set()).add(p.shots)
    return points if any(len(ks) > 1 for ks in counts.values()) else []


def curve_point(view: VariantView, metric: str, series: str, color: str, x: float) -> ShotPoint:
    """A variant on a curve against ``x`` (examples or passages sent per call)."""
    score = view.summary.scores[metric]
    return ShotPoint(
        series=series,
        color=color,
        shots=x,
        score=score.mean,
        low=score.low,
        high=score.high,
        prompt_tokens=view.summary.prompt_tokens,
        cost_per_call=view.cost_per_call,
    )


def mean_sent(journal: Iterable[JournalRow], column: str) -> dict[str, float]:
    """Per variant, the mean length of a list column (``shot_ids``, ``retrieved_ids``) over
    the rows that have it: what a curve's x axis counts, also for ``k: max``, short pools
    and small collections, which send fewer than k."""
    totals: dict[str, list[int]] = {}
    for row in journal:
        if column in row:
            total = totals.setdefault(str(row.get("variant")), [0, 0])
            total[0] += len(row.get(column) or [])  # type: ignore[arg-type]
            total[1] += 1
    return {v: sent / calls for v, (sent, calls) in totals.items()}


def distributions(content: RunContent) -> list[Distribution]:
    latency: dict[str, list[float]] = {v.id: [] for v in content.variants}
    cost: dict[str, list[float]] = {v.id: [] for v in content.variants}
    for row in content.journal:
        variant = str(row.get("variant"))
        if row.get("error") is not None or variant not in latency:
            continue
        if row.get("latency_s") is not None:
            latency[variant].append(float(row["latency_s"]))
        spent = row.get("cost")
        if spent is not None:
            cost[variant].append(float(spent))
    return [Distribution(v.label, v.color, latency[v.id], cost[v.id]) for v in content.variants]


def confusion_matrices(content: RunContent) -> list[ConfusionMatrix]:
    """Expected against parsed answers for every variant whose prompt parses labels."""
    import pandas as pd

    frame = content.frame
    if frame.empty or "expected" not in frame or "parsed" not in frame:
        return []
    matrices = []
    for v in content.variants:
        template = content.templates.get(v.summary.prompt)
        if template is None or template.meta.parser.get("type") != "label":
            continue
        rows = frame[frame["variant"] == v.id]
        if "error" in rows:
            rows = rows[rows["error"].isna()]
        if rows.empty:
            continue
        labels = [str(label) for label in template.meta.parser.get("labels") or []]
        expected = rows["expected"].map(lambda e: NO_REFERENCE if _missing(e) else as_text(e))
        expected = _fold_rare(expected, labels)
        parsed = rows["parsed"].map(lambda p: NO_ANSWER if _missing(p) else as_text(p))
        table = pd.crosstab(expected, parsed)
        row_order = labels + sorted(set(table.index) - set(labels) - {OTHER})
        row_order += [OTHER] if OTHER in table.index else []
        col_order = labels + sorted(set(table.columns) - set(labels))
        table = table.reindex(index=row_order, columns=col_order, fill_value=0)
        counts = [[int(c) for c in row] for row in table.to_numpy().tolist()]
        matrices.append(ConfusionMatrix(v.label, row_order, col_order, counts))
    return matrices


def _fold_rare(values: pd.Series, labels: Sequence[str]) -> pd.Series:
    """Keep the matrix readable when the reference column holds free text."""
    extra = values[~values.isin(labels)].value_counts()
    keep = set(labels) | set(extra.index[:_MAX_EXTRA_LABELS])
    folded: pd.Series = values.where(values.isin(keep), OTHER)
    return folded


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# --- the row table ------------------------------------------------------------------


def run_facts(content: RunContent) -> list[tuple[str, str]]:
    """Where the run came from, as (name, value) lines."""
    meta, suite = content.meta, content.resolved_suite
    git = meta.get("git") or {}
    commit = str(git.get("commit") or "not recorded (not a git checkout?)")
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    facts = [
        ("run", content.run_id),
        ("created", str(meta.get("created", "unknown"))),
        ("suite", f"{meta.get('suite', '')}  ({meta.get('suite_path', '')})"),
        ("git commit", commit),
        ("dataset", as_text(suite.get("dataset"))),
        ("example pool", as_text(suite.get("examples")) or "none"),
        ("shots", as_text(suite.get("shots", [0]))),
        ("parameters", as_text(suite.get("params") or {})),
        ("repeat", str(suite.get("repeat", 1))),
        ("seed", str(suite.get("seed", 0))),
        ("scorers", as_text(suite.get("scorers") or ["exact_match"])),
        ("baseline", (content.reference or "") if content.reference_is_baseline else "none marked"),
    ]
    return facts
