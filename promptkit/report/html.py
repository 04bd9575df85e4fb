"""One self-contained HTML page per run: tables, plots, rows, prompts and metadata.

The page carries its styles, script and plots inline (plots as SVG drawn by
matplotlib) and requests nothing from any network, so it opens from disk and
can be attached to a pull request or a ticket. The Jinja template renders with
autoescaping on; the row table's data travels as JSON in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` written
as ``\\u003c``-style escapes, and the page's script only ever sets
``textContent``, so no model output or dataset text can become markup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from promptkit.paths import DEFAULT_ROOT
from promptkit.report import content as c
from promptkit.report import judge_views, plots, prompt_views
from promptkit.report.retrieval_views import docs_points
from promptkit.report.rows import row_table
from promptkit.report.tuning_views import EFFICIENCY_AXIS, efficiency_points
from promptkit.results.baselines import BASELINE_NOTE, LABEL_METRIC, shown_baseline
from promptkit.results.front import ON_FRONT, front_note
from promptkit.results.stats import Estimate
from promptkit.results.summary import front_axis, front_metric, front_priced, front_spend

__all__ = ["html_report", "write_html_report"]

_ASSETS = "assets"
_DASH = "\u2013"  # an en dash for "no value"
_DOCS_AXIS = "passages in the prompt (docs)"
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def html_report(
    run: str | Path | None = None,
    *,
    baseline: str | None = None,
    root: str | Path = DEFAULT_ROOT,
) -> str:
    """The report page of ``run`` (an id, a folder, or ``None`` for the latest run).

    ``baseline`` names the variant the others are compared with (its id or a unique
    part of it); by default the run's marked baseline, else its first variant.
    """
    run_content = c.load_content(run, baseline=baseline, root=root)
    return _environment().get_template("report.html.j2").render(_context(run_content))


def write_html_report(
    run: str | Path | None = None,
    path: str | Path | None = None,
    *,
    baseline: str | None = None,
    root: str | Path = DEFAULT_ROOT,
) -> Path:
    """Write the report page; by default to ``report.html`` inside the run folder."""
    from promptkit.results.store import RunStore

    folder = RunStore(root).find(run)
    target = Path(path) if path is not None else folder / "report.html"
    page = html_report(folder, baseline=baseline, root=root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("promptkit.report", _ASSETS),
        autoescape=True,  # every value is escaped unless a helper here marks it safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(estimate=_estimate, difference=_difference, pvalue=_pvalue, ms=_ms, usd=_usd)
    return env


def _asset(name: str) -> str:
    return (resources.files("promptkit.report") / _ASSETS / name).read_text("utf-8")


def script_json(data: Any) -> Markup:
    """JSON safe inside a ``<script>`` element: ``</script>`` in a value cannot close it."""
    try:
        text = _dumps(data)
    except ValueError:  # NaN or infinity somewhere: rare, so only then walk the data
        text = _dumps(_finite(data))
    return Markup(text.translate(_JSON_ESCAPES))


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _finite(value: Any) -> Any:
    """NaN and infinities become null: JSON.parse rejects them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _context(run: c.RunContent) -> dict[str, Any]:
    meta = run.meta
    git = meta.get("git") or {}
    suite = run.resolved_suite
    script = _asset("report.js")
    return {
        "run": run,
        "title": f"{meta.get('suite', 'run')} · {run.run_id}",
        "description": str(suite.get("description") or ""),
        "commit": str(git.get("commit") or "")[:10],
        "dirty": bool(git.get("dirty")),
        "rows": len({str(r.get("row_id")) for r in run.journal}),
        "errors": sum(v.summary.errors for v in run.variants),
        "reference_label": _reference_label(run),
        "plots": _plots(run),
        "judges": judge_views.judge_calibrations(run),
        "front": _front(run),
        "retrieves": any(v.summary.docs is not None for v in run.variants),
        "baseline": _baseline(run),
        "labels": {v.id: v.label for v in run.variants},
        "prompt_groups": _prompt_groups(prompt_views.rendered_prompts(run)),
        "diffs": prompt_views.prompt_diffs(run),
        "facts": c.run_facts(run),
        "models": [_model_line(m) for m in meta.get("models") or []],
        "versions": meta.get("versions") or {},
        "suite_yaml": yaml.safe_dump(dict(suite), sort_keys=False, allow_unicode=True),
        "data": script_json(row_table(run)),
        "css": Markup(_asset("report.css")),
        "js": Markup(script),
        "script_hash": _csp_hash(script),
    }


