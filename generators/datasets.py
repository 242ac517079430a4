"""Image data sets for generators: ``digits``, ``folder:PATH`` and ``rollouts:ENV_ID`` (registered in ``lab.datasets``).

A data set spec is ``NAME`` or ``NAME:ARG``; ``NAME`` is looked up in the ``lab.datasets`` registry and its
target called as ``target(arg, cfg)`` with a :class:`DataConfig`. Every data set is served as float32 arrays
of shape (N, C, H, W) with values in [0, 1], split once into a training and a held-out part by a fixed, seeded
(per-class) permutation, so metrics always have real images the model never saw.

>>> ds = load_dataset("digits", DataConfig(size=8))
>>> ds.train.shape[1:], ds.num_classes, float(ds.train.max())
((1, 8, 8), 10, 1.0)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.errors import ConfigError, LabError

__all__ = ["DataConfig", "ImageDataset", "load_dataset", "data_dir", "digits", "folder", "rollouts", "resize_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def data_dir() -> Path:
    """The lab's data folder (caches of collected rollouts and metric classifiers): ``$LAB_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get("LAB_DATA_DIR") or "data")


@dataclass
class DataConfig:
    """Which images a generator trains on and how they are served."""

    size: int | None = None
    """Side length the images are served at (square); null: the data set's default (digits 16, rollouts 32, folder: the images' own size)."""
    resize: bool = False
    """folder: resize images of mixed sizes to `size` (or the first image's size); without it mixed sizes are an error."""
    held_out: float = 0.2
    """Share of the images kept out of training (per class): the held-out real split the metrics compare against."""
    split_seed: int = 0
    """Seed of the fixed train / held-out split (the same for every run by default)."""
    policy: str = "random"
    """rollouts: who plays while frames are collected: `random`, or a trained run folder."""
    episodes: int = 20
    """rollouts: episodes to collect."""
    max_frames: int = 5000
    """rollouts: stop collecting after this many frames in total."""
    observations: bool = False
    """rollouts: serve the observations instead of rendered `rgb_array` frames (vectors: as 1xD images scaled to [0, 1])."""
    levels: int = 20000
    """mazes: procedural mazes in the training split (the held-out split is the maze family's fixed one)."""

    def __post_init__(self) -> None:
        if self.size is not None and not 4 <= self.size <= 512:
            raise ConfigError(f"data.size: expected a side length between 4 and 512, got {self.size}")
        if not 0.0 < self.held_out < 1.0:
            raise ConfigError(f"data.held_out: expected a share between 0 and 1, got {self.held_out}")
        for name in ("episodes", "max_frames", "levels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"data.{name}: expected a positive number, got {getattr(self, name)}")


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images split into training and held-out parts, with optional class labels."""

    name: str
    """The spec it was loaded from (``digits``, ``folder:PATH``, ...)."""
    train: np.ndarray
    """(N, C, H, W) float32 in [0, 1]."""
    held_out: np.ndarray
    """(M, C, H, W) float32 in [0, 1]."""
    train_labels: np.ndarray | None = None
    """(N,) int64 class indices, or None for unlabeled data."""
    held_out_labels: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    """Class names, index = label; empty when unlabeled."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-image side data of the training split (``actions`` for rollouts)."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return tuple(int(s) for s in self.train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def labeled(self) -> bool:
        return self.train_labels is not None and self.num_classes > 1

    def fingerprint(self) -> str:
        """A short hash of the training images and labels (keys caches such as the metric classifier)."""
        h = hashlib.sha256()
        h.update(str(self.train.shape).encode())
        h.update(np.ascontiguousarray(self.train, dtype=np.float32).tobytes())
        if self.train_labels is not None:
            h.update(np.ascontiguousarray(self.train_labels, dtype=np.int64).tobytes())
        return h.hexdigest()[:16]


# --- helpers -----------------------------------------------------------------------------------


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, size, size): bilinear up, area-averaged down; values stay in [0, 1]."""
    import torch
    import torch.nn.functional as F

    if images.shape[-2:] == (size, size):
        return images.astype(np.float32, copy=False)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if size < images.shape[-1]:
        y = F.interpolate(x, size=(size, size), mode="area")
    else:
        y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return y.clamp_(0.0, 1.0).numpy()


def split(n: int, labels: np.ndarray | None, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out): a seeded permutation, per class when labels are given (each class keeps ``share`` out)."""
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    train, held = [], []
    for idx in groups:
        idx = rng.permutation(idx)
        k = int(round(share * len(idx)))
        k = min(max(k, 1 if len(idx) > 1 else 0), len(idx) - 1)
        held.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def _make(name: str, images: np.ndarray, labels: np.ndarray | None, classes: tuple[str, ...], cfg: DataConfig,
          extras: dict[str, np.ndarray] | None = None) -> ImageDataset:
    if len(images) < 2:
        raise LabError(f"data set {name!r}: needs at least 2 images, found {len(images)}")
    tr, ho = split(len(images), labels, cfg.held_out, cfg.split_seed)
    return ImageDataset(
        name=name,
        train=np.ascontiguousarray(images[tr], dtype=np.float32),
        held_out=np.ascontiguousarray(images[ho], dtype=np.float32),
        train_labels=None if labels is None else labels[tr].astype(np.int64),
        held_out_labels=None if labels is None else labels[ho].astype(np.int64),
        classes=classes,
        extras={k: v[tr] for k, v in (extras or {}).items()},
    )


# --- the data sets -------------------------------------------------------------------------------


def digits(arg: str | None, cfg: DataConfig) -> ImageDataset:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), 1 = ink, served at 16×16 by default."""
    if arg:
        raise LabError(f"data set 'digits' takes no argument, got 'digits:{arg}'")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise LabError("the digits data set needs scikit-learn: pip install scikit-learn") from None

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None]  # (1797, 1, 8, 8), 16 = full ink
    images = resize_images(images, cfg.size or 16)
    labels = bunch.target.astype(np.int64)
    return _make("digits", images, labels, tuple(str(c) for c in range(10)), cfg)


def _read_image(path: Path) -> np.ndarray | None:
    """(H, W, C) uint8 or None when the file is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = "L" if im.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"
            arr = np.asarray(im.convert(mode))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return arr[:, :, None] if arr.ndim == 2 else arr


