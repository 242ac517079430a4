"""The league's settings: ``agent.league`` of a PPO run on a board game (ignored on Gymnasium environments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lab.errors import ConfigError

__all__ = ["LeagueConfig"]


@dataclass
class LeagueConfig:
    """Board-game self-play: who the learner plays and when a snapshot of it joins the pool."""

    players: list[str] = field(default_factory=list)
    """Fixed players in the pool besides the learner's snapshots, as player specs (random, mcts:50, ...)."""
    admit_score: float = 0.6
    """A snapshot of the learner joins the pool when its score against the pool (1 win, 0.5 draw) over the
    last `window` games since the previous snapshot reaches this."""
    window: int = 200
    """Games the admission score is measured over (and at least this many since the previous snapshot)."""
    admit_every: int = 0
    """Also take a snapshot every this many environment steps whatever the score; 0: only by score."""
    sampling: Literal["uniform", "pfsp"] = "pfsp"
    """How each game's opponent is drawn: uniform over the pool, or prioritized fictitious self-play
    (weight (1 - learner's score against it) ** pfsp_power: opponents that beat the learner more often)."""
    pfsp_power: float = 2.0
    """Exponent of the PFSP weighting (0: uniform; larger: harder opponents much more often)."""
    pfsp_games: int = 100
    """The learner's score against each opponent used by PFSP is over its last this many games with it."""
    pool_size: int = 10
    """Most snapshots kept in the pool; the oldest leaves when a new one joins (fixed players always stay)."""
    greedy_opponents: bool = False
    """Snapshots play their most likely move; false: they sample from their policy (more varied games)."""
    batch_opponents: bool = True
    """Batch the opponents' replies across the envs (one network call per opponent and step); false: each env's
    opponent moves inside its own step (benchmarks/ppo_selfplay.py measures both)."""
    eval_opponent: str = "random"
    """Player spec the run is evaluated against (periodic and final evaluations, `lab eval`), colours alternated."""

    def __post_init__(self) -> None:
        if not 0.0 < self.admit_score <= 1.0:
            raise ConfigError(f"agent.league.admit_score: expected a value in (0, 1], got {self.admit_score}")
        for name in ("window", "pool_size", "pfsp_games"):
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.league.{name}: expected a positive number, got {getattr(self, name)}")
        if self.admit_every < 0:
            raise ConfigError(f"agent.league.admit_every: expected 0 or more, got {self.admit_every}")
        if self.pfsp_power < 0:
            raise ConfigError(f"agent.league.pfsp_power: expected 0 or more, got {self.pfsp_power}")
        from lab.players import parse_spec

        for spec in [*self.players, self.eval_opponent]:
            parse_spec(spec)
