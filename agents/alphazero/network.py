"""The policy-value network: a small residual tower with a policy head and a value head (AlphaZero)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["PolicyValueNet", "NetEvaluator", "uniform_evaluator", "search_precision"]


def search_precision(choice: str, device: str) -> str:
    """``auto`` -> ``bfloat16`` on CUDA and on CPUs with native bfloat16 (AVX512-BF16, AMX), else ``float32``.

    Batched bfloat16 inference is about 2x faster than float32 on such CPUs; batch-1 calls are slower,
    which is why only the batched search uses it.
    """
    if choice != "auto":
        return choice
    if device.startswith("cuda"):
        return "bfloat16"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bfloat16" if native else "float32"


class _Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class PolicyValueNet(nn.Module):
    """``(B, planes, rows, cols)`` -> policy logits ``(B, num_actions)`` and value ``(B,)`` in [-1, 1].

    Args:
        planes, rows, cols, num_actions: the game's input and action shapes.
        channels: width of the residual tower.
        blocks: residual blocks (two 3x3 convolutions each).
    """

    def __init__(self, planes: int, rows: int, cols: int, num_actions: int, channels: int, blocks: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(planes, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.tower = nn.Sequential(*[_Block(channels) for _ in range(blocks)])
        cells = rows * cols
        self.policy_head = nn.Sequential(
            nn.Conv2d(channels, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * cells, num_actions)
        )
        self.value_head = nn.Sequential(
            nn.Conv2d(channels, 1, 1, bias=False),
            nn.BatchNorm2d(1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(cells, channels),
            nn.ReLU(),
            nn.Linear(channels, 1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.tower(self.stem(x))  # (B, C, rows, cols)
        return self.policy_head(h), self.value_head(h).squeeze(-1)


def uniform_evaluator(game_cls: Any) -> Any:
    """An evaluator without a network: uniform priors over legal moves, value 0 (search tests, pure PUCT)."""

    def evaluate(states: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        priors = legal / np.maximum(legal.sum(1, keepdims=True), 1)
        return priors.astype(np.float32), np.zeros(len(states), dtype=np.float32)

    return evaluate


class NetEvaluator:
    """Evaluates positions with a network in one batch per call, behind a cache keyed by position.

    Args:
        net: the network (switched to eval mode for each call).
        game_cls: the game (``batch_encode``).
        device: torch device of ``net``.
        cache_size: positions remembered; the cache is emptied when full. 0 disables it.
        precision: ``float32`` or ``bfloat16`` (autocast) for the network calls.
    """

    def __init__(
        self, net: nn.Module, game_cls: Any, device: str = "cpu", cache_size: int = 100_000, precision: str = "float32"
    ) -> None:
        self.net, self.game, self.device = net, game_cls, device
        self.cache_size = cache_size
        self.bf16 = precision == "bfloat16"
        self.cache: dict[bytes, tuple[np.ndarray, float]] = {}
        self.positions = 0
        """Positions sent to the network (cache misses)."""

    def forward(self, states: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network priors (masked softmax) and values for ``states``, no cache."""
        x = torch.from_numpy(self.game.batch_encode(states)).to(self.device)
        if self.net.training:  # eval() walks every submodule: not on each call
            self.net.eval()
        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, value = self.net(x)
        logits = logits.float().cpu().numpy()
        logits = np.where(legal, logits, -np.inf)
        logits -= logits.max(1, keepdims=True)
        priors = np.exp(logits)
        priors /= priors.sum(1, keepdims=True)
        self.positions += len(states)
        return priors.astype(np.float32, copy=False), value.float().cpu().numpy().astype(np.float32, copy=False)

    def __call__(self, states: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.cache_size:
            return self.forward(states, legal)
        n, A = legal.shape
        priors = np.empty((n, A), dtype=np.float32)
        values = np.empty(n, dtype=np.float32)
        keys = [row.tobytes() for row in states]
        missing: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            hit = self.cache.get(k)
            if hit is None:
                missing.setdefault(k, []).append(i)
            else:
                priors[i], values[i] = hit
        if missing:
            first = [rows[0] for rows in missing.values()]
            p, v = self.forward(states[first], legal[first])
            if len(self.cache) + len(first) > self.cache_size:
                self.cache.clear()
            for j, (k, rows) in enumerate(missing.items()):
                self.cache[k] = (p[j], float(v[j]))
                priors[rows], values[rows] = p[j], v[j]
        return priors, values
