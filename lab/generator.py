"""The contract every generator plugin meets (diffusion, VAE, GAN), parallel to :mod:`lab.agent`.

A generator is a class registered in ``lab.generators`` (``"module:Class"``). ``lab train NAME DATASET``
resolves its config, asks the class to load the data set (:meth:`Generator.load_data`, before any run
folder exists, so bad input costs nothing), builds it and calls :meth:`Generator.learn` with the same
:class:`~lab.agent.TrainContext`, subscribers, checkpoints and resume as agents. The generator publishes
``MetricsLogged`` (loss, images/s), ``ImagesReady`` (sample grids) and ``SafePoint``; it never writes files.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from lab.agent import Budget, TrainContext

__all__ = ["Generator", "DataInfo"]


@runtime_checkable
class DataInfo(Protocol):
    """What the lab needs to know about a generator's data set."""

    name: str
    classes: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        ...


@runtime_checkable
class Generator(Protocol):
    """A generator plugin. See ``generators/diffusion.py``, ``generators/vae.py`` and ``generators/gan.py``."""

    Config: ClassVar[type]
    """Dataclass of the generator's hyperparameters (one docstring per field)."""
    progress_metrics: ClassVar[tuple[str, ...]]
    """Metrics the progress display shows beside the step count (e.g. ``train/loss``, ``train/images_per_s``)."""

    @classmethod
    def tuned(cls, dataset: str) -> dict[str, Any]:
        """Tuned values for ``dataset`` as ``Config`` keys plus run keys such as ``steps``; ``{}`` when none."""
        ...

    @classmethod
    def load_data(cls, dataset: str, cfg: Any) -> DataInfo:
        """Load the data set ``dataset`` (a ``lab.datasets`` name, or ``name:ARG``) as ``cfg`` says; LabError if bad."""
        ...

    def __init__(self, cfg: Any, data: Any, *, seed: int, device: str) -> None: ...

    @property
    def step(self) -> int:
        """Optimizer steps done (the unit of events' ``step``)."""
        ...

    def budget(self, steps: int | None) -> Budget: ...

    def learn(self, ctx: TrainContext, steps: int | None) -> None:
        """Train until the budget is reached or ``ctx.should_stop()``; publish events as it goes."""
        ...

    def state_dict(self, *, full: bool = True) -> dict[str, Any]:
        """Tensors and plain values only; ``full=False``: what sampling needs (the final ``model.pt``)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def sample(self, n: int, *, seed: int, **options: Any) -> np.ndarray:
        """``n`` images, (n, C, H, W) float32 in [0, 1], generated in batches; options are the generator's own
        (``steps``, ``sampler``, ``labels``, ``guidance``, ``interpolate``); an option it does not take is a LabError."""
        ...

    def evaluate(self, n: int | None = None, *, seed: int, tables: bool = True) -> dict[str, Any]:
        """Offline metrics of ``n`` samples (None: the generator's default) with their references, the content
        of ``eval.json``; ``tables`` adds slower extra tables (``lab eval`` asks for them, training does not)."""
        ...
