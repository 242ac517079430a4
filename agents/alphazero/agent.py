"""The AlphaZero agent: batched self-play, training on a replay window with symmetries, evaluation vs baselines.

Silver et al., "A general reinforcement learning algorithm that masters chess, shogi, and Go through
self-play" (Science, 2018). One iteration: (1) play ``games_per_iteration`` self-play games, all in
flight together; (2) add their positions to the replay window; (3) take gradient steps on random
symmetric views of the window; (4) every ``eval_interval`` iterations, play the baselines and the
network of the previous evaluation. A checkpoint (replay window included) may be taken after each.

With ``workers`` > 1, step (1) runs on that many self-play actors (``agents/alphazero/actors.py``: local
worker processes or Ray actors on the lab's scheduler) with the latest weights; the learner here
trains on the shared replay window. ``workers=1`` plays in this process, as it always did.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F

from agents.alphazero.actors import SelfPlayActors, check_workers
from agents.alphazero.network import NetEvaluator, search_precision
from agents.alphazero.players import AlphaZeroPlayer, build_net
from agents.alphazero.search import SearchParams
from agents.alphazero.selfplay import self_play
from lab.agent import Budget, TrainContext
from lab.envs import EnvInfo
from lab.errors import ConfigError
from lab.evaluation import eval_event
from lab.events import EpisodeEnded, MetricsLogged, SafePoint
from lab.players import describe_scores, make_player, parse_spec, play_games

__all__ = ["AlphaZero", "AlphaZeroConfig"]


@dataclass
class AlphaZeroConfig:
    """AlphaZero hyperparameters (defaults suit Tic-Tac-Toe; see ``AlphaZero.tuned`` for Connect Four)."""

    minutes: float | None = None
    """Training time budget in minutes (self-play, training and evaluation together)."""
    iterations: int | None = None
    """Training budget in self-play iterations; wins over `minutes` when both are set."""
    games_per_iteration: int = 64
    """Self-play games per iteration and actor, all played at the same time (their searches batched together)."""
    simulations: int = 50
    """MCTS simulations per self-play move."""
    workers: int = 1
    """Self-play actors, each playing `games_per_iteration` games an iteration, all in flight; 1: in the training process."""
    backend: Literal["local", "ray"] = "local"
    """Where actors run (``workers`` > 1): local worker processes (one per core at most) or Ray actors."""
    address: str | None = None
    """Ray cluster to run the actors on (HOST:PORT or auto); None: a private local Ray instance."""
    play_simulations: int = 100
    """Simulations per move when the trained agent plays (evaluations, `lab play`, `lab analyze`)."""
    channels: int = 32
    """Width of the residual tower."""
    blocks: int = 2
    """Residual blocks in the tower."""
    c_puct: float = 1.5
    """Weight of the network prior in the PUCT exploration term."""
    dirichlet_alpha: float = 0.5
    """Concentration of the Dirichlet noise added to self-play root priors."""
    dirichlet_fraction: float = 0.25
    """Weight of that noise in the root prior."""
    temperature_moves: int = 3
    """Self-play moves, from the start of each game, sampled in proportion to visit counts."""
    replay_window: int = 20_000
    """Latest self-play positions kept for training."""
    batch_size: int = 256
    """Positions per gradient step."""
    sample_reuse: float = 4.0
    """Gradient steps per iteration are chosen so each new position is sampled this many times on average."""
    learning_rate: float = 2e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """L2 penalty on the weights."""
    eval_interval: int = 5
    """Iterations between evaluations against `eval_opponents` and the previous evaluation's network; 0: never."""
    eval_games: int = 10
    """Games per opponent and evaluation, colours alternated."""
    eval_opponents: list[str] = field(default_factory=lambda: ["mcts:50", "mcts:200"])
    """Player specs to evaluate against; the last one is also used by `lab eval` and the final evaluation."""
    cache_size: int = 200_000
    """Positions in the network-evaluation cache (emptied after each training phase)."""
    amp: bool = True
    """Mixed precision (bfloat16 autocast) for training on CUDA; ignored on CPU."""
    search_precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """Network precision during search: auto is bfloat16 on CUDA and on CPUs with native bfloat16, else float32."""

    def __post_init__(self) -> None:
        positive = ("games_per_iteration", "simulations", "play_simulations", "channels", "replay_window", "batch_size", "eval_games")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.{name}: expected a positive number, got {getattr(self, name)}")
        for name in ("c_puct", "dirichlet_alpha", "sample_reuse", "learning_rate"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"agent.{name}: expected a positive number, got {getattr(self, name)}")
        for name in ("blocks", "temperature_moves", "weight_decay", "eval_interval", "cache_size"):
            if getattr(self, name) < 0:
                raise ConfigError(f"agent.{name}: expected 0 or more, got {getattr(self, name)}")
        if self.workers < 1:
            raise ConfigError(f"--workers: expected a positive number, got {self.workers}")
        check_workers(self.workers, self.backend, self.address)
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError(f"--minutes: expected a positive number, got {self.minutes}")
        if self.iterations is not None and self.iterations < 1:
            raise ConfigError(f"--iterations: expected a positive number, got {self.iterations}")
        if not 0 <= self.dirichlet_fraction <= 1:
            raise ConfigError(f"agent.dirichlet_fraction: expected a value in [0, 1], got {self.dirichlet_fraction}")
        for spec in self.eval_opponents:
            parse_spec(spec)


