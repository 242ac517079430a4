"""The AlphaZero agent: checkpoints load under weights_only, resuming equals training straight through,
and trained runs work as players in `lab analyze` (with clear errors for the wrong game)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from agents.alphazero import AlphaZero, AlphaZeroConfig
from lab.agent import TrainContext
from lab.cli import app
from lab.envs import resolve_env
from lab.errors import ConfigError, LabError
from lab.events import EventBus, MetricsLogged
from lab.players import make_player



@pytest.fixture(autouse=True)
def one_thread():
    """Small batched convolutions: one thread is faster, and steadier on shared cores."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


TINY = dict(games_per_iteration=6, simulations=6, play_simulations=8, channels=8, blocks=1, batch_size=32, eval_interval=0)


def _agent(**over) -> AlphaZero:
    cfg = AlphaZeroConfig(**{**TINY, **over})
    return AlphaZero(cfg, resolve_env("tictactoe"), seed=0, device="cpu")


def _learn(agent: AlphaZero, iterations: int, tmp_path) -> list[dict]:
    bus = EventBus()
    seen: list[dict] = []
    bus.subscribe(MetricsLogged, lambda e: seen.append(e.metrics))
    agent.learn(TrainContext(bus=bus, run_dir=tmp_path), iterations)
    return seen


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_state_dict_round_trip_under_weights_only(tmp_path):
    agent = _agent()
    _learn(agent, 1, tmp_path)
    state = _roundtrip(agent.state_dict(full=True))
    other = _agent()
    other.load_state_dict(state)
    for (k, a), b in zip(agent.net.state_dict().items(), other.net.state_dict().values()):
        assert torch.equal(a, b), k
    np.testing.assert_array_equal(agent.replay_states, other.replay_states)
    np.testing.assert_array_equal(agent.replay_policies, other.replay_policies)
    assert other.iteration == 1 and other.games_played == 6


def test_resuming_matches_training_straight_through(tmp_path):
    straight = _agent()
    _learn(straight, 2, tmp_path)
    first = _agent()
    _learn(first, 1, tmp_path)
    resumed = _agent()
    resumed.load_state_dict(_roundtrip(first.state_dict(full=True)))
    _learn(resumed, 2, tmp_path)
    for k, v in straight.net.state_dict().items():
        assert torch.equal(v, resumed.net.state_dict()[k]), k
    np.testing.assert_array_equal(straight.replay_states, resumed.replay_states)


def test_publishes_speed_and_losses(tmp_path):
    metrics = _learn(_agent(), 1, tmp_path)[0]
    for key in ("selfplay/games_per_hour", "selfplay/sims_per_s", "train/policy_loss", "train/value_loss", "time/minutes"):
        assert key in metrics and np.isfinite(metrics[key])


@pytest.mark.parametrize(
    ("over", "match"),
    [
        (dict(channels=0), r"agent.channels: expected a positive number, got 0"),
        (dict(workers=0), r"--workers: expected a positive number, got 0"),
        (dict(eval_opponents=["mcts:x"]), r"'mcts:x'"),
    ],
)
def test_bad_config(over, match):
    with pytest.raises(LabError, match=match):
        _agent(**over)


def test_checkpoint_for_a_different_network_is_refused(tmp_path):
    state = _roundtrip(_agent().state_dict(full=True))
    with pytest.raises(ConfigError, match=r"channels=8, blocks=1; the config says channels=16"):
        _agent(channels=16).load_state_dict(state)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("az") / "run"
    sets = [f"--set={k}={v}" for k, v in TINY.items()]
    result = CliRunner().invoke(
        app, ["train", "alphazero", "tictactoe", "--iterations", "1", "--no-track", "-q", "--run-dir", str(path),
              "--eval-episodes", "2", *sets],
    )
    assert result.exit_code == 0, result.output
    return path


def test_analyze_prints_one_json_line_per_position(run_dir):
    result = CliRunner().invoke(app, ["analyze", "tictactoe", "-", "1425", "--agent", f"alphazero:{run_dir}:sims=40"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["position"] for line in lines] == ["-", "1425"]
    for line in lines:
        assert len(line["policy"]) == 9 and abs(sum(line["policy"]) - 1) < 1e-3 and -1 <= line["value"] <= 1
    assert lines[1]["move"] == "3"  # the immediate win


def test_analyze_reports_bad_positions_by_line_and_exits_2(tmp_path):
    positions = tmp_path / "positions.txt"
    positions.write_text("1425\n11\n# a comment\n1234567\n")
    result = CliRunner().invoke(app, ["analyze", "tictactoe", "--agent", "minimax", "--positions", str(positions)])
    assert result.exit_code == 2
    assert [json.loads(x)["move"] for x in result.stdout.splitlines()] == ["3"]
    assert f"{positions}:2: position '11': move 2 '1': cell 1 is already taken" in result.stderr
    assert f"{positions}:4: position '1234567': the game is already over (won by the first player)" in result.stderr


def test_alphazero_spec_refuses_a_run_of_another_game(run_dir):
    from envs.games import ConnectFour

    with pytest.raises(LabError, match=r"was trained on tictactoe, not connect_four"):
        make_player(f"alphazero:{run_dir}", ConnectFour)
    result = CliRunner().invoke(app, ["analyze", "connect_four", "4", "--agent", f"alphazero:{run_dir}"])
    assert result.exit_code == 2 and "was trained on tictactoe, not connect_four" in result.stderr


def test_unknown_game_exits_2():
    result = CliRunner().invoke(app, ["analyze", "tictactoo", "--agent", "random"])
    assert result.exit_code == 2 and "did you mean 'tictactoe'" in result.stderr


def test_play_refuses_bad_moves_and_asks_again():
    result = CliRunner().invoke(
        app, ["play", "tictactoe", "--opponent", "minimax", "--first"], input="x\n10\n1\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"
    )
    assert result.exit_code == 0, result.output
    assert "'x' is not a move" in result.output and "'10' is not a move" in result.output
    assert "is already taken" in result.output
    assert "Draw." in result.output or "minimax wins." in result.output


