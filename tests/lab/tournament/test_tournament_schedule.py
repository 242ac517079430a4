"""Pairings, balanced colours, openings (seeded, varied, never already decided), opening books."""

from __future__ import annotations

import pytest

from envs.games import ConnectFour, TicTacToe
from lab.errors import LabError
from lab.tournament.match import play_batch
from lab.tournament.schedule import OpeningSource, forced_result, pairings, read_book, slots_for


def test_round_robin_and_gauntlet():
    assert pairings(list("abcd")) == [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]
    assert pairings(list("abcd"), gauntlet="c") == [("c", "a"), ("c", "b"), ("c", "d")]


def test_each_opening_is_played_once_with_each_colour():
    a, b = slots_for(("x", "y"), 3)
    assert (a.first, a.second, b.first, b.second) == ("x", "y", "y", "x")
    assert a.opening_index == b.opening_index == 3 and a.id != b.id


def test_forced_results_known_answers():
    # X to move with three in column 1 (X: 1,1,1; O: 2,2,2): X wins at once.
    assert forced_result(ConnectFour, ConnectFour.from_moves("121212").state(), 1) == 1
    # O to move faces two open threats (X on 2,3,4 of the bottom row with 1 and 5 empty): lost in 2... within 3 plies.
    lost = ConnectFour.from_moves("2636")  # X: 2, 3; O: 6, 6
    lost.play(3)  # X plays 4: X has 2, 3, 4; O must block 1 or 5, X completes the other
    assert forced_result(ConnectFour, lost.state(), 3) == -1
    assert forced_result(ConnectFour, ConnectFour().state(), 4) == 0
    assert forced_result(TicTacToe, TicTacToe.from_moves("1524").state(), 1) == 1  # X completes 1-2-3
    assert forced_result(TicTacToe, TicTacToe.from_moves("15").state(), 4) == 0


def test_openings_are_seeded_varied_and_open():
    src = OpeningSource(ConnectFour, plies=4, seed=3)
    openings = [src[k] for k in range(30)]
    assert openings == [OpeningSource(ConnectFour, plies=4, seed=3)[k] for k in range(30)]
    assert openings != [OpeningSource(ConnectFour, plies=4, seed=4)[k] for k in range(30)]
    assert len(set(openings)) == 30 and all(len(o) == 4 for o in openings)
    for o in openings:
        game = ConnectFour()
        for a in o:
            game.play(a)
        assert not game.done and forced_result(ConnectFour, game.state(), 4) == 0


def test_tictactoe_openings_skip_decided_positions():
    src = OpeningSource(TicTacToe, plies=3, seed=0)
    for k in range(20):
        assert src.playable(src[k])
    assert src.playable([4])
    assert not src.playable([0, 3, 1])  # X on 1, 2 (O on 4): O blocks 3, X takes 5 with two threats
    assert not src.playable([0, 1, 4, 8, 6])  # X on 1, 5, 7 (O on 2, 9) threatens 3 and 4: O is lost


def test_opening_book_lines_are_checked(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("# openings\n44\n-\n4444\n")
    openings, skipped = read_book(book, ConnectFour)
    assert openings == [(3, 3), (), (3, 3, 3, 3)] and skipped == 0
    book.write_text("44\n4448\n")
    with pytest.raises(LabError, match=r"book.txt:2: move 4 '8'"):
        read_book(book, ConnectFour)
    book.write_text("4444444\n")
    with pytest.raises(LabError, match=r"book.txt:1: move 7 '4': column 4 is full"):
        read_book(book, ConnectFour)


class _Counting:
    """Plays the lowest legal move and records how many games each call got."""

    def __init__(self, name):
        self.name, self.calls = name, []

    def act(self, game):
        self.calls.append(1)
        return game.legal_actions()[0]

    def act_many(self, games):
        self.calls.append(len(games))
        return [g.legal_actions()[0] for g in games]


def test_a_players_waiting_games_go_to_it_in_one_call():
    a, b = _Counting("a"), _Counting("b")
    boards = [TicTacToe() for _ in range(6)]
    ended = []
    play_batch(boards, [(a, b) if i % 2 == 0 else (b, a) for i in range(6)], lambda i, g: ended.append(i))
    assert sorted(ended) == list(range(6)) and all(g.done for g in boards)
    assert max(a.calls) == 6 and max(b.calls) == 6  # its games as first and as second, in one call
    a1, b1 = _Counting("a"), _Counting("b")
    play_batch([TicTacToe() for _ in range(6)], [(a1, b1) if i % 2 == 0 else (b1, a1) for i in range(6)],
               lambda i, g: None, batched=False)
    assert set(a1.calls) == {1} and len(a1.calls) == sum(a.calls)
