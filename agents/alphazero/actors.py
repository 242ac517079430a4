"""Self-play actors: each iteration's games split over N long-lived workers on the lab's scheduler.

The learner (:class:`SelfPlayActors`, in the training process) publishes the network's weights, submits
one job per actor and iteration, and gathers the games each actor streams back as they end. Every actor
plays ``games_per_iteration`` games with all of them in flight (batched search, as in one process), so an
iteration with N actors plays N times as many games. Splitting one iteration's games instead would halve
each actor's batch, and the search's cost is mostly per round, not per game: on Connect Four, 32 games in
flight cost twice the CPU time per position of 64 (measured), which would cancel the second core.

* Workers: persistent local processes (``--backend local``, one per core at most) or Ray actors
  (``--backend ray``: a private local instance, or the cluster at ``--address``); both keep their imports
  warm between iterations.
* Weights: a file written atomically (local; one ``torch.save`` and one ``torch.load`` per iteration,
  and a restarted worker reads the same file) or the Ray object store (one ``ray.put`` per iteration,
  fetched by every actor wherever it runs). ``benchmarks/selfplay_scaling.py`` measures the options.
* Determinism: actor ``k`` of iteration ``i`` seeds its search from ``(seed, i, k)`` and the learner takes
  the games in a fixed order (actor 0's in the order they ended, then actor 1's, ...), so a run depends on
  its seed and worker count only, never on timing.
* Failures: a job whose worker dies is retried by the scheduler on a fresh worker, with the same seeds;
  the games its dead attempt streamed are dropped, so no game is counted twice or half.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.errors import ConfigError, LabError
from lab.events import EventBus
from lab.scheduler import Job, LocalBackend, RayBackend, Scheduler, check_ray_address, emit

__all__ = ["ActorStats", "SelfPlayActors", "check_workers", "local_cores", "play_share"]

BACKENDS = ("local", "ray")
JOB_TARGET = "agents.alphazero.actors:play_share"
"""What each actor job runs (tests wrap it to kill an actor at a known point)."""


def local_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_workers(workers: int, backend: str, address: str | None) -> None:
    """Refuse what cannot run, in seconds and before anything is written (one line each)."""
    if backend not in BACKENDS:
        from lab.errors import unknown_name

        raise unknown_name("--backend", backend, list(BACKENDS))
    if address and backend != "ray":
        raise ConfigError(f"agent.address: {address} needs --backend ray (the {backend} backend runs on this machine)")
    if workers > 1 and not address and workers > local_cores():
        raise ConfigError(
            f"agent.workers: {workers} self-play actors need {workers} cores and this machine has {local_cores()}; "
            f"use --workers {local_cores()} or fewer (or --backend ray --address HOST:PORT for a cluster)"
        )


# --- the actor's side ------------------------------------------------------------------------------


def _load_weights(weights: tuple[str, Any]) -> dict[str, torch.Tensor]:
    kind, where = weights
    if kind == "file":
        return torch.load(where, map_location="cpu", weights_only=True)
    import ray

    return ray.get(where)


def play_share(
    *,
    game: str,
    channels: int,
    blocks: int,
    weights: tuple[str, Any],
    params: dict[str, Any],
    games: int,
    temperature_moves: int,
    seed: list[int],
    cache_size: int,
    precision: str,
    device: str = "cpu",
    threads: int = 1,
) -> dict[str, Any]:
    """One actor's share of an iteration (the scheduler's job target): play ``games`` games, all in flight.

    Streams ``("started", pid)`` and then each game as ``("game", (states, policies, values, first))`` the
    moment it ends. Returns the counts the learner checks the streamed games against.
    """
    from agents.alphazero.network import NetEvaluator
    from agents.alphazero.players import build_net
    from agents.alphazero.search import SearchParams
    from agents.alphazero.selfplay import self_play
    from lab.game import resolve_game

    torch.set_num_threads(threads)
    emit(("started", os.getpid()))
    game_cls = resolve_game(game)
    net = build_net(game_cls, channels, blocks).to(device)
    net.load_state_dict(_load_weights(weights))
    evaluator = NetEvaluator(net, game_cls, device, cache_size, precision=precision)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    records, sims = self_play(
        game_cls, evaluator, SearchParams(**params), games=games, parallel=games,
        temperature_moves=temperature_moves, rng=rng,
        on_end=lambda r: emit(("game", (r.states, r.policies, r.values, r.first_player_score))),
    )
    return {"games": len(records), "sims": sims, "positions": evaluator.positions,
            "seconds": time.perf_counter() - t0, "pid": os.getpid()}


# --- the learner's side --------------------------------------------------------------------------


@dataclass
class ActorStats:
    """What one actor did in one iteration."""

    games: int
    sims: int
    positions: int
    """Positions its network evaluated (cache misses)."""
    seconds: float
    """Seconds it spent playing (inside the job)."""
    attempts: int
    """1, or more when its worker died and the job was run again."""

    @property
    def games_per_hour(self) -> float:
        return 3600.0 * self.games / self.seconds if self.seconds > 0 else 0.0


class _WeightsFile:
    """Weights for local actors: one file per iteration, written atomically (temp file + rename)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lab-selfplay-weights-"))
        self._last: Path | None = None

    def publish(self, state: dict[str, torch.Tensor], version: int) -> tuple[str, Any]:
        path = self.folder / f"weights-{version}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        if self._last is not None and self._last != path:
            self._last.unlink(missing_ok=True)
        self._last = path
        return ("file", str(path))

    def close(self) -> None:
        for p in self.folder.glob("*"):
            p.unlink(missing_ok=True)
        self.folder.rmdir()


