"""Image grids: tile (N, C, H, W) arrays in [0, 1] into one picture and write it as a PNG, atomically.

>>> import numpy as np
>>> grid(np.ones((3, 1, 2, 2), np.float32), nrow=2, pad=1).shape
(7, 7, 3)
"""

from __future__ import annotations

import io
import math
import os

import numpy as np

from lab import atomic

__all__ = ["grid", "save_png", "save_grid"]


def grid(images: np.ndarray, *, nrow: int | None = None, pad: int = 1, invert: bool = False) -> np.ndarray:
    """(H', W', 3) uint8: ``images`` (N, C, H, W) in [0, 1] tiled ``nrow`` per row (default: a square) on a grey frame.

    Args:
        invert: show 1 as black (data sets where 1 = ink, like digits).
    """
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    n, c, h, w = images.shape
    if invert:
        images = 1.0 - images
    if c == 1:
        images = np.repeat(images, 3, axis=1)
    elif c != 3:
        images = np.repeat(images[:, :1], 3, axis=1)
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 0.5, np.float32)
    for i, img in enumerate(images):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y : y + h, x : x + w] = img.transpose(1, 2, 0)
    return (out * 255 + 0.5).astype(np.uint8)


def save_png(path: str | os.PathLike, picture: np.ndarray, *, scale: int = 1) -> None:
    """Write an (H, W, 3) uint8 picture as a PNG atomically, each pixel ``scale``×``scale`` (nearest)."""
    from PIL import Image

    if scale > 1:
        picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", optimize=True)
    atomic.write_bytes(path, buf.getvalue())


def save_grid(path: str | os.PathLike, images: np.ndarray, *, nrow: int | None = None, invert: bool = False) -> None:
    """``save_png(path, grid(images))``, enlarged so small images stay visible (at least ~512 pixels wide)."""
    picture = grid(images, nrow=nrow, invert=invert)
    save_png(path, picture, scale=max(1, 512 // picture.shape[1]))
