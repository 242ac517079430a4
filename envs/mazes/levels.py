"""Level sources: where a maze env's levels come from, and the text format of level files.

A source is named in the env id after the size: ``maze-13:procedural``, ``maze-13:file:PATH``,
``maze-13:generator:RUN_DIR`` (:mod:`envs.mazes.generated`).
Every source has ``name`` and ``draw(rng) -> grid``; the env checks, repairs or redraws what it gets
(:mod:`envs.mazes.env`).

Level files: ``#`` wall, ``.`` open, one row per line, one blank line between levels.

>>> print(format_levels([procedural_maze(5, seed=0)]))
#####
#...#
#.###
#...#
#####
<BLANKLINE>
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from lab.errors import LabError, closest
from envs.mazes.maze import check_size, level_hash, procedural_maze

__all__ = [
    "LevelSource",
    "ProceduralSource",
    "FileSource",
    "SOURCES",
    "HELD_OUT_LEVELS",
    "held_out_levels",
    "is_held_out",
    "parse_source",
    "read_levels",
    "parse_levels",
    "format_levels",
]

Split = Literal["train", "held-out"]

HELD_OUT_LEVELS = 500
"""Size of the held-out split of procedural levels per maze size (smaller for sizes with fewer distinct mazes)."""
HELD_OUT_BUCKETS = 4
"""A level is held out when its hash falls in bucket 0 of this many: training draws never return one."""
_HELD_OUT_SEED = 2**40
"""The held-out split is the first distinct held-out levels of ``procedural_maze(size, seed=_HELD_OUT_SEED + i)``."""


class LevelSource(Protocol):
    """Where a maze env draws its levels from."""

    name: str
    """How ``info["level_source"]`` names it: ``procedural``, ``file:PATH``."""

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One level ``(H, W)`` (maybe invalid: the env checks it), using ``rng`` for any randomness."""
        ...


def is_held_out(grid: np.ndarray) -> bool:
    """Whether ``grid`` belongs to the held-out part of the level space (a quarter of it, by hash)."""
    return int(level_hash(grid), 16) % HELD_OUT_BUCKETS == 0


@functools.cache
def _held_out(size: int) -> np.ndarray:
    levels: dict[str, np.ndarray] = {}
    for i in range(HELD_OUT_LEVELS * HELD_OUT_BUCKETS * 4):  # bounded: small sizes have few distinct mazes
        grid = procedural_maze(size, seed=_HELD_OUT_SEED + i)
        if is_held_out(grid):
            levels.setdefault(level_hash(grid), grid)
            if len(levels) == HELD_OUT_LEVELS:
                break
    out = np.stack(list(levels.values()))
    out.flags.writeable = False
    return out


def held_out_levels(size: int) -> np.ndarray:
    """The fixed held-out procedural levels of ``size``: int8 ``(N, size, size)``, read-only, distinct;
    ``N = HELD_OUT_LEVELS`` for sizes >= 9."""
    return _held_out(check_size(size))


class ProceduralSource:
    """Seeded recursive-backtracker mazes. ``levels="train"`` never returns a held-out level
    (:func:`is_held_out`); ``levels="held-out"`` draws from the fixed held-out split."""

    def __init__(self, size: int, levels: Split = "train") -> None:
        if levels not in ("train", "held-out"):
            raise LabError(f"levels: expected 'train' or 'held-out', got {levels!r}")
        self.size = check_size(size)
        self.levels = levels
        self.name = "procedural" if levels == "train" else "procedural:held-out"

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.levels == "held-out":
            held = _held_out(self.size)
            return held[int(rng.integers(len(held)))].copy()
        while True:  # 3 draws in 4 are kept
            grid = procedural_maze(self.size, seed=int(rng.integers(2**40)))
            if not is_held_out(grid):
                return grid


