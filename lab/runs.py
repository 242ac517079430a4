"""Run folders: layout, atomic checkpoints that survive ``kill -9``, and safe loading.

A run folder holds::

    config.yaml        the fully resolved config (``lab train --config RUN/config.yaml`` reruns it)
    events.jsonl       one JSON event per line, flushed per event: the durable record of the run
    checkpoints/       step_000002000.pt ... (the last K kept), each complete or absent
    model.pt           the final model
    eval.json          the last evaluation (mean_return, std_return, episodes, returns)
    curve.png          the learning curve
    wandb_id           the W&B run id, so a resumed run continues the same W&B run
    episode.mp4        one evaluation episode (``lab eval --video``; a GIF without ffmpeg)

Checkpoints are ``torch.save`` files of tensors and plain Python values only, loaded back with
``torch.load(..., weights_only=True)``: no pickled objects, nothing executed on load. A checkpoint and
the final ``model.pt`` hold the same keys (``format``, ``step``, ``algo``, ``env``, ``agent``);
:func:`load_agent_checkpoint` is the one place that checks them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab import atomic, locks
from lab.errors import RunDirError
from lab.registry import AGENTS

__all__ = [
    "RunDir",
    "Checkpoint",
    "AgentCheckpoint",
    "CHECKPOINT_FORMAT",
    "agent_checkpoint_state",
    "check_agent_checkpoint",
    "load_agent_checkpoint",
    "default_run_dir",
    "save_state",
    "load_state",
]

_CKPT = re.compile(r"^step_(\d+)\.pt$")

CHECKPOINT_FORMAT = "lab-checkpoint/1"
"""The ``format`` value of every checkpoint and final model the lab writes."""


def default_run_dir(algo: str, env: str, root: str | os.PathLike = "runs") -> Path:
    """``runs/<algo>-<env>-<YYYYmmdd-HHMMSS>`` (``module:Class`` env ids keep only the class name)."""
    env_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", env.split(":")[-1].split("/")[-1])
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{algo}-{env_name}-{stamp}"


def save_state(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Atomically ``torch.save`` a dict of tensors and plain values."""
    import torch

    with atomic.atomic_write(path, "wb") as f:
        torch.save(state, f)


