"""Static plots for the HTML report, drawn with matplotlib as inline SVG.

SVG needs no JavaScript and no plotting library in the page, so a report stays
small whatever the number of rows: every plot here draws aggregates (means,
intervals, counts, quantiles), never one mark per row. Text is kept as SVG
text (``svg.fonttype: none``), which matplotlib escapes for XML, so a label
taken from a dataset cannot become markup.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ConfusionMatrix",
    "Distribution",
    "ScoreBar",
    "ShotPoint",
    "confusion_svg",
    "distribution_svg",
    "score_svg",
    "shots_svg",
]

INK, MUTED, GRID, BEST = "#1f2937", "#6b7280", "#e5e7eb", "#b45309"
_STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",  # real text: small, selectable, searchable
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: same metrics everywhere
    "font.size": 9,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.grid": True,
    "grid.color": GRID,
    "figure.facecolor": "none",
    "axes.facecolor": "none",
}
_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


@dataclass(frozen=True)
class ScoreBar:
    label: str
    color: str
    mean: float  # nan when the variant has no score
    low: float
    high: float
    best: bool = False


@dataclass(frozen=True)
class FrontDot:
    """One variant on the cost-quality plot."""

    label: str
    color: str
    spend: float  # x: cost or tokens per call
    mean: float
    low: float
    high: float
    dominated: bool


@dataclass(frozen=True)
class ShotPoint:
    series: str  # one line per prompt version (and model)
    color: str
    shots: float  # mean examples actually sent
    score: float
    low: float
    high: float
    prompt_tokens: float
    cost_per_call: float | None


@dataclass(frozen=True)
class ConfusionMatrix:
    title: str
    labels: list[str]  # expected on rows, answered on columns
    answers: list[str]
    counts: list[list[int]]


@dataclass(frozen=True)
class Distribution:
    label: str
    color: str
    latency_s: list[float]
    cost: list[float]


def _text(value: str, limit: int = 40) -> str:
    """Plot-safe text: no mathtext from a stray '$', and short enough to lay out."""
    value = value if len(value) <= limit else value[: limit - 1] + "…"
    return value.replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _to_svg(fig: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element for inline use (no XML prolog, no metadata)."""
    import matplotlib

    # A salt per figure keeps element ids unique within the page and stable between builds.
    with matplotlib.rc_context({"svg.hashsalt": name}):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1), count=1)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" class="plot-svg" ', 1)


def _styled() -> AbstractContextManager[None]:
    import matplotlib

    return matplotlib.rc_context(_STYLE)


def score_svg(metrics: Mapping[str, Sequence[ScoreBar]]) -> str:
    """Each metric's mean per variant with its 95% interval; the best one marked."""
    count = max((len(bars) for bars in metrics.values()), default=1)
    with _styled():
        fig = _figure(4.2 * len(metrics) + 1.6, 0.42 * count + 1.0)
        axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
        for ax, (metric, bars) in zip(axes, metrics.items(), strict=True):
            _score_axes(ax, metric, bars)
        return _to_svg(fig, "score by variant")


