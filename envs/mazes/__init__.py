"""Grid mazes: the level convention, level sources, the Gymnasium env and level metrics.

* ``maze.py``     the convention (1 wall, 0 open, odd sizes, start (1, 1), goal (H-2, W-2)), the
                  recursive-backtracker generator, checks (solvable, perfect), repair, level hashes
* ``levels.py``   level sources (``procedural``, ``file:PATH``), the held-out procedural split, the text format
* ``env.py``      ``MazeEnv``: full-grid or partial-view observations, draw/check/repair/redraw/fallback on reset
* ``family.py``   ``Maze``: the ``maze`` env family, ids ``maze-SIZE:SOURCE`` (registered in ``lab.envs``)
* ``metrics.py``  level metrics: perfect, solvable, duplicate rates, novelty, path-length KS statistic
"""

from envs.mazes.env import MazeEnv
from envs.mazes.family import Maze, parse_maze_id
from envs.mazes.levels import FileSource, ProceduralSource, format_levels, held_out_levels, parse_levels, read_levels
from envs.mazes.maze import is_perfect, is_solvable, level_hash, path_length, procedural_maze, repair

__all__ = [
    "MazeEnv",
    "Maze",
    "parse_maze_id",
    "ProceduralSource",
    "FileSource",
    "held_out_levels",
    "parse_levels",
    "read_levels",
    "format_levels",
    "procedural_maze",
    "level_hash",
    "path_length",
    "is_solvable",
    "is_perfect",
    "repair",
]
