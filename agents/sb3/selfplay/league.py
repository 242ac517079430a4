"""The league: the pool of opponents the learner plays, when a snapshot joins it, how opponents are drawn.

Members are the learner's frozen snapshots (``gen0``, ``gen1``, ...; ``gen0`` is the untrained network)
and fixed players given by spec (``random``, ``mcts:50``). Between two snapshots the learner is the
generation it will become: its games are recorded under the next id, so the recorded games form one
chain ``gen0 < gen1 < ...`` that the tournament's Bradley-Terry fit rates together with the fixed players.

Admission (Silver et al. 2016, AlphaGo's pool of past policies; OpenAI Five and AlphaStar's leagues):
a snapshot joins when the learner's score against the pool over its last ``window`` games since the
previous snapshot reaches ``admit_score`` (or every ``admit_every`` steps). Sampling: uniform, or
prioritized fictitious self-play (Vinyals et al. 2019, AlphaStar): member ``m`` is drawn with weight
``(1 - x_m) ** p``, ``x_m`` the learner's score against ``m`` over their last ``pfsp_games`` games
(0.5 before any).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agents.sb3.selfplay.config import LeagueConfig

__all__ = ["League", "Member"]


@dataclass
class Member:
    """One opponent in the pool."""

    id: str
    """``gen<N>`` for a snapshot, the spec for a fixed player."""
    kind: str
    """``snapshot`` or ``player``."""
    step: int = 0
    """Environment steps of the learner when the snapshot was taken (0 for fixed players)."""


class League:
    """Pool, results and admission. Opponent objects are made by ``make_opponent(member, weights)``.

    Args:
        cfg: the league's settings.
        make_opponent: ``(member, snapshot weights or None) -> object with act(game, rng)``.
    """

    def __init__(self, cfg: LeagueConfig, make_opponent: Callable[[Member, Any], Any]) -> None:
        self.cfg = cfg
        self._make = make_opponent
        self.members: list[Member] = [Member(spec, "player") for spec in cfg.players]
        self.weights: dict[str, Any] = {}
        """Snapshot id -> policy weights (a state dict)."""
        self._opponents: dict[str, Any] = {}
        self.generation = 0
        """Snapshots taken so far: the learner plays as ``gen<generation>``."""
        self.last_admit_step = 0
        self.since_admit: collections.deque[float] = collections.deque(maxlen=cfg.window)
        """The learner's scores in its games since the last snapshot (the last `window`)."""
        self.recent: dict[str, collections.deque[float]] = {}
        """Per member, the learner's last `pfsp_games` scores against it."""
        self.results: dict[tuple[str, str], list[int]] = {}
        """(first, second) -> [first's wins, draws, first's losses] over every recorded game."""
        self.games = 0

    # --- the pool ---------------------------------------------------------------------------------
    @property
    def learner_id(self) -> str:
        return f"gen{self.generation}"

    def admit(self, step: int, weights: dict[str, Any]) -> Member:
        """Add a snapshot of the learner (``weights``: its policy state dict, copied); drop the oldest past the limit."""
        member = Member(self.learner_id, "snapshot", int(step))
        self.members.append(member)
        self.weights[member.id] = {k: v.detach().clone() for k, v in weights.items()}
        self.generation += 1
        self.last_admit_step = int(step)
        self.since_admit.clear()
        snapshots = [m for m in self.members if m.kind == "snapshot"]
        for old in snapshots[: max(0, len(snapshots) - self.cfg.pool_size)]:
            self.members.remove(old)
            self.weights.pop(old.id, None)
            self._opponents.pop(old.id, None)
        return member

    def admission_due(self, step: int) -> bool:
        """Whether the learner has earned a place in the pool (see the module docstring)."""
        if self.cfg.admit_every and step - self.last_admit_step >= self.cfg.admit_every:
            return True
        window = self.since_admit
        return len(window) >= self.cfg.window and float(np.mean(window)) >= self.cfg.admit_score

    def opponent(self, member_id: str) -> Any:
        """The playing object of a member (made once, then cached)."""
        if member_id not in self._opponents:
            member = next(m for m in self.members if m.id == member_id)
            self._opponents[member_id] = self._make(member, self.weights.get(member_id))
        return self._opponents[member_id]

    # --- sampling ---------------------------------------------------------------------------------
    def score_against(self, member_id: str) -> float:
        """The learner's mean score over its last games against ``member_id`` (0.5 before any)."""
        recent = self.recent.get(member_id)
        return float(np.mean(recent)) if recent else 0.5

    def probabilities(self) -> np.ndarray:
        """Each member's chance of being the next opponent, in ``members`` order."""
        n = len(self.members)
        if self.cfg.sampling == "uniform" or n == 1:
            return np.full(n, 1.0 / n)
        w = np.array([(1.0 - self.score_against(m.id)) ** self.cfg.pfsp_power for m in self.members])
        w = w + 1e-3  # an opponent always beaten still comes up now and then (it would be forgotten otherwise)
        return w / w.sum()

    def draw(self, rng: np.random.Generator) -> str:
        """The id of the next game's opponent."""
        p = self.probabilities()
        return self.members[int(rng.choice(len(p), p=p))].id

    # --- results ----------------------------------------------------------------------------------
    def record(self, opponent_id: str, score: float, learner_first: bool) -> None:
        """One finished game of the learner against ``opponent_id``: ``score`` 1 win, 0.5 draw, 0 loss."""
        self.games += 1
        self.since_admit.append(score)
        self.recent.setdefault(opponent_id, collections.deque(maxlen=self.cfg.pfsp_games)).append(score)
        me = self.learner_id
        first, second, first_score = (me, opponent_id, score) if learner_first else (opponent_id, me, 1.0 - score)
        counts = self.results.setdefault((first, second), [0, 0, 0])
        counts[0 if first_score == 1.0 else 1 if first_score == 0.5 else 2] += 1

    def game_records(self) -> list[dict[str, Any]]:
        """Every recorded game as a tournament record (``first``, ``second``, ``result``: the first player's score)."""
        out = []
        for (first, second), (won, drawn, lost) in self.results.items():
            for result, count in ((1.0, won), (0.5, drawn), (0.0, lost)):
                out.extend({"first": first, "second": second, "result": result} for _ in range(count))
        return out

    def ratings(self) -> Any | None:
        """Bradley-Terry ratings of everyone who played (lab.tournament), anchored at ``random`` or ``gen0`` at 0;
        None before any game."""
        from lab.tournament.ratings import fit_ratings

        records = self.game_records()
        if not records:
            return None
        names = {r["first"] for r in records} | {r["second"] for r in records}
        anchor = "random" if "random" in names else ("gen0" if "gen0" in names else sorted(names)[0])
        return fit_ratings(records, anchor=(anchor, 0.0), specs={n: n for n in names})

    def summary(self) -> dict[str, Any]:
        """The pool as plain values (``league.json``, the LeagueUpdated event)."""
        return {
            "learner": self.learner_id,
            "games": self.games,
            "members": [
                {**asdict(m), "probability": round(float(p), 4), "learner_score": round(self.score_against(m.id), 4)}
                for m, p in zip(self.members, self.probabilities())
            ],
        }

    # --- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values only (the run's checkpoints hold it)."""
        return {
            "members": [asdict(m) for m in self.members],
            "weights": dict(self.weights),
            "generation": self.generation,
            "last_admit_step": self.last_admit_step,
            "since_admit": list(self.since_admit),
            "recent": {k: list(v) for k, v in self.recent.items()},
            "results": [[f, s, *c] for (f, s), c in self.results.items()],
            "games": self.games,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.members = [Member(**m) for m in state["members"]]
        self.weights = dict(state["weights"])
        self._opponents = {}
        self.generation = int(state["generation"])
        self.last_admit_step = int(state["last_admit_step"])
        self.since_admit = collections.deque(state["since_admit"], maxlen=self.cfg.window)
        self.recent = {k: collections.deque(v, maxlen=self.cfg.pfsp_games) for k, v in state["recent"].items()}
        self.results = {(f, s): [int(w), int(d), int(lo)] for f, s, w, d, lo in state["results"]}
        self.games = int(state["games"])
