"""games.jsonl: appends from many processes stay whole lines; bad lines are named by file and line."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from lab.tournament.gamesfile import GamesFileError, GamesTail, append_game, read_games, repair_tail

GAME = {"first": "a", "second": "b", "result": 1.0, "moves": "4444", "opening": "", "seed": 0, "seconds": 0.1}


def _writer(path: str, worker: int, n: int) -> None:
    for i in range(n):
        append_game(path, {**GAME, "id": f"{worker}-{i}", "moves": "4" * (i % 40)})


def test_parallel_appends_keep_every_line_whole(tmp_path):
    path = str(tmp_path / "games.jsonl")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    games = read_games(path)
    assert len(games) == 800 and len({g["id"] for g in games}) == 800


@pytest.mark.parametrize(("line", "match"), [
    ("{not json", r"games.jsonl:2: not valid JSON"),
    ("[1, 2]", r"games.jsonl:2: expected a JSON object \(one game\), got list"),
    (json.dumps({k: v for k, v in GAME.items() if k != "result"}), r"games.jsonl:2: missing key 'result'"),
    (json.dumps({**GAME, "result": 2}), r"games.jsonl:2: result: expected 1 \(first won\), 0.5 \(draw\) or 0"),
    (json.dumps({**GAME, "second": "a"}), r"games.jsonl:2: first and second are the same player 'a'"),
    (json.dumps({**GAME, "seconds": "x"}), r"games.jsonl:2: seconds: expected a number"),
])
def test_a_malformed_line_is_named(tmp_path, line, match):
    path = tmp_path / "games.jsonl"
    path.write_text(json.dumps(GAME) + "\n" + line + "\n")
    with pytest.raises(GamesFileError, match=match):
        read_games(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(GamesFileError, match=r"no such file"):
        read_games(tmp_path / "nope.jsonl")
    with pytest.raises(GamesFileError, match=r"is a folder; give its games.jsonl"):
        read_games(tmp_path)


def test_a_torn_last_line_is_cut(tmp_path):
    path = tmp_path / "games.jsonl"
    path.write_text(json.dumps(GAME) + "\n" + '{"first": "a", "sec')
    assert repair_tail(path) is True
    assert len(read_games(path)) == 1 and path.read_text().endswith("\n")
    assert repair_tail(path) is False


def test_tail_reads_only_complete_new_lines(tmp_path):
    path = tmp_path / "games.jsonl"
    tail = GamesTail(path)
    assert tail.read() == []
    append_game(path, {**GAME, "id": "1"})
    with open(path, "a") as f:
        f.write('{"first": "a"')  # a line being written
    assert [g["id"] for g in tail.read()] == ["1"]
    with open(path, "a") as f:
        f.write(', "second": "b", "result": 0, "moves": "", "opening": "", "seed": 0, "seconds": 0, "id": "2"}\n')
    assert [g["id"] for g in tail.read()] == ["2"]
