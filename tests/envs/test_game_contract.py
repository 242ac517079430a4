"""One contract every registered game meets, taken from the registry (a new game is tested for free)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from lab.game import Game
from lab.registry import ENVS


@pytest.fixture(params=ENVS.names())
def game_cls(request):
    obj = ENVS.load(request.param)  # a registered environment that does not load fails here, loudly
    if getattr(obj, "kind", None) != "game":
        pytest.skip(f"{request.param} is not a board game")
    return obj


def _random_games(game_cls, n: int, seed: int):
    rng = random.Random(seed)
    for _ in range(n):
        game = game_cls()
        trail = [game.copy()]
        while not game.done:
            game.play(rng.choice(game.legal_actions()))
            trail.append(game.copy())
        yield trail


def test_meets_the_protocol(game_cls):
    game = game_cls()
    assert isinstance(game, Game)
    assert game.kind == "game" and game.state().shape == (game_cls.state_size,)
    assert game.observation().shape == (game_cls.planes, *game_cls.board_shape)


def test_batched_api_agrees_with_the_object_api(game_cls):
    for trail in _random_games(game_cls, 20, seed=0):
        for before, after in zip(trail, trail[1:]):
            action = after.history[-1]
            states, terminal, reward = game_cls.batch_step(before.state()[None], np.array([action]))
            np.testing.assert_array_equal(states[0], after.state())
            assert bool(terminal[0]) == after.done
            assert reward[0] == (1.0 if after.winner is not None else 0.0)
            np.testing.assert_array_equal(game_cls.batch_legal(before.state()[None])[0], before.legal_mask())
            np.testing.assert_array_equal(game_cls.batch_encode(after.state()[None])[0], after.observation())


def test_symmetries_are_permutations_that_keep_legality(game_cls):
    cells = game_cls.board_shape[0] * game_cls.board_shape[1]
    syms = game_cls.symmetries()
    assert (syms[0][0] == np.arange(cells)).all() and (syms[0][1] == np.arange(game_cls.num_actions)).all()
    for cell_perm, action_perm in syms:
        assert sorted(cell_perm.tolist()) == list(range(cells))
        assert sorted(action_perm.tolist()) == list(range(game_cls.num_actions))


def test_moves_round_trip_as_text(game_cls):
    for action in range(game_cls.num_actions):
        assert game_cls.parse_move(game_cls.format_move(action)) == action
