"""Running counts of the levels environments drew (LevelDrawn events), for the progress display and W&B.

>>> from lab.events import LevelDrawn
>>> counts = LevelCounts()
>>> counts.add(LevelDrawn(source="procedural", level_hash="ab", outcome="repaired", rejections=2))
>>> counts.metrics()
{'levels/drawn': 1, 'levels/rejections': 2, 'levels/repaired': 1, 'levels/fallbacks': 0}
>>> counts.summary()
'levels 1 (2 rejected, 1 repaired, 0 fallbacks)'
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.events import LevelDrawn

__all__ = ["LevelCounts"]


@dataclass
class LevelCounts:
    """Levels drawn, draws rejected, levels repaired and fallbacks to procedural levels, since the run (re)started."""

    drawn: int = 0
    rejections: int = 0
    repaired: int = 0
    fallbacks: int = 0

    def add(self, e: LevelDrawn) -> None:
        self.drawn += 1
        self.rejections += e.rejections
        self.repaired += e.outcome == "repaired"
        self.fallbacks += e.outcome == "fallback"

    def metrics(self) -> dict[str, int]:
        return {
            "levels/drawn": self.drawn,
            "levels/rejections": self.rejections,
            "levels/repaired": self.repaired,
            "levels/fallbacks": self.fallbacks,
        }

    def summary(self) -> str:
        return f"levels {self.drawn:,} ({self.rejections:,} rejected, {self.repaired:,} repaired, {self.fallbacks:,} fallbacks)"
