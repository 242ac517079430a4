"""Write episode frames to a video file: MP4 when imageio's ffmpeg plugin is installed, else an animated GIF."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lab import atomic

__all__ = ["write_video"]


def _has_ffmpeg() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def write_video(frames: Sequence[np.ndarray], path_stem: str | os.PathLike, fps: float = 30.0, max_frames: int = 600) -> Path:
    """Write ``frames`` next to ``path_stem`` (suffix chosen here) atomically and return the path.

    GIFs are kept small: frames are subsampled to at most ``max_frames`` and halved in size when wide.
    """
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("no frames to write")
    stem = Path(path_stem)
    if _has_ffmpeg():
        path = stem.with_suffix(".mp4")
        with atomic.atomic_write(path, "wb") as f:
            imageio.mimwrite(f, list(frames), format="mp4", fps=fps)
        return path
    stride = max(1, int(np.ceil(len(frames) / max_frames)))
    picked = [np.asarray(f) for f in frames[::stride]]
    if picked[0].shape[1] > 320:
        picked = [f[::2, ::2] for f in picked]
    path = stem.with_suffix(".gif")
    with atomic.atomic_write(path, "wb") as f:
        imageio.mimwrite(f, picked, format="gif", duration=1000.0 * stride / fps, loop=0)
    return path
