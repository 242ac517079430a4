"""Step metrics averaged over one logging interval, published with the interval's throughput.

Every generator's training loop logs the same way: each step's losses are summed, and every
``log_every`` steps (and at the last step) their means go out as one ``MetricsLogged`` event under
``train/``, beside ``train/<unit>_per_s`` for the items (images, transitions) the interval trained on.
"""

from __future__ import annotations

import time
from typing import Any

from lab.events import MetricsLogged


class LogWindow:
    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self.items = 0
        self.t0 = time.perf_counter()

    def add(self, metrics: dict[str, Any], items: int) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1
        self.items += items

    def publish(self, bus: Any, step: int, **extra: float) -> None:
        """Publish the interval's means (plus ``extra`` as ``train/KEY``) and start a new interval."""
        dt = time.perf_counter() - self.t0
        out = {f"train/{k}": v / self.count for k, v in self.sums.items()}
        out[f"train/{self.unit}_per_s"] = self.items / dt if dt > 0 else 0.0
        out.update({f"train/{k}": v for k, v in extra.items()})
        bus.publish(MetricsLogged(step=step, metrics=out))
        self.reset()
