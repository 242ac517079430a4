"""The generators' acceptance runs on digits: default settings, ``--seed 0``, each scored against both references.

For each of diffusion, vae and gan: ``lab train MODEL digits --seed 0`` (with ``--train``; otherwise the run
folders under ``--runs`` are read as they are), then the metrics of its final evaluation (``eval.json``: 1,000
samples) beside the held-out real split and the 10-component GMM, the training minutes (``RunStarted`` to the
last training metrics in ``events.jsonl``, the final evaluation excluded) and, for diffusion, class accuracy at
guidance 2. ``--grids DIR`` copies each run's final sample grid there.

    python benchmarks/generator_quality.py --train --runs runs/acceptance      # ~30-60 min on 2 CPU cores
    python benchmarks/generator_quality.py --runs runs/acceptance --grids benchmarks/results
    python benchmarks/generator_quality.py --models vae,gan --keep benchmarks/results/generator_quality.json

Final line: JSON with one entry per model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

MODELS = ("diffusion", "vae", "gan")
TARGETS = {
    "diffusion": "fd <= fd_gmm, coverage 10/10, copy_rate < 5%, class_accuracy at guidance 2 >= 0.9",
    "vae": "fd <= 2 x fd_gmm, coverage >= 9/10",
    "gan": "fd <= 2 x fd_gmm, coverage >= 9/10",
}


def training_minutes(run: Path) -> float | None:
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    starts = [e["time"] for e in events if e["event"] == "RunStarted"]
    trained = [e["time"] for e in events if e["event"] == "MetricsLogged" and any(k.startswith("train/") for k in e["metrics"])]
    if not starts or not trained:
        return None
    return (trained[-1] - starts[0]) / 60.0


def passed(model: str, r: dict) -> bool:
    if model == "diffusion":
        return (r["fd"] <= r["fd_gmm"] and r["coverage"] == r["classes"] and r["copy_rate"] < 0.05
                and (r.get("class_accuracy_guidance_2") or 0) >= 0.9)
    return r["fd"] <= 2 * r["fd_gmm"] and r["coverage"] >= 9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/acceptance", help="folder holding MODEL-digits run folders")
    ap.add_argument("--train", action="store_true", help="train the runs that are missing first")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--grids", default=None, help="copy each run's final sample grid into this folder")
    ap.add_argument("--keep", default=None, help="an earlier result JSON: models left out of --models are copied from "
                                                  "it, marked carried_over")
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODELS]
    if bad:
        sys.exit(f"error: --models: unknown model {bad[0]!r}; expected some of {', '.join(MODELS)}")
    root = Path(args.runs)
    out: dict = {"benchmark": "generator_quality", "dataset": "digits", "seed": 0, "models": {}}
    for model in models:
        run = root / f"{model}-digits"
        if args.train and not (run / "eval.json").is_file():
            lab = Path(sys.executable).with_name("lab")
            cmd = [str(lab), "train", model, "digits", "--seed", "0", "--run-dir", str(run), "--quiet"]
            subprocess.run(cmd, check=True, env=dict(os.environ, WANDB_MODE=os.environ.get("WANDB_MODE", "offline")))
        if not (run / "eval.json").is_file():
            sys.exit(f"error: {run}: no eval.json (train it with --train, or lab train {model} digits --seed 0)")
        r = json.loads((run / "eval.json").read_text())
        entry = {k: r.get(k) for k in ("fd", "fd_real", "fd_gmm", "kid", "precision", "recall", "recall_real",
                                       "coverage", "classes", "copy_rate", "class_accuracy",
                                       "class_accuracy_guidance_2", "n", "step")}
        entry["training_minutes"] = training_minutes(run)
        entry["target"] = TARGETS[model]
        entry["passed"] = passed(model, r)
        out["models"][model] = entry
        if args.grids:
            Path(args.grids).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run / "samples.png", Path(args.grids) / f"generator_{model}_digits.png")
    if args.keep:
        earlier = json.loads(Path(args.keep).read_text()).get("models", {})
        for model in MODELS:
            if model not in out["models"] and model in earlier:
                out["models"][model] = {**earlier[model], "carried_over": True}
        out["models"] = {m: out["models"][m] for m in MODELS if m in out["models"]}
    print(f"{'model':<10}{'fd':>8}{'fd_gmm':>8}{'fd_real':>8}{'coverage':>10}{'copy_rate':>10}{'class_acc':>10}{'minutes':>9}")
    for model, e in out["models"].items():
        acc = e["class_accuracy_guidance_2"] if e["class_accuracy_guidance_2"] is not None else e["class_accuracy"]
        print(f"{model:<10}{e['fd']:>8.3f}{e['fd_gmm']:>8.3f}{e['fd_real']:>8.3f}{e['coverage']:>7}/{e['classes']:<2}"
              f"{e['copy_rate']:>10.3f}{'-' if acc is None else f'{acc:.3f}':>10}{e['training_minutes'] or float('nan'):>9.1f}"
              f"  {'pass' if e['passed'] else 'MISS'} ({e['target']}){' [earlier run]' if e.get('carried_over') else ''}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