def _csp_hash(script: str) -> str:
    """The page's policy allows exactly this script, so injected markup could run nothing."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"sha256-{base64.b64encode(digest).decode('ascii')}"


def _reference_label(run: c.RunContent) -> str:
    labels = {v.id: v.label for v in run.variants}
    if run.reference is None:
        return ""
    kind = "the baseline" if run.reference_is_baseline else "the first variant"
    return f"{labels[run.reference]} ({kind})"


def _plots(run: c.RunContent) -> dict[str, Any]:
    """Each plot as inline SVG markup; matplotlib has escaped its text already."""
    shots, docs, efficiency = c.shot_points(run), docs_points(run), efficiency_points(run)
    has_rows = bool(run.journal)
    return {
        "score": Markup(plots.score_svg(c.score_bars(run))) if has_rows and run.metrics else None,
        "shots": Markup(plots.shots_svg(shots)) if shots else None,
        "docs": Markup(plots.shots_svg(docs, x_label=_DOCS_AXIS, title="retrieval curve"))
        if docs
        else None,
        "efficiency": Markup(
            plots.shots_svg(
                efficiency, x_label=EFFICIENCY_AXIS, title="data efficiency", log_x=True
            )
        )
        if efficiency
        else None,
        "confusion": [Markup(plots.confusion_svg(m)) for m in c.confusion_matrices(run)],
        "distribution": Markup(plots.distribution_svg(c.distributions(run))) if has_rows else None,
        "front": _front_plot(run),
    }


def _baseline(run: c.RunContent) -> dict[str, Any] | None:
    """The trivial answers of a label task, as the page words them; None for other tasks."""
    found = shown_baseline(v.summary.label_baseline for v in run.variants)
    if found is None or LABEL_METRIC not in run.metrics:
        return None
    return {
        "rows": found.rows,
        "majority": found.majority_text(),  # autoescaped: labels are dataset text
        "rate": found.rate,
        "chance": found.chance,
        "chance_text": found.chance_text(),
        "note": BASELINE_NOTE,
    }


def _front(run: c.RunContent) -> dict[str, str]:
    """The metric the front is marked on, its cost axis and the sentence that explains it."""
    summaries = [v.summary for v in run.variants]
    metric = front_metric(summaries, run.metrics)
    if metric is None:
        return {"metric": "", "axis": "", "note": "", "on_front": ON_FRONT}
    axis = front_axis(summaries)
    return {"metric": metric, "axis": axis, "note": front_note(axis, metric), "on_front": ON_FRONT}


def _front_plot(run: c.RunContent) -> Markup | None:
    """The cost-quality plot of the metric the front is marked on (none when nothing is
    dominated: every variant is then on the front and the table says so)."""
    summaries = [v.summary for v in run.variants]
    metric = front_metric(summaries, run.metrics)
    if metric is None:
        return None
    axis, priced = front_axis(summaries), front_priced(summaries)
    dots = [
        plots.FrontDot(
            label=v.label,
            color=v.color,
            spend=front_spend(v.summary, priced),
            mean=v.summary.scores[metric].mean,
            low=v.summary.scores[metric].low,
            high=v.summary.scores[metric].high,
            dominated=metric in v.summary.dominated_by,
        )
        for v in run.variants
        if v.summary.scores[metric].n
    ]
    return Markup(plots.front_svg(metric, axis, dots, priced))


def _prompt_groups(
    views: list[prompt_views.PromptView],
) -> list[tuple[Any, list[prompt_views.PromptView]]]:
    """Rendered prompts grouped under their template, in the order of the variants."""
    groups: dict[str, tuple[Any, list[prompt_views.PromptView]]] = {}
    for view in views:
        groups.setdefault(view.template.ref, (view.template, []))[1].append(view)
    return list(groups.values())


def _model_line(model: Any) -> str:
    if not isinstance(model, Mapping):
        return str(model)
    options = {k: v for k, v in model.items() if k != "name"}
    extra = f"  {json.dumps(options, ensure_ascii=False, default=str)}" if options else ""
    return f"{model.get('name')}{extra}"


def _estimate(est: Estimate) -> str:
    return _DASH if not est.n else f"{est.mean:.3f} [{est.low:.3f}, {est.high:.3f}]"


def _difference(d: c.Difference) -> str:
    if not d.n:
        return _DASH
    return f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}] {d.method}".rstrip()


def _pvalue(d: c.Difference) -> str:
    if not d.n:
        return _DASH
    return "< 0.001" if d.p_holm < 0.001 else f"{d.p_holm:.3g}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    return "$0" if value == 0 else f"${value:.6f}".rstrip("0")
