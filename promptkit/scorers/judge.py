"""LLM as judge: a rubric grader and a pairwise comparer, both on any provider.

    scorers:
      - llm_judge:
          model: local/smollm2             # any provider/model, the local one included
          rubric: The answer names the sentiment and gives a reason.
          samples: 3                       # k judge samples per case; agreement reported
          human: human_verdict             # a column of human verdicts: calibration figures
          min_kappa: 0.6                   # the gate refuses a judge below these
          min_agreement: 0.8
      - pairwise_judge:
          model: openai/gpt-4o-mini
          against: baseline_answer         # a dataset column (default: the reference)

The judge prompt is itself a versioned prompt file (``judge@v1``,
``judge_pairwise@v1``), looked up in the suite's prompt folder first, then in
promptkit's own, shipped as package data (``promptkit/scorers/judge_prompts/``).
Its front-matter parser reads the verdict.

Judge calls go through the run (``Case.call``): they share its concurrency limits,
its cache where the runner has one, and their tokens and cost are counted on the
row as ``scorer_tokens`` and ``scorer_cost``. Pairwise judgements are asked in both
orders, so a judge that always prefers the first answer scores a tie, not a win.

With ``human: COLUMN`` each case's details carry the row's human verdict (``human``:
1, 0 or None), which the summary compares with the judge's
(:mod:`promptkit.results.calibration`); the suite checks every cell of the column
when it loads, so a bad one stops the suite before any model is called.
``min_kappa`` and ``min_agreement`` are read by the gate (:mod:`promptkit.ci.gate`).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from promptkit.define.datasets import Dataset
from promptkit.define.parsers import Parser, fold, make_parser
from promptkit.define.prompts import Prompt, PromptLibrary, parse_ref
from promptkit.errors import DatasetError, SuiteError
from promptkit.providers.base import Completion, Provider, Request, get_provider
from promptkit.scorers.base import Case, Score, ScorerSetup, scorer_factory

__all__ = ["HUMAN_VALUES", "JudgeSample", "human_verdict", "judge_agreement"]

#: promptkit's own judge prompts: package data, so that any install finds them.
_SHIPPED_PROMPTS = resources.files("promptkit.scorers") / "judge_prompts"
_PASS = {"pass", "yes", "true", "correct", "good"}
_FAIL = {"fail", "no", "false", "incorrect", "bad"}
#: Without an explicit temperature, k > 1 samples are drawn at this one; at 0 they
#: would all be the same answer and their agreement would mean nothing.
SAMPLING_TEMPERATURE = 0.7
_NO_VERDICT = "the judge gave no readable verdict"
#: What a human verdict cell may hold (any case), besides nothing at all.
_HUMAN = {"pass": True, "true": True, "1": True, "yes": True}
_HUMAN |= {"fail": False, "false": False, "0": False, "no": False}
HUMAN_VALUES = "pass/fail, true/false, 1/0, yes/no, or an empty cell for no verdict"


@dataclass(frozen=True)
class JudgeSample:
    """One judge answer: its verdict as read, and the value it gives the case."""

    verdict: str | None
    value: float | None  # None: the judge gave no readable verdict
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "value": self.value, "text": self.text[:400]}


def judge_agreement(values: Sequence[float]) -> float:
    """Share of valid samples that gave the most common value (1.0 for a single sample)."""
    if not values:
        return float("nan")
    return Counter(values).most_common(1)[0][1] / len(values)


def human_verdict(value: Any) -> bool | None:
    """A human verdict cell: True (pass), False (fail), None (empty: no verdict).

    Raises ValueError for anything else: a typo read as "no verdict" would quietly
    shrink the calibration, and one read as a fail would bias it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if not text:
        return None
    if text not in _HUMAN:
        raise ValueError(f"{value!r} is not a human verdict")
    return _HUMAN[text]


