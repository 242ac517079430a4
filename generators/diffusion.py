"""Denoising diffusion with diffusers: a ``UNet2DModel`` trained with ``DDPMScheduler``, sampled with DDIM or DDPM.

Ho et al. 2020 ("Denoising diffusion probabilistic models"); ε- or v-prediction (Salimans & Ho 2022); EMA weights
for sampling and evaluation (diffusers' ``EMAModel``, as in its ``train_unconditional.py``). When the data set
has labels the model is class-conditional with classifier-free guidance (Ho & Salimans 2022): labels are
dropped to a "null" class with probability ``label_dropout`` during training, and sampling mixes the two
predictions, ``uncond + w * (cond - uncond)`` (w = 1: plain conditional; w = 0: unconditional).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from generators.core import ImageGenerator, TrainerConfig, balanced_labels
from lab.errors import ConfigError, LabError

__all__ = ["Diffusion", "DiffusionConfig", "STEPS_TABLE"]

STEPS_TABLE = (("ddim", 10), ("ddim", 25), ("ddim", 50), ("ddpm", 1000))
"""The sample-steps table of ``lab eval``: sampler and number of denoising steps."""


@dataclass
class DiffusionConfig(TrainerConfig):
    """Diffusion hyperparameters (defaults: a 16×16 digits model that trains in minutes on 2 CPU cores)."""

    batch_size: int = 64
    """Images per optimizer step (64: more updates per image seen than 128, which is what a short run needs)."""
    channels: list[int] = field(default_factory=lambda: [32, 64])
    """U-Net channels per resolution level (one down and one up block each)."""
    layers_per_block: int = 1
    """ResNet layers per U-Net block."""
    attention: bool = False
    """Self-attention in the lowest-resolution down and up blocks."""
    prediction: Literal["epsilon", "v_prediction"] = "epsilon"
    """What the U-Net predicts: the noise (ε) or the velocity v."""
    train_timesteps: int = 1000
    """Diffusion steps of the forward process."""
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = "squaredcos_cap_v2"
    """Noise schedule (squaredcos_cap_v2: the cosine schedule of Nichol & Dhariwal 2021)."""
    conditional: bool | None = None
    """Condition on class labels; null: when the data set has them."""
    label_dropout: float = 0.1
    """Share of training labels replaced by the null class (what makes classifier-free guidance possible)."""
    guidance: float = 1.0
    """Default classifier-free guidance weight at sampling (1: plain conditional, 0: unconditional)."""
    sampler: Literal["ddim", "ddpm"] = "ddim"
    """Default sampler."""
    sample_steps: int = 25
    """Default denoising steps for DDIM (DDPM always takes `train_timesteps`)."""
    snr_gamma: float | None = 5.0
    """Min-SNR-γ loss weighting (Hang et al. 2023: faster convergence); null: the plain MSE."""
    ema_decay: float = 0.999
    """Largest EMA decay (with diffusers' warm-up, the decay grows towards it)."""
    table_samples: int = 100
    """Samples per row of the sample-steps table in `lab eval` (DDPM 1000 is slow)."""
    compile: bool = False
    """Train through `torch.compile(unet)` (weights and checkpoints unchanged); off: 0.97x eager on a 2-core CPU, after ~19 min of compiling.

    Measured side by side by benchmarks/generator_train_time.py --compile (3 rounds: 1.04, 0.96, 0.97)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.channels or any(c < 8 or c % 8 for c in self.channels):
            raise ConfigError(f"agent.channels: expected multiples of 8 (GroupNorm groups), got {self.channels}")
        for name in ("layers_per_block", "train_timesteps", "sample_steps", "table_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.{name}: expected a positive number, got {getattr(self, name)}")
        if not 0 <= self.label_dropout < 1:
            raise ConfigError(f"agent.label_dropout: expected a share in [0, 1), got {self.label_dropout}")
        if not 0 < self.ema_decay < 1:
            raise ConfigError(f"agent.ema_decay: expected a value in (0, 1), got {self.ema_decay}")


def build_unet(cfg: DiffusionConfig, shape: tuple[int, int, int], num_class_embeds: int | None) -> Any:
    from diffusers import UNet2DModel

    c, h, _w = shape
    levels = len(cfg.channels)
    if h % (2 ** (levels - 1)):
        raise ConfigError(f"agent.channels: {levels} levels need images divisible by {2 ** (levels - 1)}, got {h}x{h}")
    down = ["DownBlock2D"] * levels
    up = ["UpBlock2D"] * levels
    if cfg.attention:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=h,
        in_channels=c,
        out_channels=c,
        layers_per_block=cfg.layers_per_block,
        block_out_channels=tuple(cfg.channels),
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=8,
        attention_head_dim=8,
        num_class_embeds=num_class_embeds,
    )


def make_scheduler(cfg: DiffusionConfig) -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=cfg.train_timesteps,
        beta_schedule=cfg.beta_schedule,
        prediction_type=cfg.prediction,
        clip_sample=True,
    )


def diffusion_loss(unet: Any, scheduler: Any, x0: torch.Tensor, labels: torch.Tensor | None, gen: torch.Generator,
                   prediction: str, snr_gamma: float | None = None) -> torch.Tensor:
    """One DDPM training loss on clean images ``x0`` in [-1, 1] (B, C, H, W): (1) draw noise and timesteps,
    (2) noise the images, (3) regress the U-Net's output onto ε or v, (4) optionally weight each image's
    error by min(SNR(t), γ) / SNR(t) (ε) or / (SNR(t) + 1) (v): Min-SNR-γ, as in diffusers' examples."""
    b = len(x0)
    noise = torch.randn(x0.shape, generator=gen).to(x0.device)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), generator=gen).to(x0.device)
    noisy = scheduler.add_noise(x0, noise, t)
    target = noise if prediction == "epsilon" else scheduler.get_velocity(x0, noise, t)
    out = unet(noisy, t, class_labels=labels).sample
    if snr_gamma is None:
        return F.mse_loss(out.float(), target.float())
    from diffusers.training_utils import compute_snr

    snr = compute_snr(scheduler, t)  # (B,)
    weight = torch.clamp(snr, max=snr_gamma) / (snr if prediction == "epsilon" else snr + 1)
    err = F.mse_loss(out.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    return (err * weight).mean()


class Diffusion(ImageGenerator):
    """Denoising diffusion (diffusers UNet2DModel + DDPMScheduler); class-conditional with classifier-free guidance."""

    Config: ClassVar[type] = DiffusionConfig
    default_steps: ClassVar[int] = 1200
    sample_options: ClassVar[frozenset[str]] = frozenset({"steps", "sampler", "guidance"})
    supports_labels: ClassVar[bool] = True

    @classmethod
    def tiny_config(cls) -> DiffusionConfig:
        """The smallest config that exercises every part (tests and smoke runs)."""
        return DiffusionConfig(channels=[8, 16], batch_size=16, grid_samples=4, eval_samples=20, table_samples=10,
                               train_timesteps=50, sample_steps=3, log_every=2, warmup_steps=2)

    def __init__(self, cfg: DiffusionConfig, data: Any, *, seed: int, device: str) -> None:
        super().__init__(cfg, data, seed=seed, device=device)
        from diffusers.training_utils import EMAModel

        if cfg.conditional and not data.labeled:
            raise LabError(f"agent.conditional=true: data set {data.name!r} has no class labels")
        self._conditional = data.labeled if cfg.conditional is None else bool(cfg.conditional)
        self.null_class = data.num_classes if self._conditional else None
        self.unet = build_unet(cfg, data.shape, data.num_classes + 1 if self._conditional else None).to(device)
        self.ema_unet = copy.deepcopy(self.unet).requires_grad_(False)
        self.ema = EMAModel(self.unet.parameters(), decay=cfg.ema_decay, use_ema_warmup=True, power=2 / 3)
        self.scheduler = make_scheduler(cfg)
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
        self._ema_synced_at = -1
        self._train_unet: Any = None

    def training_unet(self) -> Any:
        """The U-Net the training step calls: the module itself, or its `torch.compile` wrapper (made once)."""
        if not self.cfg.compile:
            return self.unet
        if self._train_unet is None:
            self._train_unet = torch.compile(self.unet)
        return self._train_unet

    @property
    def conditional(self) -> bool:
        return self._conditional

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.unet}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"unet": self.opt}

    def _extra_state(self) -> dict[str, Any]:
        ema = self.ema.state_dict()
        ema["shadow_params"] = [p.detach().clone() for p in ema["shadow_params"]]
        return {"ema": ema}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.ema.load_state_dict(state["ema"])
        self._ema_synced_at = -1

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        labels = None
        if self._conditional:
            assert y is not None
            drop = torch.rand(len(y), generator=self.rng).to(y.device) < self.cfg.label_dropout
            labels = torch.where(drop, torch.full_like(y, self.null_class), y)
        self.set_lr(self.opt, self.cfg.learning_rate)
        with self.autocast():
            loss = diffusion_loss(self.training_unet(), self.scheduler, x * 2 - 1, labels, self.rng, self.cfg.prediction,
                                  self.cfg.snr_gamma)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.unet.parameters(), 1.0)
        self.opt.step()
        self.ema.step(self.unet.parameters())
        return {"loss": loss.item()}

    # --- sampling ------------------------------------------------------------------------------------
    def _sampling_net(self) -> Any:
        if self._ema_synced_at != self._step:
            self.ema.copy_to(self.ema_unet.parameters())
            self._ema_synced_at = self._step
        return self.ema_unet.eval()

    def _generate(self, n: int, labels: torch.Tensor | None, gen: torch.Generator, **options: Any) -> torch.Tensor:
        from diffusers import DDIMScheduler, DDPMScheduler

        sampler = options.get("sampler", self.cfg.sampler)
        guidance = options.get("guidance")
        if guidance is not None and not self._conditional:
            raise LabError("--guidance: this diffusion model is unconditional (trained without class labels)")
        guidance = self.cfg.guidance if guidance is None else float(guidance)
        if sampler == "ddim":
            sched = DDIMScheduler.from_config(self.scheduler.config)
            sched.set_timesteps(int(options.get("steps", self.cfg.sample_steps)))
        elif sampler == "ddpm":
            sched = DDPMScheduler.from_config(self.scheduler.config)
            steps = int(options.get("steps", self.cfg.train_timesteps))
            sched.set_timesteps(min(steps, self.cfg.train_timesteps))
        else:
            raise LabError(f"--sampler {sampler}: expected ddim or ddpm")
        net = self._sampling_net()
        dev = self.device
        x = torch.randn((n, *self.data.shape), generator=gen).to(dev)
        cond = None
        if self._conditional:
            if labels is None:  # no class asked for: balanced classes, so samples follow the data's mix
                labels = torch.from_numpy(balanced_labels(n, self.data.num_classes))
                labels = labels[torch.randperm(n, generator=gen)]
            cond = labels.to(dev)
        null = None if cond is None else torch.full_like(cond, self.null_class)
        for t in sched.timesteps:
            if cond is None:
                out = net(x, t, class_labels=None).sample
            elif guidance == 1.0:
                out = net(x, t, class_labels=cond).sample
            else:  # classifier-free guidance: one batched call for both predictions
                both = net(torch.cat([x, x]), t, class_labels=torch.cat([cond, null])).sample
                c, u = both.chunk(2)
                out = u + guidance * (c - u)
            x = sched.step(out.float(), t, x, generator=gen).prev_sample if sampler == "ddpm" else \
                sched.step(out.float(), t, x, eta=0.0).prev_sample
        return (x + 1) / 2

    # --- evaluation -------------------------------------------------------------------------------------
    def extra_evaluation(self, n: int, *, seed: int, tables: bool) -> dict[str, Any]:
        """For conditional models, class accuracy at guidance 2; with ``tables``, the sample-steps table (fd and
        seconds per 64 samples for DDIM 10/25/50 and DDPM 1000, ``table_samples`` samples per row)."""
        from generators.metrics import evaluate_samples

        out: dict[str, Any] = {}
        if self._conditional:
            labels = balanced_labels(n, self.data.num_classes)
            rep = evaluate_samples(self.sample(n, seed=seed, labels=labels, guidance=2.0), self.data,
                                   labels=labels, seed=seed)
            out["guidance_2"] = rep.as_dict()
            out["class_accuracy_guidance_2"] = rep.class_accuracy
        if not tables:
            return out
        m = min(n, self.cfg.table_samples)
        labels = balanced_labels(m, self.data.num_classes) if self._conditional else None
        rows = []
        for sampler, steps in STEPS_TABLE:
            t0 = time.perf_counter()
            samples = self.sample(m, seed=seed, labels=labels, sampler=sampler, steps=steps)
            seconds = time.perf_counter() - t0
            rep = evaluate_samples(samples, self.data, labels=labels, seed=seed)
            rows.append({"sampler": sampler, "steps": steps, "n": m, "fd": rep.fd, "kid": rep.kid,
                         "coverage": rep.coverage, "class_accuracy": rep.class_accuracy,
                         "seconds_per_64": seconds * 64 / m})
        out["steps_table"] = rows
        return out

