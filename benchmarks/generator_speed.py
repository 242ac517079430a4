"""The lab's diffusion trainer against a plain diffusers training loop, and sampling speed against quality.

Training: the lab side is ``lab train diffusion digits`` as the library runs it (``--no-track --quiet``: events on
the bus, ``events.jsonl`` flushed per event, a safe point per step, the final checkpoint, sample grid and
evaluation after the timed window), images/s timed from ``RunStarted`` to the last ``MetricsLogged``. The plain side is the loop a diffusers user writes (after
``examples/unconditional_image_generation/train_unconditional.py``): the same ``UNet2DModel``, ``DDPMScheduler``,
batch, loss (with the same Min-SNR weighting and label dropout), optimizer, gradient clipping, EMA and thread
count, in this file. Sides alternate, each in its own process; the ratio compares medians (target >= 1.0).

Sampling: seconds per 64 samples and ``fd`` (1,000-sample features of the lab's classifier, beside the GMM and
held-out references) for DDIM 10, 25, 50 and DDPM 1000 steps, from a trained run (``--run``, e.g. the run of
``lab train diffusion digits --seed 0``).

    python benchmarks/generator_speed.py --run runs/diffusion-digits      # 3 rounds of 60 steps, sampling table
    python benchmarks/generator_speed.py --rounds 5 --steps 100 --run runs/diffusion-digits --n 200
    python benchmarks/generator_speed.py --no-sampling

Final line: JSON with images/s per side, ``ratio`` = lab / plain, and the sampling table.
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


def _cfg(steps: int, seed: int, threads: int):
    from lab.training import resolve_config

    # checkpoints only at the end (after the timed window): a run of a few dozen steps would otherwise write one
    # every tenth of its budget, which a real run (one per ~120 steps) does not feel and the plain loop never does
    return resolve_config(algo="diffusion", env="digits", sets=[f"seed={seed}", f"steps={steps}", f"threads={threads}",
                                                                 "grid_every=0", "eval_samples=50", "checkpoint_every=0"],
                          flags={"track": False})


def child_lab(spec: dict) -> dict:
    from lab.events import MetricsLogged, RunStarted
    from lab.training import train

    cfg = _cfg(spec["steps"], spec["seed"], spec["threads"])
    marks: dict = {}

    class Clock:
        def attach(self, bus):
            bus.subscribe(RunStarted, lambda e: marks.setdefault("start", (time.perf_counter(), e.step)))
            # training metrics only: the final evaluation publishes metrics too, after the timed window
            bus.subscribe(MetricsLogged, lambda e: "train/images_per_s" in e.metrics
                          and marks.__setitem__("last", (time.perf_counter(), e.step)))

    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, run_dir=Path(tmp) / "run", subscribers=[Clock()], display=False)
    (t0, s0), (t1, s1) = marks["start"], marks["last"]
    batch = cfg.agent.batch_size
    return {"images_per_s": (s1 - s0) * batch / (t1 - t0), "seconds": t1 - t0}


def child_plain(spec: dict) -> dict:
    """A diffusers user's loop: the same model, scheduler, loss, optimizer and EMA, no lab in sight."""
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, UNet2DModel
    from diffusers.training_utils import EMAModel, compute_snr
    from sklearn.datasets import load_digits

    cfg = _cfg(spec["steps"], spec["seed"], spec["threads"]).agent  # only to read the same hyperparameters
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    digits = load_digits()
    x = torch.from_numpy(digits.images / 16.0).float()[:, None]
    x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.from_numpy(digits.target).long()
    n_train = int(len(x) * (1 - cfg.data.held_out))
    x, y = x[:n_train], y[:n_train]
    down = ["DownBlock2D"] * len(cfg.channels)
    up = ["UpBlock2D"] * len(cfg.channels)
    if cfg.attention:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    unet = UNet2DModel(sample_size=16, in_channels=1, out_channels=1, layers_per_block=cfg.layers_per_block,
                       block_out_channels=tuple(cfg.channels), down_block_types=tuple(down), up_block_types=tuple(up),
                       norm_num_groups=8, attention_head_dim=8, num_class_embeds=11)
    sched = DDPMScheduler(num_train_timesteps=cfg.train_timesteps, beta_schedule=cfg.beta_schedule,
                          prediction_type=cfg.prediction)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
    ema = EMAModel(unet.parameters(), decay=cfg.ema_decay, use_ema_warmup=True, power=2 / 3)
    gen = torch.Generator().manual_seed(spec["seed"])
    b = cfg.batch_size
    t0 = time.perf_counter()
    for step in range(spec["steps"]):
        idx = torch.randint(0, len(x), (b,), generator=gen)
        x0, labels = x[idx] * 2 - 1, y[idx]
        labels = torch.where(torch.rand(b, generator=gen) < cfg.label_dropout, torch.full_like(labels, 10), labels)
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, cfg.train_timesteps, (b,), generator=gen)
        out = unet(sched.add_noise(x0, noise, t), t, class_labels=labels).sample
        snr = compute_snr(sched, t)
        weight = torch.clamp(snr, max=cfg.snr_gamma) / snr
        loss = (F.mse_loss(out, noise, reduction="none").mean(dim=(1, 2, 3)) * weight).mean()
        for g in opt.param_groups:
            g["lr"] = cfg.learning_rate * min(1.0, (step + 1) / cfg.warmup_steps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        ema.step(unet.parameters())
        loss.item()
    seconds = time.perf_counter() - t0
    return {"images_per_s": spec["steps"] * b / seconds, "seconds": seconds}


def child_sampling(spec: dict) -> dict:
    """Seconds per 64 samples and fd for each row of the diffusion steps table, from a run's final model."""
    import torch

    from generators.core import balanced_labels
    from generators.diffusion import STEPS_TABLE
    from generators.metrics import evaluate_samples, reference_reports
    from lab.sampling import load_generator

    torch.set_num_threads(spec["threads"])
    gen = load_generator(spec["run"], device="cpu")
    n = spec["n"]
    refs = reference_reports(gen.data, n, seed=0)
    rows = []
    for sampler, steps in STEPS_TABLE:
        labels = balanced_labels(n, gen.data.num_classes) if gen.conditional else None
        t0 = time.perf_counter()
        samples = gen.sample(n, seed=0, labels=labels, sampler=sampler, steps=steps)
        seconds = time.perf_counter() - t0
        rep = evaluate_samples(samples, gen.data, labels=labels)
        rows.append({"sampler": sampler, "steps": steps, "seconds_per_64": round(seconds * 64 / n, 2),
                     "fd": round(rep.fd, 4), "class_accuracy": rep.class_accuracy})
        print(f"  {sampler} {steps:>4} steps: {seconds * 64 / n:6.2f} s per 64 samples, fd {rep.fd:.3f}", flush=True)
    return {"rows": rows, "fd_gmm": refs["gmm"].fd, "fd_real": refs["real"].fd, "n": n, "run": spec["run"]}


CHILDREN = {"lab": child_lab, "plain": child_plain, "sampling": child_sampling}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=60, help="training steps per timed run")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--run", default=None, help="a trained diffusion run folder for the sampling table")
    ap.add_argument("--n", type=int, default=200, help="samples per sampling-table row (DDPM 1000 is slow)")
    ap.add_argument("--no-sampling", action="store_true")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        spec = json.loads(args.child)
        print(json.dumps(CHILDREN[spec.pop("side")](spec)))
        return
    for name in ("rounds", "steps", "threads", "n"):
        if getattr(args, name) < 1:
            sys.exit(f"error: --{name}: expected a positive number, got {getattr(args, name)}")
    if not args.no_sampling and (args.run is None or not (Path(args.run) / "config.yaml").is_file()):
        sys.exit(f"error: --run {args.run}: a trained diffusion run folder is needed for the sampling table "
                 "(lab train diffusion digits --seed 0), or pass --no-sampling")
    rates: dict[str, list[float]] = {"lab": [], "plain": []}
    for r in range(args.rounds):
        for side in ("lab", "plain") if r % 2 == 0 else ("plain", "lab"):
            out = run_child(__file__, {"side": side, "steps": args.steps, "seed": r, "threads": args.threads})
            rates[side].append(out["images_per_s"])
            print(f"round {r + 1}: {side:5s} {out['images_per_s']:7.1f} images/s", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    result: dict = {
        "benchmark": "generator_speed",
        "train_images_per_s": {k: round(v, 1) for k, v in med.items()},
        "ratio": round(med["lab"] / med["plain"], 3),
        "rounds": args.rounds, "steps": args.steps, "threads": args.threads,
    }
    print(f"training: lab {med['lab']:.1f} images/s, plain loop {med['plain']:.1f}: ratio {result['ratio']:.3f}")
    if not args.no_sampling:
        run = args.run
        print(f"sampling from {run}:")
        result["sampling"] = run_child(__file__, {"side": "sampling", "run": run, "n": args.n, "threads": args.threads})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
