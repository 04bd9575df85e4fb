"""Scorers: registered functions of one case returning a score in [0, 1].

A suite names scorers in YAML, with arguments as a mapping::

    scorers:
      - label_accuracy
      - contains: {values: [refund, reembolso], mode: any}

Built-in families: ``text`` (exact_match, contains, regex, rouge_l, chrf), ``label``
(label_accuracy), ``numeric``, ``json_schema`` (json_valid, json_schema),
``similarity`` (semantic_similarity), ``judge`` (llm_judge, pairwise_judge),
``retrieval`` (retrieval_recall) and ``bounds`` (length, latency, cost). Each scorer
is declared as a ``promptkit.scorers`` entry point in pyproject.toml, exactly as a
third-party scorer is (:mod:`promptkit.plugins`), and its family module loads when
the name is first used.

A suite's own Python scorers (its ``scorer_files:``) register with the same decorator::

    from promptkit import scorer, Score

    @scorer("polite")
    def polite(case, *, words=("please",)):
        return Score(1.0 if any(w in case.raw for w in words) else 0.0)
"""

from promptkit.scorers.base import (
    BoundScorer,
    Case,
    Score,
    ScorerSetup,
    make_scorer,
    registered_scorers,
    scorer,
    scorer_factory,
)

__all__ = [
    "BoundScorer",
    "Case",
    "Score",
    "ScorerSetup",
    "make_scorer",
    "registered_scorers",
    "scorer",
    "scorer_factory",
]
