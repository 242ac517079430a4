"""``lab sample`` and ``lab eval`` for generator runs: load a run's generator, draw samples, score them.

Generators are plugins (``lab.generators``); this module knows them only through the registry and the
contract in :mod:`lab.generator`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from lab import atomic
from lab.errors import LabError, RunDirError
from lab.registry import AGENTS, GENERATORS
from lab.runs import RunDir

__all__ = ["run_kind", "load_generator", "check_memory", "sample_run", "evaluate_generator_run", "format_eval"]


def run_kind(run_dir: str | os.PathLike) -> tuple[str, Any]:
    """(``"agent"`` or ``"generator"``, the resolved config) of a run folder."""
    from lab.training.config import resolve_config

    run = RunDir.open(run_dir)
    cfg = resolve_config(config_file=str(run.config_path))
    if cfg.algo in GENERATORS:
        return "generator", cfg
    if cfg.algo in AGENTS:
        return "agent", cfg
    raise RunDirError(f"{run.config_path}: algo {cfg.algo!r} is neither a registered agent nor a generator")


def require_generator_run(run_dir: str | os.PathLike, command: str) -> Any:
    """The config of a generator run; an agent run is a one-line error naming the right command."""
    kind, cfg = run_kind(run_dir)
    if kind != "generator":
        raise LabError(f"{command}: {run_dir} is a {cfg.algo} agent run, not a generator run "
                       f"(agents: lab eval {run_dir} --episodes N, lab play, lab analyze)")
    return cfg


def load_generator(run_dir: str | os.PathLike, *, device: str = "auto", command: str = "lab sample") -> Any:
    """The run's generator with its final weights (``model.pt``), or its latest checkpoint's."""
    from lab.device import resolve_device

    cfg = require_generator_run(run_dir, command)
    checkpoint = RunDir(run_dir).load_agent(algo=cfg.algo, expected_by=str(RunDir(run_dir).config_path))
    cls = GENERATORS.load(cfg.algo)
    data = cls.load_data(cfg.env, cfg.agent)
    gen = cls(cfg.agent, data, seed=cfg.seed, device=resolve_device(device))
    gen.load_state_dict(checkpoint.agent)
    gen.source = str(checkpoint.path)
    gen.run_seed = cfg.seed
    return gen


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(n: int, shape: tuple[int, ...], available: int | None = None) -> None:
    """Refuse ``--n`` whose float32 samples would take more than half the memory available (before allocating)."""
    if n < 1:
        raise LabError(f"--n: expected a positive number, got {n}")
    need = 4 * n * int(np.prod(shape))
    available = _available_bytes() if available is None else available
    if available is not None and need > available // 2:
        raise LabError(
            f"--n {n}: {n:,} samples of {'x'.join(map(str, shape))} float32 need {_gib(need)}, more than half "
            f"of the {_gib(available)} of memory available; draw fewer (or several runs with different --seed)"
        )


def sample_run(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    n: int,
    seed: int = 0,
    device: str = "auto",
    **options: Any,
) -> dict[str, Any]:
    """``lab sample``: write ``OUT/samples.npy`` ((n, C, H, W) float32 in [0, 1]) and ``OUT/grid.png``.

    Options go to the generator's ``sample``: ``steps``, ``sampler``, ``guidance``, ``interpolate`` and
    ``class_`` (one class for every sample; its labels are written to ``OUT/labels.npy``).
    """
    from lab.images import save_grid

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LabError(f"--out {out}: exists and is not a folder")
    gen = load_generator(run_dir, device=device)
    rollout = options.pop("rollout", None)
    if getattr(gen, "world_model", None):  # a world model: real vs dreamed along a held-out trajectory's actions
        t0 = time.perf_counter()
        done = gen.sample_rollout(out, rollout=rollout or 0, n=n, seed=seed)
        return {**done, "seconds": time.perf_counter() - t0, "source": gen.source}
    if rollout is not None:
        raise LabError(f"--rollout: {run_dir} is a {type(gen).__name__.lower()} run, not a world model")
    check_memory(n, gen.data.shape)
    cls = options.pop("class_", None)
    labels = None
    if cls is not None:
        labels = np.full(n, int(cls), np.int64)
    elif getattr(gen, "conditional", False) and options.get("interpolate") is None:
        labels = np.arange(n, dtype=np.int64) % gen.data.num_classes
    t0 = time.perf_counter()
    samples = gen.sample(n, seed=seed, labels=labels, **options)
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    own = getattr(gen.data, "write_samples", None)
    if own is not None:  # a data set with a format of its own (mazes: int8 levels, a grid marking invalid ones)
        info = own(samples, out)
        return {"samples": str(out / "samples.npy"), "grid": str(out / "grid.png"), "n": n, "seconds": seconds,
                "shape": info.pop("levels_shape", list(samples.shape)), "source": gen.source, **info}
    with atomic.atomic_write(out / "samples.npy", "wb") as f:
        np.save(f, samples)
    if labels is not None:
        with atomic.atomic_write(out / "labels.npy", "wb") as f:
            np.save(f, labels)
    shown = samples[: min(n, 100)]
    nrow = gen.data.num_classes if labels is not None and cls is None and len(shown) >= gen.data.num_classes else None
    if options.get("interpolate") is not None:
        nrow = min(n, 16)
    save_grid(out / "grid.png", shown, nrow=nrow, invert=getattr(gen, "invert", False))
    return {"samples": str(out / "samples.npy"), "grid": str(out / "grid.png"), "n": n, "seconds": seconds,
            "shape": list(samples.shape), "source": gen.source}


def evaluate_generator_run(run_dir: str | os.PathLike, *, n: int | None = None, seed: int | None = None,
                           device: str = "auto") -> dict[str, Any]:
    """``lab eval`` of a generator run: the offline metrics with their references, written to ``eval.json``."""
    from lab.evaluation import EVAL_SEED_OFFSET

    gen = load_generator(run_dir, device=device, command="lab eval")
    n = n if n is not None else getattr(gen.cfg, "eval_samples", None)  # world models: held-out trajectories
    if n is not None:
        check_memory(n, gen.data.shape)
    eval_seed = (gen.run_seed if seed is None else seed) + EVAL_SEED_OFFSET
    result = gen.evaluate(n, seed=eval_seed)
    result["source"] = gen.source
    atomic.write_json(RunDir(run_dir).eval_path, result)
    return result


def _fmt(v: Any, classes: int | None = None) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) and classes:
        return f"{v}/{classes}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_eval(result: dict[str, Any]) -> str:
    """The metrics table of a generator evaluation: model, held-out real split, GMM baseline (for level data
    sets such as mazes: the level metrics beside the random baseline and the held-out levels)."""
    if result.get("kind") == "world_model":
        from lab.world import format_world_eval

        return format_world_eval(result)
    if "perfect_rate" in result:
        cols = ("random", "held_out")
        lines = [f"{'metric':<16}{'model':>10}{'random':>10}{'held-out':>10}"]
        for m in ("perfect_rate", "solvable_rate", "duplicate_rate", "novelty", "path_ks", "mean_path_length"):
            lines.append(f"{m:<16}{_fmt(result.get(m)):>10}" + "".join(f"{_fmt(result[c].get(m)):>10}" for c in cols))
        return "\n".join(lines)
    from_metrics = ("fd", "kid", "precision", "recall", "coverage", "class_accuracy", "copy_rate")
    k = result.get("classes")
    lines = [f"{'metric':<16}{'model':>10}{'real':>10}{'gmm':>10}"]
    for m in from_metrics:
        lines.append(f"{m:<16}{_fmt(result.get(m), k):>10}{_fmt(result.get(f'{m}_real'), k):>10}"
                     f"{_fmt(result.get(f'{m}_gmm'), k):>10}")
    if "class_accuracy_guidance_2" in result:
        lines.append(f"{'class_acc (w=2)':<16}{_fmt(result['class_accuracy_guidance_2']):>10}")
    for row in result.get("steps_table", []):
        lines.append(f"  {row['sampler']} {row['steps']:>4} steps: fd {row['fd']:.4g}, "
                     f"{row['seconds_per_64']:.2f} s per 64 samples (n={row['n']})")
    return "\n".join(lines)
