"""``alphazero:RUN_DIR[:sims=N]``: a trained network searching with batched PUCT."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.alphazero.network import NetEvaluator, PolicyValueNet, search_precision
from agents.alphazero.search import Forest, SearchParams
from lab.errors import RunDirError
from lab.players import PlayerSpec, positive_int
from lab.runs import RunDir

__all__ = ["AlphaZeroPlayer", "build_net", "load_run"]

_USAGE = "alphazero:RUN_DIR[:sims=N]"


def build_net(game_cls: Any, channels: int, blocks: int) -> PolicyValueNet:
    """The network for ``game_cls`` with the given width and depth."""
    rows, cols = game_cls.board_shape
    return PolicyValueNet(game_cls.planes, rows, cols, game_cls.num_actions, channels, blocks)


def load_run(spec: PlayerSpec, run_dir: str, game_cls: Any) -> dict[str, Any]:
    """The agent state of an AlphaZero run: its ``model.pt``, or its latest checkpoint while it trains.

    Raises a PlayerSpecError when the folder holds no AlphaZero checkpoint or one for another game.
    """
    from agents.alphazero.agent import AlphaZero  # agent.py imports this module: import it when used

    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise spec.error(f"{run_dir} is not a folder")
    if not run.model_path.is_file() and run.latest_checkpoint() is None:
        raise spec.error(f"{run_dir} holds no alphazero checkpoint (no checkpoints/step_*.pt or model.pt)")
    try:
        checkpoint = run.load_agent(algo=AlphaZero)  # any name AlphaZero is registered under
    except RunDirError as e:
        raise spec.error(str(e)) from None
    trained_on = checkpoint.agent.get("game")
    if trained_on != game_cls.name:
        raise spec.error(f"{checkpoint.path} was trained on {trained_on}, not {game_cls.name}")
    return checkpoint.agent


class AlphaZeroPlayer:
    """Plays by PUCT search guided by a policy-value network; deterministic (most visited move).

    Args:
        net: the network.
        game_cls: the game.
        params: search parameters (no root noise is used here).
        device: torch device of ``net``.
        name: shown in results.
        precision: network precision in the search (see :func:`search_precision`).
    """

    def __init__(
        self,
        net: torch.nn.Module,
        game_cls: Any,
        params: SearchParams,
        *,
        device: str = "cpu",
        name: str = "alphazero",
        precision: str = "auto",
    ) -> None:
        self.name = name
        self.game = game_cls
        self.params = params
        self.evaluator = NetEvaluator(net, game_cls, device, precision=search_precision(precision, device))

    @classmethod
    def from_spec(cls, spec: PlayerSpec, game_cls: Any, *, seed: int = 0, device: str = "cpu") -> AlphaZeroPlayer:
        if len(spec.args) != 1:
            raise spec.error(f"expected one run folder; usage: {_USAGE}")
        unknown = set(spec.options) - {"sims"}
        if unknown:
            raise spec.error(f"unknown option {sorted(unknown)[0]!r}; usage: {_USAGE}")
        state = load_run(spec, spec.args[0], game_cls)
        net_cfg = state["net_config"]
        net = build_net(game_cls, int(net_cfg["channels"]), int(net_cfg["blocks"]))
        net.load_state_dict(state["net"])
        net.to(device)
        sims = positive_int(spec, spec.options["sims"], "simulations") if "sims" in spec.options else int(state["play_simulations"])
        params = SearchParams(simulations=sims, c_puct=float(state["c_puct"]), leaves_per_round=8)
        return cls(net, game_cls, params, device=device, name=spec.text)

    def _search(self, games: list[Any], params: SearchParams) -> Forest:
        rounds = -(-params.simulations // params.leaves_per_round)
        forest = Forest(self.game, len(games), capacity=rounds * params.leaves_per_round + 2)
        forest.reset(np.arange(len(games)), np.stack([g.state() for g in games]))
        forest.search(np.arange(len(games)), self.evaluator, params)
        return forest

    def act(self, game: Any) -> int:
        forest = self._search([game], self.params)
        return int(forest.visits([0])[0].argmax())

    def act_many(self, games: list[Any]) -> list[int]:
        """One search per game, all batched together (one leaf per game per network call)."""
        params = SearchParams(simulations=self.params.simulations, c_puct=self.params.c_puct, leaves_per_round=1)
        forest = self._search(games, params)
        return forest.visits(np.arange(len(games))).argmax(1).tolist()

    def analyze(self, game: Any) -> tuple[np.ndarray, float]:
        forest = self._search([game], self.params)
        visits = forest.visits([0])[0]
        return visits / visits.sum(), float(forest.root_value([0])[0])