def _score_axes(ax: Axes, metric: str, bars: Sequence[ScoreBar]) -> None:
    positions = range(len(bars))[::-1]  # first variant on top
    for y, bar in zip(positions, bars, strict=True):
        if bar.mean != bar.mean:  # nan: nothing scored
            continue
        ax.plot([bar.low, bar.high], [y, y], color=bar.color, linewidth=2.2, alpha=0.55)
        ax.plot([bar.mean], [y], "o", color=bar.color, markersize=7)
        note = f"{bar.mean:.3f}" + ("  ★ best" if bar.best else "")
        ax.annotate(
            note,
            (bar.high, y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            color=BEST if bar.best else MUTED,
            fontweight="bold" if bar.best else "normal",
        )
    ax.set_yticks(list(positions), labels=[_text(b.label, 48) for b in bars])
    ax.set_xlim(-0.02, 1.18)
    ax.set_ylim(-0.7, len(bars) - 0.3)
    ax.grid(axis="y", visible=False)
    ax.set_title(_text(metric), loc="left", color=INK, fontweight="bold")
    ax.set_xlabel("mean score, 95% interval")


def shots_svg(
    points: Sequence[ShotPoint],
    *,
    x_label: str = "examples in the prompt (k)",
    title: str = "shots curve",
    log_x: bool = False,
) -> str:
    """Score, prompt tokens and cost per call versus the number of examples sent (or,
    with its own ``x_label``, of passages retrieved); ``log_x`` for counts from 0 to
    thousands (linear below 1, so 0 stays on the axis)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    priced = any(p.cost_per_call for p in points)
    panels = 3 if priced else 2
    with _styled():
        fig = _figure(3.6 * panels, 3.0)
        axes = fig.subplots(1, panels, squeeze=False)[0]
        series: dict[str, list[ShotPoint]] = {}
        for point in points:
            series.setdefault(point.series, []).append(point)
        # Nudge the lines apart on the score panel so intervals at the same k stay readable.
        spread = 0.0 if log_x else 0.03 * max((p.shots for p in points), default=1.0) or 0.03
        for i, (name, line) in enumerate(series.items()):
            line = sorted(line, key=lambda p: p.shots)
            xs = [p.shots for p in line]
            color = line[0].color
            # Clipped at 0: a Wilson bound at a mean of 1.0 can sit a rounding error below it.
            errors = [
                [max(0.0, p.score - p.low) for p in line],
                [max(0.0, p.high - p.score) for p in line],
            ]
            nudge = (i - (len(series) - 1) / 2) * spread
            axes[0].errorbar(
                [x + nudge for x in xs],
                [p.score for p in line],
                yerr=errors,
                marker="o",
                capsize=3,
                color=color,
                label=_text(name, 48),
            )
            axes[1].plot(xs, [p.prompt_tokens for p in line], marker="o", color=color)
            if priced:
                costs = [p.cost_per_call or 0.0 for p in line]
                axes[2].plot(xs, costs, marker="o", color=color)
        axes[0].set_ylabel("mean score, 95% interval")
        axes[0].set_ylim(-0.02, 1.02)
        axes[1].set_ylabel("prompt tokens per call")
        if priced:
            axes[2].set_ylabel("cost per call (USD)")
            axes[2].yaxis.set_major_formatter(FuncFormatter(lambda y, _: _usd_tick(y)))
        for ax in axes:
            ax.set_xlabel(x_label)
            if log_x:
                ax.set_xscale("symlog", linthresh=1)
                ax.set_xlim(left=-0.3)  # counts: no negative side
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.legend(loc="outside lower center", ncols=min(len(series), 3), frameon=False)
        return _to_svg(fig, title)


def front_svg(metric: str, axis: str, dots: Sequence[FrontDot], priced: bool) -> str:
    """Score against cost per call with 95% intervals; the front's variants joined."""
    from matplotlib.ticker import FuncFormatter

    with _styled():
        fig = _figure(6.4, 3.4)
        ax = fig.subplots()
        for dot in dots:
            ax.errorbar(
                [dot.spend],
                [dot.mean],
                yerr=[[max(0.0, dot.mean - dot.low)], [max(0.0, dot.high - dot.mean)]],
                marker="o" if not dot.dominated else "x",
                capsize=3,
                color=dot.color,
                alpha=0.45 if dot.dominated else 1.0,
                label=_text(dot.label + (" (dominated)" if dot.dominated else ""), 48),
            )
        front = sorted((d for d in dots if not d.dominated), key=lambda d: d.spend)
        ax.plot([d.spend for d in front], [d.mean for d in front], color=INK, linewidth=1)
        if priced:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _usd_tick(x)))
        ax.set_xlabel(_text(axis, 60))
        ax.set_ylabel(f"{_text(metric)}, 95% interval")
        ax.set_ylim(-0.02, 1.02)
        fig.legend(loc="outside right center", frameon=False)
        return _to_svg(fig, "cost-quality front")


