"""``dynamics``: an ensemble of small MLPs that learns an environment with vector observations from real transitions.

Each member maps (observation, action) to the next observation's change, the reward and the termination logit
(Chua et al. 2018, PETS; Janner et al. 2019, MBPO: predict deltas, normalize inputs and targets, train every
member on its own bootstrap draw of the data). The members' spread is the uncertainty signal: where they
disagree the model is guessing. As an environment (``world:RUN_DIR``, envs/world) each dreamed step takes one
member's prediction per environment (PETS' TS1 propagation) and the ensemble's mean termination probability.

Every random draw of training comes from one ``torch.Generator`` whose state is in the checkpoint, so a resumed
run repeats an uninterrupted one exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generators.logwindow import LogWindow
from generators.transitions import (
    Transitions,
    TransitionsConfig,
    action_width,
    encode_actions,
    load_transitions,
)
from lab.agent import Budget, TrainContext
from lab.errors import ConfigError, LabError
from lab.events import SafePoint

__all__ = ["Dynamics", "DynamicsConfig", "EnsembleMLP"]


@dataclass
class DynamicsConfig:
    """The dynamics ensemble's settings."""

    data: TransitionsConfig = field(default_factory=TransitionsConfig)
    """The real transitions: `data.policy` (random, a run folder, or a `,`-joined mix), `data.steps`, ..."""
    members: int = 5
    """Ensemble members (each trained on its own bootstrap draw of the transitions)."""
    hidden: int = 128
    """Units of each hidden layer."""
    layers: int = 2
    """Hidden layers per member."""
    batch_size: int = 256
    """Transitions per member per optimizer step."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-5
    """Adam weight decay (keeps members from fitting noise on few transitions)."""
    log_every: int = 100
    """Steps between `MetricsLogged` events."""
    eval_trajectories: int = 200
    """Held-out real trajectories the evaluation scores (`lab eval --n` overrides it)."""
    termination_threshold: float = 0.5
    """A dreamed step terminates when the members' mean termination probability is above this."""
    propagation: Literal["random", "mean"] = "random"
    """Dreamed steps: one random member's prediction per step (TS1, keeps the model's uncertainty) or the mean."""

    def __post_init__(self) -> None:
        for name in ("members", "hidden", "layers", "batch_size", "log_every", "eval_trajectories"):
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.{name}: expected a positive number, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"agent.learning_rate: expected a positive number, got {self.learning_rate}")
        if not 0.0 < self.termination_threshold < 1.0:
            raise ConfigError(f"agent.termination_threshold: expected a probability in (0, 1), got "
                              f"{self.termination_threshold}")


