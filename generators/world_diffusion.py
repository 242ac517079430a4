"""``world-diffusion``: an action-conditioned diffusion model of the next grid observation (the maze family's
one-hot planes), plus small reward and termination heads; ``world:RUN_DIR`` plays it as an environment.

DIAMOND (Alonso et al., NeurIPS 2024) style: a diffusers ``UNet2DModel`` denoises the next frame given the
current one (concatenated as extra input channels), the action (the U-Net's class embedding, added to the
noise-level embedding) and the noise level, with the EDM preconditioning and training noise distribution of
Karras et al. 2022 (Table 1) and a few Euler steps on a Karras sigma schedule at sampling (DIAMOND: 3).

One frame of context, not several: a full-view maze observation (wall, agent, goal planes) is the whole state,
so the next grid depends on this grid and the action alone (the process is Markov); more frames would only
add input channels. (A partial ``view=V`` maze is not Markov in one frame; this model would average over what
it cannot see.) Dreamed grids are snapped to valid one-hot grids: planes that hold exactly one cell in every
training observation (agent, goal) keep their most likely open cell, the others (walls) are thresholded.

The heads read (this grid, the next grid, the action): the termination and the reward are local functions of
the agent's new cell. The maze's reward also depends on the step count, which no grid shows: the reward head
learns its mean over the data.

Every random draw of training comes from one ``torch.Generator`` whose state is in the checkpoint, so a resumed
run repeats an uninterrupted one exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generators.logwindow import LogWindow
from generators.transitions import Transitions, TransitionsConfig, load_transitions
from lab.agent import Budget, TrainContext
from lab.errors import ConfigError, LabError
from lab.events import SafePoint

__all__ = ["WorldDiffusion", "WorldDiffusionConfig", "RewardTerminationHeads", "karras_sigmas", "snap_grids"]


def _maze_data() -> TransitionsConfig:
    return TransitionsConfig(steps=20000)


@dataclass
class WorldDiffusionConfig:
    """The grid world model's settings (defaults: maze-13 in under 30 minutes of a quiet 2-core CPU)."""

    data: TransitionsConfig = field(default_factory=_maze_data)
    """The real transitions: `data.policy` (random, a run folder, or a `,`-joined mix), `data.steps`, ..."""
    channels: list[int] = field(default_factory=lambda: [32, 64])
    """U-Net channels per resolution level (one down and one up block each)."""
    layers_per_block: int = 1
    """ResNet layers per U-Net block."""
    head_channels: int = 32
    """Channels of the reward / termination heads' two convolutions."""
    batch_size: int = 32
    """Transitions per optimizer step."""
    learning_rate: float = 5e-4
    """Adam learning rate (after a linear warm-up)."""
    warmup_steps: int = 100
    """Steps of linear learning-rate warm-up from 0."""
    sigma_data: float = 0.5
    """EDM: the data's standard deviation (grids are mapped to -1 / 1)."""
    p_mean: float = -0.4
    """EDM: mean of log sigma during training (DIAMOND's value)."""
    p_std: float = 1.2
    """EDM: spread of log sigma during training."""
    sample_steps: int = 3
    """Euler denoising steps per dreamed frame (DIAMOND: 3)."""
    sigma_min: float = 0.002
    """Smallest noise level of the sampling schedule."""
    sigma_max: float = 5.0
    """Largest noise level of the sampling schedule (where sampling starts)."""
    rho: float = 7.0
    """Karras schedule curvature."""
    log_every: int = 50
    """Steps between `MetricsLogged` events."""
    eval_trajectories: int = 3
    """Held-out real trajectories the evaluation scores (`lab eval --n` overrides it)."""
    termination_threshold: float = 0.5
    """A dreamed step terminates when the head's termination probability is above this."""

    def __post_init__(self) -> None:
        if not self.channels or any(c < 8 or c % 8 for c in self.channels):
            raise ConfigError(f"agent.channels: expected multiples of 8 (GroupNorm groups), got {self.channels}")
        for name in ("layers_per_block", "head_channels", "batch_size", "sample_steps", "log_every",
                     "eval_trajectories"):
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.{name}: expected a positive number, got {getattr(self, name)}")
        for name in ("learning_rate", "sigma_data", "p_std", "sigma_min", "rho"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"agent.{name}: expected a positive number, got {getattr(self, name)}")
        if self.warmup_steps < 0:
            raise ConfigError(f"agent.warmup_steps: expected 0 or more, got {self.warmup_steps}")
        if self.sigma_max <= self.sigma_min:
            raise ConfigError(f"agent.sigma_max: expected more than sigma_min ({self.sigma_min}), got {self.sigma_max}")
        if not 0.0 < self.termination_threshold < 1.0:
            raise ConfigError(f"agent.termination_threshold: expected a probability in (0, 1), got "
                              f"{self.termination_threshold}")


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """(n + 1,) noise levels from ``sigma_max`` down to ``sigma_min``, then 0 (Karras et al. 2022, eq. 5).

    >>> [round(float(s), 3) for s in karras_sigmas(3, 0.002, 5.0, 7.0)]
    [5.0, 0.283, 0.002, 0.0]
    """
    i = torch.arange(n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    s = (hi + i / max(n - 1, 1) * (lo - hi)) ** rho if n > 1 else torch.tensor([sigma_max], dtype=torch.float64)
    return torch.cat([s, torch.zeros(1, dtype=torch.float64)]).float()


def snap_grids(x: np.ndarray, singleton: np.ndarray) -> np.ndarray:
    """Valid one-hot grids (B, C, H, W) of soft ones ``x`` in [0, 1]: planes marked ``singleton`` get exactly one
    cell (the most likely one among cells no other plane holds), the others a 0.5 threshold.

    >>> g = snap_grids(np.array([[[[0.9, 0.2]], [[0.6, 0.7]]]]), np.array([False, True]))
    >>> g[0, :, 0].tolist()  # the wall is kept; the agent moves to the free cell
    [[1.0, 0.0], [0.0, 1.0]]
    """
    out = (x > 0.5).astype(np.float32)
    if singleton.any():
        multi = ~singleton
        blocked = out[:, multi].any(1) if multi.any() else np.zeros((len(x), *x.shape[2:]), bool)  # (B, H, W)
        b = len(x)
        for c in np.flatnonzero(singleton):
            score = x[:, c].reshape(b, -1).copy()
            free = ~blocked.reshape(b, -1)
            score = np.where(free | ~free.any(1, keepdims=True), score, -np.inf)
            hot = np.zeros_like(score, dtype=np.float32)
            hot[np.arange(b), score.argmax(1)] = 1.0
            out[:, c] = hot.reshape(b, *x.shape[2:])
    return out


class RewardTerminationHeads(nn.Module):
    """(grid, next grid, action) -> (reward (normalized), termination logit): two convolutions, max and mean pool."""

    def __init__(self, planes: int, actions: int, width: int) -> None:
        super().__init__()
        self.actions = actions
        self.conv = nn.Sequential(nn.Conv2d(2 * planes + actions, width, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.SiLU())
        self.out = nn.Linear(2 * width, 2)

    def forward(self, obs: torch.Tensor, nxt: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        b, _, h, w = obs.shape
        a = F.one_hot(action, self.actions).float()[:, :, None, None].expand(b, self.actions, h, w)
        z = self.conv(torch.cat([obs, nxt, a], 1))  # (B, width, H, W)
        return self.out(torch.cat([z.amax((2, 3)), z.mean((2, 3))], 1))  # (B, 2)


def build_unet(cfg: WorldDiffusionConfig, planes: int, size: int, actions: int) -> Any:
    """The denoiser: input = noisy next grid and this grid (2 C channels), output = the next grid (C)."""
    from diffusers import UNet2DModel

    levels = len(cfg.channels)
    return UNet2DModel(
        sample_size=size, in_channels=2 * planes, out_channels=planes, layers_per_block=cfg.layers_per_block,
        block_out_channels=tuple(cfg.channels), down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels, norm_num_groups=8, num_class_embeds=actions,
    )


class WorldDiffusion:
    """Action-conditioned diffusion over grid observations, with reward and termination heads; world:RUN_DIR
    plays it. The lab.generator contract plus ``start_observations`` and ``dream_step`` (lab.world)."""

    Config: ClassVar[type] = WorldDiffusionConfig
    progress_metrics: ClassVar[tuple[str, ...]] = ("train/loss", "train/transitions_per_s")
    default_threads: ClassVar[int] = 1
    """Like the image generators: one thread is the safe default on a shared 2-core machine."""
    default_steps: ClassVar[int] = 5000
    world_model: ClassVar[str] = "grid"
    """What this generator models when used as an environment: grid planes (C, H, W) (envs/world)."""
    sample_options: ClassVar[frozenset[str]] = frozenset({"rollout", "steps"})
    tiny_dataset: ClassVar[str] = "rollouts:maze-7:procedural"
    """The data set of the contract tests (tests/generators/test_world_model_contract.py)."""

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def tuned(cls, dataset: str) -> dict[str, Any]:
        return {}

    @classmethod
    def tiny_config(cls) -> WorldDiffusionConfig:
        return WorldDiffusionConfig(data=TransitionsConfig(steps=300), channels=[8, 16], head_channels=8,
                                    batch_size=8, warmup_steps=2, log_every=2, eval_trajectories=2, sample_steps=2)

    @classmethod
    def load_data(cls, dataset: str, cfg: WorldDiffusionConfig) -> Transitions:
        name, _, arg = dataset.partition(":")
        if name != "rollouts" or not arg:
            raise LabError(f"world-diffusion trains on real transitions with actions: rollouts:ENV_ID (e.g. "
                           f"rollouts:maze-13:procedural); {dataset!r} has no actions")
        data = load_transitions(arg, cfg.data, observations="grid")
        from gymnasium import spaces

        if not isinstance(data.extras["info"].action_space, spaces.Discrete):
            raise LabError(f"{dataset}: world-diffusion takes Discrete actions, got {data.extras['info'].action_space}")
        return data

    def __init__(self, cfg: WorldDiffusionConfig, data: Transitions, *, seed: int, device: str) -> None:
        self.cfg = cfg
        self.data = data
        self.seed = seed
        self.device = device
        self.info = data.extras["info"]
        self.env_id = data.env_id
        self.action_space = self.info.action_space
        self.observation_space = self.info.observation_space
        self.max_episode_steps = self.info.max_episode_steps or _own_time_limit(self.info)
        self._step = 0
        self.rng = torch.Generator().manual_seed(seed)
        c, h, w = data.shape
        m = 2 ** (len(cfg.channels) - 1)
        self._pad = (0, -w % m, 0, -h % m)  # right and bottom, to sizes the U-Net's levels divide
        n_act = int(self.action_space.n)
        with torch.random.fork_rng(devices=[]):  # torch initializes from the global generator: seed it, then restore it
            torch.manual_seed(seed)
            self.unet = build_unet(cfg, c, max(h + self._pad[3], w + self._pad[1]), n_act).to(device)
            self.heads = RewardTerminationHeads(c, n_act, cfg.head_channels).to(device)
        self.opt = torch.optim.Adam([*self.unet.parameters(), *self.heads.parameters()], lr=cfg.learning_rate)
        tr = data.split(held_out=False)
        t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        self._obs, self._next = t(tr["obs"]), t(tr["next_obs"])  # (N, C, H, W) in {0, 1}
        self._act = t(tr["actions"].astype(np.int64) - int(self.action_space.start))
        self._rew, self._term = t(tr["rewards"]), t(tr["terminated"].astype(np.float32))
        self._reward_mean = float(tr["rewards"].mean())
        self._reward_std = float(tr["rewards"].std()) if tr["rewards"].std() > 1e-6 else 1.0
        p = float(tr["terminated"].mean())
        self._pos_weight = torch.tensor((1 - p) / p if 0 < p < 1 else 1.0, device=device)
        # planes with exactly one hot cell in every observation (agent, goal): snapped by argmax
        self._singleton = (tr["obs"].reshape(len(tr["obs"]), c, -1).sum(-1) == 1).all(0)
        self._starts = data.starts(held_out=False)

    @property
    def step(self) -> int:
        return self._step

    def budget(self, steps: int | None) -> Budget:
        return Budget(total=float(steps or self.default_steps), unit="steps")

    # --- the denoiser (EDM preconditioning, Karras et al. 2022, Table 1) ---------------------------
    def _to_model(self, grid: torch.Tensor) -> torch.Tensor:
        """{0, 1} grids (B, C, H, W) -> -1 / 1, padded with -1 ("nothing here") to the U-Net's size."""
        return F.pad(grid * 2 - 1, self._pad, value=-1.0)

    def denoise(self, noisy: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor,
                action: torch.Tensor) -> torch.Tensor:
        """D(x; sigma) = c_skip x + c_out F(c_in x, c_noise): the denoised next grid (B, C, H', W')."""
        sd = self.cfg.sigma_data
        s = sigma.view(-1, 1, 1, 1)
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        # c_noise = ln(sigma) / 4, scaled by 1000 to the timestep range the sinusoidal embedding resolves
        c_noise = 250.0 * sigma.log()
        f = self.unet(torch.cat([c_in * noisy, cond], 1), c_noise, class_labels=action).sample
        return c_skip * noisy + c_out * f

    # --- training -----------------------------------------------------------------------------------
    def lr_scale(self) -> float:
        w = self.cfg.warmup_steps
        return min(1.0, (self._step + 1) / w) if w else 1.0

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        for g in self.opt.param_groups:
            g["lr"] = cfg.learning_rate * self.lr_scale()
        idx = torch.randint(len(self._obs), (min(cfg.batch_size, len(self._obs)),), generator=self.rng)
        idx = idx.to(self.device)
        obs, nxt, act = self._obs[idx], self._next[idx], self._act[idx]
        x0, cond = self._to_model(nxt), self._to_model(obs)
        b = len(idx)
        # 1. log sigma ~ N(P_mean, P_std); 2. noise the next grid; 3. regress D onto it with EDM's weighting,
        # which is a plain MSE on F's target (x0 - c_skip x) / c_out
        sigma = (torch.randn(b, generator=self.rng) * cfg.p_std + cfg.p_mean).exp().to(self.device)
        noisy = x0 + torch.randn(x0.shape, generator=self.rng).to(self.device) * sigma.view(-1, 1, 1, 1)
        sd = cfg.sigma_data
        s = sigma.view(-1, 1, 1, 1)
        weight = (s**2 + sd**2) / (s * sd) ** 2
        c, h, w = self.data.shape
        err = (self.denoise(noisy, sigma, cond, act) - x0)[:, :, :h, :w] ** 2  # the padding is not scored
        diffusion_loss = (weight * err).mean()
        out = self.heads(obs, nxt, act)  # (B, 2), on the real next grid (teacher forcing)
        reward_loss = F.mse_loss(out[:, 0], (self._rew[idx] - self._reward_mean) / self._reward_std)
        term_loss = F.binary_cross_entropy_with_logits(out[:, 1], self._term[idx], pos_weight=self._pos_weight)
        loss = diffusion_loss + reward_loss + term_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "diffusion": diffusion_loss.item(), "reward_mse": reward_loss.item(),
                "termination_bce": term_loss.item()}

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        total = int(self.budget(steps).total)
        window = LogWindow("transitions")
        self.unet.train()
        self.heads.train()
        while self._step < total and not ctx.should_stop():
            metrics = self.train_step()
            self._step += 1
            window.add(metrics, self.cfg.batch_size)
            if self._step % self.cfg.log_every == 0 or self._step == total:
                window.publish(ctx.bus, self._step, lr=self.cfg.learning_rate * self.lr_scale())
            ctx.bus.publish(SafePoint(step=self._step, agent=self))

    # --- state --------------------------------------------------------------------------------------
    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self._step,
            "modules": {k: {n: t.detach().clone() for n, t in m.state_dict().items()}
                        for k, m in (("unet", self.unet), ("heads", self.heads))},
        }
        if full:
            state["optimizers"] = {"net": self.opt.state_dict()}
            state["rng"] = self.rng.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._step = int(state["step"])
        self.unet.load_state_dict(state["modules"]["unet"])
        self.heads.load_state_dict(state["modules"]["heads"])
        if "optimizers" in state:
            self.opt.load_state_dict(state["optimizers"]["net"])
        if "rng" in state:
            self.rng.set_state(state["rng"])

    # --- the world model ----------------------------------------------------------------------------
    def start_observations(self) -> np.ndarray:
        """(K, C, H, W) real first grids of the training episodes: where dreamed episodes begin."""
        return self._starts

    @torch.inference_mode()
    def predict(self, obs: np.ndarray, actions: np.ndarray, gen: torch.Generator, *, steps: int | None = None,
                batch: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(snapped next grids (B, C, H, W), rewards (B,), termination probabilities (B,), raw-vs-snapped gap (B,)):
        Euler steps along the Karras schedule (Karras et al. 2022, Algorithm 1 without the second-order step)."""
        cfg = self.cfg
        self.unet.eval()
        self.heads.eval()
        c, h, w = self.data.shape
        sigmas = karras_sigmas(steps or cfg.sample_steps, cfg.sigma_min, cfg.sigma_max, cfg.rho).to(self.device)
        outs = []
        obs = np.asarray(obs, np.float32)
        acts = np.asarray(actions).reshape(-1).astype(np.int64) - int(self.action_space.start)
        for i in range(0, len(obs), batch):
            o = torch.as_tensor(obs[i : i + batch], device=self.device)
            a = torch.as_tensor(acts[i : i + batch], device=self.device)
            cond = self._to_model(o)
            x = torch.randn(cond[:, :c].shape, generator=gen).to(self.device) * sigmas[0]
            for k in range(len(sigmas) - 1):
                s = sigmas[k].expand(len(o))
                d = (x - self.denoise(x, s, cond, a)) / sigmas[k]
                x = x + (sigmas[k + 1] - sigmas[k]) * d
            soft = ((x[:, :, :h, :w].clamp(-1, 1) + 1) / 2).cpu().numpy()
            snapped = snap_grids(soft, self._singleton)
            head = self.heads(o, torch.as_tensor(snapped, device=self.device), a)
            rew = head[:, 0] * self._reward_std + self._reward_mean
            outs.append((snapped, rew.cpu().numpy(), torch.sigmoid(head[:, 1]).cpu().numpy(),
                         np.abs(soft - snapped).mean((1, 2, 3))))
        return tuple(np.concatenate(p) for p in zip(*outs, strict=True))  # type: ignore[return-value]

    def dream_step(self, obs: np.ndarray, actions: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One dreamed step of a batch: next ``obs`` (B, C, H, W) one-hot, ``reward`` (B,), ``terminated`` (B,) and
        ``disagreement`` (B,): how far the sampled grid was from the valid grid it was snapped to (0: clean)."""
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        nxt, rew, p, gap = self.predict(obs, actions, gen)
        return {"obs": nxt, "reward": rew.astype(np.float32), "terminated": p > self.cfg.termination_threshold,
                "disagreement": gap.astype(np.float32)}

    # --- sampling -----------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int, batch: int = 256, **options: Any) -> np.ndarray:
        """``n`` dreamed open-loop trajectories (n, T + 1, C, H, W) along held-out trajectory ``rollout``'s real
        actions, each starting at its real first grid (``steps``: denoising steps per frame)."""
        unknown = sorted(k for k, v in options.items() if v is not None and k not in self.sample_options)
        if unknown:
            raise LabError(f"--{unknown[0].replace('_', '-')}: {type(self).__name__.lower()} models do not take it")
        if options.get("labels") is not None:
            raise LabError("--class: world-diffusion models cannot sample a class: they model an environment")
        trajs = self.data.trajectories(held_out=True)
        k = int(options.get("rollout") or 0)
        if not 0 <= k < len(trajs):
            raise LabError(f"--rollout {k}: expected a held-out trajectory 0..{len(trajs) - 1}")
        tr = trajs[k]
        gen = torch.Generator().manual_seed(seed)
        obs = np.repeat(tr["obs"][:1], n, axis=0)
        out = np.empty((n, len(tr["obs"]) + 1, *obs.shape[1:]), np.float32)
        out[:, 0] = obs
        for t, a in enumerate(tr["actions"]):
            obs = self.predict(obs, np.repeat(np.asarray(a)[None], n, axis=0), gen, steps=options.get("steps"))[0]
            out[:, t + 1] = obs
        return out

    def sample_rollout(self, out: Any, *, rollout: int, n: int, seed: int) -> dict[str, Any]:
        """``lab sample RUN --rollout K``: ``OUT/rollout.npz`` (``real`` (T + 1, C, H, W), ``dreamed`` (n, T + 1, C,
        H, W)) and ``OUT/rollout.png``: a strip, real grids on top, one row per dream below, same actions."""
        from pathlib import Path

        from lab import atomic

        out = Path(out)
        dreamed = self.sample(n, seed=seed, rollout=rollout)
        tr = self.data.trajectories(held_out=True)[rollout]
        real = np.concatenate([tr["obs"][:1], tr["next_obs"]])
        out.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_write(out / "rollout.npz", "wb") as f:
            np.savez(f, real=real, dreamed=dreamed, actions=tr["actions"])
        cols = np.unique(np.linspace(0, len(real) - 1, min(16, len(real))).round().astype(int))
        strip = grid_strip(np.concatenate([real[None], dreamed])[:, cols])
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(cols)), 1.0 * (n + 1) + 0.6))
        ax.imshow(strip, interpolation="nearest")
        size = strip.shape[1] / len(cols)
        ax.set_xticks((np.arange(len(cols)) + 0.5) * size, [str(c) for c in cols], fontsize=7)
        ax.set_yticks((np.arange(n + 1) + 0.5) * strip.shape[0] / (n + 1), ["real", *[f"dream {i}" for i in range(n)]],
                      fontsize=7)
        ax.set_xlabel("step (the real actions, open loop)", fontsize=8)
        ax.set_title(f"{self.env_id}: held-out trajectory {rollout}, real vs dreamed", fontsize=9)
        fig.tight_layout()
        with atomic.atomic_write(out / "rollout.png", "wb") as f:
            fig.savefig(f, format="png", dpi=100)
        plt.close(fig)
        return {"samples": str(out / "rollout.npz"), "grid": str(out / "rollout.png"), "n": n,
                "shape": list(dreamed.shape), "steps": len(tr["actions"])}

    # --- evaluation ---------------------------------------------------------------------------------
    def evaluate(self, n: int | None = None, *, seed: int, tables: bool = True) -> dict[str, Any]:
        """One-step and open-loop errors against held-out real trajectories, reward and termination accuracy,
        beside the "no change" and linear references (:func:`generators.world_eval.evaluate_world_model`),
        plus ``agent_cell_accuracy``: the share of one-step predictions that put the agent on its real cell."""
        from generators.world_eval import evaluate_world_model

        gen = torch.Generator().manual_seed(seed)
        first: list[np.ndarray] = []

        def model(obs: np.ndarray, act: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            nxt, rew, p, _gap = self.predict(obs, act, gen)
            if not first:  # the first call is the one-step prediction of every held-out transition
                first.append(nxt)
            return nxt, rew, p

        k = n or self.cfg.eval_trajectories
        out = evaluate_world_model(self.data, model, self.action_space, k, threshold=self.cfg.termination_threshold)
        trajs = self.data.trajectories(held_out=True)[: max(1, k)]
        obs = np.concatenate([t["obs"] for t in trajs])
        real = np.concatenate([t["next_obs"] for t in trajs])
        pred = first[0]
        out["grid_exact"] = float((pred == real).reshape(len(real), -1).all(1).mean())
        out["grid_exact_no_change"] = float((obs == real).reshape(len(real), -1).all(1).mean())
        out["headline"] = [*out["headline"], "grid_exact", "grid_exact_no_change"]
        out["step"] = self._step
        out["seed"] = seed
        return out


PALETTE = np.array([(40, 40, 40), (220, 50, 50), (40, 180, 60), (60, 90, 220), (230, 180, 40)], np.uint8)
"""Plane colours of the strips (the maze's: wall dark, agent red, goal green); empty cells are light."""


def grid_strip(grids: np.ndarray, cell: int = 6) -> np.ndarray:
    """(R, K, C, H, W) one-hot grids -> one RGB image (R rows of K grids), later planes painted over earlier ones."""
    r, k, c, h, w = grids.shape
    img = np.full((r, k, h, w, 3), 235, np.uint8)
    for p in range(c):
        img[grids[:, :, p] > 0.5] = PALETTE[p % len(PALETTE)]
    img = img.repeat(cell, 2).repeat(cell, 3)  # (R, K, H*cell, W*cell, 3)
    img[:, :, :, -1] = img[:, :, -1, :] = 255  # a light gap between grids
    return img.transpose(0, 2, 1, 3, 4).reshape(r * h * cell, k * w * cell, 3)


def _own_time_limit(info: Any) -> int | None:
    """An env that truncates itself (the mazes' ``max_steps``) has no registered limit: read it from the env."""
    from lab.envs import make_env

    env = make_env(info)
    try:
        limit = getattr(env.unwrapped, "max_steps", None)
        return int(limit) if limit else None
    finally:
        env.close()

