"""Scorers: registered functions of one case returning a score in [0, 1].

A suite names scorers in YAML, with arguments as a mapping::

    scorers:
      - label_accuracy
      - contains: {values: [refund, reembolso], mode: any}

Built-in families: ``text`` (exact_match, contains, regex, rouge_l, chrf), ``label``
(label_accuracy), ``numeric``, ``json_schema`` (json_valid, json_schema),
``similarity`` (semantic_similarity), ``judge`` (llm_judge, pairwise_judge) and
``bounds`` (length, latency, cost).

A suite's own Python scorers register with the same decorator::

    from promptkit import scorer, Score

    @scorer("polite")
    def polite(case, *, words=("please",)):
        return Score(1.0 if any(w in case.raw for w in words) else 0.0)
"""

# Importing a family registers its scorers; heavy libraries load only in factories.
from promptkit.scorers import bounds as _bounds  # noqa: F401
from promptkit.scorers import json_schema as _json_schema  # noqa: F401
from promptkit.scorers import judge as _judge  # noqa: F401
from promptkit.scorers import label as _label  # noqa: F401
from promptkit.scorers import numeric as _numeric  # noqa: F401
from promptkit.scorers import similarity as _similarity  # noqa: F401
from promptkit.scorers import text as _text  # noqa: F401
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
