"""Environment names resolved to EnvInfo: a user's own gymnasium.Env class as module:Class."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from lab.envs import make_env, resolve_env


class NoRenderMode(gym.Env):
    """Takes no render_mode: the lab makes it without one."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        super().__init__()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


class BrokenInside(NoRenderMode):
    """Accepts render_mode, then fails with a TypeError of its own: that error must reach the user."""

    def __init__(self, render_mode=None) -> None:
        super().__init__()
        self.render_mode = render_mode
        if render_mode is not None:
            raise TypeError("unsupported operand in my env")


def test_a_class_without_render_mode_is_made_without_it():
    info = resolve_env(f"{__name__}:NoRenderMode")
    assert info.kind == "gym" and isinstance(make_env(info, render_mode="rgb_array"), NoRenderMode)


def test_a_type_error_inside_the_constructor_is_not_retried_away():
    info = resolve_env(f"{__name__}:BrokenInside")
    with pytest.raises(TypeError, match="unsupported operand in my env"):
        make_env(info, render_mode="rgb_array")