def confusion_svg(matrix: ConfusionMatrix) -> str:
    """Counts of expected label (rows) against the parsed answer (columns)."""
    rows, cols = len(matrix.labels), len(matrix.answers)
    with _styled():
        fig = _figure(1.6 + 0.62 * cols, 1.2 + 0.42 * rows)
        ax = fig.subplots()
        top = max((max(r) for r in matrix.counts if r), default=0)
        # Vector cells, not imshow: an image would be a raster embedded as a data: URL.
        ax.pcolormesh(
            matrix.counts, cmap="Blues", vmin=0, vmax=max(top, 1), edgecolors="white", linewidth=1
        )
        for i, row in enumerate(matrix.counts):
            for j, count in enumerate(row):
                shade = "white" if top and count > top * 0.55 else INK
                ax.text(j + 0.5, i + 0.5, str(count), ha="center", va="center", color=shade)
        centres = [k + 0.5 for k in range(max(rows, cols))]
        ax.set_xticks(centres[:cols], labels=[_text(a, 18) for a in matrix.answers])
        ax.set_yticks(centres[:rows], labels=[_text(label, 18) for label in matrix.labels])
        ax.tick_params(axis="x", labelrotation=30, length=0)
        ax.tick_params(axis="y", length=0)
        ax.invert_yaxis()  # first label on top, as in a table
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.grid(False)
        ax.set_xlabel("answer (parsed)")
        ax.set_ylabel("expected")
        ax.set_title(_text(matrix.title, 60), loc="left", color=INK, fontsize=9)
        return _to_svg(fig, f"confusion matrix {matrix.title}")


def distribution_svg(distributions: Sequence[Distribution]) -> str:
    """Latency and cost per call for each variant: box from quartiles, whiskers 5-95%."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    count = max(len(distributions), 1)
    with _styled():
        fig = _figure(10, 0.42 * count + 1.2)
        latency_ax, cost_ax = fig.subplots(1, 2, sharey=True)
        _boxes(latency_ax, [[v * 1000 for v in d.latency_s] for d in distributions], distributions)
        latency_ax.set_xlabel("latency per call (ms)")
        if any(v for d in distributions for v in d.cost):
            _boxes(cost_ax, [d.cost for d in distributions], distributions)
            cost_ax.xaxis.set_major_locator(MaxNLocator(4))
            cost_ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _usd_tick(x)))
        else:
            cost_ax.text(
                0.5,
                0.5,
                "no cost recorded",
                ha="center",
                va="center",
                color=MUTED,
                transform=cost_ax.transAxes,
            )
        cost_ax.set_xlabel("cost per call (USD)")
        # After both boxplots: each one resets the shared axis' ticks to 1..n.
        labels = [_text(d.label, 48) for d in distributions][::-1]
        latency_ax.set_yticks(range(1, len(labels) + 1), labels=labels)
        return _to_svg(fig, "latency and cost")


def _usd_tick(value: float) -> str:
    if value <= 0:
        return r"\$0"
    decimals = max(2, 2 - math.floor(math.log10(value)))  # three significant digits
    return r"\$" + f"{value:.{decimals}f}".rstrip("0").rstrip(".")


def _boxes(ax: Axes, values: list[list[float]], distributions: Sequence[Distribution]) -> None:
    # Reversed so the first variant is on top; no fliers: one mark per row would grow the file.
    data = [v or [float("nan")] for v in values][::-1]
    boxes = ax.boxplot(
        data,
        orientation="horizontal",
        whis=(5, 95),
        showfliers=False,
        patch_artist=True,
        widths=0.55,
        medianprops={"color": INK},
    )
    for patch, dist in zip(boxes["boxes"], distributions[::-1], strict=True):
        patch.set_facecolor(dist.color)
        patch.set_alpha(0.45)
    ax.grid(axis="y", visible=False)
