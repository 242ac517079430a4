"""The maze convention, the recursive backtracker, checks, repair and the level text format, on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from envs.mazes.levels import FileSource, ProceduralSource, format_levels, held_out_levels, is_held_out, parse_levels
from envs.mazes.maze import (
    is_perfect,
    is_solvable,
    is_valid,
    level_hash,
    path_length,
    procedural_maze,
    repair,
)
from lab.errors import LabError

TINY = np.array(
    [
        [1, 1, 1, 1, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 0, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 1],
    ],
    dtype=np.int8,
)


@pytest.mark.parametrize("size", [5, 7, 13, 21])
def test_procedural_mazes_follow_the_convention_and_are_perfect(size):
    for seed in range(20):
        m = procedural_maze(size, seed=seed)
        assert m.shape == (size, size) and m.dtype == np.int8
        assert m[0].all() and m[-1].all() and m[:, 0].all() and m[:, -1].all()
        assert (m[1::2, 1::2] == 0).all(), "every room open"
        assert is_perfect(m) and is_solvable(m)
        # a spanning tree of R rooms has R - 1 carved walls: open cells = 2R - 1
        rooms = ((size - 1) // 2) ** 2
        assert int((m == 0).sum()) == 2 * rooms - 1


def test_procedural_mazes_are_seeded():
    assert np.array_equal(procedural_maze(13, seed=3), procedural_maze(13, seed=3))
    assert len({level_hash(procedural_maze(13, seed=s)) for s in range(50)}) == 50
    rect = procedural_maze((7, 11), seed=0)
    assert rect.shape == (7, 11) and is_perfect(rect)


@pytest.mark.parametrize("size", [4, 3, 12, 0, -5, 2.5, True])
def test_even_or_too_small_sizes_are_refused(size):
    with pytest.raises(LabError, match=r"maze size: expected an odd number >= 5, got"):
        procedural_maze(size, seed=0)


def test_known_answers_for_the_checks():
    assert path_length(TINY) == 4 and is_perfect(TINY) and is_valid(TINY)
    cycle = TINY.copy()
    cycle[2, 1] = 0  # a second way round: connected, but no longer a tree
    assert is_solvable(cycle) and path_length(cycle) == 4 and not is_perfect(cycle)
    cut = TINY.copy()
    cut[2, 3] = 1
    assert not is_solvable(cut) and path_length(cut) == -1 and not is_perfect(cut)
    closed_goal = TINY.copy()
    closed_goal[3, 3] = 1
    assert not is_solvable(closed_goal)
    hole = TINY.copy()
    hole[0, 2] = 0
    assert is_solvable(hole) and not is_valid(hole) and not is_perfect(hole)
    pillar_open = procedural_maze(7, seed=0)
    pillar_open[2, 2] = 0  # an (even, even) cell open is never perfect
    assert not is_perfect(pillar_open)


def test_repair_closes_the_border_and_opens_start_and_goal_only():
    broken = TINY.copy()
    broken[0, 2] = 0
    broken[1, 1] = broken[3, 3] = 1
    fixed = repair(broken)
    assert np.array_equal(fixed, TINY)
    cut = TINY.copy()
    cut[2, 3] = 1
    assert not is_solvable(repair(cut)), "repair does not carve paths"


def test_held_out_split_is_fixed_and_never_drawn_for_training():
    big = held_out_levels(9)
    assert big.shape == (500, 9, 9) and not big.flags.writeable and all(is_held_out(g) for g in big)
    assert len({level_hash(g) for g in big}) == 500
    assert np.array_equal(big, held_out_levels(9))
    held = held_out_levels(7)
    assert 10 < len(held) < 500, "7x7 has few distinct mazes: the split holds those it found"
    hashes = {level_hash(g) for g in held}
    rng = np.random.default_rng(0)
    train = ProceduralSource(7)
    # 7x7 mazes have only 3x3 rooms: few distinct mazes, so training draws would hit held-out ones if not refused
    drawn = {level_hash(train.draw(rng)) for _ in range(300)}
    assert not drawn & hashes
    test = ProceduralSource(7, "held-out")
    assert all(level_hash(test.draw(rng)) in hashes for _ in range(50))


def test_level_text_format_round_trips_and_names_lines():
    levels = [procedural_maze(7, seed=s) for s in range(3)]
    text = format_levels(levels)
    parsed = parse_levels(text, "x.txt")
    assert [line for line, _ in parsed] == [1, 9, 17]
    assert all(np.array_equal(a, b) for a, b in zip(levels, [g for _, g in parsed]))


def test_level_file_errors_name_file_line_and_column(tmp_path):
    with pytest.raises(LabError, match=r"^x.txt:2:4: unknown character 'x' \(levels use '#' for wall and '.' for open\)$"):
        parse_levels("#####\n#..x#\n", "x.txt")
    with pytest.raises(LabError, match=r"^x.txt:3: ragged rows: this row has 4 columns, the level's first row \(line 1\) 5$"):
        parse_levels("#####\n#...#\n####\n", "x.txt")
    with pytest.raises(LabError, match=r"^x.txt: no levels in the file$"):
        parse_levels("\n\n", "x.txt")
    path = tmp_path / "l.txt"
    path.write_text(format_levels([procedural_maze(5, seed=0)]) + "\n" + format_levels([procedural_maze(7, seed=0)]))
    with pytest.raises(LabError, match=r"l.txt:7: level 2 is 7x7, expected 5x5 for maze-5$"):
        FileSource(5, str(path))
    with pytest.raises(LabError, match=r"level file .*missing.txt: cannot read it \(No such file or directory\)"):
        FileSource(5, str(tmp_path / "missing.txt"))
