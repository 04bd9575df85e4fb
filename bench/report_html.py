"""Size and build time of the HTML report, for a typical run and for 10,000 rows.

    python bench/report_html.py [--rows 10000]

Both runs go through the real runner on a scripted mock model (no model
weights needed) inside a temporary folder; the figures printed are the page's
size, split into plots (inline SVG), row data (JSON) and the rest, and the
time to build it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from promptkit import Completion, Request, evaluate, register_mock  # noqa: E402
from promptkit.report.html import write_html_report  # noqa: E402


def scripted(request: Request) -> Completion:
    """Plausible label replies, seeded by the prompt so every run is the same."""
    rng = random.Random("".join(m.content for m in request.messages))
    reply = rng.choice(["positive", "negative", "The review is positive.", "negativo", "hmm"])
    tokens = sum(len(m.content) for m in request.messages) // 4
    return Completion(reply, tokens, 3, latency_s=rng.uniform(0.05, 0.6), cost=tokens * 1e-7)


def measure(label: str, run_path: Path, out: Path) -> None:
    started = time.perf_counter()
    page = write_html_report(run_path, out)
    seconds = time.perf_counter() - started
    text = page.read_text("utf-8")
    svg = sum(len(m) for m in re.findall(r"<svg\b.*?</svg>", text, re.DOTALL))
    data = re.search(r'id="report-data">(.*?)</script>', text, re.DOTALL)
    rows = len(json.loads(data.group(1))["rows"]) if data else 0
    size = page.stat().st_size
    data_size = len(data.group(1)) if data else 0
    print(
        f"{label}: {rows:,} rows, {size / 1024:,.0f} KiB in all "
        f"(plots {svg / 1024:,.0f} KiB, row data {data_size / 1024:,.0f} KiB, "
        f"rest {(size - svg - data_size) / 1024:,.0f} KiB), built in {seconds:.2f} s"
    )


def large_suite(folder: Path, rows: int) -> Path:
    """The sentiment prompts on ``rows`` synthetic reviews, zero-shot, two versions."""
    lines = []
    for i in range(rows):
        label = "positive" if i % 2 else "negative"
        text = f"Review {i}: " + random.Random(i).choice(
            ["Works as described.", "Broke after a week.", "Great value, fast delivery."]
        )
        lines.append(json.dumps({"id": f"row-{i:05d}", "text": text, "label": label}))
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    suite = folder / "large.yaml"
    suite.write_text(
        f"dataset: {{path: rows.jsonl, id: id}}\ninputs: [text]\nreference: label\n"
        f"prompts: [sentiment@v1, sentiment@v2]\nmodels: [mock/bench]\n"
        f"prompts_dir: {REPO / 'prompts'}\nscorers: [label_accuracy]\n",
        "utf-8",
    )
    return suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    register_mock("bench", scripted)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chdir(folder)
        typical = evaluate(REPO / "evals" / "sentiment.yaml", models=["mock/bench"])
        measure("typical (sentiment suite, 3 variants)", typical.path, folder / "typical.html")
        large = evaluate(large_suite(folder, args.rows))
        measure(f"large ({args.rows:,} rows x 2 variants)", large.path, folder / "large.html")


if __name__ == "__main__":
    main()
