"""Simulations per second on Connect Four: the lab's batched search vs a one-leaf-at-a-time search.

Both searches use the same fixed random network (the Connect Four default size) and the same PUCT rule
on the same positions. The one-leaf-at-a-time search below is the straightforward design (Python node
objects, one network call per simulation); the lab's search advances many trees together and sends
all their leaves to the network in one call. Also measures self-play games per hour with the
Connect Four training settings. The one-leaf search runs in float32 (bfloat16 is slower at batch 1);
the batched search is reported in float32 and in the lab's default precision (bfloat16 on CPUs with
native support). Prints a final JSON line.

    python benchmarks/mcts_speed.py               # ~1 minute on 2 CPU cores
    python benchmarks/mcts_speed.py --trees 256 --simulations 100 --threads 1
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

from agents.alphazero import AlphaZero, Forest, NetEvaluator, SearchParams
from agents.alphazero.network import search_precision
from agents.alphazero.players import build_net
from agents.alphazero.selfplay import self_play
from envs.games import ConnectFour


class _Node:
    __slots__ = ("state", "terminal", "value", "prior", "legal", "children", "N", "W")

    def __init__(self, state: np.ndarray, terminal: bool, value: float) -> None:
        self.state, self.terminal, self.value = state, terminal, value
        self.prior = self.legal = None
        self.children: dict[int, _Node] = {}
        self.N = np.zeros(ConnectFour.num_actions, dtype=np.float32)
        self.W = np.zeros(ConnectFour.num_actions, dtype=np.float32)


def one_leaf_search(net: torch.nn.Module, state: np.ndarray, simulations: int, c_puct: float) -> np.ndarray:
    """PUCT with one network call (batch of 1) per simulation; returns the root visit counts."""
    game = ConnectFour

    def evaluate(node: _Node) -> float:
        with torch.inference_mode():
            logits, value = net(torch.from_numpy(game.batch_encode(node.state[None])))
        node.legal = game.batch_legal(node.state[None])[0]
        logits = np.where(node.legal, logits[0].numpy(), -np.inf)
        p = np.exp(logits - logits.max())
        node.prior = p / p.sum()
        return float(value[0])

    root = _Node(state, False, 0.0)
    root.value = evaluate(root)
    for _ in range(simulations):
        node, path = root, []
        while node.prior is not None and not node.terminal:
            q = np.where(node.N > 0, node.W / np.maximum(node.N, 1), node.value)
            u = c_puct * node.prior * math.sqrt(node.N.sum() + 1) / (1 + node.N)
            a = int(np.where(node.legal, q + u, -np.inf).argmax())
            path.append((node, a))
            child = node.children.get(a)
            if child is None:
                s, terminal, reward = game.batch_step(node.state[None], np.array([a]))
                child = _Node(s[0], bool(terminal[0]), -float(reward[0]))
                node.children[a] = child
                node = child
                break
            node = child
        value = node.value if node.terminal else evaluate(node)
        if not node.terminal:
            node.value = value
        for parent, a in reversed(path):  # the value flips sign at every ply
            value = -value
            parent.N[a] += 1
            parent.W[a] += value
    return root.N


def positions(n: int, seed: int) -> np.ndarray:
    """``n`` positions after 0-9 random moves (none finished)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        g = ConnectFour()
        for _ in range(int(rng.integers(0, 10))):
            g.play(int(rng.choice(g.legal_actions())))
            if g.done:
                break
        if not g.done:
            out.append(g.state())
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=256, help="positions searched together by the batched search")
    parser.add_argument("--baseline-trees", type=int, default=8, help="positions searched by the one-leaf search")
    parser.add_argument("--simulations", type=int, default=100)
    parser.add_argument("--selfplay-games", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tuned = AlphaZero.tuned("connect_four")
    net = build_net(ConnectFour, tuned["channels"], tuned["blocks"]).eval()
    c_puct = 1.5
    states = positions(args.trees, args.seed)

    # 1. The one-leaf-at-a-time search.
    one_leaf_search(net, states[0], 10, c_puct)  # warm up
    t0 = time.perf_counter()
    for s in states[: args.baseline_trees]:
        one_leaf_search(net, s, args.simulations, c_puct)
    baseline = args.baseline_trees * args.simulations / (time.perf_counter() - t0)

    # 2. The lab's batched search: float32, then the lab's default precision, then with the cache too.
    params = SearchParams(simulations=args.simulations, c_puct=c_puct)
    precision = search_precision("auto", "cpu")
    results = {}
    for key, cache, prec in (("fp32", 0, "float32"), ("default", 0, precision), ("cached", 200_000, precision)):
        evaluator = NetEvaluator(net, ConnectFour, cache_size=cache, precision=prec)
        forest = Forest(ConnectFour, args.trees, capacity=args.simulations + 2)
        forest.reset(np.arange(args.trees), states)
        t0 = time.perf_counter()
        forest.search(np.arange(args.trees), evaluator, params)
        results[key] = args.trees * args.simulations / (time.perf_counter() - t0)

    # 3. The same searches agree (same network, same rule): compare a few roots' most visited move.
    forest = Forest(ConnectFour, 4, capacity=args.simulations + 2)
    forest.reset(np.arange(4), states[:4])
    forest.search(np.arange(4), NetEvaluator(net, ConnectFour, cache_size=0), params)
    agree = [
        int(one_leaf_search(net, states[i], args.simulations, c_puct).argmax() == forest.visits([i])[0].argmax())
        for i in range(4)
    ]

    # 4. Self-play with the Connect Four training settings (many games in flight, root noise, reuse).
    sp = SearchParams(
        simulations=tuned["simulations"], c_puct=c_puct, dirichlet_alpha=tuned["dirichlet_alpha"], dirichlet_fraction=0.25
    )
    t0 = time.perf_counter()
    records, sims = self_play(
        ConnectFour,
        NetEvaluator(net, ConnectFour, cache_size=200_000, precision=precision),
        sp,
        games=args.selfplay_games,
        parallel=args.selfplay_games,
        temperature_moves=tuned["temperature_moves"],
        rng=np.random.default_rng(args.seed),
    )
    sp_s = time.perf_counter() - t0
    line = {
        "benchmark": "mcts_speed",
        "game": "connect_four",
        "net": {"channels": tuned["channels"], "blocks": tuned["blocks"], "random_weights": True},
        "simulations": args.simulations,
        "threads": args.threads,
        "one_leaf_sims_per_s": round(baseline, 1),
        "batched_trees": args.trees,
        "batched_fp32_sims_per_s": round(results["fp32"], 1),
        "speedup_fp32": round(results["fp32"] / baseline, 1),
        "search_precision": precision,
        "batched_sims_per_s": round(results["default"], 1),
        "speedup": round(results["default"] / baseline, 1),
        "batched_cached_sims_per_s": round(results["cached"], 1),
        "same_best_move": f"{sum(agree)}/{len(agree)}",
        "selfplay_games": len(records),
        "selfplay_simulations_per_move": tuned["simulations"],
        "selfplay_games_per_hour": round(3600 * len(records) / sp_s),
        "selfplay_sims_per_s": round(sims / sp_s, 1),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
