"""The lab's training loop against raw stable-baselines3: same config, same seed, same thread count.

The lab side is ``lab.training.train`` as ``lab train --no-track --quiet`` runs it: events on the bus,
``events.jsonl`` flushed per event, the SB3 callback adapter, checkpoints every tenth of the budget,
timed from ``RunStarted`` to the final checkpoint. The raw side is ``model.learn`` of the SB3 model
built with the very constructor arguments the lab passes. Lab and raw runs alternate, each in its
own process; the ratio compares medians.

    python benchmarks/overhead.py                 # PPO CartPole-v1 and SAC Pendulum-v1, 3 rounds
    python benchmarks/overhead.py --rounds 5 --tasks ppo

Final line: JSON with steps/s per side and ``ratio`` = lab / raw per task (target >= 0.97).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import run_child

# algo: (env, steps per run)
TASKS = {"ppo": ("CartPole-v1", 50_000), "sac": ("Pendulum-v1", 3_000)}


def _resolved(algo: str, seed: int):
    from lab.training import resolve_config

    env_id, steps = TASKS[algo]
    return resolve_config(algo=algo, env=env_id, sets=[f"seed={seed}", f"steps={steps}"], flags={"track": False})


def child_lab(spec: dict) -> dict:
    from lab.events import CheckpointSaved, RunStarted
    from lab.training import train

    cfg = _resolved(spec["algo"], spec["seed"])
    marks: dict = {}

    class Clock:
        def attach(self, bus):
            self.bus = bus
            bus.subscribe(RunStarted, self.on_start)
            bus.subscribe(CheckpointSaved, self.on_checkpoint)

        def on_start(self, e):
            marks.setdefault("t0", time.perf_counter())
            self.bus.timings.clear()  # time in subscribers from here on

        def on_checkpoint(self, e):
            marks.update(t1=time.perf_counter(), step=e.step, in_subscribers=sum(self.bus.timings.values()))

    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, run_dir=Path(tmp) / "run", subscribers=[Clock()], display=False)
    seconds = marks["t1"] - marks["t0"]
    return {
        "steps": marks["step"], "seconds": seconds, "steps_per_s": marks["step"] / seconds,
        # a noise-free view of the lab's cost: seconds spent in event handlers (log, checkpoints, ...)
        "subscriber_seconds": marks["in_subscribers"], "subscriber_share": marks["in_subscribers"] / seconds,
    }


def child_raw(spec: dict) -> dict:
    import torch

    from lab.envs import resolve_env
    from lab.registry import AGENTS

    cfg = _resolved(spec["algo"], spec["seed"])
    agent_cls = AGENTS.load(cfg.algo)
    torch.set_num_threads(cfg.threads or agent_cls.default_threads)
    # The lab agent only to read the SB3 constructor arguments it would use; then plain SB3.
    agent = agent_cls(cfg.agent, resolve_env(cfg.env), seed=cfg.seed, device="cpu")
    import stable_baselines3

    model = getattr(stable_baselines3, agent.algorithm)(
        agent.sb3_policy(), agent.make_vec_env(cfg.agent.n_envs, cfg.seed), seed=cfg.seed, device="cpu", verbose=0,
        **agent.sb3_kwargs(),
    )
    del agent
    t0 = time.perf_counter()
    model.learn(total_timesteps=cfg.steps)
    seconds = time.perf_counter() - t0
    return {"steps": int(model.num_timesteps), "seconds": seconds, "steps_per_s": model.num_timesteps / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="Lab/raw pairs per task.")
    parser.add_argument("--tasks", default="ppo,sac", help="Comma-separated: " + ", ".join(TASKS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(child_lab(spec) if spec["side"] == "lab" else child_raw(spec)))
        return
    report: dict = {"benchmark": "overhead", "rounds": args.rounds, "tasks": {}}
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in tasks:
        if t not in TASKS:
            parser.error(f"unknown task {t!r}; choose from {', '.join(TASKS)}")
    for algo in tasks:
        env_id, steps = TASKS[algo]
        rates: dict[str, list[float]] = {"lab": [], "raw": []}
        shares: list[float] = []
        for r in range(args.rounds):
            for side in (("lab", "raw") if r % 2 == 0 else ("raw", "lab")):
                out = run_child(Path(__file__), {"side": side, "algo": algo, "seed": 0})
                rates[side].append(out["steps_per_s"])
                if side == "lab":
                    shares.append(out["subscriber_share"])
                print(f"{algo} {env_id} round {r} {side}: {out['steps_per_s']:.0f} steps/s ({out['seconds']:.1f} s)",
                      file=sys.stderr, flush=True)
        lab, raw = statistics.median(rates["lab"]), statistics.median(rates["raw"])
        report["tasks"][f"{algo}/{env_id}"] = {
            "steps": steps, "lab_steps_per_s": lab, "raw_steps_per_s": raw, "ratio": lab / raw,
            "lab_runs": rates["lab"], "raw_runs": rates["raw"],
            "lab_time_in_subscribers": statistics.median(shares),
        }
        print(f"== {algo} {env_id}: lab {lab:.0f} vs raw {raw:.0f} steps/s, ratio {lab / raw:.3f}", file=sys.stderr, flush=True)
    report["ratio"] = min(t["ratio"] for t in report["tasks"].values())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
