"""Label likelihoods on ``local/``: each label's log-probability as the reply's start.

The prompt is evaluated once and its last logits kept; each label is then fed one
token at a time after it, reading the logits llama.cpp leaves for the last token
(the model is loaded without ``logits_all``, which would cost a full vocabulary row
of memory per context position). A label's score is the sum of its tokens'
log-probabilities, as ``hf/`` computes it, so "prompt + verbalizer" means the same
on both providers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["label_log_likelihoods"]


def label_log_likelihoods(llm: Any, prompt: Sequence[int], labels: Sequence[str]) -> list[float]:
    """Each label's summed token log-probability right after ``prompt`` (chat tokens that
    end with the assistant's turn opening)."""
    llm.reset()
    llm.eval(list(prompt))
    after_prompt = _last_log_probs(llm)
    scores = []
    for label in labels:
        tokens = llm.tokenize(label.encode("utf-8"), add_bos=False, special=False)
        total, log_probs = 0.0, after_prompt
        for index, token in enumerate(tokens):
            total += float(log_probs[token])
            if index + 1 < len(tokens):
                llm.n_tokens = len(prompt) + index  # drop what the last label left behind
                llm.eval([token])
                log_probs = _last_log_probs(llm)
        scores.append(total)
    llm.reset()  # the next generation starts from a clean context
    return scores


def _last_log_probs(llm: Any) -> Any:
    """Log-softmax of the logits llama.cpp holds for the last token it evaluated."""
    import llama_cpp
    import numpy as np

    row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    logits = np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float64)
    top = float(logits.max())
    return logits - (top + math.log(float(np.exp(logits - top).sum())))
