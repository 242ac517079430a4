"""Self-play: many games in flight in one process, their searches batched together (AlphaZero's data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.alphazero.search import Evaluator, Forest, SearchParams

__all__ = ["GameRecord", "self_play", "pick_actions"]


@dataclass
class GameRecord:
    """One finished self-play game, as training targets."""

    states: np.ndarray
    """``(T, state_size)`` int64 positions, each seen from its side to move."""
    policies: np.ndarray
    """``(T, A)`` float32 root visit distributions."""
    values: np.ndarray
    """``(T,)`` float32 final result for the side to move at each position: 1, 0 or -1."""
    first_player_score: float
    """1 first player won, 0.5 draw, 0 second player won."""


def pick_actions(visits: np.ndarray, temperature: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row: sample in proportion to visits where ``temperature`` is True, else the most visited."""
    probs = visits / visits.sum(1, keepdims=True)
    sampled = (np.cumsum(probs, 1) < rng.random(len(visits))[:, None]).sum(1)
    sampled = np.minimum(sampled, visits.shape[1] - 1)
    # Guard against rounding landing on an unvisited (possibly illegal) action.
    bad = visits[np.arange(len(visits)), sampled] == 0
    sampled[bad] = visits[bad].argmax(1)
    return np.where(temperature, sampled, visits.argmax(1))


def self_play(
    game_cls: Any,
    evaluate: Evaluator,
    params: SearchParams,
    *,
    games: int,
    parallel: int,
    temperature_moves: int,
    rng: np.random.Generator,
    on_end: Callable[[GameRecord], Any] | None = None,
) -> tuple[list[GameRecord], int]:
    """Play ``games`` games with up to ``parallel`` in flight; every move's search covers all of them.

    Dirichlet noise goes into every root; the first ``temperature_moves`` moves of a game are sampled
    in proportion to visit counts, later ones take the most visited move. After each move the chosen
    subtree is kept for the next search. ``on_end(record)`` runs as each game ends (self-play actors
    stream it to the learner there).

    Returns:
        The finished games (in order of finishing) and the number of simulations run.
    """
    parallel = max(1, min(parallel, games))
    room = -(-params.simulations // params.leaves_per_round) * params.leaves_per_round + 1
    forest = Forest(game_cls, parallel, capacity=2 * room + 1)
    slots = np.arange(parallel)
    states = game_cls.batch_initial(parallel)
    forest.reset(slots, states)
    trajectories: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(parallel)]
    active = np.ones(parallel, dtype=bool)
    move_no = np.zeros(parallel, dtype=np.int64)
    """Moves played so far in each slot's game."""
    started, sims = parallel, 0
    done: list[GameRecord] = []
    while active.any():
        t = slots[active]
        forest.search(t, evaluate, params, rng)
        sims += params.simulations * t.size
        visits = forest.visits(t)
        actions = pick_actions(visits, move_no[t] < temperature_moves, rng)
        policies = visits / visits.sum(1, keepdims=True)
        for k, i in enumerate(t):
            trajectories[i].append((states[i].copy(), policies[k].astype(np.float32)))
        move_no[t] += 1
        next_states, terminal, reward = game_cls.batch_step(states[t], actions)
        states[t] = next_states
        going = ~terminal
        forest.advance(t[going], actions[going], room)
        for k in np.flatnonzero(terminal):
            i = t[k]
            traj = trajectories[i]
            n = len(traj)
            # The last mover won (reward 1) or drew (0); signs alternate back through the game.
            signs = np.where((n - 1 - np.arange(n)) % 2 == 0, 1.0, -1.0)
            values = (signs * reward[k]).astype(np.float32)
            first = 0.5 if reward[k] == 0 else (1.0 if (n - 1) % 2 == 0 else 0.0)
            done.append(
                GameRecord(np.stack([s for s, _ in traj]), np.stack([p for _, p in traj]), values, first)
            )
            if on_end is not None:
                on_end(done[-1])
            trajectories[i] = []
            move_no[i] = 0
            if started < games:
                started += 1
                states[i] = game_cls.batch_initial(1)[0]
                forest.reset(np.array([i]), states[i][None])
            else:
                active[i] = False
    return done, sims
