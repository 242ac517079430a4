"""What the three generators share: the common config fields, the seeded data stream, the training loop,
batched sampling with its checks, and the offline evaluation against the two references.

Every random draw of training (batch order, noise, label dropout) comes from one ``torch.Generator`` whose
state is part of the checkpoint, and previews use a separate fixed-seed one, so a resumed run repeats an
uninterrupted run exactly.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from generators.datasets import DataConfig, ImageDataset, load_dataset
from generators.logwindow import LogWindow
from lab.agent import Budget, TrainContext
from lab.errors import ConfigError, LabError
from lab.events import ImagesReady, SafePoint

__all__ = ["TrainerConfig", "DataStream", "ImageGenerator", "balanced_labels"]


@dataclass
class TrainerConfig:
    """Settings every generator has (the model-specific ones are in each generator's Config)."""

    data: DataConfig = field(default_factory=DataConfig)
    """The data set's options: size, resize, held_out share, rollout player, ..."""
    batch_size: int = 128
    """Images per optimizer step."""
    learning_rate: float = 1e-3
    """Adam learning rate (after a short linear warm-up)."""
    warmup_steps: int = 100
    """Steps of linear learning-rate warm-up from 0."""
    log_every: int = 50
    """Steps between `MetricsLogged` events (loss, images/s)."""
    grid_every: int = 1000
    """Steps between sample grids in the run folder (and W&B); 0: only the final grid."""
    grid_samples: int = 64
    """Images per sample grid (a fixed seed, so grids of one run are comparable)."""
    eval_samples: int = 1000
    """Samples the final evaluation scores (`lab eval --n` overrides it)."""
    amp: Literal["auto", "bfloat16", "float16", "off"] = "auto"
    """Autocast dtype: auto = bfloat16 on CUDA (float16 without bf16 support), float32 on the CPU; or that dtype anywhere.

    Losses are reduced in float32 either way."""

    def __post_init__(self) -> None:
        for name in ("batch_size", "log_every", "grid_samples", "eval_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.{name}: expected a positive number, got {getattr(self, name)}")
        for name in ("warmup_steps", "grid_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"agent.{name}: expected 0 or more, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"agent.learning_rate: expected a positive number, got {self.learning_rate}")


def balanced_labels(n: int, num_classes: int) -> np.ndarray:
    """0, 1, ..., K-1, 0, 1, ...: ``n`` labels, every class equally often (give or take one)."""
    return np.arange(n, dtype=np.int64) % max(1, num_classes)


class DataStream:
    """Batches of the training split in seeded epoch permutations; its state is tensors and ints."""

    def __init__(self, ds: ImageDataset, batch_size: int, rng: torch.Generator, device: str) -> None:
        self.x = torch.from_numpy(ds.train).to(device)  # (N, C, H, W) in [0, 1]
        self.y = torch.from_numpy(ds.train_labels).to(device) if ds.labeled else None
        self.batch_size = min(batch_size, len(self.x))
        self.rng = rng
        self.order = torch.randperm(len(self.x), generator=rng)
        self.pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.pos + self.batch_size > len(self.order):
            self.order = torch.randperm(len(self.x), generator=self.rng)
            self.pos = 0
        idx = self.order[self.pos : self.pos + self.batch_size].to(self.x.device)
        self.pos += self.batch_size
        return self.x[idx], (self.y[idx] if self.y is not None else None)

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order = state["order"].clone()
        self.pos = int(state["pos"])


def _amp_dtype(cfg: TrainerConfig, device: str) -> torch.dtype | None:
    """The autocast dtype: on CUDA ``auto`` is bfloat16 where supported, else float16; on the CPU ``auto`` is
    float32 (no autocast), and ``bfloat16`` / ``float16`` autocast only when asked for."""
    if cfg.amp == "off":
        return None
    if device.startswith("cuda"):
        if cfg.amp == "float16":
            return torch.float16
        if cfg.amp == "bfloat16" or torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    if cfg.amp == "auto":
        return None
    return torch.bfloat16 if cfg.amp == "bfloat16" else torch.float16


class ImageGenerator:
    """Base of the lab's generators: the contract of :class:`lab.generator.Generator` around four hooks.

    Subclasses define ``Config``, build their modules and optimizers in ``__init__`` (after calling this one),
    and implement ``train_step(x, y) -> {metric: float}``, ``_modules()``, ``_optimizers()`` and
    ``_generate(n, labels, gen, **options) -> (n, C, H, W) tensor in [0, 1]``.
    """

    Config: ClassVar[type] = TrainerConfig
    progress_metrics: ClassVar[tuple[str, ...]] = ("train/loss", "train/images_per_s")
    default_threads: ClassVar[int] = 1
    """Torch threads when the run sets none. A second thread speeds these convolutions up by ~50% on an idle
    2-core machine but slows them down 2-6x when other processes share the cores (measured): one is the safe
    default; `--set threads=2` on a machine of your own."""
    default_steps: ClassVar[int] = 2000
    sample_options: ClassVar[frozenset[str]] = frozenset()
    """Options ``sample()`` takes besides ``labels`` (``steps``, ``sampler``, ``guidance``, ``interpolate``)."""
    supports_labels: ClassVar[bool] = False
    """Whether the model can be conditioned on class labels."""

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def tuned(cls, dataset: str) -> dict[str, Any]:
        from generators.mazes import tuned

        return tuned(cls.__name__.lower(), dataset)

    @classmethod
    def load_data(cls, dataset: str, cfg: Any) -> ImageDataset:
        return load_dataset(dataset, cfg.data)

    def __init__(self, cfg: Any, data: ImageDataset, *, seed: int, device: str) -> None:
        self.cfg = cfg
        self.data = data
        self.seed = seed
        self.device = device
        self._step = 0
        self.rng = torch.Generator().manual_seed(seed)
        self.stream = DataStream(data, cfg.batch_size, self.rng, device)
        self.amp_dtype = _amp_dtype(cfg, device)
        self.invert = data.name == "digits" or getattr(data, "invert", False)  # 1 = ink (wall): draw it black

    @property
    def conditional(self) -> bool:
        return False

    @property
    def step(self) -> int:
        return self._step

    def budget(self, steps: int | None) -> Budget:
        return Budget(total=float(steps or self.default_steps), unit="steps")

    # --- hooks ------------------------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        raise NotImplementedError

    def _modules(self) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def _generate(self, n: int, labels: torch.Tensor | None, gen: torch.Generator, **options: Any) -> torch.Tensor:
        raise NotImplementedError

    # --- training -----------------------------------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=self.amp_dtype)

    def lr_scale(self) -> float:
        """Linear warm-up factor for the step about to be taken."""
        w = self.cfg.warmup_steps
        return min(1.0, (self._step + 1) / w) if w else 1.0

    def set_lr(self, opt: torch.optim.Optimizer, lr: float) -> None:
        for group in opt.param_groups:
            group["lr"] = lr * self.lr_scale()

    def preview(self) -> np.ndarray:
        """The fixed-seed sample grid's images (the training random state is untouched)."""
        n = self.cfg.grid_samples
        labels = balanced_labels(n, self.data.num_classes) if self.conditional else None  # rows read 0..K-1
        return self.sample(n, seed=self.seed + 1, labels=labels)

    def _images_event(self) -> ImagesReady:
        nrow = self.data.num_classes if self.conditional else None
        return ImagesReady(step=self._step, key="samples", images=self.preview(), invert=self.invert, nrow=nrow)

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        total = int(self.budget(steps).total)
        cfg = self.cfg
        window = LogWindow("images")
        for m in self._modules().values():
            m.train()
        while self._step < total and not ctx.should_stop():
            x, y = self.stream.next()
            metrics = self.train_step(x, y)
            self._step += 1
            window.add(metrics, len(x))
            if self._step % cfg.log_every == 0 or self._step == total:
                window.publish(ctx.bus, self._step, lr=cfg.learning_rate * self.lr_scale())
            if cfg.grid_every and self._step % cfg.grid_every == 0 and self._step < total:
                ctx.bus.publish(self._images_event())
            ctx.bus.publish(SafePoint(step=self._step, agent=self))
        if self._step >= total:
            self.finish_training()
            ctx.bus.publish(self._images_event())

    def finish_training(self) -> None:
        """Hook run once the budget is reached, before the final grid and checkpoint (VAE: fits its latent prior)."""

    # --- state --------------------------------------------------------------------------------------
    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self._step,
            "modules": {k: {n: t.detach().clone() for n, t in m.state_dict().items()} for k, m in self._modules().items()},
            **self._extra_state(),
        }
        if full:
            state["optimizers"] = {k: o.state_dict() for k, o in self._optimizers().items()}
            state["rng"] = self.rng.get_state()
            state["stream"] = self.stream.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._step = int(state["step"])
        for k, m in self._modules().items():
            m.load_state_dict(state["modules"][k])
        self._load_extra_state(state)
        if "optimizers" in state:
            for k, o in self._optimizers().items():
                o.load_state_dict(state["optimizers"][k])
        if "rng" in state:
            self.rng.set_state(state["rng"])
        if "stream" in state:
            self.stream.load_state_dict(state["stream"])

    # --- sampling -------------------------------------------------------------------------------------
    def check_labels(self, labels: np.ndarray | None) -> None:
        if labels is None:
            return
        k = self.data.num_classes
        if not self.conditional:
            why = "its data set has no labels" if not self.data.labeled else "it was trained unconditionally"
            raise LabError(f"--class: this {type(self).__name__.lower()} model cannot sample a class: {why}")
        bad = [int(c) for c in np.unique(labels) if not 0 <= c < k]
        if bad:
            names = ", ".join(self.data.classes)
            raise LabError(f"--class {bad[0]}: outside the labels; expected 0..{k - 1} ({names})")

    def sample(self, n: int, *, seed: int, labels: np.ndarray | None = None, batch: int = 256,
               **options: Any) -> np.ndarray:
        """``n`` images (n, C, H, W) float32 in [0, 1], drawn ``batch`` at a time with a ``seed``-ed generator."""
        unknown = sorted(k for k, v in options.items() if v is not None and k not in self.sample_options)
        if unknown:
            flag = "--" + unknown[0].replace("_", "-")
            why = " (they are unconditional)" if unknown[0] == "guidance" else ""
            raise LabError(f"{flag}: {type(self).__name__.lower()} models do not take it{why}")
        self.check_labels(labels)
        gen = torch.Generator().manual_seed(seed)
        out = np.empty((n, *self.data.shape), np.float32)
        modules = self._modules()
        was_training = {k: m.training for k, m in modules.items()}
        for m in modules.values():
            m.eval()
        try:
            with torch.no_grad(), self.autocast():
                for i in range(0, n, batch):
                    m = min(batch, n - i)
                    lab = None if labels is None else torch.as_tensor(labels[i : i + m], dtype=torch.long)
                    imgs = self._generate(m, lab, gen, **{k: v for k, v in options.items() if v is not None})
                    out[i : i + m] = imgs.float().clamp(0, 1).cpu().numpy()
        finally:
            for k, m in modules.items():
                m.train(was_training[k])
        return out

    # --- evaluation -------------------------------------------------------------------------------------
    def evaluate(self, n: int | None = None, *, seed: int, tables: bool = True) -> dict[str, Any]:
        """Metrics of ``n`` samples (default ``eval_samples``; balanced labels when conditional) beside the
        held-out and GMM references; ``tables`` adds the model's extra tables (diffusion: sample steps)."""
        from generators.metrics import METRICS, evaluate_samples, load_classifier, reference_reports

        n = n or self.cfg.eval_samples
        t0 = time.perf_counter()
        own = getattr(self.data, "evaluate_samples", None)
        if own is not None:  # a data set with metrics of its own (mazes: level metrics, not image features)
            out = {"n": n, "step": self._step, "seed": seed, "dataset": self.data.name}
            out.update(own(self.sample(n, seed=seed), seed=seed))
            out["seconds"] = time.perf_counter() - t0
            return out
        labels = balanced_labels(n, self.data.num_classes) if self.conditional else None
        samples = self.sample(n, seed=seed, labels=labels)
        report = evaluate_samples(samples, self.data, labels=labels, seed=seed).as_dict()
        refs = {k: v.as_dict() for k, v in reference_reports(self.data, n, seed=seed).items()}
        out: dict[str, Any] = {"n": n, "step": self._step, "seed": seed, "dataset": self.data.name}
        for m in METRICS:
            out[m] = report[m]
            out[f"{m}_real"] = refs["real"][m]
            out[f"{m}_gmm"] = refs["gmm"][m]
        out["classes"] = report["classes"]
        out["classifier_accuracy"] = load_classifier(self.data).accuracy
        out["real"], out["gmm"] = refs["real"], refs["gmm"]
        out.update(self.extra_evaluation(n, seed=seed, tables=tables))
        out["seconds"] = time.perf_counter() - t0
        return out

    def extra_evaluation(self, n: int, *, seed: int, tables: bool) -> dict[str, Any]:
        """Model-specific additions to ``eval.json`` (diffusion: class accuracy at guidance 2, the sample-steps table)."""
        return {}


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, t in zip(modules, was, strict=True):
            m.train(t)
