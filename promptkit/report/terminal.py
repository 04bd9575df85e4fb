"""Rich tables for the terminal: the per-variant summary printed by ``promptkit eval``,
the shots sweep, per-class figures, judge figures and ``promptkit compare``.

Model and dataset text reach cells as :class:`rich.text.Text`, never as markup, so
an output containing ``[bold]`` or ``[link=...]`` prints literally.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from promptkit.results.baselines import BASELINE_NOTE, LABEL_METRIC, shown_baseline
from promptkit.results.compare import Comparison, FlippedRow, holm_note
from promptkit.results.front import ON_FRONT, front_note
from promptkit.results.reasoning import ReasoningTradeoff
from promptkit.results.summary import (
    ClassificationReport,
    JudgeCalibration,
    VariantSummary,
    best_variants,
    front_axis,
    front_metric,
)
from promptkit.results.sweeps import DocsPoint, SweepPoint

__all__ = [
    "class_table",
    "comparison_table",
    "confusion_table",
    "docs_table",
    "flipped_table",
    "judge_calibration_table",
    "judges_table",
    "shots_table",
    "summary_table",
    "trivial_table",
]


def summary_table(summaries: Sequence[VariantSummary], metrics: Sequence[str]) -> Table:
    """One line per variant: rows, each metric with its 95% interval, errors, tokens, latency;
    for a label task, whether it beats the majority class (:func:`trivial_table` below)."""
    table = Table(title="95% intervals in brackets; * marks the best mean of each metric")
    for name in ("prompt", "model"):
        table.add_column(name, no_wrap=True)
    retrieves = any(s.docs is not None for s in summaries)
    for name in ("shots", "docs", "rows") if retrieves else ("shots", "rows"):
        table.add_column(name, justify="right")
    for metric in metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    baseline = (
        shown_baseline(s.label_baseline for s in summaries) if LABEL_METRIC in metrics else None
    )
    if baseline:
        table.add_column("beats majority", justify="right", no_wrap=True)
    for name in ("errors", "tokens/call", "latency"):
        table.add_column(name, justify="right")
    front = front_metric(summaries, metrics)
    if front:
        table.add_column(f"dominated on {front} by", no_wrap=True)
    best = {m: best_variants(summaries, m) for m in metrics}
    for s in summaries:
        cells: list[str | Text] = [s.prompt, s.model, s.shots]
        cells += [*([s.docs or "-"] if retrieves else []), _rows(s)]
        for metric in metrics:
            mark = " *" if s.variant in best[metric] else ""
            cells.append(f"{s.scores[metric]}{mark}")
        if baseline:
            cells.append(s.versus_majority.text() if s.versus_majority else "-")
        tokens = s.prompt_tokens + s.completion_tokens
        cells += [str(s.errors), f"{tokens:.0f}", f"{s.latency_s * 1000:.0f} ms"]
        if front:
            cells.append(s.dominated_by.get(front, ON_FRONT))
        table.add_row(*cells)
    if front:
        table.caption = front_note(front_axis(summaries), front)
    return table


def trivial_table(summaries: Sequence[VariantSummary], metrics: Sequence[str]) -> Table | None:
    """A label task's trivial answers, printed under the variants; None for other tasks.

    A table of its own: tied majority labels make a long cell, which in the variants'
    table would squeeze their figures out of view.
    """
    found = shown_baseline(s.label_baseline for s in summaries)
    if found is None or LABEL_METRIC not in metrics:
        return None
    table = Table(
        title=f"Trivial answers on the {found.rows} evaluation rows", caption=BASELINE_NOTE
    )
    for name in ("answer", "how"):
        table.add_column(name)
    table.add_column(LABEL_METRIC, justify="right", no_wrap=True)
    table.add_row("majority class", Text(found.majority_text()), str(found.rate))
    table.add_row("uniform chance", found.chance_text(), f"{found.chance:.3f}")
    return table


def _rows(s: VariantSummary) -> str:
    """Rows scored; with repeats, rows x samples."""
    if s.repeats > 1:
        return f"{s.cases // s.repeats}x{s.repeats}"
    return str(s.cases)


def _cost(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    return f"${value:.2e}" if value < 1e-4 else f"${value:.4f}"


def shots_table(points: Sequence[SweepPoint], metrics: Sequence[str]) -> Table:
    """Score versus shots versus cost: one line per shot count of each prompt version."""
    table = Table(title="Shots sweep: what each extra example buys, and what it costs")
    for name in ("prompt", "model"):
        table.add_column(name, no_wrap=True)
    table.add_column("shots", justify="right")
    for metric in metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    table.add_column("prompt tokens/call", justify="right")
    table.add_column("cost/call", justify="right")
    for p in points:
        scores = [str(p.scores[m]) for m in metrics]
        table.add_row(
            p.prompt,
            p.model,
            p.shots,
            *scores,
            f"{p.prompt_tokens:.0f}",
            _cost(p.cost_per_call),
        )
    return table


def docs_table(points: Sequence[DocsPoint], metrics: Sequence[str]) -> Table:
    """Score versus retrieved passages versus cost: one line per passage count."""
    table = Table(
        title="Retrieval sweep: what each retrieved passage buys, and what it costs",
        caption="prompt tokens as the provider counted them; +tokens/passage against "
        "the line above",
    )
    for name in ("prompt", "model"):
        table.add_column(name, no_wrap=True)
    for name in ("shots", "docs"):
        table.add_column(name, justify="right")
    for metric in metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    for name in ("prompt tokens/call", "+tokens/passage", "cost/call"):
        table.add_column(name, justify="right")
    for p in points:
        per = "-" if p.tokens_per_passage is None else f"{p.tokens_per_passage:.0f}"
        table.add_row(
            p.prompt,
            p.model,
            p.shots,
            str(p.docs),
            *[str(p.scores[m]) for m in metrics],
            f"{p.prompt_tokens:.0f}",
            per,
            _cost(p.cost_per_call),
        )
    return table


def reasoning_table(tradeoffs: Sequence[ReasoningTradeoff]) -> Table:
    """Reasoning variants against their direct counterparts: score gained, tokens spent."""
    metric = tradeoffs[0].metric
    table = Table(
        title="Reasoning before the answer: what thinking first buys, and what it costs",
        caption="answer tokens as the provider counted them; reasoning tokens estimated "
        "from its text; 'promptkit compare' gives the paired interval of the gain",
    )
    for name in ("reasoning variant", "direct variant"):
        table.add_column(name, no_wrap=True)
    table.add_column(f"{metric} direct -> reasoning", justify="right", no_wrap=True)
    table.add_column("gain", justify="right")
    table.add_column("answer tokens/call", justify="right")
    table.add_column("~reasoning tokens/call", justify="right")
    table.add_column("gain per 100 extra tokens", justify="right")
    for t in tradeoffs:
        per_100 = t.gain_per_100_tokens
        table.add_row(
            Text(t.reasoning.variant),
            Text(t.direct.variant),
            f"{t.direct.scores[metric].mean:.3f} -> {t.reasoning.scores[metric].mean:.3f}",
            f"{t.gain:+.3f}",
            f"{t.direct.completion_tokens:.0f} -> {t.reasoning.completion_tokens:.0f}",
            f"{t.reasoning.reasoning_tokens or 0:.0f}",
            "-" if per_100 is None else f"{per_100:+.3f}",
        )
    return table


def class_table(variant: str, report: ClassificationReport) -> Table:
    """Per-class precision, recall, F1 and support, with macro-F1 and accuracy below."""
    left_out = f", {report.unlabelled} without a reference left out" if report.unlabelled else ""
    table = Table(
        title=f"{variant}: per class ({report.rows} rows{left_out})",
        caption=f"macro-F1 {report.macro_f1}  accuracy {report.accuracy:.3f}",
    )
    table.add_column("class")
    for name in ("precision", "recall", "F1", "support"):
        table.add_column(name, justify="right")
    for label, f in report.per_class.items():
        table.add_row(
            Text(label), f"{f.precision:.3f}", f"{f.recall:.3f}", f"{f.f1:.3f}", str(f.support)
        )
    return table


def confusion_table(variant: str, report: ClassificationReport) -> Table:
    """Reference labels down, predicted labels across."""
    predicted = list(next(iter(report.confusion.values())).keys()) if report.confusion else []
    table = Table(title=f"{variant}: confusion", caption="rows: reference; columns: predicted")
    table.add_column("reference")
    for label in predicted:
        table.add_column(Text(label), justify="right")
    for label, counts in report.confusion.items():
        table.add_row(Text(label), *(str(counts[p]) for p in predicted))
    return table


def judges_table(summaries: Sequence[VariantSummary]) -> Table | None:
    """How consistent each LLM judge was; ``None`` when no metric used one."""
    rows = [(s, m, j) for s in summaries for m, j in s.judges.items()]
    if not rows:
        return None
    table = Table(title="LLM judges: agreement between samples, readable verdicts")
    for name in ("variant", "metric"):
        table.add_column(name, no_wrap=True)
    for name in ("samples", "agreement", "verdicts", "position-consistent", "judge tokens/call"):
        table.add_column(name, justify="right")
    for s, metric, j in rows:
        table.add_row(
            Text(s.variant),
            Text(metric),
            str(j.samples),
            _share(j.agreement),
            _share(j.verdict_rate),
            _share(j.consistent),
            f"{s.scorer_tokens:.0f}",
        )
    return table


def judge_calibration_table(summaries: Sequence[VariantSummary]) -> Table | None:
    """Each judge given human verdicts (``human:``) against them; ``None`` when none was."""
    rows = [
        (s, m, j.calibration)
        for s in summaries
        for m, j in s.judges.items()
        if j.calibration is not None
    ]
    if not rows:
        return None
    table = Table(
        title="LLM judges against human verdicts (95% intervals)", caption=_CALIBRATION_NOTE
    )
    for name in ("variant", "metric", "human verdicts"):
        table.add_column(name, no_wrap=True)
    for name in ("2x2", "sensitivity", "specificity", "kappa", "judged pass", "corrected pass"):
        table.add_column(name, justify="right", no_wrap=True)
    for s, metric, c in rows:
        table.add_row(Text(s.variant), Text(metric), *_calibration_cells(c))
    return table


_CALIBRATION_NOTE = (
    "human verdicts: labelled rows (+ rows without a verdict, judged only) and their column; "
    "2x2: judge pass/human pass, pass/fail, fail/pass, fail/fail; judged pass: over every "
    "row; corrected: Rogan-Gladen for the judge's sensitivity and specificity, "
    "- when the judge is no better than chance"
)


def _calibration_cells(c: JudgeCalibration) -> list[str | Text]:
    unlabelled = f" +{c.unlabelled}" if c.unlabelled else ""
    return [
        Text(f"{c.rows}{unlabelled} ({c.column})"),
        f"{c.true_pass}/{c.false_pass}/{c.false_fail}/{c.true_fail}",
        str(c.sensitivity),
        str(c.specificity),
        str(c.kappa),
        str(c.judged_rate),
        str(c.corrected_rate),
    ]


def _share(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.0%}"


def _p(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3g}"


def comparison_table(comparison: Comparison) -> Table:
    """Per metric: both means, the paired difference b - a with its interval, the test."""
    flips = "fixed: a failed and b passed; broken: the reverse"
    table = Table(
        title=f"b - a on {comparison.rows} shared rows\na: {comparison.a}\nb: {comparison.b}",
        caption=f"{holm_note(comparison.family)}\n{flips}",
    )
    table.add_column("metric", no_wrap=True)
    for name in ("a", "b", "b - a [95% CI] method", "p", "p (Holm)", "test", "fixed", "broken"):
        table.add_column(name, justify="right", no_wrap=name != "test")
    for m in comparison.metrics:
        d = m.difference
        interval = d.interval_text()
        mark = " *" if d.n and m.p_holm < 0.05 else ""
        table.add_row(
            m.metric,
            "-" if not d.n else f"{m.a_mean:.3f}",
            "-" if not d.n else f"{m.b_mean:.3f}",
            interval + mark,
            _p(d.p_value),
            _p(m.p_holm),
            d.method,
            str(len(m.fixed)),
            str(len(m.broken)),
        )
    return table


def _clip(value: object, width: int = 60) -> Text:
    text = "" if value is None else " ".join(str(value).split())
    return Text(text if len(text) <= width else text[: width - 1] + "…")


def flipped_table(metric: str, fixed: Sequence[FlippedRow], broken: Sequence[FlippedRow]) -> Table:
    """The rows whose verdict flipped between a and b, with both outputs."""
    table = Table(title=f"{metric}: rows that flipped")
    for name in ("row", "flip", "expected", "a output", "b output"):
        table.add_column(name, overflow="fold")
    for rows, flip in ((fixed, "fail -> pass"), (broken, "pass -> fail")):
        for r in rows:
            table.add_row(
                Text(r.row_id), flip, _clip(r.expected, 30), _clip(r.a_output), _clip(r.b_output)
            )
    return table
