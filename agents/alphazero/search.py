"""Batched PUCT search over many trees at once, in numpy arrays (one row per tree).

The layout follows mctx (``mctx/_src/tree.py``): node statistics live in ``(trees, nodes, ...)`` arrays
and every step of a simulation is a handful of vectorized operations over all trees, so the Python cost
of a simulation round is paid once for the whole batch and the leaves of all trees go to the network
in one call. Single-game play gets its batch from several simulations of one tree, kept apart by a
virtual loss (Chaslot et al., "Parallel Monte-Carlo Tree Search", 2008).

Values are zero-sum: every node's ``value`` is for the side to move there, and edge statistics
``W[tree, node, action]`` are for the side that picks ``action`` at ``node``, so a leaf's value is
negated at each ply on the way up (AlphaZero, Silver et al. 2018).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SearchParams", "Forest", "Evaluator"]

Evaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``(states (n, state_size) int64, legal (n, A) bool) -> (priors (n, A) float32, values (n,) float32)``;
values are for the side to move."""


@dataclass(frozen=True)
class SearchParams:
    """How one search runs (the agent's config fills these in)."""

    simulations: int = 50
    """New simulations per move and tree."""
    c_puct: float = 1.5
    """Exploration weight of the prior in PUCT."""
    dirichlet_alpha: float = 0.3
    """Concentration of the root noise (self-play only)."""
    dirichlet_fraction: float = 0.25
    """Weight of the root noise in the root prior; 0 turns it off."""
    leaves_per_round: int = 1
    """Simulations per tree whose leaves are evaluated together (virtual loss keeps them apart)."""
    virtual_loss: float = 1.0
    """Visits (each counted as a loss) added along a path until its leaf is evaluated."""


