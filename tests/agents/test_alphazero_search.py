"""Batched PUCT search: known best moves, value signs, subtree reuse, self-play determinism."""

from __future__ import annotations

import numpy as np
import pytest

from agents.alphazero.network import uniform_evaluator
from agents.alphazero.search import Forest, SearchParams
from agents.alphazero.selfplay import self_play
from envs.games import ConnectFour, TicTacToe


def _search(game_cls, moves: str, sims: int, leaves: int = 1) -> Forest:
    game = game_cls.from_moves(moves)
    forest = Forest(game_cls, 1, capacity=sims + leaves + 2)
    forest.reset(np.array([0]), game.state()[None])
    forest.search(np.array([0]), uniform_evaluator(game_cls), SearchParams(simulations=sims, leaves_per_round=leaves))
    return forest


@pytest.mark.parametrize("leaves", [1, 8])
@pytest.mark.parametrize(
    ("game_cls", "moves", "best", "why"),
    [
        (TicTacToe, "1425", 2, "X completes the top row"),
        (TicTacToe, "152", 2, "O must block the top row"),
        (ConnectFour, "112233", 3, "X completes the bottom row"),
        (ConnectFour, "11223", 3, "O must block the bottom row"),
    ],
)
def test_search_finds_the_only_good_move(game_cls, moves, best, why, leaves):
    forest = _search(game_cls, moves, 200, leaves)
    assert forest.visits([0])[0].argmax() == best, why


def test_value_signs_for_the_side_to_move():
    assert _search(TicTacToe, "1425", 100).root_value([0])[0] > 0.9  # X wins now
    # X holds columns 2-4 of the bottom row with both ends open: O cannot stop both.
    assert _search(ConnectFour, "22334", 400).root_value([0])[0] < -0.5
    assert abs(_search(TicTacToe, "", 200).root_value([0])[0]) < 0.5


def test_batched_trees_match_one_tree_at_a_time():
    positions = ["1425", "152", "", "5"]
    forest = Forest(TicTacToe, len(positions), capacity=60)
    forest.reset(np.arange(4), np.stack([TicTacToe.from_moves(m).state() for m in positions]))
    forest.search(np.arange(4), uniform_evaluator(TicTacToe), SearchParams(simulations=50))
    for i, moves in enumerate(positions):
        np.testing.assert_array_equal(forest.visits([i])[0], _search(TicTacToe, moves, 50).visits([0])[0])


def test_subtree_reuse_keeps_the_childs_statistics():
    forest = _search(ConnectFour, "", 100)
    action = int(forest.visits([0])[0].argmax())
    edge_visits = forest.N[0, 0, action]
    child = forest.children[0, 0, action]
    child_edges = forest.N[0, child].copy()
    forest.advance(np.array([0]), np.array([action]), room=10)
    np.testing.assert_array_equal(forest.N[0, 0], child_edges)
    assert forest.N[0, 0].sum() == edge_visits - 1  # the first visit expanded the child
    assert (forest.state[0, 0] == ConnectFour.from_moves(str(action + 1)).state()).all()
    n = forest.size[0]
    assert (forest.parent[0, 1:n] < np.arange(1, n)).all() and (forest.parent[0, 1:n] >= 0).all()
    linked = forest.children[0, :n][forest.children[0, :n] >= 0]
    assert sorted(linked.tolist()) == list(range(1, n))


def test_self_play_is_deterministic_with_a_seed():
    def run(seed: int):
        records, _ = self_play(
            TicTacToe,
            uniform_evaluator(TicTacToe),
            SearchParams(simulations=16),
            games=6,
            parallel=3,
            temperature_moves=9,
            rng=np.random.default_rng(seed),
        )
        return [r.states.tolist() for r in records], [r.values.tolist() for r in records]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_self_play_targets():
    records, sims = self_play(
        TicTacToe, uniform_evaluator(TicTacToe), SearchParams(simulations=8), games=4, parallel=4,
        temperature_moves=9, rng=np.random.default_rng(0),
    )
    assert len(records) == 4 and sims > 0
    for r in records:
        np.testing.assert_allclose(r.policies.sum(1), 1.0, rtol=1e-5)
        last = r.values[-1]
        assert last in (0.0, 1.0)  # the last mover won or drew
        assert (r.values[::-1][1::2] == -last).all()  # values alternate by side to move