_TUNED: dict[str, dict[str, Any]] = {
    "tictactoe": {"minutes": 3.0, "eval_opponents": ["mcts:50", "minimax"]},
    "connect_four": {
        "minutes": 60.0,
        "games_per_iteration": 128,
        "simulations": 64,
        "play_simulations": 400,  # as many as the mcts:400 target gets
        "channels": 32,
        "blocks": 3,
        "dirichlet_alpha": 1.0,
        "temperature_moves": 8,
        "replay_window": 60_000,
        "sample_reuse": 5.0,
        "eval_interval": 4,
        "eval_games": 10,
        "eval_opponents": ["mcts:100", "mcts:400"],
    },
}


class AlphaZero:
    """AlphaZero-style self-play with batched PUCT search, for the lab's two-player board games."""

    Config: ClassVar[type] = AlphaZeroConfig
    default_threads: ClassVar[int] = 1
    """Torch threads: batched small convolutions gain little from a second thread on 2 shared cores."""
    progress_metrics: ClassVar[tuple[str, ...]] = (
        "selfplay/games_per_hour", "selfplay/games_per_hour_per_actor", "train/samples_per_s",
    )
    """Shown in the progress display: self-play games per hour (in all, and per actor), learner samples/s."""

    @classmethod
    def supports(cls, env: EnvInfo) -> str | None:
        if env.kind != "game":
            return "AlphaZero needs a two-player board game (`lab list envs`: connect_four, tictactoe)"
        return None

    @classmethod
    def tuned(cls, env_id: str) -> dict[str, Any]:
        return copy.deepcopy(_TUNED.get(env_id, {}))

    def __init__(self, cfg: AlphaZeroConfig, env: EnvInfo, *, seed: int, device: str) -> None:
        self.cfg = cfg
        self.game = env.factory
        self.seed = seed
        self.device = device
        if self.game is None or getattr(self.game, "kind", None) != "game":
            raise ConfigError(f"{env.id} is not a two-player board game")
        for spec in cfg.eval_opponents:
            make_player(spec, self.game)  # a bad spec for this game fails now, not after an hour
        torch.manual_seed(seed)  # the initial weights depend on the seed only
        self.net = build_net(self.game, cfg.channels, cfg.blocks).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        self.iteration = 0
        self.elapsed = 0.0
        """Seconds spent in `learn` so far (over resumes)."""
        self.games_played = 0
        S, A = self.game.state_size, self.game.num_actions
        self.replay_states = np.zeros((0, S), dtype=np.int64)
        self.replay_policies = np.zeros((0, A), dtype=np.float32)
        self.replay_values = np.zeros(0, dtype=np.float32)
        self.previous: dict[str, torch.Tensor] | None = None
        """Network weights at the previous evaluation."""
        self._symmetries = [(torch.as_tensor(c), torch.as_tensor(a)) for c, a in self.game.symmetries()]
        if cfg.backend == "ray" and cfg.address and cfg.workers > 1:
            from lab.scheduler import check_ray_address

            check_ray_address(cfg.address)  # nothing answers there: say so in seconds, before the run starts
        self._actors: SelfPlayActors | None = None

    # --- contract -----------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.iteration

    def budget(self, steps: int | None) -> Budget:
        if steps is not None:
            return Budget(float(steps), "iterations")
        if self.cfg.iterations is not None:
            return Budget(float(self.cfg.iterations), "iterations")
        if self.cfg.minutes is not None:
            return Budget(self.cfg.minutes * 60.0, "seconds", done=self.elapsed)
        raise ConfigError("alphazero needs a budget: --minutes M or --iterations I")

    def search_params(self, *, play: bool = False) -> SearchParams:
        cfg = self.cfg
        if play:
            return SearchParams(simulations=cfg.play_simulations, c_puct=cfg.c_puct, leaves_per_round=8)
        return SearchParams(
            simulations=cfg.simulations,
            c_puct=cfg.c_puct,
            dirichlet_alpha=cfg.dirichlet_alpha,
            dirichlet_fraction=cfg.dirichlet_fraction,
        )

    def player(self, net: torch.nn.Module | None = None, name: str = "alphazero") -> AlphaZeroPlayer:
        """The agent as a player (``play_simulations`` per move, no noise)."""
        return AlphaZeroPlayer(
            net or self.net, self.game, self.search_params(play=True), device=self.device, name=name,
            precision=self.cfg.search_precision,
        )

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        if self.cfg.workers > 1:
            cfg = self.cfg
            self._actors = SelfPlayActors(game=self.game.name, workers=cfg.workers, backend=cfg.backend,
                                          address=cfg.address, bus=ctx.bus, device=self.device)
        try:
            self._learn(ctx, steps)
        finally:
            if self._actors is not None:
                self._actors.close()
                self._actors = None

    def _learn(self, ctx: TrainContext, steps: int | None) -> None:
        budget = self.budget(steps)
        cfg = self.cfg
        while not ctx.should_stop():
            if budget.unit == "iterations" and self.iteration >= budget.total:
                break
            if budget.unit == "seconds" and self.elapsed >= budget.total:
                break
            t0 = time.perf_counter()
            metrics = self._iterate(ctx)
            if cfg.eval_interval and self.iteration % cfg.eval_interval == 0:
                metrics.update(self._evaluate_during_training(ctx))
            self.elapsed += time.perf_counter() - t0
            metrics["time/minutes"] = self.elapsed / 60.0
            metrics["selfplay/games"] = float(self.games_played)
            ctx.bus.publish(MetricsLogged(step=self.iteration, metrics=metrics))
            ctx.bus.publish(SafePoint(step=self.iteration, agent=self))

    def _iterate(self, ctx: TrainContext) -> dict[str, float]:
        cfg = self.cfg
        rng = np.random.default_rng([self.seed, self.iteration])
        torch.manual_seed(self.seed * 1_000_003 + self.iteration)
        precision = search_precision(cfg.search_precision, self.device)
        t0 = time.perf_counter()
        metrics: dict[str, float] = {}
        if self._actors is None:
            evaluator = NetEvaluator(self.net, self.game, self.device, cfg.cache_size, precision=precision)
            records, sims = self_play(
                self.game,
                evaluator,
                self.search_params(),
                games=cfg.games_per_iteration,
                parallel=cfg.games_per_iteration,
                temperature_moves=cfg.temperature_moves,
                rng=rng,
            )
            positions = evaluator.positions
        else:
            records, stats = self._actors.play(
                self.net, iteration=self.iteration, seed=self.seed, games=cfg.games_per_iteration,
                channels=cfg.channels, blocks=cfg.blocks, params=self.search_params(),
                temperature_moves=cfg.temperature_moves, cache_size=cfg.cache_size, precision=precision,
            )
            sims, positions = sum(a.sims for a in stats), sum(a.positions for a in stats)
            for k, a in enumerate(stats):
                metrics[f"selfplay/actor_{k}/games_per_hour"] = a.games_per_hour
            metrics["selfplay/games_per_hour_per_actor"] = float(np.mean([a.games_per_hour for a in stats]))
            metrics["selfplay/actor_restarts"] = float(sum(a.attempts - 1 for a in stats))
            metrics["selfplay/weights_publish_ms"] = 1000.0 * self._actors.publish_seconds
        play_s = time.perf_counter() - t0
        self.iteration += 1
        self.games_played += len(records)
        for r in records:
            ctx.bus.publish(
                EpisodeEnded(step=self.iteration, episode_return=2 * r.first_player_score - 1, episode_length=len(r.values))
            )
        self._add(records)
        t1 = time.perf_counter()
        losses = self._train(sum(len(r.values) for r in records), rng)
        train_s = time.perf_counter() - t1
        return {
            "selfplay/games_per_hour": 3600.0 * len(records) / play_s,
            "selfplay/sims_per_s": sims / play_s,
            "selfplay/first_player_score": float(np.mean([r.first_player_score for r in records])),
            "selfplay/game_length": float(np.mean([len(r.values) for r in records])),
            "selfplay/cache_hit_rate": 1.0 - positions / max(1, sims),
            **metrics,
            "train/seconds": train_s,
            "train/samples_per_s": losses["train/steps"] * min(cfg.batch_size, len(self.replay_values)) / max(train_s, 1e-9),
            "replay/positions": float(len(self.replay_values)),
            **losses,
        }

    def _add(self, records: list[Any]) -> None:
        window = self.cfg.replay_window
        self.replay_states = np.concatenate([self.replay_states, *[r.states for r in records]])[-window:]
        self.replay_policies = np.concatenate([self.replay_policies, *[r.policies for r in records]])[-window:]
        self.replay_values = np.concatenate([self.replay_values, *[r.values for r in records]])[-window:]

    def _batch(self, idx: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoded positions and targets, each seen through a random symmetry of the board."""
        n = len(idx)
        x = torch.from_numpy(self.game.batch_encode(self.replay_states[idx]))  # (n, planes, rows, cols)
        pi = torch.from_numpy(self.replay_policies[idx])  # (n, A)
        z = torch.from_numpy(self.replay_values[idx])  # (n,)
        which = rng.integers(len(self._symmetries), size=n)
        flat = x.reshape(n, x.shape[1], -1)
        for k, (cells, actions) in enumerate(self._symmetries):
            rows = torch.from_numpy(np.flatnonzero(which == k))
            if k == 0 or rows.numel() == 0:
                continue
            flat[rows] = flat[rows][:, :, cells]
            pi[rows] = pi[rows][:, actions]
        return flat.reshape(x.shape).to(self.device), pi.to(self.device), z.to(self.device)

    def _train(self, new_positions: int, rng: np.random.Generator) -> dict[str, float]:
        cfg = self.cfg
        size = len(self.replay_values)
        batch = min(cfg.batch_size, size)
        steps = max(1, round(cfg.sample_reuse * new_positions / cfg.batch_size))
        amp = cfg.amp and self.device.startswith("cuda")
        self.net.train()
        totals = {"train/policy_loss": 0.0, "train/value_loss": 0.0}
        for _ in range(steps):
            x, pi, z = self._batch(rng.integers(size, size=batch), rng)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                logits, v = self.net(x)
            policy_loss = F.cross_entropy(logits.float(), pi)  # pi: visit-count probabilities
            value_loss = F.mse_loss(v.float(), z)
            self.optimizer.zero_grad(set_to_none=True)
            (policy_loss + value_loss).backward()
            self.optimizer.step()
            totals["train/policy_loss"] += policy_loss.item() / steps
            totals["train/value_loss"] += value_loss.item() / steps
        totals["train/steps"] = float(steps)
        return totals

    # --- evaluation ---------------------------------------------------------------------------
    def _evaluate_during_training(self, ctx: TrainContext) -> dict[str, float]:
        cfg = self.cfg
        me = self.player()
        out: dict[str, float] = {}
        last: list[float] = []
        for i, spec in enumerate(cfg.eval_opponents):
            opponent = make_player(spec, self.game, seed=self.seed + 7919 * self.iteration + i)
            scores = play_games(self.game, [me, opponent], cfg.eval_games)
            out[f"eval/score_vs_{spec}"] = describe_scores(scores)["score"]
            last = scores
        if self.previous is not None:
            old = build_net(self.game, cfg.channels, cfg.blocks).to(self.device)
            old.load_state_dict(self.previous)
            # Both sides are deterministic: random two-move openings make the games differ.
            scores = play_games(
                self.game, [me, self.player(old, name="previous")], cfg.eval_games, opening_moves=2, seed=self.iteration
            )
            out["eval/score_vs_previous"] = describe_scores(scores)["score"]
        self.previous = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        if last:
            ctx.bus.publish(eval_event(self.iteration, last))
        return out

    def evaluate(self, episodes: int, *, seed: int) -> list[float]:
        """Scores (1 win, 0.5 draw, 0 loss) of ``episodes`` games against the last of ``eval_opponents``
        (random when there is none), colours alternated."""
        spec = self.cfg.eval_opponents[-1] if self.cfg.eval_opponents else "random"
        return play_games(self.game, [self.player(), make_player(spec, self.game, seed=seed)], episodes)

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        cfg = self.cfg
        state: dict[str, Any] = {
            "game": self.game.name,
            "net": self.net.state_dict(),
            "net_config": {"channels": cfg.channels, "blocks": cfg.blocks},
            "play_simulations": cfg.play_simulations,
            "c_puct": cfg.c_puct,
            "iteration": self.iteration,
            "elapsed": self.elapsed,
            "games_played": self.games_played,
        }
        if full:
            state["optimizer"] = self.optimizer.state_dict()
            state["replay"] = {
                "states": torch.from_numpy(self.replay_states.copy()),
                "policies": torch.from_numpy(self.replay_policies.copy()),
                "values": torch.from_numpy(self.replay_values.copy()),
            }
            state["previous"] = self.previous
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("game") != self.game.name:
            raise ConfigError(f"this checkpoint was trained on {state.get('game')}, not {self.game.name}")
        net_cfg = state.get("net_config", {})
        if (net_cfg.get("channels"), net_cfg.get("blocks")) != (self.cfg.channels, self.cfg.blocks):
            raise ConfigError(
                f"the checkpoint's network has channels={net_cfg.get('channels')}, blocks={net_cfg.get('blocks')}; "
                f"the config says channels={self.cfg.channels}, blocks={self.cfg.blocks}"
            )
        self.net.load_state_dict(state["net"])
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["elapsed"])
        self.games_played = int(state["games_played"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        if "replay" in state:
            self.replay_states = state["replay"]["states"].numpy().copy()
            self.replay_policies = state["replay"]["policies"].numpy().copy()
            self.replay_values = state["replay"]["values"].numpy().copy()
        if state.get("previous") is not None:
            self.previous = dict(state["previous"])