def folder(arg: str | None, cfg: DataConfig) -> ImageDataset:
    """Your own PNG/JPEG images (``folder:PATH``); class labels from sub-folder names when there are sub-folders."""
    if not arg:
        raise LabError("data set 'folder' needs a path: folder:PATH")
    root = Path(arg).expanduser()
    spec = f"folder:{arg}"
    if not root.is_dir():
        raise LabError(f"{spec}: no such folder")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs:
        groups = [(d.name, sorted(p for p in d.rglob("*") if p.is_file())) for d in subdirs]
    else:
        groups = [("", sorted(p for p in root.iterdir() if p.is_file()))]
    files = [(label, p) for label, ps in groups for p in ps if not p.name.startswith(".")]
    if not files:
        raise LabError(f"{spec}: the folder is empty (expected PNG/JPEG images{', in class sub-folders' if subdirs else ''})")
    arrays, labels, paths = [], [], []
    for label, p in files:
        arr = _read_image(p)
        if arr is not None:
            arrays.append(arr)
            labels.append(label)
            paths.append(p)
    if not arrays:
        raise LabError(f"{spec}: none of its {len(files)} files is a readable image (PNG, JPEG, BMP, GIF, WebP)")
    sizes = {a.shape[:2] for a in arrays}
    if len(sizes) > 1 and not (cfg.resize or cfg.size):
        first = arrays[0].shape[:2]
        other = next(i for i, a in enumerate(arrays) if a.shape[:2] != first)
        raise LabError(
            f"{spec}: images of mixed sizes ({first[1]}x{first[0]} {paths[0].name}, "
            f"{arrays[other].shape[1]}x{arrays[other].shape[0]} {paths[other].name}); "
            "pass --resize (or --set data.size=N) to resize them"
        )
    rgb = any(a.shape[2] == 3 for a in arrays)
    size = cfg.size or max(arrays[0].shape[:2])
    out = np.empty((len(arrays), 3 if rgb else 1, size, size), np.float32)
    for i, a in enumerate(arrays):
        if rgb and a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        img = (a.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        if img.shape[-2] != img.shape[-1]:  # non-square: stretch to a square (resize is what was asked for)
            import torch
            import torch.nn.functional as F

            img = F.interpolate(torch.from_numpy(img), size=(size, size), mode="area").numpy()
        out[i] = resize_images(img, size)[0]
    names = tuple(sorted(set(labels))) if subdirs else ()
    label_arr = np.array([names.index(lbl) for lbl in labels], np.int64) if len(names) > 1 else None
    return _make(spec, out, label_arr, names if len(names) > 1 else (), cfg)


def rollouts(arg: str | None, cfg: DataConfig) -> ImageDataset:
    """Frames (``rgb_array``, downscaled to 32×32 by default) or observations of a Gymnasium environment, with the actions.

    With ``data.observations``, image observations are resized like frames and vector observations served as
    (1, 1, D) images scaled per feature to [0, 1] (the raw vectors in ``extras["observations"]``).

    Collected once per (environment, player, size, episodes) and cached in the lab's data folder.
    """
    if not arg:
        raise LabError("data set 'rollouts' needs an environment id: rollouts:ENV_ID (e.g. rollouts:CartPole-v1)")
    from generators.rollouts import collect

    images, extras = collect(arg, cfg)
    return _make(f"rollouts:{arg}", images, None, (), cfg, extras=extras)


# --- resolution ----------------------------------------------------------------------------------


def load_dataset(spec: str, cfg: DataConfig | None = None) -> ImageDataset:
    """Load ``NAME`` or ``NAME:ARG`` through the ``lab.datasets`` registry (unknown names suggest the closest)."""
    from lab.registry import DATASETS

    cfg = cfg or DataConfig()
    name, _, arg = spec.partition(":")
    base, dash, suffix = name.partition("-")
    if dash and name not in DATASETS and base in DATASETS and not arg:  # a parameterized name: mazes-13
        name, arg = base, suffix
    loader: Any = DATASETS.load(name)
    ds = loader(arg or None, cfg)
    if not isinstance(ds, ImageDataset):
        raise LabError(f"data set {name!r}: its loader returned {type(ds).__name__}, not an ImageDataset")
    return ds