class FileSource:
    """Levels read from a text file, drawn uniformly at random."""

    def __init__(self, size: int, path: str) -> None:
        self.size = check_size(size)
        self.name = f"file:{path}"
        levels = read_levels(path)
        for i, (line, grid) in enumerate(levels, start=1):
            if grid.shape != (self.size, self.size):
                raise LabError(
                    f"{path}:{line}: level {i} is {grid.shape[0]}x{grid.shape[1]}, expected {self.size}x{self.size} "
                    f"for maze-{self.size}"
                )
        self.levels = [grid for _line, grid in levels]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return self.levels[int(rng.integers(len(self.levels)))].copy()


def _generator_source(size: int, run_dir: str) -> LevelSource:
    from envs.mazes.generated import GeneratorSource  # torch and the run's generator: loaded only when named

    return GeneratorSource(size, run_dir)


SOURCES = {"procedural": ProceduralSource, "file": FileSource, "generator": _generator_source}
"""Source kinds by name; ``parse_source`` builds one from the part of the env id after the size."""


def parse_source(size: int, spec: str, levels: Split = "train") -> LevelSource:
    """Build the source named by ``spec`` (``procedural``, ``file:PATH``, ``generator:RUN_DIR``) for mazes of ``size``.

    ``levels="held-out"`` selects the held-out procedural split (evaluation): the source is then
    procedural whatever ``spec`` names, so an agent trained on any source is scored on the same levels.
    """
    kind, _, arg = spec.partition(":")
    if levels == "held-out":
        return ProceduralSource(size, "held-out")
    if kind not in SOURCES:
        hits = closest(kind, list(SOURCES), n=1)
        hint = f"; did you mean {hits[0]!r}?" if hits else ""
        raise LabError(f"unknown level source {kind!r}{hint} (choices: procedural, file:PATH, generator:RUN_DIR)")
    if kind == "procedural":
        if arg:
            raise LabError(f"level source {spec!r}: procedural takes no argument")
        return ProceduralSource(size, levels)
    if not arg:
        raise LabError(f"level source {spec!r}: expected {kind}:{'PATH' if kind == 'file' else 'RUN_DIR'}")
    return SOURCES[kind](size, arg)


def parse_levels(text: str, where: str = "<text>") -> list[tuple[int, np.ndarray]]:
    """Levels in the text format, each with the line it starts on.

    Raises:
        LabError: an unknown character (line and column named), ragged rows, or no level at all.
    """
    levels: list[tuple[int, np.ndarray]] = []
    rows: list[list[int]] = []
    first = 0
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n").rstrip()
        if not line:
            if rows:
                levels.append((first, np.array(rows, dtype=np.int8)))
                rows = []
            continue
        row = []
        for col, ch in enumerate(line, start=1):
            if ch not in "#.":
                raise LabError(f"{where}:{n}:{col}: unknown character {ch!r} (levels use '#' for wall and '.' for open)")
            row.append(1 if ch == "#" else 0)
        if rows and len(row) != len(rows[0]):
            raise LabError(f"{where}:{n}: ragged rows: this row has {len(row)} columns, the level's first row (line {first}) {len(rows[0])}")
        if not rows:
            first = n
        rows.append(row)
    if rows:
        levels.append((first, np.array(rows, dtype=np.int8)))
    if not levels:
        raise LabError(f"{where}: no levels in the file")
    return levels


def read_levels(path: str | os.PathLike) -> list[tuple[int, np.ndarray]]:
    """``parse_levels`` of a file, with a one-line error when it cannot be read."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise LabError(f"level file {path}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError:
        raise LabError(f"level file {path}: not a UTF-8 text file") from None
    return parse_levels(text, str(path))


def format_levels(levels: "np.ndarray | list[np.ndarray]") -> str:
    """The text format of ``levels`` (any iterable of ``(H, W)`` arrays); ``parse_levels`` reads it back."""
    blocks = ["\n".join("".join("#" if v else "." for v in row) for row in np.asarray(g)) for g in levels]
    return "\n\n".join(blocks) + "\n"