def _load_prompt(setup: ScorerSetup, ref: str) -> Prompt:
    family, _ = parse_ref(ref)
    if setup.prompts is not None and setup.prompts.versions(family):
        return setup.prompts.get(ref)
    shipped = _shipped_prompt(family, ref)
    if shipped is not None:
        return shipped
    raise SuiteError(
        f"judge prompt {ref!r} not found in the suite's prompts or promptkit's own",
        hint=f"add prompts/{family}/v1.jinja, starting from a copy of promptkit's own "
        f"{_SHIPPED_PROMPTS / 'judge' / 'v1.jinja'}",
    )


def _shipped_prompt(family: str, ref: str) -> Prompt | None:
    """``ref`` from promptkit's own judge prompts, or None when it has no such family.

    In an installed package (pip always unpacks wheels) the folder is a real one and
    ``as_file`` hands it over as it is. The Prompt is read whole before the ``with``
    ends, so on Python 3.12+, where ``as_file`` extracts a zipped folder to a
    temporary copy, a zipped promptkit finds its judge prompts too.
    """
    with resources.as_file(_SHIPPED_PROMPTS) as folder:
        library = PromptLibrary(folder)
        return library.get(ref) if library.versions(family) else None


class _Judge:
    """Renders a judge prompt, samples the judge k times and reads the verdicts."""

    def __init__(
        self,
        setup: ScorerSetup,
        *,
        prompt: str,
        model: str,
        samples: int,
        params: Mapping[str, Any] | None,
        api_base: str | None,
        seed: int,
    ) -> None:
        if samples < 1:
            raise ValueError("samples must be at least 1")
        self.prompt = _load_prompt(setup, prompt)
        self.parser: Parser = make_parser(self.prompt.meta.parser, path=self.prompt.path)
        self.model, self.samples, self.api_base, self.seed = model, samples, api_base, seed
        self.params = dict(self.prompt.meta.params)
        if samples > 1 and "temperature" not in (params or {}):
            self.params["temperature"] = SAMPLING_TEMPERATURE
        self.params.update(params or {})
        self._provider: Provider | None = None

    def describe(self) -> dict[str, Any]:
        return {"judge": self.model, "prompt": self.prompt.ref, "prompt_hash": self.prompt.hash}

    async def ask(self, case: Case, variables: Mapping[str, Any]) -> list[Completion]:
        """k samples for one rendering; sample i is repeat i, so each is cached apart."""
        messages = tuple(self.prompt.render(dict(variables)))
        requests = [
            Request(
                model=self.model,
                messages=messages,
                params=self.params,
                seed=self.seed,
                repeat=i,
                api_base=self.api_base,
            )
            for i in range(self.samples)
        ]
        call = case.call or self._direct_call
        return list(await asyncio.gather(*(call(r) for r in requests)))

    async def _direct_call(self, request: Request) -> Completion:
        """Outside a run (a scorer called from Python), ask the provider itself."""
        if self._provider is None:
            options = {"api_base": self.api_base} if self.api_base else {}
            self._provider = get_provider(self.model, options)
        return await self._provider.complete(request)

    def read(self, completion: Completion, values: Mapping[str, float]) -> JudgeSample:
        parsed = self.parser.parse(completion.text)
        verdict = None if parsed.value is None else str(parsed.value).strip()
        value = values.get(fold(verdict)) if verdict is not None else None
        return JudgeSample(verdict, value, completion.text)


def question_text(case: Case) -> str:
    """The task as the judged model saw it: its input variables, one per line."""
    if len(case.inputs) == 1:
        return str(next(iter(case.inputs.values())))
    return "\n".join(f"{name}: {value}" for name, value in case.inputs.items())


def _verdict_values(scale: Sequence[int]) -> dict[str, float]:
    """Verdict text (folded) -> value in [0, 1]: pass/fail words and the numeric scale."""
    low, high = int(scale[0]), int(scale[1])
    if high <= low:
        raise ValueError("scale must be [lowest, highest], e.g. [1, 5]")
    values = {word: 1.0 for word in _PASS} | {word: 0.0 for word in _FAIL}
    values |= {str(n): (n - low) / (high - low) for n in range(low, high + 1)}
    return values


