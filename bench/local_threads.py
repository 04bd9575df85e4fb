"""The embedded model through promptkit against llama.cpp called directly.

Generates the same messages (the sentiment suite's first ROWS rows, sentiment@v2
zero-shot) four ways, each in a fresh process so OpenMP thread teams left by one
way cannot slow the next: ``llama_cpp.Llama`` on the main thread, the same calls
from a pool of threads (``asyncio.to_thread``, what promptkit did before),
promptkit's ``local/smollm2`` provider alone, and a whole ``promptkit eval`` of
them (runner, journal, progress). Prints seconds of wall and CPU, and for the eval
the generation time its journal records.

    python bench/local_threads.py [ROWS]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _requests(rows: int) -> list[object]:
    from promptkit import Request, load_suite

    suite = load_suite(REPO / "evals" / "sentiment.yaml")
    prompt = next(p for p in suite.prompts if p.ref == "sentiment@v2")
    return [
        Request(
            model="local/smollm2",
            messages=tuple(prompt.render({v: row[c] for v, c in suite.inputs.items()})),
            params={"max_tokens": 16, "temperature": 0.0},
        )
        for row in list(suite.dataset)[:rows]
    ]


def _one_way(way: str, rows: int) -> dict[str, float]:
    from promptkit import get_provider
    from promptkit.providers import local

    requests = _requests(rows)
    provider = get_provider("local/smollm2")
    llm = local._load(provider.path, provider.n_ctx, provider.n_threads)
    tokens = [local.prompt_tokens(llm, r.messages) for r in requests]  # type: ignore[attr-defined]
    llm.create_completion(prompt=tokens[0], max_tokens=4)  # weights faulted in, untimed

    def direct(t: list[int]) -> None:
        llm.create_completion(prompt=t, max_tokens=16, temperature=0.0, seed=0)

    cpu, started = time.process_time(), time.perf_counter()
    if way == "llama.cpp, main thread":
        for t in tokens:
            direct(t)
    elif way == "llama.cpp, asyncio.to_thread":

        async def pooled() -> None:
            for t in tokens:
                await asyncio.to_thread(direct, t)

        asyncio.run(pooled())
    elif way == "promptkit local/smollm2":

        async def promptkit_way() -> None:
            await asyncio.gather(*(provider.complete(r) for r in requests))  # type: ignore[arg-type]

        asyncio.run(promptkit_way())
    else:
        if way.endswith("(asyncio.to_thread)"):  # promptkit before: a pool of callers

            async def pooled_complete(self: local.LocalProvider, request: object) -> object:
                return await asyncio.to_thread(self._generate, request)  # type: ignore[arg-type]

            local.LocalProvider.complete = pooled_complete  # type: ignore[assignment,method-assign]
        return _eval_way(rows, cpu, started)
    return {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu}


def _eval_way(rows: int, cpu: float, started: float) -> dict[str, float]:
    import tempfile

    from promptkit import RunOptions, evaluate, load_run

    with tempfile.TemporaryDirectory() as tmp:
        cpu, started = time.process_time(), time.perf_counter()
        result = evaluate(
            _zero_shot_suite(Path(tmp)),
            RunOptions(limit=rows, cache=False),
            root=Path(tmp) / "runs",
        )
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        generation = float(load_run(result.run_id, root=Path(tmp) / "runs")["latency_s"].sum())
    return {"wall": wall, "cpu": used, "generation": generation}


def _zero_shot_suite(folder: Path) -> Path:
    """The sentiment suite with sentiment@v2 zero-shot only, 16 answer tokens."""
    text = (REPO / "evals" / "sentiment.yaml").read_text("utf-8")
    text = text.replace("prompts: [sentiment@v1, sentiment@v2]", "prompts: [sentiment@v2]")
    text = text.replace("k: [0, 4]", "k: [0]").replace("../", f"{REPO}/")
    text += f"prompts_dir: {REPO / 'prompts'}\nparams: {{max_tokens: 16, temperature: 0}}\n"
    path = folder / "suite.yaml"
    path.write_text(text, "utf-8")
    return path


WAYS = (
    "llama.cpp, main thread",
    "llama.cpp, asyncio.to_thread",
    "promptkit local/smollm2",
    "promptkit eval",
    "promptkit eval (asyncio.to_thread)",
)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--way":
        print(json.dumps(_one_way(sys.argv[2], int(sys.argv[3]))))
        return
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    for round_ in range(3):  # interleaved rounds: a machine's noise hits every way alike
        for way in WAYS:
            out = subprocess.run(
                [sys.executable, __file__, "--way", way, str(rows)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            figures = json.loads(out.strip().splitlines()[-1])
            generation = figures.get("generation")
            extra = "" if generation is None else f" ({generation:.2f} s generating)"
            print(
                f"round {round_ + 1}, {way}: {rows} cases, {figures['wall']:.2f} s wall, "
                f"{figures['cpu']:.2f} s CPU{extra}"
            )


if __name__ == "__main__":
    main()
