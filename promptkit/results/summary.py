"""Journal -> one summary per variant, with an interval for every score.

Rows are the unit: with ``repeat: N`` a row's samples are averaged first, so the
intervals treat each row as one cluster (resampling rows, never single samples).
Besides the mean of each metric a summary carries, where they apply:

- pass@k and majority vote over a row's repeats, for pass/fail metrics;
- judge figures: samples per case, agreement between samples, readable verdicts,
  for pairwise judges how often the winner did not depend on position, and for a
  judge given human verdicts its calibration against them (:mod:`.calibration`);
- a classification report (per-class precision, recall, F1, macro-F1 with its
  interval, confusion matrix) when the suite scores ``label_accuracy``, and the
  majority-class and chance rates beside it (:mod:`.baselines`);
- prompt tokens and cost per call, which :mod:`.sweeps` lines up by shot and passage count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from promptkit.define.parsers import fold
from promptkit.results.baselines import (
    LABEL_METRIC,
    LabelBaseline,
    VersusMajority,
    run_baseline,
    variant_versus_majority,
)
from promptkit.results.calibration import JudgeCalibration, calibrate
from promptkit.results.front import FrontPoint, dominated_by, spend_key, spend_label
from promptkit.results.stats import (
    Estimate,
    cluster_interval,
    macro_f1_interval,
    mean_interval,
    pass_at_k,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NO_LABEL",
    "ClassFigures",
    "ClassificationReport",
    "JudgeCalibration",
    "JudgeSummary",
    "VariantSummary",
    "best_variants",
    "classification_report",
    "column_mean",
    "front_axis",
    "front_metric",
    "front_priced",
    "front_spend",
    "summarize",
]

#: The predicted class of a reply in which the parser found no label.
NO_LABEL = "(none)"


@dataclass(frozen=True)
class JudgeSummary:
    """How far an LLM judge's verdicts can be trusted, over a variant's cases."""

    samples: int  # judge samples per case (per order, for pairwise judges)
    agreement: float | None  # mean share of a case's samples that gave its modal verdict
    verdict_rate: float  # share of samples with a readable verdict
    consistent: float | None = None  # pairwise: share of cases whose winner ignored position
    calibration: JudgeCalibration | None = None  # against the ``human:`` column, if any


@dataclass(frozen=True)
class ClassFigures:
    precision: float
    recall: float
    f1: float
    support: int  # rows whose reference is this class


@dataclass(frozen=True)
class ClassificationReport:
    """Label-task figures of one variant; rows with repeats vote (the modal label)."""

    labels: list[str]
    per_class: dict[str, ClassFigures]
    macro_f1: Estimate
    accuracy: float
    #: reference label -> predicted label -> rows; ``(none)`` where no label was read
    confusion: dict[str, dict[str, int]]
    rows: int
    #: rows left out because they carry no reference label (null in the dataset)
    unlabelled: int = 0


@dataclass(frozen=True)
class VariantSummary:
    variant: str
    prompt: str
    model: str
    shots: str
    cases: int
    errors: int
    scores: dict[str, Estimate] = field(default_factory=dict)
    prompt_tokens: float = 0.0  # mean per call
    completion_tokens: float = 0.0
    latency_s: float = 0.0  # mean per call, cache hits keep their original latency
    cost: float | None = None  # total; None when a provider could not price it
    cache_hits: int = 0
    repeats: int = 1  # most samples of one row
    #: metric -> {"pass@N": ..., "majority": ...} for pass/fail metrics with repeats
    repeat_scores: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    scorer_tokens: float = 0.0  # mean per call: tokens scorers (judges) spent on a case
    scorer_cost: float = 0.0  # total
    judges: dict[str, JudgeSummary] = field(default_factory=dict)
    classification: ClassificationReport | None = None
    #: metric -> the variant that dominates this one on the cost-quality front
    #: (:mod:`promptkit.results.front`); a metric absent here: this variant is on the front
    dominated_by: dict[str, str] = field(default_factory=dict)
    #: Mean reasoning tokens per call (estimated from its text) when the prompt's parser
    #: reads the answer after its reasoning (``answer_after``); None for direct answers.
    reasoning_tokens: float | None = None
    #: Passages retrieved per row ("0", "2", ...); None when the suite retrieves none.
    docs: str | None = None
    #: A label task's trivial answers on the run's evaluation rows (the same for every
    #: variant of one run), and this variant against always answering the majority label.
    label_baseline: LabelBaseline | None = None
    versus_majority: VersusMajority | None = None

    @property
    def calls(self) -> int:
        return self.cases - self.errors

    @property
    def cost_per_call(self) -> float | None:
        if self.cost is None or not self.calls:
            return None
        return self.cost / self.calls

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_per_call"] = self.cost_per_call
        return data


def summarize(frame: pd.DataFrame, metrics: Sequence[str]) -> list[VariantSummary]:
    """Per variant: scores averaged per row first (repeats are one cluster), then a 95% CI."""
    if frame.empty:
        return []
    summaries = []
    baseline = run_baseline(frame) if LABEL_METRIC in metrics else None
    for variant, group in frame.groupby("variant", sort=False):
        ok = group[group["error"].isna()] if "error" in group else group
        repeats = int(ok.groupby("row_id").size().max()) if len(ok) else 1
        summaries.append(
            VariantSummary(
                variant=str(variant),
                prompt=str(group["prompt"].iloc[0]),
                model=str(group["model"].iloc[0]),
                shots=str(group["shots"].iloc[0]),
                cases=len(group),
                errors=len(group) - len(ok),
                scores={m: _metric(ok, m) for m in metrics},
                prompt_tokens=column_mean(ok, "prompt_tokens"),
                completion_tokens=column_mean(ok, "completion_tokens"),
                latency_s=column_mean(ok, "latency_s"),
                cost=_total_cost(ok),
                cache_hits=int(ok["cached"].fillna(False).astype(bool).sum())
                if "cached" in ok
                else 0,
                repeats=repeats,
                repeat_scores=_repeat_scores(ok, metrics) if repeats > 1 else {},
                scorer_tokens=column_mean(ok, "scorer_tokens"),
                scorer_cost=_total(ok, "scorer_cost"),
                judges=_judges(ok, metrics),
                classification=_classification(ok) if LABEL_METRIC in metrics else None,
                reasoning_tokens=_reasoning_tokens(ok),
                docs=_docs(group),
                label_baseline=baseline,
                versus_majority=variant_versus_majority(ok, baseline) if baseline else None,
            )
        )
    return _with_front(summaries, frame, metrics)


def _spend(summary: VariantSummary, priced: bool) -> tuple[float, ...]:
    tokens = summary.prompt_tokens + summary.completion_tokens
    return spend_key(summary.cost_per_call if priced else None, tokens)


def front_axis(summaries: Sequence[VariantSummary]) -> str:
    """What the front's cost axis is for these variants: cost or tokens per call."""
    free = all(s.cost_per_call == 0 for s in summaries)
    return spend_label(_priced(summaries), free)