class _WeightsObjectStore:
    """Weights for Ray actors: one ``ray.put`` per iteration; every actor fetches it from the object store."""

    def __init__(self) -> None:
        import ray

        self._ray = ray
        self._ref: Any = None

    def publish(self, state: dict[str, torch.Tensor], version: int) -> tuple[str, Any]:
        self._ref = self._ray.put({k: v.detach().cpu() for k, v in state.items()})
        return ("ray", self._ref)

    def close(self) -> None:
        self._ref = None


class SelfPlayActors:
    """``workers`` self-play actors on a scheduler backend, fed the learner's weights each iteration.

    Args:
        game: the game's registered name.
        workers: actors (each on its own core).
        backend: ``local`` (persistent worker processes) or ``ray`` (Ray actors).
        address: a Ray cluster (``HOST:PORT`` or ``auto``); None starts a private local Ray instance.
        bus: receives the scheduler's job events (a dead actor shows as ``JobFailed``).
        threads: torch threads per actor; default: this machine's cores shared out, at least 1 (on a Ray
            cluster at ``address``, whose machines this one cannot see: 1).
        retries: how many times one actor's job is run again after its worker died.
    """

    def __init__(self, *, game: str, workers: int, backend: str = "local", address: str | None = None,
                 bus: EventBus | None = None, device: str = "cpu", threads: int | None = None,
                 retries: int = 3) -> None:
        check_workers(workers, backend, address)
        self.game, self.workers, self.device = game, workers, device
        self.threads = threads or (1 if address else max(1, local_cores() // workers))
        self._pending: dict[tuple[str, int], list[Any]] = {}
        self.pids: dict[str, int] = {}
        """The process each actor's current attempt runs in (job name -> pid), as the actors report it."""
        if backend == "local":
            self.backend: Any = LocalBackend(workers, preload=["agents.alphazero.actors"], persistent=True)
            self.weights: Any = _WeightsFile()
        else:
            if address:
                check_ray_address(address)
            self.backend = RayBackend(workers, address=address, actors=True)
            offered = self.backend.cpus()
            if workers * self.threads > offered:
                self.backend.close()
                raise LabError(
                    f"--workers {workers}: the Ray cluster offers {offered:g} CPUs and each actor asks for "
                    f"{self.threads}; use --workers {max(1, int(offered // self.threads))} or fewer"
                )
            self.weights = _WeightsObjectStore()
        self.scheduler = Scheduler(self.backend, bus=bus, retries=retries, on_output=self._on_output)
        self.publish_seconds = 0.0
        """Seconds the last iteration spent publishing its weights."""

    def _on_output(self, name: str, attempt: int, item: tuple[str, Any]) -> None:
        kind, payload = item
        if kind == "started":
            self.pids[name] = payload
        else:
            self._pending.setdefault((name, attempt), []).append(payload)

    def play(
        self, net: torch.nn.Module, *, iteration: int, seed: int, games: int, channels: int, blocks: int,
        params: Any, temperature_moves: int, cache_size: int, precision: str,
    ) -> tuple[list[Any], list[ActorStats]]:
        """Play one iteration with ``net``'s weights: ``games`` games on each actor, all in flight.

        Returns:
            The games (as :class:`agents.alphazero.selfplay.GameRecord`), actor by actor in the order each
            actor finished them, and each actor's stats.
        """
        from agents.alphazero.selfplay import GameRecord

        t0 = time.perf_counter()
        weights = self.weights.publish(net.state_dict(), iteration)
        self.publish_seconds = time.perf_counter() - t0
        names = []
        for k in range(self.workers):
            name = f"selfplay-{iteration}-{k}"
            names.append(name)
            self.scheduler.submit(Job(name, JOB_TARGET, {
                "game": self.game, "channels": channels, "blocks": blocks, "weights": weights,
                "params": asdict(params), "games": games, "temperature_moves": temperature_moves,
                "seed": [seed, iteration, k], "cache_size": cache_size, "precision": precision,
                "device": self.device, "threads": self.threads,
            }, cpus=float(self.threads)))
        outcomes = {}
        for outcome in self.scheduler.drain():
            if not outcome.ok:
                raise LabError(f"self-play actor job {outcome.name} failed {outcome.attempts} times: {outcome.error}")
            outcomes[outcome.name] = outcome
        records: list[GameRecord] = []
        stats: list[ActorStats] = []
        for name in names:
            outcome = outcomes[name]
            streamed = self._pending.pop((name, outcome.attempts), [])
            if len(streamed) != outcome.result["games"]:
                raise LabError(f"self-play actor job {name} streamed {len(streamed)} games but played "
                               f"{outcome.result['games']}")
            records.extend(GameRecord(s, p, v, f) for s, p, v, f in streamed)
            r = outcome.result
            stats.append(ActorStats(r["games"], r["sims"], r["positions"], r["seconds"], outcome.attempts))
        self._pending.clear()  # what failed attempts streamed: dropped, never counted
        return records, stats

    def close(self) -> None:
        self.scheduler.close()
        self.weights.close()
