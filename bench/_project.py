"""A throw-away project for the benchmarks: one prompt, N rows, one model."""

from __future__ import annotations

import json
from pathlib import Path

PROMPT = """---
inputs: [text]
params: {temperature: 0, max_tokens: 8}
parser: {type: label, labels: [positive, negative]}
---
{% message "system" %}Reply with one word: positive or negative.{% endmessage %}
{% message "user" %}Review: {{ text }}{% endmessage %}
"""


def make_project(root: Path, rows: int, model: str, extra: str = "") -> Path:
    """Write prompts/, datasets/ and evals/bench.yaml under ``root``; return the suite path."""
    (root / "prompts" / "review").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "review" / "v1.jinja").write_text(PROMPT, "utf-8")
    (root / "datasets").mkdir(exist_ok=True)
    with (root / "datasets" / "rows.jsonl").open("w", encoding="utf-8") as out:
        for i in range(rows):
            label = "positive" if i % 2 else "negative"
            out.write(
                json.dumps({"id": f"r{i}", "text": f"review {i} was {label}", "label": label})
            )
            out.write("\n")
    (root / "evals").mkdir(exist_ok=True)
    suite = root / "evals" / "bench.yaml"
    suite.write_text(
        "dataset: {path: ../datasets/rows.jsonl, id: id}\n"
        "inputs: [text]\n"
        "reference: label\n"
        "prompts: [review@v1]\n"
        f"models: [{model}]\n"
        "scorers: [label_accuracy]\n" + extra,
        "utf-8",
    )
    return suite
