"""The ``mazes`` data set (``mazes``, ``mazes-13``, any odd size >= 5) and what generators do with mazes.

Mazes follow the maze convention of the ``maze`` env family (``(H, W)``, 1 = wall, 0 = open, start
``(1, 1)``, goal ``(H-2, W-2)``). This module reaches that family only through the registry
(``ENVS.load("maze")``): the procedural generator, the held-out split and the level metrics live there.

* Training split: ``data.levels`` distinct procedural mazes from seeds ``0, 1, ...``, none of them in the
  held-out part of the level space; held-out split: the maze family's fixed held-out levels (the same
  levels ``lab eval RUN --env maze-13:procedural --levels held-out`` plays).
* Served as one channel, 1 = wall, padded with wall on the bottom and right to the next side ``4 * 2**k``
  (13 -> 16) so every generator's down/up-sampling fits; :meth:`MazeDataset.to_levels` crops back and
  thresholds at 0.5.
* ``lab sample`` writes the levels unrepaired (``samples.npy`` int8 ``(N, H, W)``) and a grid marking the
  invalid ones; ``lab eval`` scores them with the level metrics beside a per-cell random baseline and
  held-out procedural mazes.

>>> ds = mazes("7", DataConfig(levels=20))
>>> ds.name, ds.shape, ds.maze_size, ds.to_levels(ds.train[:1]).shape
('mazes-7', (1, 8, 8), 7, (1, 7, 7))
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from generators.datasets import DataConfig, ImageDataset
from lab.errors import LabError

__all__ = ["MazeDataset", "mazes", "maze_spec", "padded_side", "TUNED", "tuned", "draw_levels", "MAZE_ID"]

DEFAULT_SIZE = 13
MAZE_ID = re.compile(r"^mazes(?:-(?P<size>[^:]*))?$")

TUNED: dict[str, dict[str, Any]] = {
    # Generator defaults for mazes (13x13 padded to 16x16), set on a 2-core CPU (README: Mazes).
    "diffusion": {
        # A third U-Net level (16 -> 8 -> 4) with self-attention at 4x4: whether the open cells form one tree
        # is a global property, and two levels see only local patches. v-prediction keeps the last denoising
        # steps from blurring the binary walls.
        "channels": [16, 32, 32], "attention": True, "prediction": "v_prediction", "batch_size": 64,
        "learning_rate": 1e-3, "sample_steps": 25, "grid_every": 500, "eval_samples": 1000, "steps": 2000,
    },
    "vae": {"latent": 32, "channels": 32, "beta": 0.5, "beta_warmup": 500, "steps": 3000},
    "gan": {"latent": 64, "channels": 64, "steps": 3000},
}
"""Tuned values per generator for the mazes data set (Config keys, plus the run key ``steps``)."""


def _family() -> Any:
    from lab.registry import ENVS

    return ENVS.load("maze")


def maze_spec(spec: str) -> int | None:
    """The maze size a data set spec names (``mazes`` -> 13, ``mazes-9`` -> 9), or None for other data sets."""
    m = MAZE_ID.match(spec)
    if m is None:
        return None
    text = m.group("size")
    if text is None:
        return DEFAULT_SIZE
    try:
        size = int(text)
    except ValueError:
        raise LabError(f"data set {spec!r}: maze size: expected an odd number >= 5, got {text!r}") from None
    if size < 5 or size % 2 == 0:
        raise LabError(f"data set {spec!r}: maze size: expected an odd number >= 5, got {size}")
    return size


def tuned(generator: str, dataset: str) -> dict[str, Any]:
    """The tuned values of ``generator`` for ``dataset`` when it is a mazes data set, else ``{}``."""
    try:
        size = maze_spec(dataset)
    except LabError:
        return {}
    return dict(TUNED.get(generator, {})) if size is not None else {}


def padded_side(size: int) -> int:
    """The smallest ``4 * 2**k`` >= ``size``: the side mazes are served at (13 -> 16, 7 -> 8, 21 -> 32)."""
    side = 4
    while side < size:
        side *= 2
    return side


def draw_levels(levels: np.ndarray, marks: np.ndarray | None = None) -> np.ndarray:
    """(N, 3, H, W) float images of ``levels`` (N, H, W): walls dark, open light, start red, goal green; where
    ``marks`` (N,) is true the open cells are tinted red (an invalid level)."""
    levels = np.asarray(levels)
    n, h, w = levels.shape
    img = np.where(levels[:, None] == 1, 0.15, 0.95).astype(np.float32).repeat(3, axis=1)  # (N, 3, H, W)
    if marks is not None:
        bad = np.asarray(marks, bool)
        open_ = (levels[bad] == 0)
        tinted = img[bad]
        tinted[:, 1][open_] = 0.55
        tinted[:, 2][open_] = 0.55
        img[bad] = tinted
    img[:, :, 1, 1] = (0.85, 0.2, 0.2)
    img[:, :, h - 2, w - 2] = (0.2, 0.7, 0.3)
    return img


@dataclass(frozen=True, eq=False)
class MazeDataset(ImageDataset):
    """Mazes as images (N, 1, S, S), S = :func:`padded_side` of the maze size, with the maze-specific hooks
    ``lab sample`` and ``lab eval`` use (``to_levels``, ``write_samples``, ``evaluate_samples``)."""

    maze_size: int = DEFAULT_SIZE
    """H = W of the mazes (odd, >= 5)."""
    invert: bool = True
    """1 = wall: drawn dark in training previews."""

    def to_levels(self, samples: np.ndarray) -> np.ndarray:
        """Raw generator output (N, 1, S, S) in [0, 1] -> int8 levels (N, H, W): cropped, thresholded at 0.5, not repaired."""
        s = self.maze_size
        return (np.asarray(samples)[:, 0, :s, :s] >= 0.5).astype(np.int8)

    def write_samples(self, samples: np.ndarray, out: str | os.PathLike) -> dict[str, Any]:
        """``lab sample``: ``OUT/samples.npy`` (int8 levels, unrepaired) and ``OUT/grid.png`` (invalid ones tinted red)."""
        from lab import atomic
        from lab.images import save_grid

        out = Path(out)
        levels = self.to_levels(samples)
        fam = _family()
        perfect = np.array([fam.is_perfect(g) for g in levels], bool)
        solvable = np.array([fam.is_solvable(g) for g in levels], bool)
        with atomic.atomic_write(out / "samples.npy", "wb") as f:
            np.save(f, levels)
        shown = levels[:100]
        save_grid(out / "grid.png", draw_levels(shown, ~perfect[:100]))
        return {"perfect": int(perfect.sum()), "solvable": int(solvable.sum()), "levels_shape": list(levels.shape)}

    def evaluate_samples(self, samples: np.ndarray, *, seed: int) -> dict[str, Any]:
        """The level metrics of raw samples (thresholded, unrepaired) with the random and held-out procedural
        baselines beside them: ``perfect_rate`` ... ``path_ks`` at the top level, then ``random``,
        ``procedural`` (fresh procedural mazes) and ``held_out`` (the held-out split itself)."""
        fam = _family()
        levels = self.to_levels(samples)
        train = self.to_levels(self.train)
        reference = self.to_levels(self.held_out)
        report = fam.level_report(levels, train=train, reference=reference, seed=seed)
        hashes = {fam.level_hash(g) for g in train}
        held = fam.level_metrics(reference, train_hashes=hashes, reference=reference)
        out: dict[str, Any] = dict(report["samples"])
        out["random"] = report["random"]
        out["procedural"] = report["procedural"]
        out["held_out"] = held
        out["maze_size"] = self.maze_size
        return out


@functools.cache
def _splits(size: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    fam = _family()
    held = np.asarray(fam.held_out_levels(size), np.int8)
    seen = {fam.level_hash(g) for g in held}
    train: list[np.ndarray] = []
    seed = 0
    limit = 20 * levels + 1000  # small sizes have few distinct mazes
    while len(train) < levels and seed < limit:
        grid = fam.procedural_maze(size, seed=seed)
        seed += 1
        h = fam.level_hash(grid)
        if h in seen or fam.is_held_out(grid):
            continue
        seen.add(h)
        train.append(grid)
    if len(train) < 2:
        raise LabError(f"data set 'mazes-{size}': only {len(train)} distinct {size}x{size} mazes lie outside the "
                       "held-out split; use a size >= 7")
    return np.stack(train), held


def _as_images(levels: np.ndarray, side: int) -> np.ndarray:
    n, h, w = levels.shape
    out = np.ones((n, 1, side, side), np.float32)  # padding is wall
    out[:, 0, :h, :w] = levels
    return out


def mazes(arg: str | None, cfg: DataConfig) -> ImageDataset:
    """Procedural perfect mazes (``mazes``, ``mazes-13``, ``mazes-N`` for odd N >= 5): fixed train and held-out splits."""
    size = maze_spec("mazes" if arg is None else f"mazes-{arg}")
    assert size is not None
    if cfg.size is not None:
        raise LabError(f"data set 'mazes-{size}': data.size does not apply (mazes are served at "
                       f"{padded_side(size)}x{padded_side(size)}); name the maze size instead: mazes-N")
    train, held = _splits(size, cfg.levels)
    side = padded_side(size)
    return MazeDataset(name=f"mazes-{size}", train=_as_images(train, side), held_out=_as_images(held, side),
                       maze_size=size)
