"""stable-baselines3 model state as tensors and plain values only (no pickled objects).

SB3's own ``save``/``load`` keep spaces, schedules and the replay buffer with cloudpickle; the lab
instead rebuilds the model from ``config.yaml`` and restores state that ``torch.load(...,
weights_only=True)`` reads safely: network and optimizer state dicts, counters, VecNormalize
statistics and the filled part of the replay buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.utils import get_device
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, unwrap_vec_normalize

__all__ = ["model_state", "load_model_state"]

_COUNTERS = ("num_timesteps", "_n_updates", "_episode_num", "_n_calls")


def _getattr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _rms_state(rms: RunningMeanStd | dict[str, RunningMeanStd]) -> dict[str, Any]:
    if isinstance(rms, dict):
        return {k: _rms_state(v) for k, v in rms.items()}
    return {"mean": torch.as_tensor(rms.mean), "var": torch.as_tensor(rms.var), "count": float(rms.count)}


def _load_rms(rms: RunningMeanStd | dict[str, RunningMeanStd], state: dict[str, Any]) -> None:
    if isinstance(rms, dict):
        for k, v in rms.items():
            _load_rms(v, state[k])
        return
    rms.mean = state["mean"].numpy().astype(np.float64)
    rms.var = state["var"].numpy().astype(np.float64)
    rms.count = float(state["count"])


def _buffer_arrays(buffer: Any) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(buffer).items()
        if isinstance(v, np.ndarray) or (isinstance(v, dict) and v and all(isinstance(a, np.ndarray) for a in v.values()))
    }


def _buffer_state(buffer: Any) -> dict[str, Any]:
    n = buffer.buffer_size if buffer.full else buffer.pos
    out: dict[str, Any] = {"pos": int(buffer.pos), "full": bool(buffer.full), "arrays": {}}
    for name, value in _buffer_arrays(buffer).items():
        if isinstance(value, dict):
            out["arrays"][name] = {k: torch.from_numpy(np.ascontiguousarray(a[:n])) for k, a in value.items()}
        else:
            out["arrays"][name] = torch.from_numpy(np.ascontiguousarray(value[:n]))
    return out


def _load_buffer(buffer: Any, state: dict[str, Any]) -> None:
    arrays = _buffer_arrays(buffer)
    for name, saved in state["arrays"].items():
        if name not in arrays:
            continue
        if isinstance(saved, dict):
            for k, t in saved.items():
                arrays[name][k][: len(t)] = t.numpy()
        else:
            arrays[name][: len(saved)] = saved.numpy()
    buffer.pos = int(state["pos"])
    buffer.full = bool(state["full"])


def model_state(model: BaseAlgorithm, venv: VecEnv, *, full: bool) -> dict[str, Any]:
    """The model's state. ``full`` adds optimizers, counters and the replay buffer (for resuming)."""
    state_dicts, variables = model._get_torch_save_params()  # noqa: SLF001 - SB3's list of what to save
    if not full:
        state_dicts = [name for name in state_dicts if name == "policy"]
    out: dict[str, Any] = {
        "state_dicts": {name: _getattr(model, name).state_dict() for name in state_dicts},
        "variables": {name: _getattr(model, name).detach().cpu() for name in variables} if full else {},
        "counters": {k: int(getattr(model, k)) for k in _COUNTERS if hasattr(model, k)},
    }
    norm = unwrap_vec_normalize(venv)
    if isinstance(norm, VecNormalize):
        out["vecnormalize"] = {"obs_rms": _rms_state(norm.obs_rms), "ret_rms": _rms_state(norm.ret_rms)}
    buffer = getattr(model, "replay_buffer", None)
    if full and buffer is not None:
        out["replay_buffer"] = _buffer_state(buffer)
    return out


def load_model_state(model: BaseAlgorithm, venv: VecEnv, state: dict[str, Any]) -> None:
    """Restore what :func:`model_state` saved into a model built from the same config."""
    device = get_device(model.device)
    for name, sd in state["state_dicts"].items():
        _getattr(model, name).load_state_dict(sd)
    for name, tensor in state.get("variables", {}).items():
        _getattr(model, name).data.copy_(tensor.to(device))
    for name, value in state.get("counters", {}).items():
        setattr(model, name, int(value))
    norm = unwrap_vec_normalize(venv)
    if "vecnormalize" in state and isinstance(norm, VecNormalize):
        _load_rms(norm.obs_rms, state["vecnormalize"]["obs_rms"])
        _load_rms(norm.ret_rms, state["vecnormalize"]["ret_rms"])
    buffer = getattr(model, "replay_buffer", None)
    if "replay_buffer" in state and buffer is not None:
        _load_buffer(buffer, state["replay_buffer"])
