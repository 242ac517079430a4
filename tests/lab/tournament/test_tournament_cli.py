"""``lab tournament`` and ``lab ratings`` end to end: outputs, resume, refusals, SPRT, PettingZoo games."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envs.games import ConnectFour
from lab.cli import app
from lab.game import position_from_moves

runner = CliRunner()
C4 = ["tournament", "connect_four"]


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0][len("error: "):]


def games_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "games.jsonl").read_text().splitlines()]


def test_round_robin_writes_games_ratings_and_plots(tmp_path):
    out = tmp_path / "T"
    result = run(*C4, "-p", "r=random", "-p", "m=mcts:30", "-p", "m2=mcts:60", "-n", "4", "--backend", "inline",
                 "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    assert "12/12 games" in result.stdout and "95% interval" in result.stdout
    games = games_of(out)
    assert len(games) == 12 and len({g["id"] for g in games}) == 12
    for g in games:
        assert {"first", "second", "result", "moves", "opening", "seed", "seconds"} <= set(g)
        board = ConnectFour.from_moves(g["moves"])  # the move text lab analyze reads
        assert board.done and g["moves"].startswith(g["opening"]) and len(g["opening"]) == 4
        assert g["result"] == (0.5 if board.winner is None else 1.0 if board.winner == 0 else 0.0)
        position_from_moves(ConnectFour, g["moves"][:-1])
    by_opening: dict = {}
    for g in games:  # every opening twice per pairing, once with each colour
        by_opening.setdefault((frozenset((g["first"], g["second"])), g["opening_index"]), []).append(g)
    assert all(len(v) == 2 and v[0]["first"] == v[1]["second"] and v[0]["opening"] == v[1]["opening"]
               for v in by_opening.values())
    doc = json.loads((out / "ratings.json").read_text())
    assert {p["name"] for p in doc["players"]} == {"r", "m", "m2"}
    assert set(doc["players"][0]) == {"name", "spec", "rating", "ci_low", "ci_high", "games", "wins", "draws",
                                      "losses", "score"}
    assert doc["anchor"] == {"name": "r", "rating": 0.0} and "first_move_advantage" in doc
    rows = list(csv.DictReader((out / "crosstable.csv").read_text().splitlines()))
    assert len(rows) == 6 and sum(int(r["games"]) for r in rows) == 24
    assert (out / "ratings.png").stat().st_size > 1000 and (out / "matrix.png").stat().st_size > 1000


def test_resume_plays_only_the_missing_games_and_refuses_other_settings(tmp_path):
    out = tmp_path / "T"
    args = [*C4, "-p", "a=random", "-p", "b=mcts:10", "-p", "c=mcts:20", "-n", "6", "--workers", "2", "--out",
            str(out), "-q"]
    assert run(*args).exit_code == 0
    full = games_of(out)
    lines = (out / "games.jsonl").read_text().splitlines(keepends=True)
    (out / "games.jsonl").write_text("".join(lines[:13]) + lines[13][:30])  # 13 games and a torn line
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "18/18 games" in result.stdout and "(5 played now, 13 kept)" in result.stdout
    assert "dropped a torn last line" in result.stderr
    again = games_of(out)
    assert len(again) == 18 and {g["id"] for g in again} == {g["id"] for g in full}
    assert again[:13] == full[:13]
    msg = one_error_line(run(*[a if a != "6" else "8" for a in args]))
    assert msg == (f"--out {out} holds another tournament (games_per_pair there: 6; here: 8); use another --out, "
                   f"or the same settings to continue it")
    msg = one_error_line(run(*[a if a != "c=mcts:20" else "c=mcts:30" for a in args]))
    assert "(players there: a=random, b=mcts:10, c=mcts:20; here: a=random, b=mcts:10, c=mcts:30)" in msg
    assert len(games_of(out)) == 18  # nothing was touched


def test_kill_9_mid_way_then_the_same_command_completes_without_duplicates(tmp_path):
    out = tmp_path / "K"
    cmd = [sys.executable, "-m", "lab.cli", *C4, "-p", "a=mcts:200", "-p", "b=mcts:100", "-n", "16", "--workers",
           "2", "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if (out / "games.jsonl").exists() and len((out / "games.jsonl").read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = len(games_of(out))
    assert 3 <= kept < 16
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    games = games_of(out)
    assert len(games) == 16 and len({g["id"] for g in games}) == 16


@pytest.mark.parametrize(("args", "expected"), [
    (["-p", "a=random"], "a tournament needs at least two players (got 1)"),
    (["-p", "a=random", "-p", "a=mcts:5"], "--player a=mcts:5: the name 'a' is used twice"),
    (["-p", "a=random", "-p", "b=mcts:abc"], "--player b=mcts:abc: player spec 'mcts:abc': expected a positive whole number"),
    (["-p", "a=random", "-p", "b=mcst:5"], "--player b=mcst:5: unknown player 'mcst'; did you mean 'mcts'?"),
    (["-p", "a=random", "-p", "b=random", "-n", "0"], "--games-per-pair: expected a positive number, got 0"),
    (["-p", "a=random", "-p", "b=random", "-n", "3"], "--games-per-pair: expected an even number"),
    (["-p", "a=random", "-p", "b=random", "--sprt", "elo0=10,elo1=0"], "bounds out of order"),
    (["-p", "a=random", "-p", "b=random", "-p", "c=random", "--sprt", "elo0=0,elo1=10"],
     "--sprt tests one player against the others: give exactly two players (got 3), or --gauntlet NAME"),
    (["-p", "a=random", "-p", "b=random", "--gauntlet", "x"], "unknown player for --gauntlet 'x'"),
    (["-p", "a b=random", "-p", "b=random"], "may use only letters, digits and _ . + -"),
])
def test_bad_tournament_input_is_one_line_and_exit_2(tmp_path, args, expected):
    msg = one_error_line(run(*C4, *args, "--out", str(tmp_path / "T"), "-q"))
    assert expected in msg
    assert not (tmp_path / "T").exists()


def test_unknown_game_and_a_folder_that_is_not_a_tournament(tmp_path):
    assert "unknown game 'conect_four'; did you mean 'connect_four'?" in one_error_line(
        run("tournament", "conect_four", "-p", "a=random", "-p", "b=random"))
    (tmp_path / "notes.txt").write_text("mine")
    msg = one_error_line(run(*C4, "-p", "a=random", "-p", "b=random", "--out", str(tmp_path), "-q"))
    assert "is not empty and holds no tournament.json" in msg
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_pettingzoo_environment_for_players_that_need_only_observations(tmp_path):
    out = tmp_path / "P"
    result = run("tournament", "pettingzoo:classic/connect_four_v3", "-p", "r1=random", "-p", "r2=random", "-n", "4",
                 "--backend", "inline", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    for g in games_of(out):  # PettingZoo's columns are the lab's: the moves replay in the lab's model
        board = ConnectFour.from_moves(g["moves"])
        assert board.done and g["result"] == (0.5 if board.winner is None else 1.0 - board.winner)
    msg = one_error_line(run("tournament", "pettingzoo:classic/connect_four_v3", "-p", "r=random", "-p", "m=mcts:50",
                             "--out", str(tmp_path / "Q")))
    assert msg.startswith("--player m=mcts:50: player spec 'mcts:50': mcts searches a game model")
    assert "offers only observations and action masks" in msg
    assert "unknown PettingZoo environment 'classic/conect_four_v3'; did you mean 'classic/connect_four_v3'" in one_error_line(
        run("tournament", "pettingzoo:classic/conect_four_v3", "-p", "a=random", "-p", "b=random"))


def test_sprt_stops_as_soon_as_h1_is_accepted_and_resume_knows_it(tmp_path):
    out = tmp_path / "S"
    args = [*C4, "-p", "strong=mcts:40", "-p", "weak=random", "--sprt", "elo0=0,elo1=100", "--backend", "inline",
            "--out", str(out), "-q"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "ratings.json").read_text())["sprt"]
    assert doc["decision"] == "H1" and doc["llr"] >= doc["upper_bound"]
    assert doc["games"] == len(games_of(out)) < 100
    assert f"H1 accepted (elo >= 100); LLR {doc['llr']:.2f}" in result.stdout
    again = run(*args)
    assert "(0 played now" in again.stdout and "H1 accepted" in again.stdout


def test_gauntlet_plays_only_the_named_players_pairings(tmp_path):
    out = tmp_path / "G"
    result = run(*C4, "-p", "r=random", "-p", "m=mcts:20", "-p", "n=mcts:10", "--gauntlet", "m", "-n", "2",
                 "--backend", "inline", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    assert all("m" in (g["first"], g["second"]) for g in games_of(out)) and len(games_of(out)) == 4


def _write(path: Path, games: list[tuple[str, str, float]]) -> Path:
    path.write_text("".join(json.dumps({"first": f, "second": s, "result": r, "moves": "", "opening": "", "seed": 0,
                                        "seconds": 0.0}) + "\n" for f, s, r in games))
    return path


def test_ratings_command_outputs_anchor_and_unrated_players(tmp_path, monkeypatch):
    one = _write(tmp_path / "one.jsonl", [("a", "b", 1), ("b", "a", 0), ("a", "b", 0.5), ("b", "a", 0.5)] * 3)
    two = _write(tmp_path / "two.jsonl", [("c", "d", 1), ("d", "c", 0)])
    result = run("ratings", str(one), "--anchor", "b=1000")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "ratings.json").read_text())
    assert doc["anchor"] == {"name": "b", "rating": 1000.0} and doc["players"][0]["name"] == "a"
    assert doc["players"][0]["rating"] > 1000 and (tmp_path / "crosstable.csv").exists()
    merged = run("ratings", str(one), str(two), "--out", str(tmp_path / "m"))
    assert "not rated: c (2 games; no games linking them to a (the anchor))" in merged.stdout
    assert [u["name"] for u in json.loads((tmp_path / "m" / "ratings.json").read_text())["unrated"]] == ["c", "d"]
    assert one_error_line(run("ratings", str(one), str(two))).startswith("--out: several games files are merged")
    folder = tmp_path / "t"
    folder.mkdir()
    _write(folder / "games.jsonl", [("a", "b", 1), ("b", "a", 0.5)])
    assert run("ratings", str(folder)).exit_code == 0 and (folder / "ratings.json").exists()  # a tournament folder
    assert "unknown player for --anchor 'z'" in one_error_line(run("ratings", str(one), "--anchor", "z=0"))
    assert "--anchor b: expected NAME=RATING" in one_error_line(run("ratings", str(one), "--anchor", "b"))
    with one.open("a") as f:
        f.write('{"first": "a", "second": "b", "result": 3}\n')
    assert one_error_line(run("ratings", str(one))) == f"{one}:13: missing key 'moves' (a game needs first, second, result, moves, opening, seed, seconds)"


def test_ratings_logs_a_wandb_table_when_tracking_is_on(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    games = _write(tmp_path / "g.jsonl", [("a", "b", 1), ("b", "a", 0.5), ("a", "b", 0)])
    result = run("ratings", str(games), "--track")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))


def test_display_draws_progress_and_standings(capsys):
    from rich.console import Console

    from lab.tournament.display import TournamentDisplay
    from lab.tournament.ratings import fit_ratings

    games = [{"first": "a", "second": "b", "result": 1.0}] * 3 + [{"first": "b", "second": "a", "result": 0.5}]
    shown = TournamentDisplay("t", 10, 0, lambda: fit_ratings(games), live=False)
    shown.update(4)
    line = capsys.readouterr().err
    assert line.startswith("games 4/10") and "games/s" in line and "ETA" in line and "a +0, b " in line
    console = Console(width=100, record=True)
    console.print(shown.render())
    text = console.export_text()
    assert "games 4/10" in text and "95% interval" in text and "anchor" in text


def test_alphazero_players_play_batched_on_the_workers(tmp_path):
    run_dir = tmp_path / "az"
    tiny = dict(games_per_iteration=4, simulations=4, play_simulations=8, channels=8, blocks=1, batch_size=16,
                eval_interval=0)
    trained = run("train", "alphazero", "tictactoe", "--iterations", "1", "--no-track", "-q", "--run-dir",
                  str(run_dir), "--eval-episodes", "2", *[f"--set={k}={v}" for k, v in tiny.items()])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "T"
    result = run("tournament", "tictactoe", "-p", f"az=alphazero:{run_dir}", "-p", "r=random", "-n", "8",
                 "--opening-plies", "2", "--workers", "2", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    games = games_of(out)
    assert len(games) == 8 and {g["first_spec"] for g in games} == {f"alphazero:{run_dir}", "random"}
    assert len({g["seed"] for g in games}) == 2  # 8 games in 2 jobs (one per worker), each batched


def test_an_opening_book_gives_the_openings(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("# two openings and one already lost for the side to move\n44\n17\n26364\n")
    out = tmp_path / "B"
    result = run(*C4, "-p", "a=random", "-p", "b=random", "-n", "8", "--openings", str(book), "--backend",
                 "inline", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    assert "1 opening(s) in" in result.stderr and "are not used" in result.stderr
    assert {g["opening"] for g in games_of(out)} == {"44", "17"}
    book.write_text("44\n")  # the folder belongs to the book it was started with
    assert "openings there:" in one_error_line(run(*C4, "-p", "a=random", "-p", "b=random", "-n", "8", "--openings",
                                                   str(book), "--out", str(out), "-q"))


def test_ray_tasks_write_games_themselves_or_hand_them_back(tmp_path):
    ray = pytest.importorskip("ray")
    from lab.tournament import TournamentOptions, run_tournament

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for address, out in ((None, tmp_path / "local"), ("auto", tmp_path / "cluster")):
            # With --address the workers may be on other machines: the driver appends what they return.
            summary = run_tournament(TournamentOptions(game="connect_four", players=["a=random", "b=mcts:10"],
                                                       games_per_pair=4, backend="ray", address=address,
                                                       out=str(out), display=False))
            games = games_of(out)
            assert summary.games == summary.played == 4 and not summary.failed
            assert len({g["id"] for g in games}) == 4
    finally:
        ray.shutdown()


def test_sprt_with_a_gauntlet_tests_one_player_against_the_field(tmp_path):
    out = tmp_path / "SG"
    result = run(*C4, "-p", "r1=random", "-p", "m=mcts:40", "-p", "r2=random", "--gauntlet", "m", "--sprt",
                 "elo0=0,elo1=100", "--backend", "inline", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    games = games_of(out)
    assert json.loads((out / "ratings.json").read_text())["sprt"]["decision"] == "H1"
    assert {frozenset((g["first"], g["second"])) for g in games} == {frozenset(("m", "r1")), frozenset(("m", "r2"))}


def test_out_must_not_be_empty_and_a_held_folder_is_refused(tmp_path):
    msg = one_error_line(run(*C4, "-p", "a=random", "-p", "b=random", "--out", "", "-q"))
    assert msg == "--out: the path is empty; give one (. means the current folder)"
    from lab import locks

    out = tmp_path / "T"
    out.mkdir()
    with locks.hold(out, "tournament folder"):  # as another lab command writing there would
        msg = one_error_line(run(*C4, "-p", "a=random", "-p", "b=random", "-n", "2", "--backend", "inline",
                                 "--out", str(out), "-q"))
    assert msg.startswith(f"{out}: the tournament folder is in use by process {os.getpid()}")
    assert not (out / "games.jsonl").exists()


def test_games_with_more_than_nine_actions_write_moves_that_read_back(tmp_path):
    """Go (362 actions): moves are numbers separated by spaces, and they replay to the game's end and result."""
    from lab.game import split_moves
    from lab.tournament.aec import aec_game
    from lab.tournament.schedule import read_book

    out = tmp_path / "G"
    result = run("tournament", "pettingzoo:classic/go_v5", "-p", "r1=random", "-p", "r2=random", "-n", "2",
                 "--opening-plies", "0", "--backend", "inline", "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    go = aec_game("pettingzoo:classic/go_v5")
    for g in games_of(out):
        moves = split_moves(go, g["moves"])
        assert len(moves) > 9 and all(m.isdigit() and int(m) < 362 for m in moves) and " " in g["moves"]
        board = go()
        for m in moves:
            board.play(go.parse_move(m))
        assert board.done and g["result"] == (0.5 if board.winner is None else 1.0 - board.winner)
    assert split_moves(go, "(72)(300)(361)") == ["(72)", "(300)", "(361)"]  # games files written before
    book = tmp_path / "book.txt"
    book.write_text("72 300\n(72)(300)\n-\n")
    openings, skipped = read_book(book, go)
    assert openings == [(72, 300), (72, 300), ()] and skipped == 0