def load_state(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; a truncated or foreign file is a RunDirError."""
    import pickle
    import zipfile

    import torch

    import warnings

    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(2)
        if not head.startswith((b"\x80", b"PK")):  # neither torch's zip format (whole or cut) nor a pickle stream
            raise RunDirError(f"{path}: not a checkpoint: neither a torch file nor a pickle (unknown or random bytes)")
    try:
        with warnings.catch_warnings():  # torch warns about legacy files on its way to the error we report
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise RunDirError(f"{path}: file not found") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        text = str(e).lower()
        if "weights only" in text or "weights_only" in text or "unsupported global" in text:
            raise RunDirError(
                f"{path}: not loaded: it holds pickled Python objects, which the lab does not unpickle "
                "(only files of tensors and plain values, as the lab writes them)"
            ) from None
        raise RunDirError(f"{path}: corrupt or truncated checkpoint ({reason[:160]})") from None
    if not isinstance(state, dict):
        raise RunDirError(f"{path}: not a lab checkpoint (expected a dict, found {type(state).__name__})")
    return state


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path


def agent_checkpoint_state(step: int, agent_state: dict[str, Any], **meta: Any) -> dict[str, Any]:
    """What a checkpoint or ``model.pt`` holds: the format, the step, ``meta`` (algo, env) and the agent's state."""
    return {"format": CHECKPOINT_FORMAT, "step": int(step), **meta, "agent": agent_state}


@dataclass(frozen=True)
class AgentCheckpoint:
    """A loaded and validated agent checkpoint (or final model)."""

    path: Path
    algo: str
    """The registered name of the agent that wrote it."""
    step: int
    agent: dict[str, Any]
    """The agent's ``state_dict``, for ``load_state_dict``."""
    env: str | None = None


def check_agent_checkpoint(
    state: dict[str, Any], path: str | os.PathLike, *, algo: str | type | None = None, expected_by: str | None = None
) -> AgentCheckpoint:
    """Validate a loaded checkpoint: the lab's format, an agent state, a step and (given ``algo``) its agent.

    Args:
        state: what :func:`load_state` returned.
        path: the file it came from (for messages).
        algo: the registered agent name it must hold, or an agent class: then the checkpoint's agent
            name must be registered for that class (or a subclass), whatever name it was registered under.
        expected_by: what asked for ``algo`` (e.g. the run's ``config.yaml``), named in the message.

    Raises:
        RunDirError: not a lab checkpoint, or one of another agent.
    """
    path = Path(path)
    missing = [k for k in ("agent", "step", "algo") if k not in state]
    if state.get("format") != CHECKPOINT_FORMAT or missing or not isinstance(state["agent"], dict):
        found = f"format {state.get('format')!r}" + (f", no {', '.join(missing)}" if missing else "")
        raise RunDirError(f"{path}: not a lab checkpoint ({found}; expected format {CHECKPOINT_FORMAT!r})")
    found_algo = str(state["algo"])
    if isinstance(algo, str) and found_algo != algo:
        by = f" but {expected_by} says {algo!r}" if expected_by else f", not a {algo!r} one"
        raise RunDirError(f"{path} holds a {found_algo!r} agent{by}")
    if isinstance(algo, type):
        cls = AGENTS.load(found_algo) if found_algo in AGENTS else None
        if not (isinstance(cls, type) and issubclass(cls, algo)):
            raise RunDirError(f"{path} holds a {found_algo!r} checkpoint, not an {algo.__name__} one")
    env = state.get("env")
    return AgentCheckpoint(path, found_algo, int(state["step"]), state["agent"], None if env is None else str(env))


def load_agent_checkpoint(
    path: str | os.PathLike, *, algo: str | type | None = None, expected_by: str | None = None
) -> AgentCheckpoint:
    """:func:`load_state` and :func:`check_agent_checkpoint` in one call."""
    return check_agent_checkpoint(load_state(path), path, algo=algo, expected_by=expected_by)


class RunDir:
    """One run's folder; creating it never overwrites an existing run."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.made: list[Path] = []
        """The folders :meth:`claim` created (the run folder and parents that did not exist), deepest first."""

    def remove_made(self) -> None:
        """Remove the folders :meth:`claim` created (a run that never started leaves nothing behind)."""
        import shutil

        if self.made and self.made[0] == self.path:
            shutil.rmtree(self.path, ignore_errors=True)
        for p in self.made[1:]:
            try:
                p.rmdir()
            except OSError:
                break

    # layout
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def model_path(self) -> Path:
        return self.path / "model.pt"

    @property
    def eval_path(self) -> Path:
        return self.path / "eval.json"

    @property
    def curve_path(self) -> Path:
        return self.path / "curve.png"

    @property
    def wandb_id_path(self) -> Path:
        return self.path / "wandb_id"

    @property
    def video_stem(self) -> Path:
        """``episode``: the video's suffix (``.mp4`` or ``.gif``) is chosen when it is written."""
        return self.path / "episode"

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # lifecycle
    def _refuse_used(self) -> None:
        path = self.path
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path} is a file, not a folder; choose another --run-dir")
        if path.is_dir() and any(p.name != locks.LOCK_NAME for p in path.iterdir()):
            locks.refuse_if_held(path, "run folder")  # a run being made right now: name who makes it
            what = "a run" if self.config_path.exists() else "files"
            hint = f"; continue it with: lab train --resume {path}" if what == "a run" else ""
            raise RunDirError(f"{path} already exists and holds {what}; choose another --run-dir{hint}")

    def _make(self) -> None:
        try:
            self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"--run-dir {self.path}: cannot create the run folder ({e.strerror})") from None

    @classmethod
    def create(cls, path: str | os.PathLike) -> RunDir:
        """Make a new run folder; refuse one that already holds anything (see :meth:`claim` for the locked form)."""
        run = cls(path)
        run._refuse_used()
        run._make()
        return run

    @classmethod
    @contextlib.contextmanager
    def claim(cls, path: str | os.PathLike) -> Iterator[RunDir]:
        """Make a new run folder and hold its lock while the block runs; refuse one in use or holding anything.

        The emptiness check is repeated under the lock, so two commands creating the same folder at once
        cannot both get it.
        """
        run = cls(path)
        run._refuse_used()  # before touching anything: a folder of someone's files gets no lock file
        run.made = [p for p in (run.path, *run.path.parents) if not p.exists()]
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"--run-dir {run.path}: cannot create the run folder ({e.strerror})") from None
        with run.hold():
            run._refuse_used()
            run._make()
            yield run

    def hold(self) -> contextlib.AbstractContextManager[None]:
        """This process is the folder's one writer while the block runs (:mod:`lab.locks`)."""
        return locks.hold(self.path, "run folder")

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """An existing run folder (one with ``config.yaml``)."""
        run = cls(path)
        if not run.path.exists():
            raise RunDirError(f"{run.path} is not a run folder: it does not exist")
        if not run.path.is_dir():
            raise RunDirError(f"{run.path} is not a run folder: it is a file")
        if run.config_path.is_dir():
            raise RunDirError(f"{run.path} is not a run folder: its {run.config_path.name} is a folder, not a file")
        if not run.config_path.is_file():
            raise RunDirError(f"{run.path} is not a run folder: it has no {run.config_path.name}")
        return run

    # checkpoints
    def checkpoints(self) -> list[Checkpoint]:
        """Complete checkpoints, oldest first (temporary files of interrupted writes are ignored)."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = []
        for p in self.checkpoints_dir.iterdir():
            m = _CKPT.match(p.name)
            if m and p.is_file():
                found.append(Checkpoint(int(m.group(1)), p))
        return sorted(found, key=lambda c: c.step)

    def latest_checkpoint(self) -> Checkpoint | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def save_checkpoint(self, step: int, state: dict[str, Any], keep: int = 3) -> Path:
        """Write ``checkpoints/step_<step>.pt`` atomically, then drop all but the last ``keep``."""
        path = self.checkpoints_dir / f"step_{step:09d}.pt"
        save_state(state, path)
        if keep > 0:
            for old in self.checkpoints()[:-keep]:
                old.path.unlink(missing_ok=True)
        self.clean_temporaries()
        return path

    def clean_temporaries(self) -> None:
        """Remove temporary files left by a write that a crash interrupted."""
        for folder in (self.path, self.checkpoints_dir):
            if folder.is_dir():
                for p in folder.glob(".*.tmp"):
                    p.unlink(missing_ok=True)

    def load_checkpoint(self, checkpoint: Checkpoint | None = None) -> tuple[Checkpoint, dict[str, Any]]:
        """Load ``checkpoint`` (default: the latest) with ``weights_only=True``."""
        ckpt = checkpoint or self.latest_checkpoint()
        if ckpt is None:
            raise RunDirError(f"{self.path} has no checkpoint to resume from (checkpoints/ is empty)")
        try:
            return ckpt, load_state(ckpt.path)
        except RunDirError as e:
            intact = self._intact_before(ckpt.step)
            if intact is not None:
                later = [c.path.name for c in self.checkpoints() if c.step > intact.step]
                raise RunDirError(
                    f"{e}; the checkpoint at step {intact.step} is intact (it loads): "
                    f"move {', '.join(later)} away to resume from it"
                ) from None
            raise RunDirError(f"{e}; no older checkpoint loads either") from None

    def _intact_before(self, step: int) -> Checkpoint | None:
        """The latest checkpoint before ``step`` that actually loads (each one is read, newest first)."""
        for c in reversed([c for c in self.checkpoints() if c.step < step]):
            try:
                load_state(c.path)
            except RunDirError:
                continue
            return c
        return None

    def load_agent(self, *, algo: str | type | None = None, expected_by: str | None = None) -> AgentCheckpoint:
        """The final ``model.pt``, or the latest checkpoint of a run that has none yet, validated.

        Args and errors as :func:`check_agent_checkpoint`; a folder with neither is a RunDirError.
        """
        if self.model_path.exists():
            return load_agent_checkpoint(self.model_path, algo=algo, expected_by=expected_by)
        if self.latest_checkpoint() is None:
            raise RunDirError(
                f"{self.path} has no model to evaluate: no {self.model_path.name} and no checkpoints/step_*.pt "
                "(the run has not saved one yet)"
            )
        ckpt, state = self.load_checkpoint()
        return check_agent_checkpoint(state, ckpt.path, algo=algo, expected_by=expected_by)
