"""The ``generator:RUN_DIR`` level source: levels sampled from a generator trained with ``lab train … mazes``.

The generator is loaded through the lab's generator runs (:func:`lab.sampling.load_generator`), never by
importing ``generators/``. Levels come in batches (``batch`` at a time, the run's sampler and DDIM steps as
configured) into a pool of up to ``pool`` levels; ``draw(rng)`` picks a pool level with the env's ``rng``,
so ``reset(seed=...)`` is deterministic and costs an index, never a sampling call. Construction samples one
batch; a background thread samples the next while the env plays; the consumer adds it to the pool (once
full, in place of the oldest batch) after every ``batch`` draws, and keeps drawing from the current pool if
the thread is behind, so PPO never waits.
What the env does with a bad level (repair, redraw, procedural fallback) is the same as for every source.

Bad input is one line: a folder that is not a generator run, or a run trained on another data set or
another maze size than the env's.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from typing import Any

import numpy as np

from lab.errors import LabError

__all__ = ["GeneratorSource", "dataset_maze_size"]

_DATASET = re.compile(r"^mazes(?:-(?P<size>\d+))?$")


def dataset_maze_size(dataset: str) -> int | None:
    """The maze size of a mazes data set spec (``mazes`` -> 13, ``mazes-9`` -> 9); None for any other data set."""
    m = _DATASET.match(dataset)
    if m is None:
        return None
    return int(m.group("size")) if m.group("size") else 13


class GeneratorSource:
    """Levels from a trained maze generator, sampled ahead in batches (see the module docstring).

    Args:
        size: the env's maze size; the run must have been trained on ``mazes-SIZE``.
        run_dir: a generator run folder (its ``model.pt``, or its latest checkpoint).
        batch: levels per sampling call.
        pool: levels ``draw`` chooses among (a multiple of ``batch``).
        seed: seed of the first batch (batch ``i`` uses ``seed + i``).
        background: sample ahead in a thread; False: sample the next batch in ``draw`` when it is due.
        device: where the generator runs (``auto``: CUDA when available).
    """

    def __init__(self, size: int, run_dir: str, *, batch: int = 128, pool: int = 1024, seed: int = 0,
                 background: bool = True, device: str = "auto") -> None:
        from lab.sampling import load_generator, require_generator_run

        self.size, self.run_dir = size, run_dir
        self.name = f"generator:{run_dir}"
        self._args = dict(batch=batch, pool=pool, seed=seed, background=background, device=device)
        if batch < 1 or pool < batch:
            raise LabError(f"generator source: expected 1 <= batch <= pool, got batch {batch}, pool {pool}")
        where = f"level source generator:{run_dir}"
        try:
            cfg = require_generator_run(run_dir, where)
        except LabError as e:
            text = str(e)
            raise LabError(text if text.startswith(where) else f"{where}: {text}") from None
        trained = dataset_maze_size(str(cfg.env))
        if trained is None:
            raise LabError(f"{where}: a {cfg.algo} run trained on data set {cfg.env!r}, not on mazes "
                           f"(train one with: lab train {cfg.algo} mazes-{size})")
        if trained != size:
            raise LabError(f"{where}: trained on mazes-{trained}, but this env is maze-{size} "
                           f"(use maze-{trained}:generator:{run_dir}, or a run trained on mazes-{size})")
        self.generator = load_generator(run_dir, device=device, command=where)
        self.batch, self.pool_size, self.seed = batch, pool - pool % batch, seed
        self._next_seed = seed
        self.levels_sampled = 0
        self.sampling_seconds = 0.0
        self.swaps = 0
        self.stale_swaps = 0
        """Times a batch was due but the thread had not finished it (the pool was reused meanwhile)."""
        self._pool = self._sample()  # (n, H, W) int8, unrepaired: one batch now, growing to `pool` as batches arrive
        self._oldest = 0
        self._draws_since_swap = 0
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._work, name="maze-generator-source", daemon=True)
            self._thread.start()

    # --- sampling ---------------------------------------------------------------------------------
    def _sample(self) -> np.ndarray:
        t0 = time.perf_counter()
        raw = self.generator.sample(self.batch, seed=self._next_seed)
        self._next_seed += 1
        levels = self.generator.data.to_levels(raw)  # (batch, H, W) int8: thresholded at 0.5, not repaired
        self.sampling_seconds += time.perf_counter() - t0
        self.levels_sampled += len(levels)
        return levels

    def _work(self) -> None:
        while not self._stop.is_set():
            levels = self._sample()
            while not self._stop.is_set():
                try:
                    self._queue.put(levels, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _maybe_swap(self) -> None:
        if self._draws_since_swap < self.batch:
            return
        growing = len(self._pool) < self.pool_size
        if self._thread is None:
            fresh = self._sample()
        else:
            try:
                fresh = self._queue.get_nowait()
            except queue.Empty:
                self.stale_swaps += 1
                self._draws_since_swap = 0  # try again after another batch of draws: never wait
                return
        if growing:
            self._pool = np.concatenate([self._pool, fresh])
        else:
            i = self._oldest * self.batch
            self._pool[i : i + self.batch] = fresh
            self._oldest = (self._oldest + 1) % (self.pool_size // self.batch)
        self._draws_since_swap = 0
        self.swaps += 1

    # --- the LevelSource protocol -----------------------------------------------------------------
    def draw(self, rng: np.random.Generator) -> np.ndarray:
        self._maybe_swap()
        self._draws_since_swap += 1
        return self._pool[int(rng.integers(len(self._pool)))].copy()

    def levels_per_second(self) -> float:
        """Levels the sampler produced per second of sampling so far (the sustained rate, batched)."""
        return self.levels_sampled / self.sampling_seconds if self.sampling_seconds > 0 else float("nan")

    def close(self) -> None:
        """Stop the background thread (it is a daemon thread, so exiting without this is fine too)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def __reduce__(self) -> tuple[Any, ...]:  # subprocess vector envs: each worker loads the run itself
        return (_rebuild, (self.size, self.run_dir, self._args))


def _rebuild(size: int, run_dir: str, args: dict[str, Any]) -> GeneratorSource:
    return GeneratorSource(size, run_dir, **args)