def front_priced(summaries: Sequence[VariantSummary]) -> bool:
    """Whether the front's axis is money: every variant priced, and not all free."""
    return _priced(summaries) and not all(s.cost_per_call == 0 for s in summaries)


def front_spend(summary: VariantSummary, priced: bool) -> float:
    """The variant's place on the front's axis (:func:`front_priced` says which)."""
    if priced:
        return summary.cost_per_call or 0.0
    return summary.prompt_tokens + summary.completion_tokens


def front_metric(summaries: Sequence[VariantSummary], metrics: Sequence[str]) -> str | None:
    """The metric outputs mark the front on: the first, when some variant is dominated on it."""
    if not metrics or not any(metrics[0] in s.dominated_by for s in summaries):
        return None
    return metrics[0]


def _priced(summaries: Sequence[VariantSummary]) -> bool:
    return all(s.cost_per_call is not None for s in summaries)


def _with_front(
    summaries: list[VariantSummary], frame: pd.DataFrame, metrics: Sequence[str]
) -> list[VariantSummary]:
    """The summaries with ``dominated_by`` filled in, per metric, from per-row scores."""
    if len(summaries) < 2:
        return summaries
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    priced = _priced(summaries)
    marks: dict[str, dict[str, str]] = {s.variant: {} for s in summaries}
    for metric in metrics:
        column = f"score.{metric}"
        if column not in ok:
            continue
        means = ok.groupby(["variant", "row_id"], sort=False)[column].mean().dropna()
        rows = {
            str(variant): dict(
                zip(
                    group.index.get_level_values(1).astype(str).tolist(),
                    group.to_numpy(dtype=float).tolist(),
                    strict=True,
                )
            )
            for variant, group in means.groupby(level=0, sort=False)
        }
        points = [
            FrontPoint(s.variant, s.scores[metric], _spend(s, priced), rows.get(s.variant, {}))
            for s in summaries
        ]
        for variant, by in dominated_by(points).items():
            marks[variant][metric] = by
    return [replace(s, dominated_by=marks[s.variant]) for s in summaries]


