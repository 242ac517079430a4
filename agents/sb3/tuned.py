"""Tuned hyperparameters per (algorithm, environment), and where each value comes from.

Two layers, the second over the first, key by key:

* ``zoo``: rl-baselines3-zoo's published values, read from verbatim copies of its
  ``hyperparams/<algo>.yml`` (``agents/sb3/hyperparams/``, rl_zoo3 2.9.2; a test checks them against
  the installed package). The entry is the environment's own; for a MuJoCo ``-v5`` id the zoo's
  ``-v4`` (or older) entry of the same robot; for any Atari id (``ALE/*-v5``, ``*NoFrameskip-v4``)
  the file's ``atari`` entry; for a MuJoCo robot (or MiniGrid level) the file has no entry for, its
  ``&mujoco-defaults`` (``&minigrid-defaults``) entry.
  The ``default`` entry (1M steps, nothing tuned) is not used.
* ``lab``: measured on a 2-core CPU machine (``benchmarks/solve_time.py`` and ``overhead.py``
  compare them with the zoo's values side by side; figures in the README). An entry for a lab env
  family (``maze``) applies to every id of the family (``maze-13:procedural``) that has no entry of its own.

Keys are agent ``Config`` fields plus the run keys (``steps``, ``threads``, ``env_wrapper``, ``eval_env_options``, ...).
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

from agents.sb3 import zoo
from lab.config import load_yaml

__all__ = ["LAB", "HYPERPARAMS_DIR", "tuned", "tuned_with_sources", "zoo_file"]

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"

LAB: dict[tuple[str, str], dict[str, Any]] = {
    # (algo, env id or family "mujoco"/"atari", or a lab env family "maze") -> values over the zoo's entry
    ("ppo", "CartPole-v1"): {  # the zoo's values with 16 envs, one 512-sample minibatch per epoch, lr 2e-3
        "steps": 100_000, "n_envs": 16, "n_steps": 32, "batch_size": 512, "gae_lambda": 0.8, "gamma": 0.98,
        "n_epochs": 20, "ent_coef": 0.0, "learning_rate": 2e-3, "lr_schedule": "linear",
        "clip_range": 0.2, "clip_range_schedule": "linear",
    },
    ("ppo", "maze"): {  # starting values for the maze family (maze-SIZE:SOURCE), not yet tuned: after 200k steps
        # on maze-13 sampled actions solve 15% of held-out levels (random 3.5%), greedy ones ~0%: evaluations sample
        # (README: Mazes)
        "steps": 500_000, "n_envs": 16, "n_steps": 128, "batch_size": 512, "n_epochs": 4, "gamma": 0.99,
        "gae_lambda": 0.95, "ent_coef": 0.01, "learning_rate": 5e-4, "lr_schedule": "linear",
        "net_arch": [256, 256], "eval_env_options": {"levels": "held-out"}, "eval_episodes": 50,
        "eval_deterministic": False,
    },
    # The zoo's values (lr 2.3e-3, epsilon to 0.04 over 8k steps, target copied at every update) with 3-step
    # returns, gamma 0.98, lr decayed linearly, a [128, 128] net, and half-size updates twice as often
    # (32 gradient steps every 64 steps: the same gradient steps per env step as the zoo's 128 every 256).
    # benchmarks/solve_time.py --tasks dqn --sides lab --seeds 5: all 5 seeds solve, at 4,096-18,432 steps
    # (median 8,192); with the earlier values (lr 1e-3, epsilon over 16k steps, 128 steps every 256) seeds
    # 0-2 needed 47,104, 30,720 and 10,240 (README: Benchmarks).
    ("dqn", "CartPole-v1"): {
        "steps": 100_000, "learning_rate": 2.3e-3, "lr_schedule": "linear", "n_steps": 3, "batch_size": 64,
        "buffer_size": 100_000, "learning_starts": 1000, "gamma": 0.98, "target_update_interval": 10,
        "train_freq": 64, "gradient_steps": 32, "exploration_fraction": 0.08, "exploration_final_eps": 0.04,
        "net_arch": [128, 128],
    },
    # Board games: MaskablePPO by self-play against a league of its snapshots (agents/sb3/selfplay; README: PPO
    # self-play). Budgets in steps (learner moves) sized for a quiet 2-core machine (README for the measured rates).
    ("ppo", "tictactoe"): {  # 8 epochs and no entropy bonus: 1 loss in 20 to minimax at 300k, where 4 and 0.01 lost 3
        "steps": 300_000, "n_envs": 16, "n_steps": 128, "batch_size": 512, "n_epochs": 8, "gamma": 1.0,
        "gae_lambda": 0.95, "ent_coef": 0.0, "learning_rate": 1e-3, "lr_schedule": "linear",
        "net_arch": [128, 128], "eval_episodes": 20,
        # minimax in the pool: against random and its own snapshots alone the learner still lost 20/20 games to
        # minimax after 194k steps (README); the perfect player is what teaches it every defence
        "league": {"players": ["random", "minimax"], "eval_opponent": "minimax"},
    },
    ("ppo", "connect_four"): {
        "steps": 1_000_000, "n_envs": 16, "n_steps": 128, "batch_size": 512, "n_epochs": 4, "gamma": 1.0,
        "gae_lambda": 0.95, "ent_coef": 0.01, "learning_rate": 5e-4, "lr_schedule": "linear",
        "net_arch": [256, 256], "eval_episodes": 20,
        "league": {"players": ["random"], "eval_opponent": "mcts:50"},
    },
    ("sac", "Pendulum-v1"): {"net_arch": [64, 64], "threads": 1},  # same returns, ~3x cheaper updates
    # SAC and TD3's 256/400-unit nets gain ~18% from a second torch thread (small MLPs do not)
    ("sac", "mujoco"): {"threads": 2},
    ("td3", "mujoco"): {"threads": 2},
    ("td3", "Pendulum-v1"): {"threads": 2},
}


@functools.cache
def zoo_file(algo: str) -> tuple[dict[str, Any], dict[tuple[str, ...], str], dict[str, str]]:
    """The zoo's file for ``algo``: its entries, each key's ``file:line``, and its family-defaults entries.

    The last maps a family (``mujoco``, ``minigrid``) to the entry the file anchors as ``&<family>-defaults``.
    """
    path = HYPERPARAMS_DIR / f"{algo}.yml"
    if not path.exists():
        return {}, {}, {}
    lines: dict[tuple[str, ...], str] = {}
    data = load_yaml(path, lines) or {}
    anchors = re.findall(r"^([\w.-]+): &(\w+)-defaults", path.read_text(), re.MULTILINE)
    return data, lines, {family: key for key, family in anchors}


def _family(env_id: str) -> str | None:
    import gymnasium as gym

    from lab.envs import import_known_packages, is_atari

    if is_atari(env_id):
        return "atari"
    if env_id not in gym.registry:
        import_known_packages()
    spec = gym.registry.get(env_id)
    if spec is None:  # unregistered ids and ids of packages that are not installed have no family
        return None
    entry = str(spec.entry_point)
    return next((family for family in ("mujoco", "minigrid") if family in entry), None)


def _zoo_key(data: dict[str, Any], env_id: str, family: str | None, defaults: dict[str, str]) -> str | None:
    if env_id in data:
        return env_id
    if family == "atari":
        return "atari" if "atari" in data else None
    if family == "mujoco":
        name, _, version = env_id.rpartition("-v")
        for older in range(int(version) - 1, 0, -1) if version.isdigit() else ():
            if f"{name}-v{older}" in data:
                return f"{name}-v{older}"
    return defaults.get(family) if family else None


def _lab_family(env_id: str) -> str | None:
    """The env family registered with the lab that ``env_id`` names (``maze-13:procedural`` -> ``maze``)."""
    from lab.envs import family_name
    from lab.registry import ENVS

    family = family_name(env_id)
    return family if family is not None and family in ENVS else None


def tuned_with_sources(algo: str, env_id: str, config_cls: type) -> tuple[dict[str, Any], dict[str, str]]:
    """The tuned values for (algo, env_id) and, per key, where it came from (``{}`` when untuned).

    An id of a lab env family (``maze-13:procedural``) takes the family's entry (``maze``), unless it has one of its own.
    """
    family = _lab_family(env_id)
    if family is None:
        env_id = env_id.partition(":")[2] if ":" in env_id else env_id  # module:EnvId
        family = _family(env_id)
    data, lines, defaults = zoo_file(algo)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    key = _zoo_key(data, env_id, family, defaults)
    if key is not None:
        layer, _ignored = zoo.from_zoo(config_cls, copy.deepcopy(data[key]))
        label = f"rl-zoo {lines[(key,)].rpartition('/')[2]} ({key})"
        for k, v in layer.items():
            if k == "agent":
                values.update(v)
                sources.update({name: label for name in v})
            else:
                values[k] = v
                sources[k] = label
    for lab_key in (family, env_id):
        for k, v in LAB.get((algo, lab_key), {}).items():
            values[k] = copy.deepcopy(v)
            sources[k] = "lab tuned"
    return values, sources


def tuned(algo: str, env_id: str, config_cls: type) -> dict[str, Any]:
    """The tuned values for (algo, env_id); ``{}`` for pairs nobody tuned (the Config defaults apply)."""
    return tuned_with_sources(algo, env_id, config_cls)[0]
