"""Player specs: parsing, and one clear error per kind of bad spec."""

from __future__ import annotations

import pytest

from envs.games import ConnectFour, TicTacToe
from lab.errors import LabError, UnknownNameError
from lab.players import PlayerSpec, make_player, parse_spec, play_games


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("random", PlayerSpec("random", (), {}, "random")),
        ("mcts:400", PlayerSpec("mcts", ("400",), {}, "mcts:400")),
        (" minimax ", PlayerSpec("minimax", (), {}, "minimax")),
        ("alphazero:runs/a:sims=400", PlayerSpec("alphazero", ("runs/a",), {"sims": "400"}, "alphazero:runs/a:sims=400")),
    ],
)
def test_parse_spec(text, expected):
    assert parse_spec(text) == expected


def test_make_player_names():
    assert make_player("mcts:25", ConnectFour).name == "mcts:25"
    assert make_player("mcts", ConnectFour).name == "mcts:400"
    assert make_player("random", TicTacToe).name == "random"


@pytest.mark.parametrize(
    ("spec", "game_cls", "error", "match"),
    [
        ("", TicTacToe, LabError, r"empty player spec"),
        ("mcst:400", TicTacToe, UnknownNameError, r"unknown player 'mcst'; did you mean 'mcts'\?"),
        ("mcts:abc", TicTacToe, LabError, r"player spec 'mcts:abc': expected a positive whole number of simulations, got 'abc'"),
        ("mcts:0", TicTacToe, LabError, r"got '0'"),
        ("mcts:4:depth=2", TicTacToe, LabError, r"unknown option 'depth'"),
        ("mcts:sims=3:4", TicTacToe, LabError, r"argument '4' after an option"),
        ("alphazero:", TicTacToe, LabError, r"empty part after ':'"),
        ("alphazero", TicTacToe, LabError, r"expected one run folder; usage: alphazero:RUN_DIR"),
        ("alphazero:/nonexistent/run", TicTacToe, LabError, r"/nonexistent/run is not a folder"),
        ("minimax", ConnectFour, LabError, r"connect_four is too large for an exhaustive search"),
        ("random:3", TicTacToe, LabError, r"too many arguments"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, game_cls, error, match):
    with pytest.raises(error, match=match):
        make_player(spec, game_cls)


def test_alphazero_spec_needs_an_alphazero_checkpoint(tmp_path):
    with pytest.raises(LabError, match=r"holds no alphazero checkpoint"):
        make_player(f"alphazero:{tmp_path}", TicTacToe)


def test_play_games_alternates_colours_and_shares_openings():
    class Spy:
        """players[0]: records the parity of the move counts it is asked to play, per board."""

        name = "spy"

        def __init__(self, inner):
            self.inner, self.parities = inner, {}

        def act(self, game):
            self.parities.setdefault(id(game), set()).add(len(game.history) % 2)
            return self.inner.act(game)

    histories, boards = {}, {}

    def on_end(i, game, score):
        histories[i], boards[i] = list(game.history), id(game)

    spy = Spy(make_player("minimax", TicTacToe, seed=0))
    scores = play_games(
        TicTacToe, [spy, make_player("random", TicTacToe, seed=1)], 6, opening_moves=2, seed=5, on_game_end=on_end,
    )
    assert len(scores) == 6 and all(s in (0.0, 0.5, 1.0) for s in scores)
    for k in (0, 2, 4):
        assert histories[k][:2] == histories[k + 1][:2]
    # the two opening moves are random: players[0] moves first (even move counts) in even games only
    assert all(spy.parities[boards[i]] == {i % 2} for i in range(6))
