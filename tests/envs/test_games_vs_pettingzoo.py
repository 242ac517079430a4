"""Our bitboard game models against PettingZoo's reference games, move by move, on random games.

The reference modules are imported directly (``connect_four_v3`` re-exports them with a deprecation
warning); their ``metadata["name"]`` is checked so a version bump shows up here.
"""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.classic.connect_four import connect_four as connect_four_v3
from pettingzoo.classic.tictactoe import tictactoe as tictactoe_v3

from envs.games import ConnectFour, TicTacToe
from envs.games.aec import GameAECEnv

# (ours, reference, random games, length of the shortest possible game)
REFERENCE = [(TicTacToe, tictactoe_v3, 3000, 5), (ConnectFour, connect_four_v3, 2000, 7)]


def _check_against_reference(game_cls, ref_module, games, seed):
    rng = np.random.default_rng(seed)
    ref = ref_module.raw_env()
    ours_aec = GameAECEnv(game_cls)
    lengths = []
    outcomes = {"first": 0, "second": 0, "draw": 0}
    for _ in range(games):
        ref.reset()
        ours_aec.reset()
        game = game_cls()
        states = game_cls.batch_initial(1)
        while True:
            agent = ref.agent_selection
            me = ref.possible_agents.index(agent)
            ref_obs = ref.observe(agent)
            # the object model: the side to move's view is PettingZoo's (rows, cols, 2) observation
            assert game.to_play == me
            np.testing.assert_array_equal(game.observation().transpose(1, 2, 0), ref_obs["observation"])
            np.testing.assert_array_equal(game.legal_mask(), ref_obs["action_mask"].astype(bool))
            # the batched model holds the same position
            np.testing.assert_array_equal(states[0], game.state())
            np.testing.assert_array_equal(game_cls.batch_legal(states)[0], ref_obs["action_mask"].astype(bool))
            # the AEC wrapper, for both agents
            for i, name in enumerate(ours_aec.possible_agents):
                ours = ours_aec.observe(name)
                theirs = ref.observe(ref.possible_agents[i])
                np.testing.assert_array_equal(ours["observation"], theirs["observation"])
                np.testing.assert_array_equal(ours["action_mask"], theirs["action_mask"])
            action = int(rng.choice(np.flatnonzero(ref_obs["action_mask"])))
            ref.step(action)
            ours_aec.step(action)
            game.play(action)
            states, terminal, reward = game_cls.batch_step(states, np.array([action]))
            ref_done = all(ref.terminations.values())
            assert game.done == ref_done == bool(terminal[0])
            assert list(ours_aec.rewards.values()) == list(ref.rewards.values())
            assert list(ours_aec.terminations.values()) == list(ref.terminations.values())
            if ref_done:
                r = ref.rewards[agent]
                assert reward[0] == (1.0 if r == 1 else 0.0)
                assert r in (0, 1)  # the mover never loses on its own move
                if r == 1:
                    assert game.winner == me
                    outcomes["first" if me == 0 else "second"] += 1
                else:
                    assert game.winner is None
                    outcomes["draw"] += 1
                lengths.append(len(game.history))
                break
    return outcomes, lengths


@pytest.mark.parametrize("game_cls,ref_module,games,shortest", REFERENCE, ids=["tictactoe", "connect_four"])
def test_matches_pettingzoo_on_random_games(game_cls, ref_module, games, shortest):
    outcomes, lengths = _check_against_reference(game_cls, ref_module, games, seed=0)
    # random games reach all three outcomes and both short and full-length games
    assert min(outcomes.values()) > 0, outcomes
    assert max(lengths) == game_cls.board_shape[0] * game_cls.board_shape[1]
    assert min(lengths) == shortest


def test_reference_versions():
    assert connect_four_v3.raw_env.metadata["name"] == "connect_four_v3"
    assert tictactoe_v3.raw_env.metadata["name"] == "tictactoe_v3"


def test_known_connect_four_positions():
    g = ConnectFour.from_moves("4455667")  # bottom row 4-7 for the first player
    assert g.done and g.winner == 0
    g = ConnectFour.from_moves("121212")
    assert not g.done
    g.play(0)
    assert g.done and g.winner == 0  # vertical in column 1
    g = ConnectFour.from_moves("1223433447")  # diagonal 1-2-3-4 rising
    assert g.winner is None and not g.done
    g.play(3)
    assert g.done and g.winner == 0
    full = ConnectFour.from_moves("444444")
    assert full.why_illegal(3) == "column 4 is full"
    assert 3 not in full.legal_actions()


def test_known_tictactoe_positions():
    g = TicTacToe.from_moves("14253")
    assert g.done and g.winner == 0  # top row 1-2-3
    g = TicTacToe.from_moves("159")
    assert g.why_illegal(4) == "cell 5 is already taken"
    draw = TicTacToe.from_moves("123587469")
    assert draw.done and draw.winner is None


@pytest.mark.parametrize("game_cls", [TicTacToe, ConnectFour], ids=lambda c: c.name)
def test_symmetries_map_games_to_games(game_cls):
    """Playing the transformed moves reaches the transformed position, with the same outcome."""
    rng = np.random.default_rng(1)
    syms = game_cls.symmetries()
    np.testing.assert_array_equal(syms[0][0], np.arange(len(syms[0][0])))
    for _ in range(50):
        game = game_cls()
        twins = [game_cls() for _ in syms]
        while not game.done:
            a = int(rng.choice(game.legal_actions()))
            game.play(a)
            obs = game.observation().reshape(2, -1)
            for (cells, actions), twin in zip(syms, twins):
                # action a in the original is action j in the twin where actions[j] == a
                twin.play(int(np.flatnonzero(actions == a)[0]))
                np.testing.assert_array_equal(twin.observation().reshape(2, -1), obs[:, cells])
                assert twin.done == game.done and twin.winner == game.winner
