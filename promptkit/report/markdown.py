"""A Markdown summary of a run, fit for a pull-request comment or a CI step summary.

Sections: the verdict, one line per variant (scores with 95% intervals, errors,
tokens and cost), the paired difference of each variant against its baseline,
the gate's rules, and the rows that flipped. Model output and dataset text go
into code spans: GitHub renders no HTML, link or @mention from them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from promptkit.ci.baseline import PairResult, RunOutcome
from promptkit.ci.gate import GateResult
from promptkit.results.baselines import BASELINE_NOTE, LABEL_METRIC, LabelBaseline, shown_baseline
from promptkit.results.compare import holm_note
from promptkit.results.front import ON_FRONT, front_note
from promptkit.results.reasoning import reasoning_tradeoffs
from promptkit.results.summary import VariantSummary, front_axis, front_metric
from promptkit.results.sweeps import docs_sweep

__all__ = ["MAX_FLIPPED_ROWS", "render_markdown"]

MAX_FLIPPED_ROWS = 20
_CELL_CHARS = 80
_NONE = "-"
_STATUS = {"pass": "✅", "fail": "❌", "skip": "⚪"}


def render_markdown(outcome: RunOutcome, gate: GateResult | None = None) -> str:
    parts = [
        _heading(outcome, gate),
        _run_line(outcome),
        _variant_table(outcome),
        _retrieval_section(outcome),
        _reasoning_section(outcome),
        _comparison_section(outcome),
        _gate_section(gate),
        _flipped_section(outcome),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _heading(outcome: RunOutcome, gate: GateResult | None) -> str:
    suite = _plain(outcome.meta.get("suite") or outcome.run_id)
    if gate is None or not gate.rules:
        return f"## promptkit · {suite}"
    failed = f"❌ gate failed ({_count(len(gate.failures), 'rule')})"
    verdict = "✅ gate passed" if gate.passed else failed
    return f"## promptkit · {suite} — {verdict}"


def _run_line(outcome: RunOutcome) -> str:
    git = outcome.meta.get("git") or {}
    commit = git.get("commit")
    where = f"commit `{commit[:7]}`" if commit else "no git commit"
    if git.get("dirty"):
        where += " with uncommitted changes"
    rows = outcome.frame["row_id"].nunique() if "row_id" in outcome.frame else 0
    parts = [f"run `{outcome.run_id}`", where, f"{rows} rows"]
    if outcome.link is not None:
        parts.append(f"baseline: {_plain(outcome.link.label)}")
    return " · ".join(parts)


def _variant_table(outcome: RunOutcome) -> str:
    shown = outcome.summaries + (outcome.base_summaries if _external(outcome) else [])
    if not shown:
        return "_No rows were scored._"
    front = front_metric(outcome.summaries, outcome.metrics)
    baseline = _baseline(outcome)
    header = ["variant", "rows", *outcome.metrics]
    header += ["beats majority"] if baseline else []
    header += ["errors", "tokens/call", "cost"]
    header += [f"dominated on {front} by"] if front else []
    lines = [_row(header), _row(["---", *["---:"] * (len(header) - 1)])]
    for summary in shown:
        cells = _variant_cells(outcome, summary)
        if baseline:
            majority = summary.versus_majority
            cells.insert(2 + len(outcome.metrics), majority.text() if majority else _NONE)
        if front:  # a base run's own front is not this table's: its rows stay blank
            mark = summary.dominated_by.get(front, ON_FRONT)
            cells.append("" if summary in outcome.base_summaries else _plain(mark))
        lines.append(_row(cells))
    if baseline:
        lines += _baseline_rows(baseline, outcome.metrics, len(header))
    note = "95% intervals in brackets (Wilson for pass/fail scores, bootstrap otherwise)."
    if baseline:
        note += " " + _plain(BASELINE_NOTE[0].upper() + BASELINE_NOTE[1:]) + "."
    if front:
        note += " " + front_note(front_axis(outcome.summaries), front) + "."
    return "\n".join(lines) + "\n\n" + note


def _baseline(outcome: RunOutcome) -> LabelBaseline | None:
    if LABEL_METRIC not in outcome.metrics:
        return None
    return shown_baseline(s.label_baseline for s in outcome.summaries)


def _baseline_rows(baseline: LabelBaseline, metrics: Sequence[str], width: int) -> list[str]:
    """The trivial answers under the variants, scored in the label column only."""
    rows = []
    for name, how, score in (
        ("majority class", baseline.majority_text(_code), str(baseline.rate)),
        ("uniform chance", _plain(baseline.chance_text()), f"{baseline.chance:.3f}"),
    ):
        scores = [score if m == LABEL_METRIC else _NONE for m in metrics]
        cells = [f"_{name}_: {how}", str(baseline.rows), *scores]
        rows.append(_row(cells + [_NONE] * (width - len(cells))))
    return rows


def _external(outcome: RunOutcome) -> bool:
    return outcome.link is not None and outcome.link.kind != "git"


def _variant_cells(outcome: RunOutcome, summary: VariantSummary) -> list[str]:
    name = summary.variant
    if summary in outcome.base_summaries and _external(outcome):
        name += f" ({outcome.link.label if outcome.link else 'baseline'})"
    cost = _NONE if summary.cost is None else f"${summary.cost:.4f}"
    tokens = summary.prompt_tokens + summary.completion_tokens
    return [
        _plain(name),
        str(summary.cases),
        *(str(summary.scores[m]) if m in summary.scores else _NONE for m in outcome.metrics),
        str(summary.errors),
        f"{tokens:.0f}",
        cost,
    ]


def _retrieval_section(outcome: RunOutcome) -> str:
    """What each retrieved passage buys and costs, when the run swept passage counts."""
    points = docs_sweep(outcome.summaries, outcome.metrics)
    if not points:
        return ""
    header = ["prompt", "model", "shots", "docs", *outcome.metrics, "prompt tokens/call"]
    lines = ["### Retrieval sweep", "", _row(header)]
    lines.append(_row(["---", "---", *["---:"] * (len(header) - 2)]))
    for p in points:
        scores = [str(p.scores[m]) for m in outcome.metrics]
        cells = [_plain(p.prompt), _plain(p.model), p.shots, str(p.docs), *scores]
        lines.append(_row([*cells, f"{p.prompt_tokens:.0f}"]))
    return "\n".join(lines)


def _reasoning_section(outcome: RunOutcome) -> str:
    """Reasoning variants against their direct counterparts: score gained, tokens spent."""
    metric = outcome.metrics[0] if outcome.metrics else None
    tradeoffs = reasoning_tradeoffs(outcome.summaries, metric) if metric else []
    if not tradeoffs:
        return ""
    header = ["reasoning variant", "direct variant", f"{metric} direct → reasoning", "gain"]
    header += ["answer tokens/call", "gain per 100 extra tokens"]
    lines = ["### Reasoning before the answer", "", _row(header)]
    lines.append(_row(["---", "---", *["---:"] * 4]))
    for t in tradeoffs:
        direct, reasoning = t.direct.scores[t.metric].mean, t.reasoning.scores[t.metric].mean
        per_100 = t.gain_per_100_tokens
        tokens = f"{t.direct.completion_tokens:.0f} → {t.reasoning.completion_tokens:.0f}"
        cells = [_plain(t.reasoning.variant), _plain(t.direct.variant)]
        cells += [f"{direct:.3f} → {reasoning:.3f}", f"{t.gain:+.3f}", tokens]
        lines.append(_row([*cells, _NONE if per_100 is None else f"{per_100:+.3f}"]))
    return "\n".join(lines)


def _comparison_section(outcome: RunOutcome) -> str:
    if outcome.link is None:
        return ""
    compared = [p for p in outcome.pairs if p.comparison is not None]
    header = [
        "variant",
        "baseline",
        "metric",
        "head",
        "base",
        "difference [95% CI] method",
        "p (Holm)",
    ]
    lines = [f"### Against the baseline ({_plain(outcome.link.label)})"]
    if compared:
        lines += ["", _row(header), _row(["---"] * 3 + ["---:"] * 4)]
        lines += [_row(cells) for pair in compared for cells in _comparison_rows(pair)]
        lines += ["", _plain(holm_note(outcome.family))]
    others = [p for p in outcome.pairs if p.comparison is None]
    if others:
        lines.append("")
        lines += [f"- {_plain(p.pair.head)}: {_plain(p.pair.note)}" for p in others]
    return "\n".join(lines)


def _comparison_rows(result: PairResult) -> Iterable[list[str]]:
    assert result.comparison is not None
    for metric in result.comparison.metrics:
        diff = metric.difference
        yield [
            _plain(result.pair.head),
            _plain(result.pair.base or ""),
            _plain(metric.metric),
            _fixed(metric.b_mean),
            _fixed(metric.a_mean),
            _NONE if diff.n == 0 else diff.interval_text(),
            _NONE if diff.n == 0 else f"{metric.p_holm:.3g}",
        ]


def _gate_section(gate: GateResult | None) -> str:
    if gate is None or not gate.rules:
        return ""
    lines = ["### Gate", "", _row(["", "rule", "variant", "figures"]), _row(["---"] * 4)]
    for rule in gate.rules:
        status = _STATUS[rule.status]
        lines.append(_row([status, *map(_plain, (rule.rule, rule.variant, rule.figures))]))
    return "\n".join(lines)


def _flipped_section(outcome: RunOutcome) -> str:
    flips = list(_flips(outcome))
    if not flips:
        return ""
    fixed = sum(1 for f in flips if f[3] == "fail → pass")
    header = ["variant", "row", "metric", "change", "expected", "output"]
    lines = [
        f"<details><summary>Flipped rows against the baseline: {len(flips)} "
        f"({fixed} fixed, {len(flips) - fixed} broken)</summary>",
        "",
        _row(header),
        _row(["---"] * len(header)),
    ]
    for variant, row_id, metric, change in flips[:MAX_FLIPPED_ROWS]:
        expected, output = _row_text(outcome, variant, row_id)
        lines.append(
            _row([_plain(variant), _code(row_id), _plain(metric), change, expected, output])
        )
    if len(flips) > MAX_FLIPPED_ROWS:
        lines += ["", f"… and {len(flips) - MAX_FLIPPED_ROWS} more in the run's journal."]
    lines += ["", "</details>"]
    return "\n".join(lines)


def _flips(outcome: RunOutcome) -> Iterable[tuple[str, str, str, str]]:
    for result in outcome.pairs:
        if result.comparison is None:
            continue
        for metric in result.comparison.metrics:
            for row_id in metric.broken:
                yield result.pair.head, str(row_id), metric.metric, "pass → fail"
            for row_id in metric.fixed:
                yield result.pair.head, str(row_id), metric.metric, "fail → pass"


def _row_text(outcome: RunOutcome, variant: str, row_id: str) -> tuple[str, str]:
    frame = outcome.frame
    match = frame[(frame["variant"] == variant) & (frame["row_id"].astype(str) == row_id)]
    if match.empty:
        return _NONE, _NONE
    first = match.iloc[0]
    return _code(first.get("expected")), _code(first.get("output"))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# --- cells ------------------------------------------------------------------------------


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _fixed(value: float) -> str:
    return _NONE if math.isnan(value) else f"{value:.3f}"


def _plain(text: Any) -> str:
    """Names we wrote or the user chose: escape what breaks a table or becomes HTML."""
    value = str(text).replace("\n", " ")
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        value = value.replace(raw, escaped)
    return value


def _code(text: Any) -> str:
    """Untrusted text as a code span: shown literally, never rendered, cut to one line."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return _NONE
    value = " ".join(str(text).split())
    if len(value) > _CELL_CHARS:
        value = value[: _CELL_CHARS - 1] + "…"
    if not value:
        return _NONE
    value = value.replace("|", "\\|")  # GFM splits cells on pipes even inside code spans
    longest = max((len(run) for run in re.findall("`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"
