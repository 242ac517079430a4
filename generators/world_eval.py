"""``lab eval`` of a world model: one-step and open-loop prediction errors against held-out real trajectories,
reward and termination accuracy, each beside two references: "no change" (the next observation is this one,
the reward the training mean, never terminated) and a least-squares linear model.

Errors are mean squared errors of the observation in units of the training observations' spread (per
dimension), so 1.0 is "off by one standard deviation" whatever the environment's scales. An open-loop error
after H steps feeds the model its own predictions for H steps along the real actions of a held-out window that
stays inside one real episode, and compares the H-th prediction with the real observation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from generators.transitions import Transitions, encode_actions

__all__ = ["OPEN_LOOP_HORIZONS", "REFERENCES", "evaluate_world_model", "linear_reference", "no_change_reference"]

OPEN_LOOP_HORIZONS = (5, 20, 50)
"""Steps of open-loop prediction `lab eval` scores (besides the one-step error)."""
REFERENCES = ("no_change", "linear")
WINDOWS_PER_TRAJECTORY = 20
"""Open-loop windows taken from one held-out trajectory at most (evenly spaced starts)."""

Predictor = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""``f(obs (B, D), actions (B, ...)) -> (next obs (B, D), reward (B,), termination probability (B,))``."""


def _std(x: np.ndarray) -> np.ndarray:
    s = np.asarray(x.std(axis=0), np.float32)
    return np.where(s > 1e-6, s, 1.0).astype(np.float32)


def no_change_reference(data: Transitions) -> Predictor:
    """The next observation is this one; the reward is the training mean; no step terminates."""
    mean_reward = float(data.split(held_out=False)["rewards"].mean())

    def predict(obs: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return obs.copy(), np.full(len(obs), mean_reward, np.float32), np.zeros(len(obs), np.float32)

    return predict


def linear_reference(data: Transitions, space: Any) -> Predictor:
    """Least squares of (change, reward, termination) on (normalized observation, encoded action, 1)."""
    tr = data.split(held_out=False)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731  grids (B, C, H, W) -> (B, C*H*W)
    mean, std = flat(tr["obs"]).mean(0), _std(flat(tr["obs"]))

    def feats(obs: np.ndarray, actions: np.ndarray) -> np.ndarray:  # (B, D + A + 1)
        return np.concatenate([(flat(obs) - mean) / std, encode_actions(space, actions),
                               np.ones((len(obs), 1), np.float32)], axis=1).astype(np.float64)

    y = np.concatenate([flat(tr["next_obs"] - tr["obs"]), tr["rewards"][:, None], tr["terminated"][:, None]], axis=1)
    w, *_ = np.linalg.lstsq(feats(tr["obs"], tr["actions"]), y.astype(np.float64), rcond=None)
    d = mean.shape[0]

    def predict(obs: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = feats(obs, actions) @ w
        nxt = obs + out[:, :d].reshape(obs.shape)
        return nxt.astype(np.float32), out[:, d].astype(np.float32), np.clip(out[:, d + 1], 0, 1)

    return predict


def _windows(trajs: list[dict[str, np.ndarray]], h: int) -> list[tuple[int, int]]:
    """(trajectory, start) of open-loop windows of ``h`` steps, at most WINDOWS_PER_TRAJECTORY per trajectory."""
    out = []
    for i, tr in enumerate(trajs):
        last = len(tr["obs"]) - h
        if last < 0:
            continue
        starts = np.unique(np.linspace(0, last, min(WINDOWS_PER_TRAJECTORY, last + 1)).round().astype(int))
        out.extend((i, int(s)) for s in starts)
    return out


def _scores(f: Predictor, trajs: list[dict[str, np.ndarray]], std: np.ndarray, threshold: float,
            reward_tol: float) -> dict[str, Any]:
    obs = np.concatenate([t["obs"] for t in trajs])
    acts = np.concatenate([t["actions"] for t in trajs])
    nxt, rew, p = f(obs, acts)
    real_next = np.concatenate([t["next_obs"] for t in trajs])
    real_rew = np.concatenate([t["rewards"] for t in trajs])
    real_term = np.concatenate([t["terminated"] for t in trajs])
    pred_term = p > threshold
    out: dict[str, Any] = {
        "one_step": float((((nxt - real_next) / std) ** 2).mean()),
        "reward_mae": float(np.abs(rew - real_rew).mean()),
        "reward_accuracy": float((np.abs(rew - real_rew) <= reward_tol).mean()),
        "termination_accuracy": float((pred_term == real_term).mean()),
        "termination_recall": float(pred_term[real_term].mean()) if real_term.any() else None,
        "termination_precision": float(real_term[pred_term].mean()) if pred_term.any() else None,
    }
    for h in OPEN_LOOP_HORIZONS:
        wins = _windows(trajs, h)
        if not wins:
            out[f"open_loop_{h}"] = None
            continue
        o = np.stack([trajs[i]["obs"][s] for i, s in wins])
        for k in range(h):
            a = np.stack([trajs[i]["actions"][s + k] for i, s in wins])
            o = f(o, a)[0]
            o = np.where(np.isfinite(o), o, 1e6).astype(np.float32)  # a diverged linear rollout stays a (big) number
        real = np.stack([trajs[i]["next_obs"][s + h - 1] for i, s in wins])
        out[f"open_loop_{h}"] = float(np.minimum(((o - real) / std) ** 2, 1e12).mean())
    return out


def evaluate_world_model(data: Transitions, model: Predictor, space: Any, n: int, *, threshold: float = 0.5) -> dict[str, Any]:
    """The scores of ``model`` and of both references on the first ``n`` held-out real trajectories.

    Returns flat headline keys (``one_step``, ``open_loop_5``, ... and each with ``_no_change`` / ``_linear``) and
    a ``models`` table, as ``eval.json`` stores them.
    """
    import time

    t0 = time.perf_counter()
    trajs = data.trajectories(held_out=True)[: max(1, n)]
    tr = data.split(held_out=False)
    std = _std(tr["obs"])
    span = float(tr["rewards"].max() - tr["rewards"].min())
    reward_tol = max(0.05 * span, 0.01)  # a constant reward (CartPole's 1): within 0.01
    predictors = {"model": model, "no_change": no_change_reference(data), "linear": linear_reference(data, space)}
    table = {name: _scores(f, trajs, std, threshold, reward_tol) for name, f in predictors.items()}
    out: dict[str, Any] = {
        "kind": "world_model", "env": data.env_id, "dataset": data.name, "n": len(trajs),
        "transitions": int(sum(len(t["obs"]) for t in trajs)), "real_steps": data.real_steps,
        "windows": {str(h): len(_windows(trajs, h)) for h in OPEN_LOOP_HORIZONS},
        "models": table,
    }
    for key, v in table["model"].items():
        out[key] = v
        for ref in REFERENCES:
            out[f"{key}_{ref}"] = table[ref][key]
    out["headline"] = ["one_step", *[f"open_loop_{h}{s}" for h in OPEN_LOOP_HORIZONS for s in ("", "_no_change")],
                       "termination_accuracy", "n"]
    out["seconds"] = time.perf_counter() - t0
    return out