class EnsembleLinear(nn.Module):
    """E independent linear layers applied in one batched matmul: (E, B, in) -> (E, B, out)."""

    def __init__(self, members: int, n_in: int, n_out: int, gen: torch.Generator) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)  # nn.Linear's default initialization, per member
        self.weight = nn.Parameter(torch.empty(members, n_in, n_out).uniform_(-bound, bound, generator=gen))
        self.bias = nn.Parameter(torch.empty(members, 1, n_out).uniform_(-bound, bound, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """The members; inputs and outputs are normalized with the training split's statistics (buffers)."""

    def __init__(self, members: int, obs_dim: int, act_dim: int, hidden: int, layers: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)  # the weights depend on the seed alone, not on global state
        dims = [obs_dim + act_dim, *[hidden] * layers]
        self.hidden = nn.ModuleList(EnsembleLinear(members, a, b, gen) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.head = EnsembleLinear(members, dims[-1], obs_dim + 2, gen)  # delta, reward, termination logit
        self.obs_dim = obs_dim
        for name, n in (("obs_mean", obs_dim), ("obs_std", obs_dim), ("delta_mean", obs_dim), ("delta_std", obs_dim)):
            self.register_buffer(name, torch.zeros(n) if "mean" in name else torch.ones(n))
        self.register_buffer("reward_mean", torch.zeros(()))
        self.register_buffer("reward_std", torch.ones(()))

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """(E, B, D) raw observations and (E, B, A) encoded actions -> (E, B, D + 2) normalized outputs."""
        x = torch.cat([(obs - self.obs_mean) / self.obs_std, act], dim=-1)
        for layer in self.hidden:
            x = F.silu(layer(x))
        return self.head(x)

    def decode(self, obs: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(next observation, reward, termination probability) of normalized outputs."""
        d = self.obs_dim
        nxt = obs + out[..., :d] * self.delta_std + self.delta_mean
        reward = out[..., d] * self.reward_std + self.reward_mean
        return nxt, reward, torch.sigmoid(out[..., d + 1])


def _std(x: np.ndarray, axis: int = 0) -> np.ndarray:
    s = np.asarray(x.std(axis=axis), np.float32)
    return np.where(s > 1e-6, s, 1.0).astype(np.float32)


class Dynamics:
    """MLP ensemble learning a vector-observation env (next observation, reward, end); world:RUN_DIR plays it.

    The lab.generator contract, plus the world-model methods ``envs/world`` steps: ``start_observations`` and
    ``dream_step``."""

    Config: ClassVar[type] = DynamicsConfig
    progress_metrics: ClassVar[tuple[str, ...]] = ("train/loss", "train/transitions_per_s")
    default_threads: ClassVar[int] = 1
    """Small MLPs: a second torch thread buys nothing on 2 cores."""
    default_steps: ClassVar[int] = 3000
    world_model: ClassVar[str] = "vector"
    """What this generator models when used as an environment: vector observations (envs/world)."""
    sample_options: ClassVar[frozenset[str]] = frozenset({"rollout"})
    tiny_dataset: ClassVar[str] = "rollouts:CartPole-v1"
    """The data set of the contract tests (tests/generators/test_world_model_contract.py)."""

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def tuned(cls, dataset: str) -> dict[str, Any]:
        return {}

    @classmethod
    def tiny_config(cls) -> DynamicsConfig:
        return DynamicsConfig(data=TransitionsConfig(steps=300), members=2, hidden=16, layers=1, batch_size=32,
                              log_every=2, eval_trajectories=5)

    @classmethod
    def load_data(cls, dataset: str, cfg: DynamicsConfig) -> Transitions:
        name, _, arg = dataset.partition(":")
        if name != "rollouts" or not arg:
            raise LabError(f"dynamics trains on real transitions with actions: rollouts:ENV_ID (e.g. "
                           f"rollouts:CartPole-v1); {dataset!r} has no actions")
        return load_transitions(arg, cfg.data)

    def __init__(self, cfg: DynamicsConfig, data: Transitions, *, seed: int, device: str) -> None:
        self.cfg = cfg
        self.data = data
        self.seed = seed
        self.device = device
        self.info = data.extras["info"]
        self.env_id = data.env_id
        self.action_space = self.info.action_space
        self.observation_space = self.info.observation_space
        self.max_episode_steps = self.info.max_episode_steps
        self._step = 0
        self._scale: np.ndarray | None = None
        self.rng = torch.Generator().manual_seed(seed)
        obs_dim, act_dim = data.shape[0], action_width(self.action_space)
        self.net = EnsembleMLP(cfg.members, obs_dim, act_dim, cfg.hidden, cfg.layers, seed).to(device)
        tr = data.split(held_out=False)
        self._set_stats(tr)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        self._obs, self._act = t(tr["obs"]), t(encode_actions(self.action_space, tr["actions"]))
        self._next, self._rew = t(tr["next_obs"]), t(tr["rewards"])
        self._term = t(tr["terminated"].astype(np.float32))
        self._starts = data.starts(held_out=False)
        # positives are rare (one per episode): weight them up to half the loss, as a balanced classifier would
        p = float(tr["terminated"].mean())
        self._pos_weight = torch.tensor((1 - p) / p if 0 < p < 1 else 1.0, device=device)

    def _set_stats(self, tr: dict[str, np.ndarray]) -> None:
        net, t = self.net, lambda a: torch.as_tensor(np.asarray(a, np.float32), device=self.device)  # noqa: E731
        delta = tr["next_obs"] - tr["obs"]
        net.obs_mean.copy_(t(tr["obs"].mean(0)))
        net.obs_std.copy_(t(_std(tr["obs"])))
        net.delta_mean.copy_(t(delta.mean(0)))
        net.delta_std.copy_(t(_std(delta)))
        net.reward_mean.copy_(t(tr["rewards"].mean()))
        net.reward_std.copy_(t(max(float(tr["rewards"].std()), 1e-6) if tr["rewards"].std() > 1e-6 else 1.0))

    @property
    def step(self) -> int:
        return self._step

    def budget(self, steps: int | None) -> Budget:
        return Budget(total=float(steps or self.default_steps), unit="steps")

    # --- training -----------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        cfg, net = self.cfg, self.net
        idx = torch.randint(len(self._obs), (cfg.members, cfg.batch_size), generator=self.rng).to(self.device)  # (E, B)
        obs, act = self._obs[idx], self._act[idx]
        out = net(obs, act)  # (E, B, D + 2)
        d = net.obs_dim
        delta = ((self._next[idx] - obs) - net.delta_mean) / net.delta_std
        reward = (self._rew[idx] - net.reward_mean) / net.reward_std
        delta_loss = F.mse_loss(out[..., :d], delta)
        reward_loss = F.mse_loss(out[..., d], reward)
        term_loss = F.binary_cross_entropy_with_logits(out[..., d + 1], self._term[idx], pos_weight=self._pos_weight)
        loss = delta_loss + reward_loss + 0.1 * term_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "delta_mse": delta_loss.item(), "reward_mse": reward_loss.item(),
                "termination_bce": term_loss.item()}

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        total = int(self.budget(steps).total)
        window = LogWindow("transitions")
        self.net.train()
        while self._step < total and not ctx.should_stop():
            metrics = self.train_step()
            self._step += 1
            window.add(metrics, self.cfg.batch_size * self.cfg.members)
            if self._step % self.cfg.log_every == 0 or self._step == total:
                window.publish(ctx.bus, self._step)
            ctx.bus.publish(SafePoint(step=self._step, agent=self))

    # --- state --------------------------------------------------------------------------------------
    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self._step,
            "modules": {"net": {n: t.detach().clone() for n, t in self.net.state_dict().items()}},
        }
        if full:
            state["optimizers"] = {"net": self.opt.state_dict()}
            state["rng"] = self.rng.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._scale = None  # the observation statistics come with the weights
        self._step = int(state["step"])
        self.net.load_state_dict(state["modules"]["net"])
        if "optimizers" in state:
            self.opt.load_state_dict(state["optimizers"]["net"])
        if "rng" in state:
            self.rng.set_state(state["rng"])

    # --- the world model ----------------------------------------------------------------------------
    def start_observations(self) -> np.ndarray:
        """(K, D) real first observations of the training episodes: where dreamed episodes begin."""
        return self._starts

    @torch.inference_mode()
    def predict(self, obs: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every member's (next observations (E, B, D), rewards (E, B), termination probabilities (E, B))."""
        if self.net.training:
            self.net.eval()
        o = torch.as_tensor(np.asarray(obs, np.float32), device=self.device)
        a = torch.as_tensor(encode_actions(self.action_space, actions), device=self.device)
        e = self.cfg.members
        oe, ae = o.expand(e, *o.shape), a.expand(e, *a.shape)
        nxt, rew, p = self.net.decode(oe, self.net(oe, ae))
        return nxt.cpu().numpy(), rew.cpu().numpy(), p.cpu().numpy()

    def _obs_scale(self) -> np.ndarray:
        if self._scale is None:
            self._scale = self.net.obs_std.cpu().numpy()
        return self._scale

    def dream_step(self, obs: np.ndarray, actions: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One dreamed step of a batch: next ``obs`` (B, D), ``reward`` (B,), ``terminated`` (B,) bool and
        ``disagreement`` (B,): the members' spread of the next observation, in units of the data's spread."""
        nxt, rew, p = self.predict(obs, actions)  # (E, B, D), (E, B), (E, B)
        b = len(obs)
        if self.cfg.propagation == "random":
            m = rng.integers(0, self.cfg.members, size=b)
            next_obs, reward = nxt[m, np.arange(b)], rew[m, np.arange(b)]
        else:
            next_obs, reward = nxt.mean(0), rew.mean(0)
        scale = self._obs_scale()
        disagreement = (nxt / scale).std(0).mean(-1) if self.cfg.members > 1 else np.zeros(b, np.float32)
        return {"obs": next_obs.astype(np.float32), "reward": reward.astype(np.float32),
                "terminated": p.mean(0) > self.cfg.termination_threshold,
                "disagreement": disagreement.astype(np.float32)}

    # --- sampling -----------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int, batch: int = 256, **options: Any) -> np.ndarray:
        """``n`` dreamed open-loop trajectories (n, T, D) along held-out trajectory ``rollout``'s real actions
        (every trajectory begins at its first real observation; the members' predictions drawn with ``seed``)."""
        unknown = sorted(k for k, v in options.items() if v is not None and k not in self.sample_options)
        if unknown:
            raise LabError(f"--{unknown[0].replace('_', '-')}: {type(self).__name__.lower()} models do not take it")
        if options.get("labels") is not None:
            raise LabError("--class: dynamics models cannot sample a class: they model an environment")
        trajs = self.data.trajectories(held_out=True)
        k = int(options.get("rollout") or 0)
        if not 0 <= k < len(trajs):
            raise LabError(f"--rollout {k}: expected a held-out trajectory 0..{len(trajs) - 1}")
        tr = trajs[k]
        rng = np.random.default_rng(seed)
        obs = np.repeat(tr["obs"][:1], n, axis=0)
        out = np.empty((n, len(tr["obs"]) + 1, obs.shape[1]), np.float32)
        out[:, 0] = obs
        for t, a in enumerate(tr["actions"]):
            obs = self.dream_step(obs, np.repeat(a[None], n, axis=0), rng)["obs"]
            out[:, t + 1] = obs
        return out

    def sample_rollout(self, out: Any, *, rollout: int, n: int, seed: int) -> dict[str, Any]:
        """``lab sample RUN --rollout K``: held-out trajectory K beside ``n`` open-loop dreams along its actions:
        ``OUT/rollout.npz`` (``real`` (T + 1, D), ``dreamed`` (n, T + 1, D)) and ``OUT/rollout.png`` (one panel per
        observation dimension)."""
        from pathlib import Path

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from lab import atomic

        out = Path(out)
        dreamed = self.sample(n, seed=seed, rollout=rollout)
        tr = self.data.trajectories(held_out=True)[rollout]
        real = np.concatenate([tr["obs"][:1], tr["next_obs"]])
        out.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_write(out / "rollout.npz", "wb") as f:
            np.savez(f, real=real, dreamed=dreamed, actions=tr["actions"])
        d = real.shape[1]
        fig, axes = plt.subplots(d, 1, figsize=(7, 1.8 * d), sharex=True, squeeze=False)
        for i, ax in enumerate(axes[:, 0]):
            for k in range(n):
                ax.plot(dreamed[k, :, i], color="tab:orange", alpha=0.5, lw=1, label="dreamed" if k == 0 else None)
            ax.plot(real[:, i], color="black", lw=1.5, label="real")
            ax.set_ylabel(f"obs[{i}]")
        axes[0, 0].legend(loc="upper left", fontsize=8)
        axes[-1, 0].set_xlabel("step (the real actions, open loop)")
        fig.suptitle(f"{self.env_id}: held-out trajectory {rollout}, real vs dreamed")
        fig.tight_layout()
        with atomic.atomic_write(out / "rollout.png", "wb") as f:
            fig.savefig(f, format="png", dpi=100)
        plt.close(fig)
        return {"samples": str(out / "rollout.npz"), "grid": str(out / "rollout.png"), "n": n,
                "shape": list(dreamed.shape), "steps": len(tr["actions"])}

    # --- evaluation ---------------------------------------------------------------------------------
    def evaluate(self, n: int | None = None, *, seed: int, tables: bool = True) -> dict[str, Any]:
        """One-step and open-loop errors against held-out real trajectories, reward and termination accuracy,
        beside the "no change" and linear references (see :func:`generators.world_eval.evaluate_world_model`)."""
        from generators.world_eval import evaluate_world_model

        def mean_model(obs: np.ndarray, act: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            nxt, rew, p = self.predict(obs, act)
            return nxt.mean(0), rew.mean(0), p.mean(0)

        out = evaluate_world_model(self.data, mean_model, self.action_space, n or self.cfg.eval_trajectories,
                                   threshold=self.cfg.termination_threshold)
        out["step"] = self._step
        out["seed"] = seed
        return out
