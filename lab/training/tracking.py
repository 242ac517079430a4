"""Weights & Biases logging as an event subscriber; offline unless an API key is configured.

* Mode: ``WANDB_MODE`` if set; else online when an API key is configured (``WANDB_API_KEY`` or a
  netrc entry for the W&B host), offline otherwise. Offline runs land in ``RUN/wandb/`` and can be
  uploaded later with ``wandb sync``.
* The W&B run id is stored in the run folder, so a resumed run continues the same W&B run.
* Any W&B failure (no network, bad key, full disk) is reported once on stderr and never stops
  training: the logger just switches itself off.
"""

from __future__ import annotations

import netrc
import os
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from lab import atomic
from lab.errors import warn
from lab.events import (
    LevelDrawn,
    EpisodeEnded,
    EvalCompleted,
    EventBus,
    ImageSaved,
    MetricsLogged,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunStarted,
)
from lab.runs import RunDir
from lab.training.levels import LevelCounts

__all__ = ["WandbConfig", "WandbLogger", "api_key_configured", "resolve_mode"]


@dataclass
class WandbConfig:
    """Where W&B runs go."""

    project: str = "lab"
    """W&B project."""
    entity: str | None = None
    """W&B entity (user or team); null: your default entity."""
    group: str | None = None
    """Group runs together (sweeps set this to the sweep's name)."""
    tags: list[str] = field(default_factory=list)
    """Tags shown in the W&B UI."""
    mode: Literal["auto", "online", "offline"] = "auto"
    """auto: online when an API key is configured, offline otherwise (WANDB_MODE overrides)."""


def _new_run_id() -> str:
    """A W&B run id: 8 characters from [a-z0-9], as W&B makes them."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def api_key_configured() -> bool:
    """Whether a W&B API key is configured (environment or netrc), without touching the network."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        auth = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    return bool(auth and auth[2])


def resolve_mode(cfg: WandbConfig) -> str:
    """``online`` or ``offline`` (or ``disabled`` when WANDB_MODE says so)."""
    env = os.environ.get("WANDB_MODE")
    if env:
        return "offline" if env == "dryrun" else env
    if cfg.mode != "auto":
        return cfg.mode
    return "online" if api_key_configured() else "offline"


class WandbLogger:
    """Subscriber sending the run's config, metrics, episodes and evaluations to W&B."""

    def __init__(self, cfg: WandbConfig, run_dir: str | os.PathLike, name: str | None = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.name = name
        self.run: Any = None
        self._failed = False
        self._levels = LevelCounts()

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(RunStarted, self.on_start)
        bus.subscribe(MetricsLogged, self.on_metrics)
        bus.subscribe(EpisodeEnded, self.on_episode)
        bus.subscribe(LevelDrawn, self.on_level)
        bus.subscribe(EvalCompleted, self.on_eval)
        bus.subscribe(ImageSaved, self.on_image)
        bus.subscribe(RunFinished, self.on_end)
        bus.subscribe(RunInterrupted, self.on_end)
        bus.subscribe(RunFailed, self.on_end)

    def _fail(self, what: str, error: BaseException) -> None:
        if not self._failed:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            warn(f"W&B {what} failed ({reason[:200]}); training goes on without W&B")
        self._failed = True
        self.run = None

    def _log(self, data: dict[str, Any], step: int) -> None:
        if self.run is None:
            return
        try:
            self.run.log({**data, "global_step": step})
        except Exception as e:  # noqa: BLE001 - W&B must never stop training
            self._fail("logging", e)

    def on_start(self, e: RunStarted) -> None:
        if self._failed:
            return
        try:
            import wandb

            id_path = RunDir(self.run_dir).wandb_id_path
            run_id = id_path.read_text().strip() if id_path.exists() else None
            if not run_id:
                run_id = _new_run_id()
                atomic.write_text(id_path, run_id + "\n")
            mode = resolve_mode(self.cfg)
            self.run = wandb.init(
                project=self.cfg.project,
                entity=self.cfg.entity,
                group=self.cfg.group,
                tags=list(self.cfg.tags) or None,
                name=self.name or self.run_dir.name,
                config=e.config,
                id=run_id,
                resume="allow",
                dir=str(self.run_dir),
                mode=mode,
                settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
            )
            self.run.define_metric("global_step")
            self.run.define_metric("*", step_metric="global_step")
        except Exception as e2:  # noqa: BLE001 - W&B must never stop training; _fail says what went wrong
            self._fail("initialisation", e2)

    def on_metrics(self, e: MetricsLogged) -> None:
        self._log(dict(e.metrics), e.step)

    def on_episode(self, e: EpisodeEnded) -> None:
        data = {"episode/return": e.episode_return, "episode/length": e.episode_length}
        if self._levels.drawn:  # level-source counts ride along with the episodes (no extra log call per reset)
            data.update(self._levels.metrics())
        self._log(data, e.step)

    def on_level(self, e: LevelDrawn) -> None:
        self._levels.add(e)

    def on_eval(self, e: EvalCompleted) -> None:
        self._log({"eval/mean_return": e.mean_return, "eval/std_return": e.std_return}, e.step)

    def on_image(self, e: ImageSaved) -> None:
        if self.run is None:
            return
        try:
            import wandb

            image = wandb.Image(e.path, caption=f"step {e.step:,}")
        except Exception as e2:  # noqa: BLE001 - W&B must never stop training
            self._fail("image", e2)
            return
        self._log({e.key: image}, e.step)

    def on_end(self, e: Any) -> None:
        if self.run is None:
            return
        try:
            self.run.summary["final_step"] = e.step
            self.run.finish(exit_code=1 if isinstance(e, RunFailed) else 0)
        except Exception as e2:  # noqa: BLE001 - W&B must never stop training; _fail says what went wrong
            self._fail("finish", e2)
        self.run = None

    def close(self) -> None:
        if self.run is not None:
            try:
                self.run.finish()
            except Exception as e:  # noqa: BLE001 - W&B must never stop training; say what went wrong
                self._fail("finish", e)
            self.run = None
