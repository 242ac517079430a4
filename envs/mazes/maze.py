"""The maze convention every level source, metric and sample uses, and the procedural generator.

A maze is an ``(H, W)`` integer array, ``1`` = wall, ``0`` = open; ``H`` and ``W`` are odd and at
least 5; the border is wall; rooms sit at odd ``(row, col)``; the start is ``(1, 1)`` and the goal
``(H - 2, W - 2)``.

>>> m = procedural_maze(5, seed=0)
>>> m.shape, int(m[0].sum()), is_perfect(m), path_length(m)
((5, 5), 5, True, 4)
"""

from __future__ import annotations

import hashlib
from collections import deque

import numpy as np

from lab.errors import LabError

__all__ = [
    "WALL",
    "OPEN",
    "check_size",
    "start_goal",
    "procedural_maze",
    "level_hash",
    "distances",
    "path_length",
    "is_solvable",
    "is_valid",
    "is_perfect",
    "repair",
]

WALL, OPEN = 1, 0
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left


def check_size(size: int, what: str = "maze size") -> int:
    """``size`` if it is an odd integer >= 5, else a LabError naming it."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 5 or size % 2 == 0:
        raise LabError(f"{what}: expected an odd number >= 5, got {size!r}")
    return int(size)


def start_goal(shape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Start ``(1, 1)`` and goal ``(H - 2, W - 2)`` of a maze of ``shape``."""
    h, w = shape
    return (1, 1), (h - 2, w - 2)


def procedural_maze(size: int | tuple[int, int], seed: int | np.random.Generator) -> np.ndarray:
    """A perfect maze (its open cells form a spanning tree of the rooms) by randomized depth-first search.

    The recursive backtracker, written with an explicit stack: from a random room, carve to a random
    unvisited neighbouring room, backtrack when there is none, until every room is visited.

    Args:
        size: ``H`` (a square maze) or ``(H, W)``; odd, >= 5.
        seed: an int seed or a numpy Generator (advanced in place).

    Returns:
        int8 array ``(H, W)`` in the maze convention.
    """
    h, w = (size, size) if np.isscalar(size) else size
    h, w = check_size(h), check_size(w)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows, cols = (h - 1) // 2, (w - 1) // 2
    grid = np.ones((h, w), dtype=np.int8)
    visited = np.zeros((rows, cols), dtype=bool)
    r0, c0 = int(rng.integers(rows)), int(rng.integers(cols))
    visited[r0, c0] = True
    grid[2 * r0 + 1, 2 * c0 + 1] = OPEN
    stack = [(r0, c0)]
    while stack:
        r, c = stack[-1]
        options = [
            (r + dr, c + dc)
            for dr, dc in _MOVES
            if 0 <= r + dr < rows and 0 <= c + dc < cols and not visited[r + dr, c + dc]
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[int(rng.integers(len(options)))]
        visited[nr, nc] = True
        grid[r + nr + 1, c + nc + 1] = OPEN  # the wall between the two rooms: (2r+1 + 2nr+1) / 2
        grid[2 * nr + 1, 2 * nc + 1] = OPEN
        stack.append((nr, nc))
    return grid


def level_hash(grid: np.ndarray) -> str:
    """A short content hash of a level (shape and cells): equal levels, equal hashes."""
    a = np.ascontiguousarray(grid, dtype=np.int8)
    return hashlib.blake2b(f"{a.shape}".encode() + a.tobytes(), digest_size=8).hexdigest()


def distances(grid: np.ndarray, origin: tuple[int, int] | None = None) -> np.ndarray:
    """Breadth-first step counts from ``origin`` (default: the start) to every open cell; -1 where unreachable."""
    h, w = grid.shape
    origin = origin or start_goal(grid.shape)[0]
    dist = np.full((h, w), -1, dtype=np.int32)
    if grid[origin] != OPEN:
        return dist
    dist[origin] = 0
    queue = deque([origin])
    while queue:
        r, c = queue.popleft()
        d = dist[r, c] + 1
        for dr, dc in _MOVES:
            nr, nc = r + dr, c + dc
            if 0 <= nr < h and 0 <= nc < w and grid[nr, nc] == OPEN and dist[nr, nc] < 0:
                dist[nr, nc] = d
                queue.append((nr, nc))
    return dist


def path_length(grid: np.ndarray) -> int:
    """Shortest start-to-goal path in steps; -1 when the goal cannot be reached."""
    _start, goal = start_goal(grid.shape)
    return int(distances(grid)[goal])


def is_solvable(grid: np.ndarray) -> bool:
    """Start and goal open and connected."""
    return path_length(grid) >= 0


def is_valid(grid: np.ndarray) -> bool:
    """What every level an env plays must be: only 0 and 1, the border wall, start and goal open and connected."""
    g = np.asarray(grid)
    if g.ndim != 2 or not np.isin(g, (0, 1)).all():
        return False
    if not (g[0].all() and g[-1].all() and g[:, 0].all() and g[:, -1].all()):
        return False
    return is_solvable(g)


def is_perfect(grid: np.ndarray) -> bool:
    """Border closed, every room open, no open cell at (even, even), and the open cells a tree (connected, acyclic)."""
    g = np.asarray(grid)
    h, w = g.shape
    if h < 5 or w < 5 or h % 2 == 0 or w % 2 == 0 or not np.isin(g, (0, 1)).all():
        return False
    if not (g[0].all() and g[-1].all() and g[:, 0].all() and g[:, -1].all()):
        return False
    if (g[1::2, 1::2] != OPEN).any() or (g[2:-1:2, 2:-1:2] == OPEN).any():
        return False
    open_cells = int((g == OPEN).sum())
    edges = int(((g[:, :-1] == OPEN) & (g[:, 1:] == OPEN)).sum() + ((g[:-1] == OPEN) & (g[1:] == OPEN)).sum())
    if edges != open_cells - 1:  # a connected graph is a tree exactly when it has one edge fewer than nodes
        return False
    return int((distances(g) >= 0).sum()) == open_cells


def repair(grid: np.ndarray) -> np.ndarray:
    """The cheap fixes a level may need: values clipped to {0, 1}, border closed, start and goal opened.

    Connection is not forced: a level still unsolvable after this is redrawn by its source.
    """
    g = (np.asarray(grid) != OPEN).astype(np.int8)
    g[0, :] = g[-1, :] = WALL
    g[:, 0] = g[:, -1] = WALL
    start, goal = start_goal(g.shape)
    g[start] = g[goal] = OPEN
    return g
