"""A convolutional variational auto-encoder (Kingma & Welling 2014, "Auto-encoding variational Bayes").

Loss per image: binary cross-entropy of the reconstruction (pixels in [0, 1]) + β · KL(q(z|x) ‖ N(0, I)),
with β ramped linearly from 0 over ``beta_warmup`` steps (Bowman et al. 2016) so the decoder learns to use
the latent before the prior pulls on it. Samples are the decoder's mean image of latent draws: by default from
a Gaussian mixture fitted to the training codes after training (``prior: gmm``, see
:mod:`generators.latent_prior`), or from the N(0, I) prior (``prior: normal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from generators.core import ImageGenerator, TrainerConfig
from generators.latent_prior import LatentGMM
from lab.errors import ConfigError, LabError

__all__ = ["VAE", "VAEConfig", "ConvVAE"]


@dataclass
class VAEConfig(TrainerConfig):
    """VAE hyperparameters (defaults: 16×16 digits in a few minutes on 2 CPU cores)."""

    latent: int = 16
    """Latent dimensions."""
    channels: int = 32
    """Channels of the first convolution (doubled at each of the two downsamplings)."""
    beta: float = 0.1
    """Weight of the KL term (1: the evidence lower bound; less: sharper reconstructions, a less regular latent).

    A less regular latent is what the `gmm` prior is for; on digits 0.1 beats 0.5 (the README's VAE table)."""
    beta_warmup: int = 500
    """Steps over which beta ramps from 0 to `beta`; 0: no warm-up."""
    prior: Literal["normal", "gmm"] = "gmm"
    """Latent draws that samples decode: `gmm` (a mixture fitted to the training codes after training) or `normal` (N(0, I)).

    `gmm` is ex-post density estimation (Ghosh et al. 2020): it avoids the regions of N(0, I) the encoder never
    uses. `lab sample --prior normal|gmm` picks either at sampling time."""
    prior_components: int = 10
    """Components of the `gmm` latent prior."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent < 1 or self.channels < 1:
            raise ConfigError(f"agent.latent and agent.channels: expected positive numbers, got {self.latent}, {self.channels}")
        if self.prior_components < 1:
            raise ConfigError(f"agent.prior_components: expected a positive number, got {self.prior_components}")
        if self.beta < 0 or self.beta_warmup < 0:
            raise ConfigError(f"agent.beta and agent.beta_warmup: expected 0 or more, got {self.beta}, {self.beta_warmup}")


class ConvVAE(nn.Module):
    """Encoder: two stride-2 convolutions and a linear layer to (mu, logvar); decoder mirrors it."""

    def __init__(self, shape: tuple[int, int, int], latent: int, ch: int) -> None:
        super().__init__()
        c, h, w = shape
        if h % 4 or w % 4:
            raise ConfigError(f"vae: image sides must be multiples of 4, got {h}x{w}")
        self.side = (h // 4, w // 4)
        flat = 2 * ch * self.side[0] * self.side[1]
        self.enc = nn.Sequential(
            nn.Conv2d(c, ch, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(ch, ch, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(ch, 2 * ch, 4, 2, 1), nn.SiLU(),
            nn.Flatten(),
        )
        self.to_stats = nn.Linear(flat, 2 * latent)
        self.from_z = nn.Linear(latent, flat)
        self.dec = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose2d(2 * ch, ch, 4, 2, 1), nn.SiLU(),
            nn.ConvTranspose2d(ch, ch, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(ch, c, 3, 1, 1),
        )
        self.ch = ch

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.enc(x)).chunk(2, dim=1)  # (B, L) each
        return mu, logvar.clamp(-12, 8)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_z(z).view(len(z), 2 * self.ch, *self.side)
        return self.dec(h)  # (B, C, H, W) logits


class VAE(ImageGenerator):
    """Convolutional VAE with β-weighted KL and warm-up; samples (fitted latent mixture or N(0, I)), reconstructions, interpolation."""

    Config: ClassVar[type] = VAEConfig
    default_steps: ClassVar[int] = 3000
    sample_options: ClassVar[frozenset[str]] = frozenset({"interpolate", "prior"})

    @classmethod
    def tiny_config(cls) -> VAEConfig:
        """The smallest config that exercises every part (tests and smoke runs)."""
        return VAEConfig(latent=4, channels=8, batch_size=16, grid_samples=4, eval_samples=20, log_every=2,
                         warmup_steps=2, beta_warmup=3)

    def __init__(self, cfg: VAEConfig, data: Any, *, seed: int, device: str) -> None:
        super().__init__(cfg, data, seed=seed, device=device)
        self.net = ConvVAE(data.shape, cfg.latent, cfg.channels).to(device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate)
        self._prior: LatentGMM | None = None
        self._prior_step = -1

    def _modules(self) -> dict[str, nn.Module]:
        return {"vae": self.net}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def _extra_state(self) -> dict[str, Any]:
        return {"latent_prior": self._prior.state_dict() if self._prior is not None else {},
                "latent_prior_step": self._prior_step}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        fitted = state.get("latent_prior") or {}
        self._prior = LatentGMM.from_state_dict(fitted) if fitted else None
        self._prior_step = int(state.get("latent_prior_step", -1)) if fitted else -1

    def finish_training(self) -> None:
        if self.cfg.prior == "gmm":
            self.latent_prior()

    @torch.no_grad()
    def latent_prior(self) -> LatentGMM:
        """The mixture fitted to the training split's posterior means at the current step (fitted when missing)."""
        if self._prior is None or self._prior_step != self._step:
            was = self.net.training
            self.net.eval()
            x = torch.from_numpy(self.data.train)
            codes = torch.cat([self.net.encode(x[i : i + 512].to(self.device))[0].float().cpu()
                               for i in range(0, len(x), 512)])  # (N, L)
            self.net.train(was)
            self._prior = LatentGMM.fit(codes, components=self.cfg.prior_components, seed=0)  # a function of the weights
            self._prior_step = self._step
        return self._prior

    def beta_now(self) -> float:
        w = self.cfg.beta_warmup
        return self.cfg.beta * (min(1.0, self._step / w) if w else 1.0)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        self.set_lr(self.opt, self.cfg.learning_rate)
        with self.autocast():
            mu, logvar = self.net.encode(x)
            eps = torch.randn(mu.shape, generator=self.rng).to(mu.device)
            z = mu + eps * torch.exp(0.5 * logvar)  # reparameterization
            logits = self.net.decode_logits(z)
        b = len(x)
        recon = F.binary_cross_entropy_with_logits(logits.float(), x, reduction="sum") / b
        kl = -0.5 * torch.sum(1 + logvar.float() - mu.float() ** 2 - logvar.float().exp()) / b
        loss = recon + self.beta_now() * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    def _generate(self, n: int, labels: torch.Tensor | None, gen: torch.Generator, **options: Any) -> torch.Tensor:
        prior = options.get("prior", self.cfg.prior)
        if prior == "gmm":
            z = self.latent_prior().sample(n, gen).to(self.device)
        elif prior == "normal":
            z = torch.randn((n, self.cfg.latent), generator=gen).to(self.device)
        else:
            raise LabError(f"--prior {prior}: expected gmm or normal")
        return torch.sigmoid(self.net.decode_logits(z))

    def sample(self, n: int, *, seed: int, labels: np.ndarray | None = None, batch: int = 256, **options: Any) -> np.ndarray:
        pair = options.pop("interpolate", None)
        if pair is None:
            return super().sample(n, seed=seed, labels=labels, batch=batch, **options)
        return self.interpolate(pair, n)

    def extra_evaluation(self, n: int, *, seed: int, tables: bool) -> dict[str, Any]:
        """With the `gmm` prior, the same metrics for samples of the N(0, I) prior (``prior_normal``), for comparison."""
        from generators.metrics import evaluate_samples

        if self.cfg.prior != "gmm":
            return {}
        rep = evaluate_samples(self.sample(n, seed=seed, prior="normal"), self.data, seed=seed)
        return {"prior_normal": rep.as_dict()}

    @torch.no_grad()
    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """The decoder's mean image of each image's posterior mean."""
        self.net.eval()
        mu, _ = self.net.encode(torch.from_numpy(images).to(self.device))
        return torch.sigmoid(self.net.decode_logits(mu)).cpu().numpy()

    @torch.no_grad()
    def interpolate(self, pair: str | tuple[int, int], n: int) -> np.ndarray:
        """``n`` images along the straight latent line between held-out images A and B (``"A,B"``: their indices)."""
        if isinstance(pair, str):
            try:
                a, b = (int(v) for v in pair.split(","))
            except ValueError:
                raise LabError(f"--interpolate {pair}: expected two held-out image indices, A,B (e.g. 0,5)") from None
        else:
            a, b = pair
        m = len(self.data.held_out)
        if not (0 <= a < m and 0 <= b < m):
            raise LabError(f"--interpolate {a},{b}: the held-out split has images 0..{m - 1}")
        if n < 2:
            raise LabError(f"--interpolate: needs --n of at least 2 (the two ends), got {n}")
        self.net.eval()
        mu, _ = self.net.encode(torch.from_numpy(self.data.held_out[[a, b]]).to(self.device))
        w = torch.linspace(0, 1, n, device=mu.device)[:, None]
        z = (1 - w) * mu[0] + w * mu[1]
        return torch.sigmoid(self.net.decode_logits(z)).float().cpu().numpy()