def _per_row(ok: pd.DataFrame, metric: str) -> pd.DataFrame:
    import pandas as pd

    column = f"score.{metric}"
    if column not in ok or ok.empty:
        empty: pd.DataFrame = pd.DataFrame({"row_id": [], column: []})
        return empty
    rows: pd.DataFrame = ok[["row_id", column]].dropna()
    return rows


def _metric(ok: pd.DataFrame, metric: str) -> Estimate:
    rows = _per_row(ok, metric)
    return cluster_interval(rows[f"score.{metric}"].tolist(), rows["row_id"].tolist())


def _repeat_scores(ok: pd.DataFrame, metrics: Sequence[str]) -> dict[str, dict[str, Estimate]]:
    """pass@N (any of a row's N samples passed, unbiased when rows have more samples)
    and majority vote (ties count half), for metrics whose samples are all pass/fail."""
    result = {}
    for metric in metrics:
        rows = _per_row(ok, metric)
        column = rows[f"score.{metric}"]
        if column.empty or not column.isin([0.0, 1.0]).all():
            continue
        grouped = column.groupby(rows["row_id"])
        k = int(grouped.size().min())
        passes = [pass_at_k(len(g), int(g.sum()), k) for _, g in grouped]
        majority = [_majority(g.tolist()) for _, g in grouped]
        result[metric] = {f"pass@{k}": mean_interval(passes), "majority": mean_interval(majority)}
    return result


def _majority(values: Sequence[float]) -> float:
    share = sum(values) / len(values)
    return 1.0 if share > 0.5 else 0.0 if share < 0.5 else 0.5


def _judges(ok: pd.DataFrame, metrics: Sequence[str]) -> dict[str, JudgeSummary]:
    if "score_details" not in ok:
        return {}
    found: dict[str, JudgeSummary] = {}
    for metric in metrics:
        column = f"score.{metric}"
        values = ok[column] if column in ok else [float("nan")] * len(ok)
        judged = [
            (row_id, value, d[metric])
            for row_id, value, d in zip(ok["row_id"], values, ok["score_details"], strict=True)
            if isinstance(d, dict) and "k" in d.get(metric, {})
        ]
        if judged:
            summary = _judge_summary([d for _, _, d in judged])
            found[metric] = replace(summary, calibration=_calibration(judged))
    return found


def _judge_summary(details: list[dict[str, Any]]) -> JudgeSummary:
    agreements = [d["agreement"] for d in details if d.get("agreement") is not None]
    orders = 2 if "output_first" in details[0] else 1
    asked = sum(int(d["k"]) * orders for d in details)
    consistent = [bool(d["consistent"]) for d in details if d.get("consistent") is not None]
    return JudgeSummary(
        samples=int(details[0]["k"]),
        agreement=sum(agreements) / len(agreements) if agreements else None,
        verdict_rate=sum(int(d["valid"]) for d in details) / asked if asked else 0.0,
        consistent=sum(consistent) / len(consistent) if consistent else None,
    )


def _calibration(judged: list[tuple[Any, Any, dict[str, Any]]]) -> JudgeCalibration | None:
    """Judge against humans, one verdict per row: the judge passes a row whose mean
    score over its repeats is at least 0.5 (a case with no readable verdict scores 0)."""
    column = next((d["human_column"] for _, _, d in judged if "human_column" in d), None)
    if column is None:
        return None
    scores: dict[Any, list[float]] = {}
    human: dict[Any, bool | None] = {}
    for row_id, value, details in judged:
        if not _missing(value):
            scores.setdefault(row_id, []).append(float(value))
        if human.get(row_id) is None:
            verdict = details.get("human")
            human[row_id] = None if verdict is None else bool(verdict)
    # in row-id order: the bootstrap then does not depend on the journal's order
    verdicts = [(sum(scores[r]) / len(scores[r]) >= 0.5, human[r]) for r in sorted(scores, key=str)]
    return calibrate(str(column), verdicts)


def classification_report(frame: pd.DataFrame, variant: str) -> ClassificationReport | None:
    """Per-class precision, recall and F1, macro-F1 with a 95% interval and the confusion
    matrix of one variant; ``None`` when its rows carry no reference labels."""
    rows = frame[frame["variant"] == variant]
    if "error" in rows:
        rows = rows[rows["error"].isna()]
    return _classification(rows)


