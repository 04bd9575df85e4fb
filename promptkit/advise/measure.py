"""A stored run as the figures the decision needs: scores, tokens per call, the shots curve
and the usable size of the example pool."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.advise.model import ShotStep, TuningFigures, VariantFigures
from promptkit.define.datasets import Dataset, load_dataset
from promptkit.define.ensembles import ENSEMBLE_MODEL
from promptkit.define.shots import ShotSelector, ShotSettings
from promptkit.errors import BadInput
from promptkit.paths import DEFAULT_ROOT
from promptkit.results.baselines import (
    LABEL_METRIC,
    LabelBaseline,
    run_baseline,
    variant_versus_majority,
)
from promptkit.results.compare import variant_scores
from promptkit.results.stats import mean_interval, paired_difference
from promptkit.results.store import RunStore, load_run
from promptkit.results.summary import column_mean

if TYPE_CHECKING:
    import pandas as pd


# -- measuring a run --------------------------------------------------------------------


@dataclass(frozen=True)
class Measurements:
    run_id: str
    path: str
    metric: str
    variants: tuple[VariantFigures, ...]
    steps: tuple[ShotStep, ...]
    pool_size: int | None  # usable examples in the suite's pool; None when unreadable
    strategy: str
    notes: tuple[str, ...] = ()
    majority: LabelBaseline | None = None  # label tasks: the rate a variant must beat
    suite_path: str | None = None


def measure_run(
    run: str | Path | None = None, *, metric: str | None = None, root: str | Path = DEFAULT_ROOT
) -> Measurements:
    """Scores, tokens per call and the shots curve of a stored run (default: the latest)."""
    folder = RunStore(root).find(run)
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    frame = load_run(folder, root=root)
    metric = _metric(meta, frame, metric, folder)
    # Ensembles are left to the tables and the gate: advise prices a variant by its
    # model, and an ensemble's cost is its members' (not its model).
    ensembles = frame["model"] == ENSEMBLE_MODEL
    notes = []
    if ensembles.any():
        notes.append("ensembles are left out of the advice: compare them in the run's table")
    frame = frame[~ensembles] if ensembles.any() else frame
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    majority = run_baseline(frame) if metric == LABEL_METRIC else None
    variants = tuple(
        _figures(frame, ok, str(v), metric, majority) for v in frame["variant"].unique()
    )
    unread = sorted({v.model for v in variants if v.tuning and v.tuning.method == _UNREAD})
    if unread:
        notes.append(f"no training figures for {', '.join(unread)}: its artifact is gone")
    raw = meta.get("resolved_suite") or {}
    shots = raw.get("shots")
    strategy = str(shots.get("strategy", "first")) if isinstance(shots, dict) else "first"
    pool, note = _usable_pool(meta)
    return Measurements(
        run_id=folder.name,
        path=str(folder),
        metric=metric,
        variants=variants,
        steps=tuple(_steps(frame, variants, metric)),
        pool_size=pool,
        strategy=strategy,
        notes=(*((note,) if note else ()), *notes),
        majority=majority,
        suite_path=meta.get("suite_path"),
    )


def _metric(meta: Mapping[str, Any], frame: pd.DataFrame, metric: str | None, folder: Path) -> str:
    known = list(meta.get("metrics") or [])
    if frame.empty:
        raise BadInput("the run has no journal rows", path=folder, hint="run 'promptkit eval'")
    if metric is None:
        if not known:
            raise BadInput("the run has no metrics", path=folder, hint="give --metric")
        return str(known[0])
    if metric not in known:
        raise BadInput(
            f"the run has no metric {metric!r}",
            path=folder,
            hint=f"choose one of: {', '.join(known) or 'none'}",
        )
    return metric


def _figures(
    frame: pd.DataFrame,
    ok: pd.DataFrame,
    variant: str,
    metric: str,
    majority: LabelBaseline | None,
) -> VariantFigures:
    rows = frame[frame["variant"] == variant]
    good = ok[ok["variant"] == variant]
    scores = variant_scores(frame, variant, metric)
    # Examples actually sent: fewer than k when the pool or a token budget runs short.
    used = float(rows["shot_ids"].map(len).mean()) if "shot_ids" in rows else 0.0
    return VariantFigures(
        variant=variant,
        prompt=str(rows["prompt"].iloc[0]),
        model=str(rows["model"].iloc[0]),
        shots=used,
        score=mean_interval(scores.tolist()),
        prompt_tokens=column_mean(good, "prompt_tokens"),
        completion_tokens=column_mean(good, "completion_tokens"),
        rows={str(row): float(score) for row, score in scores.items()},
        versus_majority=variant_versus_majority(good, majority) if majority else None,
        tuning=_tuning(str(rows["model"].iloc[0])),
    )


_UNREAD = "unknown"


def _tuning(model: str) -> TuningFigures | None:
    """What training a ``tuned/`` model measured, from its artifact's manifest; None for
    any other model. Read as the artifact is now (``promptkit tune --replace`` changes it)."""
    from promptkit.providers.tuned import tuned_manifest

    m = tuned_manifest(model)
    if m is None:
        is_tuned = model.partition("/")[0] == "tuned"
        return TuningFigures(_UNREAD, _UNREAD, 0, None, None, _UNREAD) if is_tuned else None
    f = m.figures
    return TuningFigures(
        method=m.method,
        base=m.base,
        examples=m.examples,
        training_tokens=f.get("tokens"),
        wall_s=f.get("wall_s"),
        device=str(f.get("device", _UNREAD)),
    )


def _steps(frame: pd.DataFrame, variants: Sequence[VariantFigures], metric: str) -> list[ShotStep]:
    """Consecutive shot counts of each prompt and model, paired on their shared rows."""
    groups: dict[tuple[str, str, str], list[VariantFigures]] = {}
    for v in variants:  # a step changes the shots only, never the passages retrieved
        groups.setdefault(v.line, []).append(v)
    steps = []
    for (prompt, model, _), members in groups.items():
        ordered = sorted(members, key=lambda v: v.shots)
        for a, b in itertools.pairwise(ordered):
            if b.shots == a.shots:
                continue
            left = variant_scores(frame, a.variant, metric)
            right = variant_scores(frame, b.variant, metric)
            shared = sorted(set(left.index) & set(right.index))
            gain = paired_difference(left.loc[shared].tolist(), right.loc[shared].tolist())
            steps.append(ShotStep(prompt, model, a.variant, b.variant, a.shots, b.shots, gain))
    return steps


def _usable_pool(meta: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """Pool rows that are not evaluation rows (the shot selector's rule), from the run's
    resolved suite; paths in it are relative to the suite file."""
    raw = meta.get("resolved_suite") or {}
    if "examples" not in raw:
        return 0, "the suite has no example pool: pass --labelled with the examples you have"
    base = Path(str(meta.get("suite_path") or ".")).parent
    inputs = raw.get("inputs") or []
    if isinstance(inputs, str):
        inputs = [inputs]
    columns = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
    try:
        pool, rows = _dataset(base, raw["examples"]), _dataset(base, raw["dataset"])
    except (BadInput, KeyError, TypeError) as exc:
        return None, f"could not read the suite's example pool ({exc}): pass --labelled"
    selector = ShotSelector(
        pool, ShotSettings(), input_columns=columns, label_column=None, exclude=rows
    )
    return len(selector.pool), None


def _dataset(base: Path, spec: Any) -> Dataset:
    spec = {"path": spec} if isinstance(spec, str) else dict(spec)
    return load_dataset(base / str(spec["path"]), id_column=spec.get("id"))


# -- prices -----------------------------------------------------------------------------
