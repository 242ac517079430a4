"""World models: generators that learned an environment and can stand in for it (``world:RUN_DIR``).

A world-model generator has a ``world_model`` class attribute (what it models: ``"vector"`` or ``"grid"``) and
the methods of :class:`WorldModel`; ``envs/world`` turns one into a Gymnasium env and a batched VecEnv, and
``lab eval`` prints its prediction errors with :func:`format_world_eval`. The lab knows them only through this
protocol and the registry.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from lab.errors import LabError

__all__ = ["WorldModel", "load_world_model", "format_world_eval", "is_world_model"]


@runtime_checkable
class WorldModel(Protocol):
    """What an environment needs from a trained world model."""

    world_model: ClassVar[str]
    env_id: str
    """The real environment it learned (``CartPole-v1``)."""
    observation_space: Any
    action_space: Any
    max_episode_steps: int | None
    """The real environment's time limit: dreamed episodes are truncated there too."""

    def start_observations(self) -> np.ndarray:
        """(K, ...) real first observations of training episodes."""
        ...

    def dream_step(self, obs: np.ndarray, actions: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One step of a batch: ``obs``, ``reward``, ``terminated`` (bool) and ``disagreement``, each (B, ...)."""
        ...


def is_world_model(cls: Any) -> bool:
    return bool(getattr(cls, "world_model", None))


def load_world_model(run_dir: str | os.PathLike, *, device: str = "cpu", where: str = "world:") -> Any:
    """The trained world model of a generator run folder (its final ``model.pt``, or its latest checkpoint)."""
    from lab.registry import GENERATORS
    from lab.sampling import load_generator, run_kind

    kind, cfg = run_kind(run_dir)
    if kind != "generator" or not is_world_model(GENERATORS.load(cfg.algo)):
        worlds = [n for n in GENERATORS.names() if is_world_model(GENERATORS.load(n))]
        raise LabError(f"{where}{run_dir}: a {cfg.algo} {kind} run, not a world model (train one: lab train "
                       f"{' or '.join(worlds)} rollouts:ENV_ID)")
    return load_generator(run_dir, device=device, command=where.rstrip(":"))


def _cell(v: Any) -> str:
    return "-" if v is None else format(v, ".4g")


def format_world_eval(result: dict[str, Any]) -> str:
    """The table ``lab eval`` prints for a world model: the model beside the "no change" and linear references."""
    models = result["models"]
    names = list(models)
    rows = [k for k in models[names[0]]]
    head = {"model": "model", "no_change": "no change", "linear": "linear"}
    lines = [f"{'metric':<22}" + "".join(f"{head.get(n, n):>11}" for n in names)]
    for r in rows:
        lines.append(f"{r:<22}" + "".join(f"{_cell(models[n].get(r)):>11}" for n in names))
    wins = ", ".join(f"{h} steps: {n}" for h, n in result.get("windows", {}).items())
    lines.append(f"observation errors: mean squared, in training standard deviations; open-loop windows: {wins}")
    return "\n".join(lines)
