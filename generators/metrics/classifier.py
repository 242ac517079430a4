"""The metrics' feature network: a small CNN trained on a data set's training split, deterministic and cached.

Training uses one thread and fixed seeds, so the same data set always gives the same weights; they are cached
in ``DATA/classifiers/`` keyed by the data set's fingerprint (a changed folder gets a new classifier). For
unlabeled data sets the network keeps its seeded random initialisation: random convolutional features, a
known substitute when there are no labels to learn from.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from generators.datasets import ImageDataset, data_dir
from lab import atomic

__all__ = ["FeatureNet", "load_classifier", "classifier_path"]

VERSION = 1
EPOCHS = 12
FEATURES = 128


class FeatureNet(nn.Module):
    """conv-conv-pool-conv-pool-linear: 128 features (the metrics' space) and class logits."""

    def __init__(self, channels: int, size: int, num_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(max(1, min(4, size // 4))), nn.Flatten(),
        )
        side = max(1, min(4, size // 4))
        self.fc = nn.Linear(64 * side * side, FEATURES)
        self.head = nn.Linear(FEATURES, max(1, num_classes))
        self.accuracy = float("nan")
        """Held-out accuracy after training (NaN for random features)."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(self.body(x)))  # (B, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, K)

    @torch.no_grad()
    def embed(self, images: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """(features (N, 128) float64, predicted classes (N,)) of (N, C, H, W) images in [0, 1]."""
        self.eval()
        feats, preds = [], []
        with _one_thread():
            for i in range(0, len(images), batch):
                x = torch.from_numpy(np.ascontiguousarray(images[i : i + batch], dtype=np.float32))
                f = self.features(x)
                feats.append(f.double().numpy())
                preds.append(self.head(f).argmax(1).numpy())
        return np.concatenate(feats), np.concatenate(preds)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def classifier_path(ds: ImageDataset) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", ds.name)[-60:]
    c, h, _w = ds.shape
    return data_dir() / "classifiers" / f"{safe}-{c}x{h}-{ds.fingerprint()}-v{VERSION}.pt"


def _train(net: FeatureNet, ds: ImageDataset) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.from_numpy(ds.train)
    y = torch.from_numpy(ds.train_labels)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            idx = order[i : i + 64]
            xb = x[idx]
            # one-pixel random shifts: features that do not hinge on exact pixel positions
            dx, dy = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    _, pred = net.embed(ds.held_out)
    net.accuracy = float((pred == ds.held_out_labels).mean())


def load_classifier(ds: ImageDataset, *, cache: bool = True) -> FeatureNet:
    """The feature network for ``ds``: loaded from the data folder's cache, else trained (seconds) and cached."""
    c, h, _w = ds.shape
    path = classifier_path(ds)
    if cache and path.is_file():
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        net = FeatureNet(c, h, int(state["num_classes"]))
        net.load_state_dict(state["weights"])
        net.accuracy = float(state["accuracy"])
        return net.eval()
    with _one_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = FeatureNet(c, h, ds.num_classes if ds.labeled else 1)
        if ds.labeled:
            _train(net, ds)
    if cache:
        with atomic.atomic_write(path, "wb") as f:
            torch.save({"weights": net.state_dict(), "num_classes": max(1, ds.num_classes if ds.labeled else 1),
                        "accuracy": net.accuracy, "dataset": ds.name, "version": VERSION}, f)
    return net.eval()
