"""Baseline players: random-rollout MCTS and minimax on positions with a known best move."""

from __future__ import annotations

import pytest

from envs.games import ConnectFour, TicTacToe
from lab.players import describe_scores, make_player, play_games


@pytest.mark.parametrize(
    ("game_cls", "moves", "best"),
    [(TicTacToe, "1425", 2), (TicTacToe, "152", 2), (ConnectFour, "112233", 3), (ConnectFour, "11223", 3)],
)
@pytest.mark.parametrize("spec", ["mcts:300", "minimax"])
def test_baselines_find_the_only_good_move(game_cls, moves, best, spec):
    if spec == "minimax" and not game_cls.solvable:
        pytest.skip("minimax is for solvable games")
    player = make_player(spec, game_cls, seed=0)
    assert player.act(game_cls.from_moves(moves)) == best


def test_minimax_values():
    player = make_player("minimax", TicTacToe)
    assert player.analyze(TicTacToe())[1] == 0.0  # a draw with perfect play
    assert player.analyze(TicTacToe.from_moves("1425"))[1] == 1.0
    assert player.analyze(TicTacToe.from_moves("152"))[1] == 0.0


def test_minimax_never_loses_and_mcts_is_seeded():
    scores = play_games(TicTacToe, [make_player("minimax", TicTacToe), make_player("random", TicTacToe, seed=3)], 10)
    assert describe_scores(scores)["losses"] == 0
    a = play_games(ConnectFour, [make_player("mcts:20", ConnectFour, seed=1), make_player("random", ConnectFour)], 2)
    b = play_games(ConnectFour, [make_player("mcts:20", ConnectFour, seed=1), make_player("random", ConnectFour)], 2)
    assert a == b
