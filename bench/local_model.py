"""Local model (llama.cpp in process) under concurrency: answer tokens per second.

Runs evals/sentiment.yaml (sentiment@v2, zero- and four-shot) on local/smollm2 at
concurrency 1 and 4, cache off. Requests take turns on the one model instance,
so concurrency must change neither the answers nor the per-request speed. A
warm-up run loads the model first.

    python bench/local_model.py [ROWS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from promptkit import RunOptions, evaluate, load_run

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    answers = []
    with tempfile.TemporaryDirectory() as tmp:
        # Load the model and fault its mmapped weights in before anything is timed.
        evaluate(
            REPO / "evals" / "sentiment.yaml",
            RunOptions(limit=1, cache=False),
            root=Path(tmp) / "w",
        )
        for concurrency in (1, 4):
            started = time.perf_counter()
            result = evaluate(
                REPO / "evals" / "sentiment.yaml",
                RunOptions(limit=rows, concurrency=concurrency, cache=False),
                prompts=["sentiment@v2"],
                root=Path(tmp) / "runs",
            )
            wall = time.perf_counter() - started
            frame = load_run(result.run_id, root=Path(tmp) / "runs")
            answers.append(frame.set_index(["variant", "row_id"])["output"].sort_index())
            seconds = frame["latency_s"].sum()
            prompt, answer = frame["prompt_tokens"].sum(), frame["completion_tokens"].sum()
            print(
                f"local/smollm2, concurrency {concurrency}: "
                f"{result.output_tokens_per_s['local/smollm2']:.1f} answer tokens/s and "
                f"{prompt / seconds:.0f} prompt tokens/s of request time; "
                f"{result.cases} cases ({prompt} prompt + {answer} answer tokens) "
                f"in {wall:.1f} s wall"
            )
    print(f"same answers at concurrency 1 and 4: {answers[0].equals(answers[1])}")


if __name__ == "__main__":
    main()
