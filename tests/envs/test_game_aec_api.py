"""PettingZoo's own API test on the AEC wrapper of every registered game."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():  # pettingzoo.test imports the deprecated classic *_v3 aliases
    warnings.simplefilter("ignore", DeprecationWarning)
    from pettingzoo.test import api_test

from envs.games.aec import aec_env
from lab.game import game_names
from lab.registry import ENVS


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_registered(name):
    assert name in game_names()


# api_test's advisory warnings (empty board, Dict observations) fire for PettingZoo's own board games too;
# its failures are assertions, which still fail the test.
@pytest.mark.filterwarnings("ignore::UserWarning:pettingzoo.test.api_test")
@pytest.mark.parametrize("name", ENVS.names())
def test_pettingzoo_api_test(name):
    if getattr(ENVS.load(name), "kind", None) != "game":  # a plugin that does not load fails here, loudly
        pytest.skip(f"{name} is not a board game")
    api_test(aec_env(name), num_cycles=200)


def test_illegal_move_ends_game_with_penalty():
    env = aec_env("tictactoe")
    env.reset()
    env.step(4)
    env.step(4)  # taken
    assert env.rewards == {"player_0": 0, "player_1": -1}
    assert all(env.terminations.values())
