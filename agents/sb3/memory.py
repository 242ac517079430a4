"""Replay-buffer memory, estimated before the buffer is allocated, against the memory available."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from lab.errors import LabError

__all__ = ["InsufficientMemoryError", "replay_buffer_bytes", "available_bytes", "check_replay_buffer"]


class InsufficientMemoryError(LabError, MemoryError):
    """A replay buffer that would not fit in the memory available (the CLI prints it as one line, exit 2)."""


def _space_bytes(space: spaces.Space) -> int:
    if isinstance(space, spaces.Dict):
        return sum(_space_bytes(s) for s in space.spaces.values())
    if isinstance(space, spaces.Discrete):
        return 1 * np.dtype(space.dtype).itemsize  # SB3 stores one action index
    return int(np.prod(space.shape)) * np.dtype(space.dtype).itemsize


def replay_buffer_bytes(
    observation_space: spaces.Space, action_space: spaces.Space, buffer_size: int, n_envs: int, optimize: bool
) -> tuple[int, int]:
    """(bytes in total, bytes per transition) of SB3's ReplayBuffer, as its arrays are shaped.

    Observations are stored twice (observation and next observation) unless ``optimize``
    (``optimize_memory_usage``); rewards, dones and timeouts are float32 each.
    """
    obs = _space_bytes(observation_space)
    per = obs * (1 if optimize and not isinstance(observation_space, spaces.Dict) else 2)
    per += _space_bytes(action_space) + 3 * 4
    rows = max(buffer_size // n_envs, 1) * n_envs  # SB3 allocates (buffer_size // n_envs, n_envs, ...)
    return rows * per, per


def available_bytes() -> int:
    """Memory this process can still get: ``MemAvailable``, or less under a cgroup (container) limit."""
    import os
    from pathlib import Path

    free: float = float("inf")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except OSError:
        pass
    if free == float("inf") and hasattr(os, "sysconf"):
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return int(free) if free != float("inf") else 2**62


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def check_replay_buffer(algo: str, cfg: object, observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Raise InsufficientMemoryError when ``cfg.buffer_size`` transitions would not fit in memory."""
    size, n_envs = int(cfg.buffer_size), int(cfg.n_envs)
    optimize = bool(getattr(cfg, "optimize_memory_usage", False))
    total, per = replay_buffer_bytes(observation_space, action_space, size, n_envs, optimize)
    free = available_bytes()
    if total <= free:
        return
    fits = int(free * 0.9 // per // 1000 * 1000)
    can_halve = not (optimize or isinstance(observation_space, spaces.Dict) or getattr(cfg, "n_steps", 1) > 1)
    # an observation is most of a transition only for images; for small vectors halving them saves little
    halve = " or --set agent.optimize_memory_usage=true (half)" if can_halve and per > 1000 else ""
    raise InsufficientMemoryError(
        f"{algo}'s replay buffer needs {_gb(total)} ({size:,} transitions of {per:,} bytes) and {_gb(free)} is available: "
        f"lower it with --set agent.buffer_size={max(fits, 1000)}{halve}"
    )
