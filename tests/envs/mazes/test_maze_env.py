"""The maze env: observations, moves, rewards, level draws and their events, env ids through the registry."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs.mazes.env import MazeEnv
from envs.mazes.levels import format_levels, held_out_levels
from envs.mazes.maze import level_hash, procedural_maze
from lab.envs import make_env, resolve_env
from lab.errors import LabError
from lab.events import LevelDrawn

TINY = np.array([[1, 1, 1, 1, 1], [1, 0, 0, 0, 1], [1, 1, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]], dtype=np.int8)


class ListSource:
    """A source handing out the given levels in order (then repeating the last)."""

    name = "list"

    def __init__(self, levels):
        self.levels = list(levels)

    def draw(self, rng):
        return np.array(self.levels.pop(0) if len(self.levels) > 1 else self.levels[0])


@pytest.fixture
def level_file(tmp_path):
    path = tmp_path / "levels.txt"
    path.write_text(format_levels([procedural_maze(7, seed=s) for s in range(4)]))
    return path


def test_check_env_passes_for_every_source_and_view(level_file):
    for env_id, options in [
        ("maze-7:procedural", {}),
        ("maze-7:procedural", {"view": 5}),
        (f"maze-7:file:{level_file}", {}),
        ("maze-7:procedural", {"levels": "held-out"}),
    ]:
        env = make_env(resolve_env(env_id, options))
        check_env(env, skip_render_check=True)  # render modes: test_render_modes (check_env wants a gym.make spec)


def test_render_modes():
    env = MazeEnv(5, ListSource([TINY]), render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (80, 80, 3) and frame.dtype == np.uint8
    assert tuple(frame[16 + 8, 16 + 8]) == (220, 50, 50) and tuple(frame[3 * 16 + 8, 3 * 16 + 8]) == (40, 180, 60)
    env = MazeEnv(5, ListSource([TINY]), render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "#####\n#A..#\n###.#\n#..G#\n#####\n"


def test_full_observation_moves_and_reward_on_a_known_level():
    env = MazeEnv(5, ListSource([TINY]), max_steps=10)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 5, 5) and obs.dtype == np.float32
    assert np.array_equal(obs[0], TINY) and obs[1, 1, 1] == 1 and obs[2, 3, 3] == 1 and obs[1].sum() == 1
    assert info == {"level_source": "list", "level_hash": level_hash(TINY)}
    _obs, r, term, trunc, info = env.step(0)  # up: a wall, stays
    assert (r, term, trunc) == (0.0, False, False) and tuple(env.pos) == (1, 1)
    assert info["lab_events"] == (LevelDrawn(source="list", level_hash=level_hash(TINY), time=0.0),)
    for action in (1, 1, 2):  # right, right, down
        _obs, r, term, trunc, info = env.step(action)
    assert tuple(env.pos) == (2, 3) and not term and "lab_events" not in info
    _obs, r, term, trunc, info = env.step(2)
    assert term and not trunc and info["is_success"]
    assert r == pytest.approx(1 - 0.9 * 5 / 10)


def test_truncation_after_max_steps():
    env = MazeEnv(5, ListSource([TINY]), max_steps=3)
    env.reset(seed=0)
    results = [env.step(0)[2:4] for _ in range(3)]
    assert results == [(False, False), (False, False), (False, True)]


def test_partial_view_is_centred_on_the_agent_with_walls_outside():
    env = MazeEnv(5, ListSource([TINY]), view=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 3, 3)
    assert np.array_equal(obs[0], TINY[0:3, 0:3]) and obs[1].sum() == 0
    env5 = MazeEnv(5, ListSource([TINY]), view=5)
    obs, _ = env5.reset(seed=0)
    expected = np.pad(TINY, 2, constant_values=1)[1:6, 1:6]
    assert np.array_equal(obs[0], expected) and obs[1, 4, 4] == 1  # the goal, 2 down and 2 right


def test_bad_levels_are_repaired_redrawn_or_replaced_by_a_procedural_one():
    holed = TINY.copy()
    holed[0, 2] = 0
    holed[3, 3] = 1  # border hole, goal closed: repairable
    cut = TINY.copy()
    cut[2, 3] = 1  # not connected: must be redrawn
    env = MazeEnv(5, ListSource([cut, cut, holed]), max_tries=4)
    _obs, info = env.reset(seed=0)
    event = env.step(0)[4]["lab_events"][0]
    assert (event.outcome, event.rejections) == ("repaired", 2)
    assert np.array_equal(env.grid, TINY) and info["level_source"] == "list"
    env = MazeEnv(5, ListSource([cut]), max_tries=3)
    _obs, info = env.reset(seed=0)
    event = env.step(0)[4]["lab_events"][0]
    assert (event.outcome, event.rejections, event.source) == ("fallback", 3, "list")
    assert info["level_source"] == "procedural" and info["level_hash"] == level_hash(env.grid)
    wrong_shape = MazeEnv(5, ListSource([procedural_maze(7, seed=0)]), max_tries=2)
    wrong_shape.reset(seed=0)
    event = wrong_shape.step(0)[4]["lab_events"][0]
    assert (event.outcome, event.rejections) == ("fallback", 2)


def test_same_seed_same_levels_and_held_out_levels_are_held_out():
    a, b = MazeEnv(9), MazeEnv(9)
    hashes_a = [a.reset(seed=7 if i == 0 else None)[1]["level_hash"] for i in range(5)]
    hashes_b = [b.reset(seed=7 if i == 0 else None)[1]["level_hash"] for i in range(5)]
    assert hashes_a == hashes_b and len(set(hashes_a)) == 5
    held = {level_hash(g) for g in held_out_levels(9)}
    test_env = MazeEnv(9, levels="held-out")
    assert all(test_env.reset(seed=i)[1]["level_hash"] in held for i in range(10))
    assert test_env.source.name == "procedural:held-out"


def test_env_ids_resolve_through_the_registry(level_file):
    info = resolve_env("maze-13:procedural")
    assert info.kind == "gym" and info.observation_space.shape == (3, 13, 13) and info.success_return == 0.0
    assert resolve_env("maze").observation_space.shape == (3, 13, 13)
    assert resolve_env("maze-7:procedural", {"view": 5}).observation_space.shape == (2, 5, 5)
    env = make_env(resolve_env(f"maze-7:file:{level_file}"))
    _obs, info = env.reset(seed=0)
    assert info["level_source"] == f"file:{level_file}"
    ev = resolve_env("maze-7:procedural", {}, {"levels": "held-out"})
    assert ev.eval_factory is not None and ev.eval_factory().source.name == "procedural:held-out"


@pytest.mark.parametrize(
    "env_id, options, message",
    [
        ("maze-12:procedural", {}, "environment 'maze-12:procedural': maze size: expected an odd number >= 5, got 12"),
        ("maze-3", {}, "environment 'maze-3': maze size: expected an odd number >= 5, got 3"),
        ("maze-x:procedural", {}, "environment 'maze-x:procedural': maze size: expected an odd number >= 5, got 'x'"),
        ("maze-13:procedral", {}, "environment 'maze-13:procedral': unknown level source 'procedral'; did you mean 'procedural'?"),
        ("maze-13:file", {}, "environment 'maze-13:file': level source 'file': expected file:PATH"),
        ("maze-13:procedural", {"veiw": 5}, "env.veiw: not an option of maze environments; did you mean 'env.view'?"),
        ("maze-13:procedural", {"view": 4}, "env.view: expected an odd number >= 3, got 4"),
        ("maze-13:procedural", {"levels": "test"}, "env.levels: expected 'train' or 'held-out', got 'test'"),
        ("CartPole-v1", {"view": 5}, "env options (view) apply to env families such as maze-13:procedural; CartPole-v1 takes none"),
    ],
)
def test_bad_env_ids_and_options_say_what_is_wrong(env_id, options, message):
    with pytest.raises(LabError) as e:
        resolve_env(env_id, options)
    assert str(e.value).startswith(message), str(e.value)