@scorer_factory("llm_judge")
def llm_judge(
    setup: ScorerSetup,
    *,
    rubric: str,
    model: str = "local/smollm2",
    samples: int = 1,
    prompt: str = "judge@v1",
    params: Mapping[str, Any] | None = None,
    api_base: str | None = None,
    seed: int = 0,
    scale: Sequence[int] = (1, 5),
    human: str | None = None,
    min_kappa: float | None = None,
    min_agreement: float | None = None,
) -> Callable[[Case], Awaitable[Score]]:
    """Grade the reply against ``rubric``: the mean verdict of k samples (PASS 1, FAIL 0,
    or a number on ``scale``); a case with no readable verdict scores 0 and says so.
    ``human`` names a column of human verdicts to calibrate the judge against;
    ``min_kappa`` and ``min_agreement`` are gate thresholds on its trustworthiness."""
    _check_thresholds(human, samples, min_kappa, min_agreement)
    judge = _Judge(
        setup,
        prompt=prompt,
        model=model,
        samples=samples,
        params=params,
        api_base=api_base,
        seed=seed,
    )
    return _RubricScorer(judge, rubric, _verdict_values(scale), human)


def _check_thresholds(
    human: str | None, verdicts: int, min_kappa: float | None, min_agreement: float | None
) -> None:
    """``verdicts``: judge answers per case (pairwise judges ask each sample twice)."""
    for name, value in (("min_kappa", min_kappa), ("min_agreement", min_agreement)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number from 0 to 1")
    if min_kappa is not None and human is None:
        raise ValueError("min_kappa needs human: COLUMN, the dataset column of human verdicts")
    if min_agreement is not None and verdicts < 2:
        raise ValueError("min_agreement needs samples: 2 or more (one sample always agrees)")
    if human is not None and (not isinstance(human, str) or not human):
        raise ValueError("human must be a column name")


class _RubricScorer:
    """The ``llm_judge`` callable; with a human column it also checks the dataset's rows."""

    def __init__(
        self, judge: _Judge, rubric: str, values: Mapping[str, float], human: str | None
    ) -> None:
        self.judge, self.rubric, self.values, self.human = judge, rubric, values, human

    def check_rows(self, dataset: Dataset) -> None:
        """Refuse the first row whose human verdict cannot be read, naming its line.

        Called by the suite when it loads (:meth:`BoundScorer.check_rows`), before any
        model is called; a column no row has is a typo, not a dataset with no verdicts."""
        if self.human is None:
            return
        column = self.human
        if not any(column in row.data for row in dataset):
            raise DatasetError(
                f"no row has the human verdict column {column!r} (needed by llm_judge)",
                path=dataset.path,
                hint=f"fix 'human:' or add the column; the rows have: {', '.join(dataset.columns)}",
            )
        for row in dataset:
            value = row.data.get(column)
            try:
                human_verdict(value)
            except ValueError:
                raise DatasetError(
                    f"column {column!r} of row {row.id!r} holds {value!r}, not a human verdict",
                    path=dataset.path,
                    line=row.line,
                    hint=f"accepted: {HUMAN_VALUES}",
                ) from None

    async def __call__(self, case: Case) -> Score:
        variables = {
            "rubric": self.rubric,
            "question": question_text(case),
            "answer": case.raw,
            "reference": "" if case.expected is None else str(case.expected),
        }
        completions = await self.judge.ask(case, variables)
        score = _rubric_score([self.judge.read(c, self.values) for c in completions], self.judge)
        if self.human is None:
            return score
        verdict = human_verdict(case.row.get(self.human))
        human = {"human_column": self.human, "human": None if verdict is None else int(verdict)}
        return replace(score, details={**(score.details or {}), **human})


def _rubric_score(read: list[JudgeSample], judge: _Judge) -> Score:
    valid = [s.value for s in read if s.value is not None]
    details = {
        **judge.describe(),
        "k": len(read),
        "valid": len(valid),
        "agreement": judge_agreement(valid) if valid else None,
        "samples": [s.to_dict() for s in read],
    }
    if not valid:
        return Score(0.0, label="no verdict", explanation=_NO_VERDICT, details=details)
    verdicts = Counter(s.verdict.upper() for s in read if s.value is not None and s.verdict)
    return Score(
        sum(valid) / len(valid),
        label=verdicts.most_common(1)[0][0],
        explanation=f"{len(valid)}/{len(read)} verdicts, agreement {details['agreement']:.2f}",
        details=details,
    )


#: Pairwise verdicts from the judged output's side, by the position it was shown in.
_AS_FIRST = {"a": 1.0, "b": 0.0, "tie": 0.5}
_AS_SECOND = {"a": 0.0, "b": 1.0, "tie": 0.5}


@scorer_factory("pairwise_judge")
def pairwise_judge(
    setup: ScorerSetup,
    *,
    model: str = "local/smollm2",
    against: str | None = None,
    rubric: str = "Which answer does the task better: correct, complete and concise?",
    samples: int = 1,
    prompt: str = "judge_pairwise@v1",
    params: Mapping[str, Any] | None = None,
    api_base: str | None = None,
    seed: int = 0,
    min_agreement: float | None = None,
) -> Callable[[Case], Awaitable[Score]]:
    """Win (1), tie (0.5) or loss (0) of the reply against the reference, or against the
    dataset column ``against``; asked in both orders, k samples each, then averaged.
    ``min_agreement`` is a gate threshold on the agreement between samples."""
    _check_thresholds(None, 2 * samples, None, min_agreement)
    judge = _Judge(
        setup,
        prompt=prompt,
        model=model,
        samples=samples,
        params=params,
        api_base=api_base,
        seed=seed,
    )

    async def score(case: Case) -> Score:
        other = case.expected if against is None else case.row.get(against)
        if other is None or not str(other).strip():
            where = f"column {against!r}" if against else "the reference"
            raise ValueError(f"pairwise_judge: {where} is empty for this row")
        question = question_text(case)
        first = {"rubric": rubric, "question": question, "answer_a": case.raw}
        second = {"rubric": rubric, "question": question, "answer_b": case.raw}
        as_first, as_second = await asyncio.gather(
            judge.ask(case, {**first, "answer_b": str(other)}),
            judge.ask(case, {**second, "answer_a": str(other)}),
        )
        return _pairwise_score(
            [judge.read(c, _AS_FIRST) for c in as_first],
            [judge.read(c, _AS_SECOND) for c in as_second],
            judge,
        )

    return score


def _pairwise_score(first: list[JudgeSample], second: list[JudgeSample], judge: _Judge) -> Score:
    valid_first = [s.value for s in first if s.value is not None]
    valid_second = [s.value for s in second if s.value is not None]
    valid = valid_first + valid_second
    details = {
        **judge.describe(),
        "k": len(first),
        "valid": len(valid),
        "agreement": judge_agreement(valid) if valid else None,
        # The same winner whichever side it was shown on: no position bias on this case.
        "consistent": _consistent(valid_first, valid_second),
        "output_first": [s.to_dict() for s in first],
        "output_second": [s.to_dict() for s in second],
    }
    if not valid:
        return Score(0.0, label="no verdict", explanation=_NO_VERDICT, details=details)
    value = sum(valid) / len(valid)
    label = "win" if value > 0.5 else "loss" if value < 0.5 else "tie"
    return Score(
        value,
        label=label,
        explanation=f"{len(valid)}/{2 * len(first)} verdicts over both orders, "
        f"consistent: {details['consistent']}",
        details=details,
    )


def _consistent(first: Sequence[float], second: Sequence[float]) -> bool | None:
    if not first or not second:
        return None
    return bool(Counter(first).most_common(1)[0][0] == Counter(second).most_common(1)[0][0])
