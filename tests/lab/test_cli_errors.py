"""Every bad input named in the issue: exit code 2, one line on stderr, no traceback, nothing overwritten."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lab.cli import app

runner = CliRunner()


def run_cli(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0][len("error: ") :]


def test_unknown_environment_suggests_closest_ids():
    msg = one_error_line(run_cli("train", "ppo", "CartPol-v1"))
    assert msg.startswith("unknown environment 'CartPol-v1'; did you mean 'CartPole-v1'")
    assert msg.endswith("(see `lab list envs`)")


def test_unknown_algorithm_lists_the_available_ones():
    msg = one_error_line(run_cli("train", "ppp", "CartPole-v1"))
    assert msg.startswith("unknown agent or generator 'ppp'; did you mean 'ppo'? Available: a2c, ")
    assert all(name in msg for name in ("dqn", "ppo", "sac", "td3"))


def test_algorithm_that_cannot_handle_the_spaces_says_why_and_what_fits():
    msg = one_error_line(run_cli("train", "sac", "CartPole-v1"))
    assert msg.startswith(
        "sac cannot train on CartPole-v1: it needs continuous (Box) actions, and CartPole-v1's action space is "
        "Discrete(2); algorithms that fit: a2c, dqn, ppo"
    )
    msg = one_error_line(run_cli("train", "dqn", "Pendulum-v1"))
    assert msg.endswith("algorithms that fit: a2c, ppo, sac, td3")


def test_malformed_yaml_names_file_and_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("algo: ppo\nenv: CartPole-v1\nagent:\n  n_steps: [1, 2\n  gamma: 0.9\n")
    msg = one_error_line(run_cli("train", "--config", str(cfg)))
    assert msg.startswith(f"{cfg}:5: malformed YAML")


def test_wrong_type_in_a_config_file_names_key_type_value_and_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("algo: ppo\nenv: CartPole-v1\nagent:\n  n_steps: lots\n")
    msg = one_error_line(run_cli("train", "--config", str(cfg)))
    assert msg == f"{cfg}:4: agent.n_steps: expected int, got 'lots'"


def test_wrong_type_and_unknown_key_in_set():
    msg = one_error_line(run_cli("train", "ppo", "CartPole-v1", "--set", "agent.learning_rate=fast"))
    assert msg == "--set agent.learning_rate=fast: agent.learning_rate: expected float, got 'fast'"
    msg = one_error_line(run_cli("train", "ppo", "CartPole-v1", "--set", "learning_rat=0.1"))
    assert msg == "--set learning_rat=0.1: unknown key 'learning_rat'; did you mean 'agent.learning_rate'?"


def test_flag_that_does_not_apply_to_the_agent():
    msg = one_error_line(run_cli("train", "ppo", "CartPole-v1", "--minutes", "3"))
    assert msg == "--minutes does not apply to ppo (it has no 'minutes' setting)"


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    msg = one_error_line(run_cli("train", "--resume", str(tmp_path)))
    assert msg == f"{tmp_path} is not a run folder: it has no config.yaml"
    msg = one_error_line(run_cli("train", "--resume", str(tmp_path / "nope")))
    assert msg == f"{tmp_path / 'nope'} is not a run folder: it does not exist"


def test_resume_of_a_corrupt_checkpoint(tmp_path):
    run = tmp_path / "r"
    ckpt = run / "checkpoints" / "step_000000100.pt"
    ckpt.parent.mkdir(parents=True)
    (run / "config.yaml").write_text("algo: ppo\nenv: CartPole-v1\n")
    ckpt.write_bytes(b"PK\x03\x04 truncated")
    msg = one_error_line(run_cli("train", "--resume", str(run)))
    assert msg.startswith(f"{ckpt}: corrupt or truncated checkpoint (")


@pytest.mark.skipif(importlib.util.find_spec("mujoco") is not None, reason="the mujoco extra is installed")
def test_missing_mujoco_names_the_extra():
    msg = one_error_line(run_cli("train", "sac", "HalfCheetah-v5"))
    assert msg == "HalfCheetah-v5 needs MuJoCo: install the 'mujoco' extra (pip install 'lab[mujoco]')"


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is not None, reason="the atari extra is installed")
def test_missing_atari_names_the_extra():
    msg = one_error_line(run_cli("train", "ppo", "ALE/Pong-v5"))
    assert msg == "ALE/Pong-v5 is an Atari environment: install the 'atari' extra (pip install 'lab[atari]')"


def test_an_existing_run_folder_is_never_overwritten(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("algo: ppo\nenv: CartPole-v1\n")
    msg = one_error_line(run_cli("train", "ppo", "CartPole-v1", "--run-dir", str(run), "--no-track"))
    assert msg.startswith(f"{run} already exists and holds a run; choose another --run-dir")
    assert (run / "config.yaml").read_text() == "algo: ppo\nenv: CartPole-v1\n"
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def test_bad_numbers_and_devices():
    assert one_error_line(run_cli("train", "ppo", "CartPole-v1", "--set", "agent.n_envs=0")) == (
        "--set agent.n_envs=0: agent.n_envs: expected a positive number, got 0"
    )
    msg = one_error_line(run_cli("train", "ppo", "CartPole-v1", "--device", "gpu"))
    assert msg == "--device gpu: device: 'gpu' is not one of 'auto', 'cpu', 'cuda'; did you mean 'cpu'?"


def test_unknown_list_kind_and_eval_of_a_non_run(tmp_path):
    assert one_error_line(run_cli("list", "agnets")) == (
        "unknown kind 'agnets'; did you mean 'agents' or 'generators'? Available: agents, datasets, envs, generators, players"
    )
    assert one_error_line(run_cli("eval", str(tmp_path))) == f"{tmp_path} is not a run folder: it has no config.yaml"


def test_the_console_script_prints_no_traceback(tmp_path):
    env = dict(os.environ, WANDB_MODE="offline")
    proc = subprocess.run(
        [sys.executable, "-m", "lab.cli", "train", "sac", "CartPole-v1"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: sac cannot train on CartPole-v1")
    assert not Path(tmp_path, "runs").exists()


def test_a_config_the_agent_rejects_leaves_no_run_folder(tmp_path):
    run = tmp_path / "r"
    result = run_cli("train", "alphazero", "connect_four", "--iterations", "1", "--run-dir", str(run), "--no-track",
                     "--set", "agent.eval_opponents=[minimax]")
    assert one_error_line(result) == (
        "player spec 'minimax': connect_four is too large for an exhaustive search; use mcts:N instead"
    )
    assert not run.exists()
