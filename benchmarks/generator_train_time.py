"""How long the three acceptance runs (``lab train MODEL digits --seed 0``, defaults) train, and whether
``torch.compile`` speeds up the diffusion training step.

Each model's default generator (its Config defaults, one torch thread as ``lab train`` sets it, the default batch)
takes ``--steps`` training steps after ``--warmup`` untimed ones; the script reports wall-clock and process CPU
seconds per step and projects the default budget (``default_steps``) from both. With one thread and nothing
else on the machine, wall time is the CPU time (plus a little): on a shared machine the CPU-time projection is
the quiet-machine estimate, the wall-clock one what this machine gave. The models alternate over ``--rounds``.

``--compile``: the diffusion step eager against the same step through ``torch.compile(unet)``
(``agent.compile=true``), alternated in this one process after an untimed compilation; ratio = compiled / eager
steps per CPU second.

    python benchmarks/generator_train_time.py                          # 3 rounds x 20 steps per model
    python benchmarks/generator_train_time.py --compile --rounds 3     # and the torch.compile comparison

Final line: JSON with per-model steps/s (wall and CPU), projected training minutes and the compile ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

MODELS = ("diffusion", "vae", "gan")
LIMIT_MINUTES = 15.0


def make(model: str, **overrides):
    import torch

    from generators.datasets import load_dataset
    from lab.registry import GENERATORS

    cls = GENERATORS.load(model)
    cfg = cls.Config(**overrides)
    data = load_dataset("digits", cfg.data)
    torch.manual_seed(0)
    return cls(cfg, data, seed=0, device="cpu")


def timed_steps(gen, steps: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``steps`` training steps."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        x, y = gen.stream.next()
        gen.train_step(x, y)
        gen._step += 1
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per model and round")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (allocations, compilation)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--compile", action="store_true", help="also time the diffusion step through torch.compile")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)  # what `lab train` sets for generators (ImageGenerator.default_threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    gens = {m: make(m) for m in models}
    if args.compile:
        gens["diffusion+compile"] = make("diffusion", compile=True)
    t0 = time.perf_counter()
    for name, g in gens.items():
        timed_steps(g, args.warmup)
    print(f"warm-up ({args.warmup} steps each{', compilation included' if args.compile else ''}): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    wall: dict[str, list[float]] = {k: [] for k in gens}
    cpu: dict[str, list[float]] = {k: [] for k in gens}
    for r in range(args.rounds):
        for name, g in gens.items():
            w, c = timed_steps(g, args.steps)
            wall[name].append(args.steps / w)
            cpu[name].append(args.steps / c)
            print(f"round {r + 1} {name:<18} {args.steps / w:7.2f} steps/s wall  {args.steps / c:7.2f} steps/s CPU",
                  flush=True)
    out: dict = {"benchmark": "generator_train_time", "threads": 1, "steps": args.steps, "rounds": args.rounds,
                 "models": {}}
    print(f"\n{'model':<18}{'steps':>7}{'wall/s':>9}{'cpu/s':>9}{'min (wall)':>12}{'min (quiet)':>13}")
    for name in gens:
        steps = type(gens[name]).default_steps
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        entry = {"default_steps": steps, "batch_size": gens[name].cfg.batch_size, "steps_per_s_wall": w,
                 "steps_per_s_cpu": c, "minutes_wall": steps / w / 60, "minutes_quiet_estimate": steps / c / 60}
        entry["fits_15_min_quiet"] = entry["minutes_quiet_estimate"] <= LIMIT_MINUTES
        out["models"][name] = entry
        print(f"{name:<18}{steps:>7}{w:>9.2f}{c:>9.2f}{entry['minutes_wall']:>12.1f}{entry['minutes_quiet_estimate']:>13.1f}"
              f"  {'fits' if entry['fits_15_min_quiet'] else 'OVER'} {LIMIT_MINUTES:.0f} min")
    if args.compile:
        ratio = statistics.median(cpu["diffusion+compile"]) / statistics.median(cpu["diffusion"])
        per_round = [c / e for c, e in zip(cpu["diffusion+compile"], cpu["diffusion"], strict=True)]
        out["compile_ratio_cpu"] = ratio
        out["compile_ratio_per_round"] = per_round
        print(f"torch.compile diffusion step: {ratio:.3f}x eager (per round: {', '.join(f'{v:.3f}' for v in per_round)})")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