def _classification(ok: pd.DataFrame) -> ClassificationReport | None:
    if ok.empty or "expected" not in ok or ok["expected"].isna().all():
        return None
    names: dict[str, str] = {}  # folded label -> its spelling in the references

    def key(value: Any, *, reference: bool) -> str:
        if _missing(value):  # nothing was read
            return NO_LABEL
        folded = fold(str(value)).strip()
        if reference or folded not in names:
            names.setdefault(folded, str(value).strip())
        return folded

    references = dict(zip(ok["row_id"], ok["expected"], strict=True))
    # a row without a reference has no class to be scored against: counted, left out
    unlabelled = [r for r, v in references.items() if _missing(v)]
    truth = {r: key(v, reference=True) for r, v in references.items() if not _missing(v)}
    votes: dict[str, list[str]] = {}
    predicted = ok["parsed"] if "parsed" in ok else [None] * len(ok)
    for row_id, value in zip(ok["row_id"], predicted, strict=True):
        votes.setdefault(row_id, []).append(key(value, reference=False))
    pred = {r: max(sorted(set(v)), key=v.count) for r, v in votes.items()}
    return replace(_report(truth, pred, names), unlabelled=len(unlabelled))


def _missing(value: Any) -> bool:
    return value is None or value != value  # None, or NaN (pandas' blank)


def _report(
    truth: dict[str, str], pred: dict[str, str], names: dict[str, str]
) -> ClassificationReport:
    ids = sorted(truth)
    y_true = [truth[r] for r in ids]
    y_pred = [pred[r] for r in ids]
    classes = sorted(set(y_true) | (set(y_pred) - {NO_LABEL}))
    per_class = {}
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred, strict=True))
        said, real = y_pred.count(c), y_true.count(c)
        precision = tp / said if said else 0.0
        recall = tp / real if real else 0.0
        f1 = 2 * tp / (said + real) if said + real else 0.0
        per_class[names.get(c, c)] = ClassFigures(precision, recall, f1, real)
    columns = [*classes, NO_LABEL] if NO_LABEL in y_pred else classes
    confusion = {
        names.get(t, t): {
            names.get(p, p): sum(a == t and b == p for a, b in zip(y_true, y_pred, strict=True))
            for p in columns
        }
        for t in sorted(set(y_true))
    }
    index = {c: i for i, c in enumerate([*classes, NO_LABEL])}
    return ClassificationReport(
        labels=[names.get(c, c) for c in classes],
        per_class=per_class,
        macro_f1=macro_f1_interval(
            [index[t] for t in y_true], [index[p] for p in y_pred], n_classes=len(classes)
        ),
        accuracy=sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / len(ids),
        confusion=confusion,
        rows=len(ids),
    )


def column_mean(frame: pd.DataFrame, column: str) -> float:
    """The mean of a journal column, missing values as 0; 0 for no rows or no column."""
    if column not in frame or frame.empty:
        return 0.0
    return float(frame[column].fillna(0).mean())


def _reasoning_tokens(ok: pd.DataFrame) -> float | None:
    if "reasoning_tokens" not in ok or ok["reasoning_tokens"].isna().all():
        return None
    # over the replies whose reasoning was read (a reply without the marker has none)
    return float(ok["reasoning_tokens"].mean())


def _docs(group: pd.DataFrame) -> str | None:
    if "docs" not in group or group["docs"].isna().all():
        return None
    return str(int(group["docs"].dropna().iloc[0]))


def _total(frame: pd.DataFrame, column: str) -> float:
    if column not in frame or frame.empty:
        return 0.0
    return float(frame[column].fillna(0).sum())


def _total_cost(frame: pd.DataFrame) -> float | None:
    if "cost" not in frame or frame.empty or frame["cost"].isna().any():
        return None
    return float(frame["cost"].sum())


def best_variants(summaries: Sequence[VariantSummary], metric: str) -> frozenset[str]:
    """The variants holding the highest mean of ``metric``, every one of them when tied;
    none when fewer than two variants scored it (a lone variant is best of nothing)."""
    scored = [s for s in summaries if s.scores.get(metric) and s.scores[metric].n]
    if len(scored) < 2:
        return frozenset()
    top = max(s.scores[metric].mean for s in scored)
    # Equal counts give equal means; isclose only absorbs float noise from summing.
    return frozenset(
        s.variant for s in scored if math.isclose(s.scores[metric].mean, top, rel_tol=1e-9)
    )
