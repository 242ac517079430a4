"""The ``maze`` env family: ids ``maze-SIZE:SOURCE`` resolved to :class:`envs.mazes.env.MazeEnv` factories."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any

from lab.errors import LabError, closest
from envs.mazes.env import MazeEnv
from envs.mazes.levels import held_out_levels, is_held_out, parse_source
from envs.mazes.maze import check_size, is_perfect, is_solvable, level_hash, procedural_maze
from envs.mazes.metrics import level_metrics, level_report

__all__ = ["Maze", "parse_maze_id", "DEFAULT_SIZE"]

DEFAULT_SIZE = 13
_ID = re.compile(r"^maze(?:-(?P<size>[^:]*))?(?::(?P<source>.*))?$")
_OPTIONS = [p for p in inspect.signature(MazeEnv).parameters if p not in ("size", "source", "render_mode")]


def parse_maze_id(env_id: str) -> tuple[int, str]:
    """``maze-13:file:levels.txt`` -> ``(13, "file:levels.txt")``; the size defaults to 13, the source to procedural.

    >>> parse_maze_id("maze-9:procedural"), parse_maze_id("maze")
    ((9, 'procedural'), (13, 'procedural'))
    """
    m = _ID.match(env_id)
    if m is None:
        raise LabError(f"environment {env_id!r}: expected maze-SIZE:SOURCE, e.g. maze-13:procedural")
    size_text = m.group("size")
    if size_text is None:
        size = DEFAULT_SIZE
    else:
        try:
            size = int(size_text)
        except ValueError:
            raise LabError(f"environment {env_id!r}: maze size: expected an odd number >= 5, got {size_text!r}") from None
    try:
        check_size(size)
    except LabError as e:
        raise LabError(f"environment {env_id!r}: {e}") from None
    return size, m.group("source") or "procedural"


class Maze:
    """Grid mazes: maze-SIZE:SOURCE, sources procedural, generator:RUN_DIR, file:PATH (`--set env.view=5` for a partial view)."""

    # The level convention's functions, for plugins that reach the family through the registry
    # (``ENVS.load("maze")``) rather than importing envs/: the generators' mazes data set and its metrics.
    procedural_maze = staticmethod(procedural_maze)
    held_out_levels = staticmethod(held_out_levels)
    is_held_out = staticmethod(is_held_out)
    level_hash = staticmethod(level_hash)
    is_perfect = staticmethod(is_perfect)
    is_solvable = staticmethod(is_solvable)
    level_metrics = staticmethod(level_metrics)
    level_report = staticmethod(level_report)

    @staticmethod
    def env_factory(env_id: str, options: dict[str, Any]) -> Callable[..., MazeEnv]:
        size, source_spec = parse_maze_id(env_id)
        for key in options:
            if key not in _OPTIONS:
                hits = closest(key, _OPTIONS, n=1)
                hint = f"; did you mean 'env.{hits[0]}'?" if hits else f" (options: {', '.join(_OPTIONS)})"
                raise LabError(f"env.{key}: not an option of maze environments{hint}")
        if options.get("levels", "train") not in ("train", "held-out"):
            raise LabError(f"env.levels: expected 'train' or 'held-out', got {options['levels']!r}")
        try:
            source = parse_source(size, source_spec, options.get("levels", "train"))  # read files once, not per env
        except LabError as e:
            raise LabError(f"environment {env_id!r}: {e}") from None
        return functools.partial(_make, size, source, dict(options))


def _make(size: int, source: Any, options: dict[str, Any], render_mode: str | None = None) -> MazeEnv:
    return MazeEnv(size, source, render_mode=render_mode, **{k: v for k, v in options.items() if k != "levels"})
