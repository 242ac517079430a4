"""A DCGAN-style GAN (Radford et al. 2016) with a stable default: spectral norm in the discriminator
(Miyato et al. 2018) and the hinge loss (Lim & Ye 2017), Adam with β1 = 0 and β2 = 0.9.

The generator maps z ~ N(0, I) through a linear layer to a 4×4 map and doubles it with upsample+conv blocks;
the discriminator mirrors it with strided convolutions. Mode collapse shows in the metrics: ``coverage``
(classes present) and ``recall`` drop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from generators.core import ImageGenerator, TrainerConfig
from lab.errors import ConfigError

__all__ = ["GAN", "GANConfig"]


@dataclass
class GANConfig(TrainerConfig):
    """GAN hyperparameters (defaults: 16×16 digits in minutes on 2 CPU cores)."""

    batch_size: int = 64
    """Images per optimizer step (of each network)."""
    learning_rate: float = 2e-4
    """Adam learning rate of both networks."""
    latent: int = 64
    """Dimensions of the generator's noise input."""
    channels: int = 64
    """Channels at the generator's 4×4 start (halved at each doubling); the discriminator mirrors it."""
    loss: Literal["hinge", "bce"] = "hinge"
    """hinge (stable default) or the original non-saturating BCE loss."""
    spectral_norm: bool = True
    """Spectral normalisation of the discriminator's layers."""
    beta1: float = 0.0
    """Adam β1 (0 is the usual choice with spectral norm)."""
    d_steps: int = 1
    """Discriminator updates per generator update."""
    ema_decay: float | None = 0.999
    """Exponential moving average of the generator's weights, used for sampling (Yazıcı et al. 2019: averaging
    smooths out the oscillation of GAN training); null: sample from the live generator."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent < 1 or self.channels < 8 or self.d_steps < 1:
            raise ConfigError("agent.latent, agent.channels (>= 8) and agent.d_steps: expected positive numbers")
        if not 0 <= self.beta1 < 1:
            raise ConfigError(f"agent.beta1: expected a value in [0, 1), got {self.beta1}")


def _levels(side: int) -> int:
    levels, s = 0, side
    while s > 4:
        if s % 2:
            raise ConfigError(f"gan: image sides must be 4 times a power of 2, got {side}")
        s //= 2
        levels += 1
    if s != 4:
        raise ConfigError(f"gan: image sides must be 4 times a power of 2, got {side}")
    return levels


class Generator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], latent: int, ch: int) -> None:
        super().__init__()
        c, h, _w = shape
        self.ch = ch
        self.fc = nn.Linear(latent, ch * 16)
        blocks: list[nn.Module] = [nn.BatchNorm2d(ch), nn.ReLU()]
        width = ch
        for _ in range(_levels(h)):
            out = max(16, width // 2)
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, out, 3, 1, 1),
                       nn.BatchNorm2d(out), nn.ReLU()]
            width = out
        blocks += [nn.Conv2d(width, c, 3, 1, 1)]
        self.body = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(len(z), self.ch, 4, 4))  # (B, C, H, W) logits; sigmoid -> [0, 1]


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], ch: int, sn: bool) -> None:
        super().__init__()
        c, h, _w = shape
        wrap = spectral_norm if sn else (lambda m: m)
        layers: list[nn.Module] = []
        width = max(16, ch // (2 ** _levels(h)))
        layers += [wrap(nn.Conv2d(c, width, 3, 1, 1)), nn.LeakyReLU(0.1)]
        for _ in range(_levels(h)):
            out = min(ch, width * 2)
            layers += [wrap(nn.Conv2d(width, out, 4, 2, 1)), nn.LeakyReLU(0.1)]
            width = out
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.fc = wrap(nn.Linear(width * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x * 2 - 1)).squeeze(1)  # (B,) scores


class GAN(ImageGenerator):
    """DCGAN-style GAN with spectral norm and hinge loss (a stable default); BCE and no spectral norm on request."""

    Config: ClassVar[type] = GANConfig
    progress_metrics: ClassVar[tuple[str, ...]] = ("train/loss_d", "train/loss_g", "train/images_per_s")
    default_steps: ClassVar[int] = 3000

    @classmethod
    def tiny_config(cls) -> GANConfig:
        """The smallest config that exercises every part (tests and smoke runs)."""
        return GANConfig(latent=8, channels=16, batch_size=16, grid_samples=4, eval_samples=20, log_every=2,
                         warmup_steps=2)

    def __init__(self, cfg: GANConfig, data: Any, *, seed: int, device: str) -> None:
        super().__init__(cfg, data, seed=seed, device=device)
        self.g = Generator(data.shape, cfg.latent, cfg.channels).to(device)
        self.d = Discriminator(data.shape, cfg.channels, cfg.spectral_norm).to(device)
        betas = (cfg.beta1, 0.9)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.learning_rate, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.learning_rate, betas=betas)
        self.ema = None
        if cfg.ema_decay is not None:
            from diffusers.training_utils import EMAModel

            self.g_ema = copy.deepcopy(self.g).requires_grad_(False)
            self.ema = EMAModel(self.g.parameters(), decay=cfg.ema_decay, use_ema_warmup=True, power=2 / 3)
        self._ema_synced_at = -1

    def _modules(self) -> dict[str, nn.Module]:
        return {"generator": self.g, "discriminator": self.d}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def _extra_state(self) -> dict[str, Any]:
        if self.ema is None:
            return {}
        ema = self.ema.state_dict()
        ema["shadow_params"] = [p.detach().clone() for p in ema["shadow_params"]]
        return {"ema": ema}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self._ema_synced_at = -1

    def _sampling_net(self) -> nn.Module:
        if self.ema is None:
            return self.g
        if self._ema_synced_at != self._step:
            self.ema.copy_to(self.g_ema.parameters())
            for name, buf in self.g.named_buffers():  # BatchNorm statistics follow the live generator
                self.g_ema.get_buffer(name).copy_(buf)
            self._ema_synced_at = self._step
        return self.g_ema.eval()

    def _noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn((n, self.cfg.latent), generator=gen).to(self.device)

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if self.cfg.loss == "hinge":
            return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def _g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean() if self.cfg.loss == "hinge" else F.softplus(-fake).mean()

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        cfg = self.cfg
        self.set_lr(self.opt_d, cfg.learning_rate)
        self.set_lr(self.opt_g, cfg.learning_rate)
        b = len(x)
        for i in range(cfg.d_steps):
            real = x if i == 0 else self.stream.next()[0]
            with self.autocast():
                with torch.no_grad():
                    fake = torch.sigmoid(self.g(self._noise(b, self.rng)))
                loss_d = self._d_loss(self.d(real).float(), self.d(fake).float())
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        with self.autocast():
            loss_g = self._g_loss(self.d(torch.sigmoid(self.g(self._noise(b, self.rng)))).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.ema is not None:
            self.ema.step(self.g.parameters())
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

    def _generate(self, n: int, labels: torch.Tensor | None, gen: torch.Generator, **options: Any) -> torch.Tensor:
        return torch.sigmoid(self._sampling_net()(self._noise(n, gen)))