class Forest:
    """``trees`` search trees over positions of ``game_cls``, each with room for ``capacity`` nodes.

    Args:
        game_cls: a :class:`lab.game.Game` class (its batched API is used).
        trees: number of trees.
        capacity: nodes per tree; a search needs ``simulations * leaves_per_round + 1`` free nodes
            (a reused subtree that leaves too little room is dropped).
    """

    def __init__(self, game_cls: Any, trees: int, capacity: int) -> None:
        self.game = game_cls
        self.trees, self.capacity = trees, capacity
        A, S = game_cls.num_actions, game_cls.state_size
        self.state = np.zeros((trees, capacity, S), dtype=np.int64)
        self.terminal = np.zeros((trees, capacity), dtype=bool)
        self.expanded = np.zeros((trees, capacity), dtype=bool)
        self.value = np.zeros((trees, capacity), dtype=np.float32)
        """Network (or terminal) value of each node, for its side to move."""
        self.parent = np.full((trees, capacity), -1, dtype=np.int32)
        self.legal = np.zeros((trees, capacity, A), dtype=bool)
        self.prior = np.zeros((trees, capacity, A), dtype=np.float32)
        self.children = np.full((trees, capacity, A), -1, dtype=np.int32)
        self.N = np.zeros((trees, capacity, A), dtype=np.float32)  # edge visits
        self.W = np.zeros((trees, capacity, A), dtype=np.float32)  # edge value sums, for the side picking the edge
        self.size = np.zeros(trees, dtype=np.int64)
        self.root_prior = np.zeros((trees, A), dtype=np.float32)
        """The root's prior for the current search (noise mixed in during self-play)."""

    # --- roots ---------------------------------------------------------------------------------
    def _clear(self, t: np.ndarray) -> None:
        self.terminal[t] = False
        self.expanded[t] = False
        self.value[t] = 0.0
        self.parent[t] = -1
        self.children[t] = -1
        self.N[t] = 0.0
        self.W[t] = 0.0
        self.prior[t] = 0.0
        self.legal[t] = False

    def reset(self, trees: np.ndarray, states: np.ndarray) -> None:
        """Start fresh trees ``trees`` at ``states`` ``(n, state_size)`` (positions that are not finished)."""
        trees = np.asarray(trees, dtype=np.int64)
        if trees.size == 0:
            return
        self._clear(trees)
        self.state[trees, 0] = states
        self.legal[trees, 0] = self.game.batch_legal(states)
        self.size[trees] = 1

    def advance(self, trees: np.ndarray, actions: np.ndarray, room: int) -> None:
        """Play ``actions`` at the roots of ``trees``, keeping the chosen subtree (its statistics reused).

        A tree whose child was never created, or whose kept subtree leaves fewer than ``room`` free
        nodes, restarts from the new position. Trees whose game ended must be reset by the caller.
        """
        trees = np.asarray(trees, dtype=np.int64)
        actions = np.asarray(actions, dtype=np.int64)
        if trees.size == 0:
            return
        child = self.children[trees, 0, actions].astype(np.int64)
        cap = self.capacity
        # 1. Mark the chosen child's descendants: parents always precede children, one pass suffices.
        keep = np.zeros((trees.size, cap), dtype=bool)
        has = child >= 0
        keep[np.flatnonzero(has), child[has]] = True
        rows = np.arange(trees.size)
        top = int(self.size[trees].max())
        parents = self.parent[trees]  # (n, cap)
        for i in range(1, top):
            p = parents[:, i]
            keep[:, i] |= (p >= 0) & keep[rows, np.maximum(p, 0)]
        kept = keep.sum(1)
        fits = has & (kept + room <= cap)
        # 2. Trees that cannot reuse restart at the new position.
        fresh = trees[~fits]
        if fresh.size:
            a = actions[~fits]
            new_states, _, _ = self.game.batch_step(self.state[fresh, 0], a)
            self.reset(fresh, new_states)
        if not fits.any():
            return
        t, keep = trees[fits], keep[fits]
        # 3. Compact the kept nodes to the front, in their old order, and renumber the links.
        order = np.argsort(~keep, axis=1, kind="stable")  # (n, cap): kept nodes first
        new_index = np.cumsum(keep, axis=1) - 1  # old index -> new index (valid where kept)
        n_kept = keep.sum(1)
        valid = np.arange(cap)[None, :] < n_kept[:, None]  # (n, cap)

        def gather(arr: np.ndarray) -> np.ndarray:
            sub = arr[t]
            idx = order.reshape(order.shape + (1,) * (sub.ndim - 2))
            return np.take_along_axis(sub, np.broadcast_to(idx, order.shape + sub.shape[2:]), axis=1)

        r = np.arange(t.size)[:, None]
        for name in ("state", "terminal", "expanded", "value", "legal", "prior", "N", "W"):
            arr = getattr(self, name)
            moved = gather(arr)
            moved[~valid] = 0
            arr[t] = moved
        children = gather(self.children)
        children = np.where(children >= 0, new_index[r[..., None], np.maximum(children, 0)], -1)
        children[~valid] = -1
        self.children[t] = children
        parent = gather(self.parent)
        parent = np.where(parent >= 0, new_index[r, np.maximum(parent, 0)], -1)
        parent[:, 0] = -1
        parent[~valid] = -1
        self.parent[t] = parent
        self.size[t] = n_kept

    # --- search ----------------------------------------------------------------------------------
    def _expand(self, trees: np.ndarray, nodes: np.ndarray, evaluate: Evaluator) -> np.ndarray:
        """Evaluate and expand leaves; returns their values (terminal ones from the rules)."""
        values = self.value[trees, nodes].copy()
        todo = ~self.terminal[trees, nodes] & ~self.expanded[trees, nodes]
        if todo.any():
            t, n = trees[todo], nodes[todo]
            # The same leaf can be reached twice in one round (virtual loss): evaluate it once.
            key = t * self.capacity + n
            uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            ut, un = t[first], n[first]
            priors, v = evaluate(self.state[ut, un], self.legal[ut, un])
            self.prior[ut, un] = priors
            self.value[ut, un] = v
            self.expanded[ut, un] = True
            values[todo] = v[inverse]
        return values

    def _select(self, trees: np.ndarray, params: SearchParams) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
        """Walk down each tree by PUCT (one walk per tree), creating the leaf node each walk ends at.

        Returns ``(leaves, path)``; ``path[d] = (rows, nodes, actions)`` are the edges taken at depth
        ``d`` by the walks ``rows`` (indices into ``trees``). Virtual loss is added along the way.
        """
        n = trees.size
        node = np.zeros(n, dtype=np.int64)
        leaf = np.zeros(n, dtype=np.int64)
        active = np.arange(n)
        path: list[tuple[np.ndarray, ...]] = []
        vl = params.virtual_loss if params.leaves_per_round > 1 else 0.0
        while active.size:
            t, nd = trees[active], node[active]
            stop = self.terminal[t, nd] | ~self.expanded[t, nd]
            if stop.any():
                leaf[active[stop]] = nd[stop]
                go = ~stop
                active, t, nd = active[go], t[go], nd[go]
                if not active.size:
                    break
            N, W = self.N[t, nd], self.W[t, nd]  # (g, A)
            prior = np.where((nd == 0)[:, None], self.root_prior[t], self.prior[t, nd])
            total = N.sum(1, keepdims=True)
            # Unvisited moves start at the node's own value (first-play urgency = parent value).
            q = np.where(N > 0, W / np.maximum(N, 1), self.value[t, nd][:, None])
            u = params.c_puct * prior * np.sqrt(total + 1) / (1 + N)
            score = np.where(self.legal[t, nd], q + u, -np.inf)
            a = score.argmax(1)
            path.append((active, nd, a))
            if vl:
                self.N[t, nd, a] += vl
                self.W[t, nd, a] -= vl
            child = self.children[t, nd, a].astype(np.int64)
            new = child < 0
            if new.any():
                tn, pn, an = t[new], nd[new], a[new]
                idx = self.size[tn]
                states, terminal, reward = self.game.batch_step(self.state[tn, pn], an)
                self.state[tn, idx] = states
                self.terminal[tn, idx] = terminal
                self.value[tn, idx] = -reward  # the mover won: the side to move at the child has lost
                self.legal[tn, idx] = self.game.batch_legal(states) & ~terminal[:, None]
                self.parent[tn, idx] = pn
                self.children[tn, pn, an] = idx
                self.size[tn] = idx + 1
                leaf[active[new]] = idx
                child[new] = idx
            node[active] = child
            active = active[~new]
        return leaf, path

    def _backup(self, trees: np.ndarray, path: list[tuple[np.ndarray, ...]], values: np.ndarray, vl: float) -> None:
        depth = np.zeros(trees.size, dtype=np.int64)
        for rows, _, _ in path:
            depth[rows] += 1
        for d, (rows, nd, a) in enumerate(path):
            # The edge at depth d is (depth - d) plies above the leaf: odd -> the leaf's opponent picked it.
            sign = np.where((depth[rows] - d) % 2 == 1, -1.0, 1.0).astype(np.float32)
            t = trees[rows]
            self.N[t, nd, a] += 1.0 - vl
            self.W[t, nd, a] += sign * values[rows] + vl

    def search(
        self, trees: np.ndarray, evaluate: Evaluator, params: SearchParams, rng: np.random.Generator | None = None
    ) -> None:
        """Run ``params.simulations`` simulations in each of ``trees`` (roots must have legal moves).

        With ``rng`` (self-play), Dirichlet noise is mixed into the root priors (AlphaZero's
        exploration); without it the search is deterministic.
        """
        trees = np.asarray(trees, dtype=np.int64)
        if trees.size == 0:
            return
        roots = np.zeros(trees.size, dtype=np.int64)
        self._expand(trees, roots, evaluate)
        prior = self.prior[trees, 0].copy()
        if rng is not None and params.dirichlet_fraction > 0:
            legal = self.legal[trees, 0]
            noise = rng.gamma(params.dirichlet_alpha, 1.0, size=prior.shape).astype(np.float32) * legal
            noise /= np.maximum(noise.sum(1, keepdims=True), 1e-12)
            prior = (1 - params.dirichlet_fraction) * prior + params.dirichlet_fraction * noise
        self.root_prior[trees] = prior
        vl = params.virtual_loss if params.leaves_per_round > 1 else 0.0
        rounds = -(-params.simulations // params.leaves_per_round)
        for _ in range(rounds):
            walks = [self._select(trees, params) for _ in range(params.leaves_per_round)]
            leaves = np.concatenate([w[0] for w in walks])
            values = self._expand(np.tile(trees, len(walks)), leaves, evaluate)
            for k, (_, path) in enumerate(walks):
                self._backup(trees, path, values[k * trees.size : (k + 1) * trees.size], vl)

    # --- results ---------------------------------------------------------------------------------
    def visits(self, trees: np.ndarray) -> np.ndarray:
        """``(n, A)`` root visit counts."""
        return self.N[np.asarray(trees), 0].copy()

    def root_value(self, trees: np.ndarray) -> np.ndarray:
        """``(n,)`` searched value for the side to move at each root, in [-1, 1]."""
        t = np.asarray(trees)
        n, w = self.N[t, 0].sum(1), self.W[t, 0].sum(1)
        return np.where(n > 0, w / np.maximum(n, 1), self.value[t, 0])
