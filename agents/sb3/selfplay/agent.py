"""SelfPlayPPO: ``lab train ppo GAME`` — MaskablePPO (sb3-contrib) learning a board game against a league.

The learner plays ``n_envs`` games at once (:class:`~agents.sb3.selfplay.env.SelfPlayEnv`, in-process),
each against an opponent drawn from the :class:`~agents.sb3.selfplay.league.League` when it starts. After
every step the finished games are recorded; when the learner has earned it, a frozen copy of its policy
joins the pool; after every rollout the league's figures (games/s, the learner's score, the pool) are
published, and with each new snapshot the pool's Bradley-Terry ratings (``LeagueUpdated``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from agents.sb3.agent import PPO
from agents.sb3.callback import EventCallback
from agents.sb3.selfplay.env import SelfPlayEnv, SelfPlayVecEnv
from agents.sb3.selfplay.league import League
from agents.sb3.selfplay.player import PPOPlayer, league_opponents
from agents.sb3.selfplay.policy import PolicyNet, policy_kwargs_of
from agents.sb3.state import load_model_state, model_state
from lab.agent import TrainContext
from lab.envs import EnvInfo
from lab.errors import ConfigError, LabError
from lab.events import Event, MetricsLogged
from lab.players import make_player, play_games

__all__ = ["SelfPlayPPO", "LeagueUpdated", "game_support"]

_UNSUPPORTED_SB3 = ("use_sde", "sde_sample_freq")
"""PPO settings MaskablePPO does not take (state-dependent exploration is for continuous actions)."""


@dataclass(frozen=True, kw_only=True)
class LeagueUpdated(Event):
    """A snapshot joined the pool: the pool and everyone's ratings over the games played so far."""

    admitted: str
    """The new member's id (``gen<N>``)."""
    pool: dict[str, Any] = field(default_factory=dict)
    """The league's summary: learner id, games, members with their draw probability and the learner's score."""
    ratings: dict[str, Any] = field(default_factory=dict)
    """``lab.tournament`` Bradley-Terry ratings (``ratings.json`` layout) of every player in the games played."""


def game_support(game_cls: Any) -> str | None:
    """None when PPO can learn ``game_cls`` by self-play, else why not (it needs legal-move masks)."""
    missing = [m for m in ("legal_mask", "batch_legal", "observation", "state", "batch_encode") if not callable(getattr(game_cls, m, None))]
    if missing:
        return (f"PPO self-play needs action masks and observations from the game, and {game_cls.__name__} "
                f"has no {', '.join(missing)}")
    return None


class _LeagueCallback(BaseCallback):
    """Records finished games in the league, admits snapshots, publishes the league's figures."""

    def __init__(self, agent: SelfPlayPPO, ctx: TrainContext) -> None:
        super().__init__(verbose=0)
        self.agent = agent
        self.ctx = ctx
        self._t0 = time.perf_counter()
        self._games0 = agent.league.games

    def _on_step(self) -> bool:
        league = self.agent.league
        for info in self.locals["infos"]:
            game = info.get("selfplay")
            if game is not None:
                league.record(game["opponent"], game["score"], game["learner_first"])
        step = int(self.model.num_timesteps)
        if league.admission_due(step):
            self.agent.admit(step, self.ctx)
        return True

    def _on_rollout_end(self) -> None:
        league = self.agent.league
        now = time.perf_counter()
        games = league.games - self._games0
        metrics = {
            "selfplay/games_per_s": games / max(now - self._t0, 1e-9),
            "selfplay/games": float(league.games),
            "league/score": float(np.mean(league.since_admit)) if league.since_admit else float("nan"),
            "league/pool": float(len(league.members)),
            "league/generation": float(league.generation),
        }
        self._t0, self._games0 = now, league.games
        self.ctx.bus.publish(MetricsLogged(step=int(self.model.num_timesteps), metrics=metrics))


