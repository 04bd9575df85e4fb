"""Prompting against tuning on the intent task: `promptkit tune`, then one eval, on the CPU.

As a user would run it, through the CLI, in a throw-away copy of the project:

1. `promptkit tune evals/intent.yaml --prompt intent@v2` for LoRA (r=8) and prompt
   tuning (20 virtual tokens) on the 210-row pool, 10% held out for early stopping
   (189 training rows), until the validation loss stops improving (patience) or
   --epochs; its figures: steps, epochs, wall, training tokens/s, base load time;
2. one `promptkit eval` of intent@v2 at k=0 and 5 on the 50 evaluation rows, every
   model scoring the five label words by likelihood (the verbalizer): local/smollm2
   and hf/smollm2 (the prompt), and each tuned/ model (the same prompt, tuned);
3. `promptkit advise --json` on that run: each variant's score with its interval, the
   paired test against the majority class, and the measured fine-tuning branch (the
   best tuned variant against the chosen prompt, paired).

    python bench/tune.py                       # both methods, up to 3 epochs
    python bench/tune.py --methods lora --epochs 1
    python bench/tune.py --device cuda         # a GPU: time per step and tokens/s there

Nothing is asserted; the figures are printed with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LABELS = [
    "agendar_reuniao",
    "cancelar_pedido",
    "verificar_status",
    "solicitar_reembolso",
    "atualizar_cadastro",
]


def promptkit(project: Path, *args: str) -> tuple[float, str]:
    """Run the CLI in ``project``; its wall time and stdout (stderr passes through)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "promptkit", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"promptkit {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}")
    return wall, done.stdout


def tune(project: Path, method: str, args: argparse.Namespace) -> dict[str, Any]:
    flags = ["--epochs", str(args.epochs), "--validation-share", "0.1", "--json"]
    if args.device:
        flags += ["--device", args.device]
    if method == "lora":
        flags += ["--rank", "8"]
    else:
        flags += ["--virtual-tokens", "20"]
    wall, out = promptkit(
        project, "tune", "evals/intent.yaml", "--method", method, "--prompt", "intent@v2", *flags
    )
    manifest: dict[str, Any] = json.loads(out.splitlines()[-1])  # one JSON line per model
    f = manifest["figures"]
    print(
        f"{method:<14} {manifest['examples']:>5} {f['steps']:>6} {f['epochs']:>6} "
        f"{f['stopped']:<10} {f['wall_s']:>8.0f} {f['tokens_per_s']:>9.1f} "
        f"{f['wall_s'] / max(f['steps'], 1):>8.2f} {f['load_s']:>7.1f} {wall:>8.0f} "
        f"{f['best_validation_loss']:>8.3f}",
        flush=True,
    )
    return manifest


def suite(tuned: list[str]) -> str:
    labels = json.dumps(LABELS)
    models = "".join(
        f"  - {{name: {name}, score_labels: {labels}}}\n"
        for name in ["local/smollm2", "hf/smollm2", *tuned]
    )
    return (
        "dataset: {path: ../datasets/intent.jsonl, id: id}\n"
        "examples: {path: ../datasets/intent_pool.jsonl, id: id}\n"
        "inputs: [message]\nreference: intent\nprompts: [intent@v2]\n"
        f"models:\n{models}shots: {{k: [0, 5]}}\nscorers: [label_accuracy]\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["lora", "prompt-tuning"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="promptkit-tune-bench-") as tmp:
        project = Path(tmp)
        for part in ("prompts", "datasets", "evals", "pyproject.toml"):
            source = REPO / part
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, project / part)
        print(
            f"{'method':<14} {'rows':>5} {'steps':>6} {'epochs':>6} {'stopped':<10} "
            f"{'train s':>8} {'tok/s':>9} {'s/step':>8} {'load s':>7} {'wall s':>8} "
            f"{'best val':>8}"
        )
        manifests = [tune(project, method, args) for method in args.methods]
        tuned = [f"tuned/{m['id']}" for m in manifests]
        (project / "evals" / "intent_tuned.yaml").write_text(suite(tuned), "utf-8")
        wall, _ = promptkit(project, "eval", "evals/intent_tuned.yaml", "--no-cache")
        print(f"\neval: {wall:.0f} s for {2 * (2 + len(tuned))} variants x 50 rows", flush=True)
        _, out = promptkit(project, "advise", "--json")
        print_advice(json.loads(out))
        train = sum(m["figures"]["wall_s"] + m["figures"]["load_s"] for m in manifests)
        print(f"\ntune (all methods) + eval: {train + wall:.0f} s; load {os.getloadavg()[0]:.2f}")


def print_advice(advice: dict[str, Any]) -> None:
    m = advice["majority"]
    print(f"majority class {m['majority']}: {m['rate']['mean']:.3f} on {m['rows']} rows")
    print(f"{'variant':<48} {'accuracy [95%]':<24} {'vs majority (paired)':<30}")
    for v in advice["variants"]:
        f = v["figures"]
        s, d = f["score"], (f["versus_majority"] or {}).get("difference") or {}
        versus = f"{d['mean']:+.3f} p={d['p_value']:.2g}" if d else "-"
        print(f"{f['variant']:<48} {s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]    {versus}")
    measured = (advice.get("finetune") or {}).get("measured")
    if measured:
        d = measured["difference"]
        print(
            f"\nbest tuned {measured['tuned']} - {measured['against']}: {d['mean']:+.3f} "
            f"[{d['low']:+.3f}, {d['high']:+.3f}], paired p={d['p_value']:.2g} ({d['n']} rows)"
        )
    print(f"advise: {advice['action']}: {advice['recommendation']}\n  {advice['rule']}")


if __name__ == "__main__":
    main()
