"""``ppo:RUN_DIR[:sample=1]``: a PPO self-play run as a player; also the league's opponent factories."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.sb3.selfplay.league import Member
from agents.sb3.selfplay.policy import PolicyNet, build_policy
from lab.errors import RunDirError
from lab.players import PlayerSpec, make_player
from lab.runs import RunDir

__all__ = ["PPOPlayer", "load_run", "fixed_opponent", "league_opponents"]

_USAGE = "ppo:RUN_DIR[:sample=1] (a run of `lab train ppo GAME`)"


class _Fixed:
    """A lab player as a league opponent (it keeps its own seeded generator)."""

    def __init__(self, player: Any) -> None:
        self.player = player

    def act(self, game: Any, rng: np.random.Generator | None = None) -> int:
        return int(self.player.act(game))

    def act_many(self, games: list[Any], rng: np.random.Generator | None = None) -> list[int]:
        many = getattr(self.player, "act_many", None)
        if many is not None and len(games) > 1:
            return [int(a) for a in many(games)]
        return [int(self.player.act(g)) for g in games]


def fixed_opponent(game_cls: Any, *, seed: int) -> Any:
    """``make_opponent`` for a league of fixed players only (tests, doctests)."""
    return lambda member, _weights: _Fixed(make_player(member.id, game_cls, seed=seed))


def league_opponents(game_cls: Any, arch: dict[str, Any], *, seed: int, greedy: bool) -> Any:
    """``make_opponent`` for the league: snapshots rebuilt from their weights, fixed players from their specs."""

    def make(member: Member, weights: Any) -> Any:
        if member.kind == "player":
            return _Fixed(make_player(member.id, game_cls, seed=seed))
        policy = build_policy(game_cls, arch)
        policy.load_state_dict(weights)
        return PolicyNet(policy, game_cls, greedy=greedy)

    return make


def load_run(spec: PlayerSpec, run_dir: str, game_cls: Any) -> dict[str, Any]:
    """The agent state of a PPO board-game run (``model.pt``, or the latest checkpoint while it trains).

    Raises a PlayerSpecError for a folder that holds no PPO run, a PPO run on a Gymnasium environment, or a
    run trained on another game.
    """
    from agents.sb3.agent import PPO

    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise spec.error(f"{run_dir} is not a folder")
    if not run.model_path.is_file() and run.latest_checkpoint() is None:
        raise spec.error(f"{run_dir} holds no ppo checkpoint (no checkpoints/step_*.pt or model.pt)")
    try:
        checkpoint = run.load_agent(algo=PPO)
    except RunDirError as e:
        raise spec.error(str(e)) from None
    selfplay = checkpoint.agent.get("selfplay")
    if not isinstance(selfplay, dict):
        raise spec.error(f"{checkpoint.path} is a PPO run on {checkpoint.env or 'a Gymnasium environment'}, "
                         "not a board-game run of `lab train ppo GAME`")
    if selfplay.get("game") != game_cls.name:
        raise spec.error(f"{checkpoint.path} was trained on {selfplay.get('game')}, not {game_cls.name}")
    return checkpoint.agent


class PPOPlayer:
    """Plays with the policy of a PPO self-play run: its most likely legal move (``sample=1``: sampled).

    ``analyze`` gives the policy's move distribution and the critic's value of the position for the side
    to move (the learner's expected reward, +1 win, -1 loss, so in [-1, 1] up to the critic's error).
    """

    def __init__(self, net: PolicyNet, name: str, seed: int = 0) -> None:
        self.net = net
        self.name = name
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_spec(cls, spec: PlayerSpec, game_cls: Any, *, seed: int = 0, device: str = "cpu") -> PPOPlayer:
        if len(spec.args) != 1:
            raise spec.error(f"expected one run folder; usage: {_USAGE}")
        unknown = set(spec.options) - {"sample"}
        if unknown:
            raise spec.error(f"unknown option {sorted(unknown)[0]!r}; usage: {_USAGE}")
        sample = spec.options.get("sample", "0")
        if sample not in ("0", "1"):
            raise spec.error(f"sample: expected 0 or 1, got {sample!r}; usage: {_USAGE}")
        state = load_run(spec, spec.args[0], game_cls)
        policy = build_policy(game_cls, state["selfplay"]["arch"])
        policy.load_state_dict(state["state_dicts"]["policy"])
        return cls(PolicyNet(policy, game_cls, greedy=sample == "0"), spec.text, seed)

    def act(self, game: Any) -> int:
        return self.net.act(game, self.rng)

    def act_many(self, games: list[Any]) -> list[int]:
        """One batched network call for all ``games``."""
        return self.net.act_many(games, self.rng)

    def analyze(self, game: Any) -> tuple[np.ndarray, float]:
        _, values = self.net.logits_values([game])
        return self.net.probabilities([game])[0], float(np.clip(values[0], -1.0, 1.0))
