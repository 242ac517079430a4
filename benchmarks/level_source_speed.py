"""Does a generator level source keep up with PPO? Levels/s it sustains against the resets/s PPO consumes.

    python benchmarks/level_source_speed.py runs/maze-diffusion [--ppo-steps 20000] [--batches 4]

In one process, one after the other on the same CPU threads:

1. the ``generator:RUN_DIR`` source: batches of ``--batch`` levels sampled as the run is configured (its
   sampler and DDIM steps), timed over ``--batches`` batches after the pool is filled: levels per second;
2. the ``procedural`` source: recursive-backtracker draws per second;
3. PPO with the maze family's defaults on ``maze-SIZE:procedural`` for ``--ppo-steps`` steps through
   ``lab train`` (no evaluation, no tracking): resets per second it consumes (its ``LevelDrawn`` events
   over the wall time); and the rate it would consume once its episodes are as short as the shortest
   mean episode length of ``--trained RUN`` (a finished PPO maze run), the worst case for a source.

Ends with one JSON line; the target is ``generator_levels_per_s >= 2 * ppo_resets_per_s``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.mazes.generated import GeneratorSource  # noqa: E402
from envs.mazes.levels import ProceduralSource  # noqa: E402
from lab.eventlog import read_events  # noqa: E402
from lab.training import resolve_config, train  # noqa: E402


def generator_rate(run: str, size: int, batch: int, batches: int, device: str) -> dict:
    t0 = time.perf_counter()
    src = GeneratorSource(size, run, batch=batch, pool=batch, background=False, device=device)
    load = time.perf_counter() - t0
    src.levels_sampled, src.sampling_seconds = 0, 0.0
    for _ in range(batches):
        src._sample()
    cfg = src.generator.cfg
    return {"levels_per_s": src.levels_per_second(), "batch": batch, "batches": batches,
            "sampler": getattr(cfg, "sampler", None), "sample_steps": getattr(cfg, "sample_steps", None),
            "load_seconds": load, "algo": type(src.generator).__name__.lower()}


def procedural_rate(size: int, seconds: float = 3.0) -> float:
    src, rng = ProceduralSource(size), np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        src.draw(rng)
        n += 1
    return n / (time.perf_counter() - t0)


def ppo_rate(size: int, steps: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve_config(algo="ppo", env=f"maze-{size}:procedural",
                             sets=[f"steps={steps}", "eval_every=0", f"seed={seed}"], flags={"track": False})
        train(cfg, run_dir=Path(tmp) / "ppo", display=False)
        events = list(read_events(Path(tmp) / "ppo" / "events.jsonl"))
    # the training span only (from the start to the last training step's events; the final evaluation is not PPO's)
    start = next(e["time"] for e in events if e["event"] == "RunStarted")
    draws = [e for e in events if e["event"] == "LevelDrawn"]
    last = max(e["time"] for e in events if e["event"] in ("EpisodeEnded", "LevelDrawn"))
    last_step = max(e["step"] for e in events if e["event"] in ("EpisodeEnded", "LevelDrawn"))
    seconds = last - start
    return {"resets_per_s": len(draws) / seconds, "steps_per_s": last_step / seconds, "resets": len(draws),
            "seconds": seconds, "n_envs": cfg.agent.n_envs}


def shortest_mean_episode(run: Path, window: int = 100) -> float | None:
    lengths = [e["episode_length"] for e in read_events(run / "events.jsonl") if e["event"] == "EpisodeEnded"]
    if len(lengths) < window:
        return None
    means = np.convolve(lengths, np.ones(window) / window, mode="valid")
    return float(means.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a generator run trained on mazes-SIZE")
    parser.add_argument("--size", type=int, default=13)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--ppo-steps", type=int, default=20_000)
    parser.add_argument("--trained", type=Path, help="a finished PPO maze run: its shortest episodes bound the rate")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    gen = generator_rate(args.run, args.size, args.batch, args.batches, args.device)
    print(f"generator source ({gen['algo']}, {gen['sampler']} {gen['sample_steps']} steps, batch {gen['batch']}): "
          f"{gen['levels_per_s']:.1f} levels/s")
    proc = procedural_rate(args.size)
    print(f"procedural source: {proc:.0f} levels/s")
    ppo = ppo_rate(args.size, args.ppo_steps, args.seed)
    print(f"PPO (maze defaults, {ppo['n_envs']} envs, {args.ppo_steps:,} steps): {ppo['steps_per_s']:.0f} steps/s, "
          f"{ppo['resets_per_s']:.2f} resets/s")
    worst = ppo["resets_per_s"]
    result = {"benchmark": "level_source_speed", "size": args.size, "threads": args.threads,
              "generator_levels_per_s": gen["levels_per_s"], "generator": gen, "procedural_levels_per_s": proc,
              "ppo_resets_per_s": ppo["resets_per_s"], "ppo": ppo}
    if args.trained is not None:
        shortest = shortest_mean_episode(args.trained)
        if shortest:
            bound = ppo["steps_per_s"] / shortest
            worst = max(worst, bound)
            result["trained_shortest_mean_episode"] = shortest
            result["ppo_resets_per_s_trained"] = bound
            print(f"PPO once episodes are {shortest:.0f} steps long ({args.trained.name}): {bound:.2f} resets/s")
    result["ratio_generator_to_ppo"] = gen["levels_per_s"] / worst
    result["ratio_procedural_to_ppo"] = proc / worst
    result["target_met"] = result["ratio_generator_to_ppo"] >= 2.0
    print(f"generator / PPO consumption: {result['ratio_generator_to_ppo']:.1f}x (target >= 2x); "
          f"procedural / PPO: {result['ratio_procedural_to_ppo']:.0f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
