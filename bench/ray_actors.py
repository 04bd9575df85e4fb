"""The embedded model in process against Ray actors on a local cluster, same threads.

Runs sentiment@v1 zero-shot on the first ROWS rows of evals/sentiment.yaml, cache
off, three ways with the same total number of llama.cpp threads (2 on this
machine): in process (n_threads 2), one Ray actor (n_threads 2), two Ray actors
(n_threads 1 each). Prints cases/s of each run, the seconds it takes the cluster
to start and an actor to load the model, and the round trip Ray adds to one call
(a 1-token answer on an actor against the same call in process).

    python bench/ray_actors.py [ROWS]
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import REPO, machine_load

from promptkit import Message, Request, RunOptions, evaluate, get_provider
from promptkit.run.ray_executor import RayModelPool


def _project(root: Path) -> Path:
    """The sentiment suite's files copied under ``root``, so its model line can change."""
    for folder in ("prompts", "datasets"):
        shutil.copytree(REPO / folder, root / folder, dirs_exist_ok=True)
    (root / "evals").mkdir(exist_ok=True)
    return root / "evals" / "sentiment.yaml"


def _run(rows: int, model: str, executor: str, root: Path) -> float:
    """Cases per second of one run of ``rows`` rows on ``model``."""
    path = _project(root)
    text = (REPO / "evals" / "sentiment.yaml").read_text()
    path.write_text(text.replace("models: [local/smollm2]", f"models: [{model}]"))
    options = RunOptions(limit=rows, cache=False, executor=executor)
    started = time.perf_counter()
    result = evaluate(path, options, prompts=["sentiment@v1"], root=root / "runs")
    wall = time.perf_counter() - started
    assert result.errors == 0, result.error_counts
    return rows / wall


def _one_token(provider: object) -> float:
    request = Request(
        model="local/smollm2",
        messages=(Message("user", "Hi"),),
        params={"max_tokens": 1, "temperature": 0},
    )

    async def timed() -> float:
        await provider.complete(request)  # type: ignore[attr-defined]
        started = time.perf_counter()
        for _ in range(10):
            await provider.complete(request)  # type: ignore[attr-defined]
        return (time.perf_counter() - started) / 10

    return asyncio.run(timed())


def main() -> None:
    import ray

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _run(2, "{name: local/smollm2, n_threads: 2}", "local", root)  # load the model once
        local = _run(rows, "{name: local/smollm2, n_threads: 2}", "local", root)
        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        cluster_s = time.perf_counter() - started
        started = time.perf_counter()
        pool = RayModelPool("local/smollm2", {"n_threads": 2})
        ray.get([h.ready.remote() for h in pool.handles])
        actor_s = time.perf_counter() - started
        on_actor = _one_token(pool)
        in_process = _one_token(get_provider("local/smollm2", {"n_threads": 2}))
        asyncio.run(pool.aclose())
        one = _run(rows, "{name: local/smollm2, n_threads: 2, actors: 1, num_cpus: 2}", "ray", root)
        two = _run(rows, "{name: local/smollm2, n_threads: 1, actors: 2, num_cpus: 1}", "ray", root)
        ray.shutdown()
    print(f"{rows} sentiment rows, sentiment@v1, 2 llama.cpp threads in total, cache off")
    print(f"in process:             {local:.2f} cases/s")
    print(f"Ray, 1 actor x 2 thr:   {one:.2f} cases/s ({one / local:.2f}x)")
    print(f"Ray, 2 actors x 1 thr:  {two:.2f} cases/s ({two / local:.2f}x)")
    print(
        f"local cluster start:    {cluster_s:.1f} s; an actor up: {actor_s:.1f} s "
        "(its model loads on its first request)"
    )
    print(
        f"one 1-token call: {on_actor * 1000:.1f} ms on an actor, {in_process * 1000:.1f} ms in "
        f"process: Ray adds {(on_actor - in_process) * 1000:.1f} ms per call"
    )
    print(machine_load())


if __name__ == "__main__":
    main()