class SelfPlayPPO(PPO):
    """PPO on a two-player board game: MaskablePPO against a league of its snapshots (``agent.league``).

    Made by ``PPO(cfg, env)`` when ``env`` is a game (see :meth:`agents.sb3.agent.PPO.__new__`).
    """

    library, algorithm = "sb3_contrib", "MaskablePPO"
    progress_metrics: ClassVar[tuple[str, ...]] = ("selfplay/games_per_s", "league/score", "league/generation")
    resume_differs: ClassVar[str] = (
        "weights, optimizer, step and update counters, schedules and the league (pool, snapshots, results) "
        "continue; games in progress are dropped and the random generators are reseeded from the run's seed"
    )

    def __init__(self, cfg: Any, env: EnvInfo, *, seed: int, device: str) -> None:
        game = env.factory
        reason = game_support(game)
        if reason is not None:
            raise ConfigError(reason)
        for name in _UNSUPPORTED_SB3:
            if getattr(cfg, name, False) not in (False, -1):
                raise ConfigError(f"agent.{name}: MaskablePPO (board games) has no state-dependent exploration")
        self.game = game
        for spec in [*cfg.league.players, cfg.league.eval_opponent]:
            make_player(spec, game)  # a spec that does not fit this game fails now, not after an hour
        self.league: League | None = None
        super().__init__(cfg, env, seed=seed, device=device)
        self.arch = policy_kwargs_of(self.model)
        self.league = League(cfg.league, league_opponents(game, self.arch, seed=seed, greedy=cfg.league.greedy_opponents))
        for env_ in self.venv.envs:
            env_.unwrapped.league = self.league
        self.league.admit(0, self.model.policy.state_dict())  # gen0: the untrained policy

    # --- construction -------------------------------------------------------------------------
    def sb3_policy(self) -> str:
        return "MlpPolicy" if self.cfg.policy == "auto" else self.cfg.policy

    def sb3_kwargs(self) -> dict[str, Any]:
        kwargs = super().sb3_kwargs()
        for name in _UNSUPPORTED_SB3:
            kwargs.pop(name, None)
        return kwargs

    def make_vec_env(self, n_envs: int, seed: int, *, training: bool = True, render_mode: str | None = None) -> VecEnv:
        """``n_envs`` in-process self-play envs sharing the league; opponents' replies batched across them unless
        ``league.batch_opponents`` is false (then each env's opponent moves inside its own ``step``)."""
        fns = [lambda: SelfPlayEnv(self.game, self.league, render_mode=render_mode) for _ in range(n_envs)]
        venv = SelfPlayVecEnv(fns) if self.cfg.league.batch_opponents else DummyVecEnv(fns)
        venv.seed(seed)
        return venv

    # --- training -----------------------------------------------------------------------------
    def admit(self, step: int, ctx: TrainContext | None = None) -> None:
        """A snapshot of the learner joins the pool; the pool and its ratings are published."""
        league = self.league
        member = league.admit(step, self.model.policy.state_dict())
        if ctx is None:
            return
        ratings = league.ratings()
        doc = ratings.to_json() if ratings is not None else {}
        ctx.bus.publish(LeagueUpdated(step=step, admitted=member.id, pool=league.summary(), ratings=doc))
        if ratings is not None:
            metrics = {f"league/rating/{p.name}": float(p.rating) for p in ratings.players}
            ctx.bus.publish(MetricsLogged(step=step, metrics=metrics))

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        total = int(self.budget(steps).total)
        if total - self.step <= 0:
            return
        self._writer.bus = ctx.bus
        try:
            self.model.learn(
                total_timesteps=total - self.step,
                callback=CallbackList([_LeagueCallback(self, ctx), EventCallback(self, ctx, total)]),
                reset_num_timesteps=self.step == 0,
                progress_bar=False,
            )
        finally:
            self._writer.bus = None

    # --- state --------------------------------------------------------------------------------
    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        state = model_state(self.model, self.venv, full=full)
        state["selfplay"] = {"game": self.game.name, "arch": dict(self.arch)}
        if full:
            state["league"] = self.league.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        selfplay = state.get("selfplay")
        if not isinstance(selfplay, dict):
            raise ConfigError("this checkpoint is of a PPO run on a Gymnasium environment, not on a board game")
        if selfplay.get("game") != self.game.name:
            raise ConfigError(f"this checkpoint was trained on {selfplay.get('game')}, not {self.game.name}")
        load_model_state(self.model, self.venv, state)
        if "league" in state:
            self.league.load_state_dict(state["league"])

    # --- evaluation ---------------------------------------------------------------------------
    def player(self, name: str = "ppo") -> PPOPlayer:
        """The learner as a player: its most likely legal move."""
        from agents.sb3.selfplay.policy import build_policy

        policy = build_policy(self.game, self.arch)
        policy.load_state_dict(self.model.policy.state_dict())
        return PPOPlayer(PolicyNet(policy, self.game, greedy=True), name)

    def evaluate(self, episodes: int, *, seed: int) -> list[float]:
        """Scores (1 win, 0.5 draw, 0 loss) of ``episodes`` games against ``league.eval_opponent``, colours alternated."""
        return self.evaluate_episodes(episodes, seed=seed)[0]

    def evaluate_episodes(self, episodes: int, *, seed: int) -> tuple[list[float], list[int]]:
        """Scores and game lengths (in moves) of ``episodes`` games against ``league.eval_opponent``."""
        lengths: dict[int, int] = {}
        opponent = make_player(self.cfg.league.eval_opponent, self.game, seed=seed)
        scores = play_games(
            self.game, [self.player(), opponent], episodes, seed=seed,
            on_game_end=lambda i, g, _s: lengths.__setitem__(i, len(g.history)),
        )
        return scores, [lengths.get(i, 0) for i in range(episodes)]

    def act(self, obs: Any) -> Any:
        raise LabError("a board-game PPO run plays through its player: ppo:RUN_DIR (lab play, lab tournament)")

    def render_episode(self, *, seed: int, max_frames: int = 2000) -> tuple[list[np.ndarray], float]:
        raise LabError("lab eval --video: board-game runs have no video; play it with `lab play GAME --opponent ppo:RUN_DIR`")
