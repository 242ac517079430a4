"""World models through the lab: `lab train dynamics`, `lab eval`, `lab train ALGO world:RUN_DIR`, `lab dream`,
and every bad input (exit 2, one line)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lab.cli import app
from lab.eventlog import read_events

runner = CliRunner()
TINY = ["--set", "data.steps=300", "--set", "members=2", "--set", "hidden=16", "--set", "layers=1",
        "--set", "batch_size=32", "--set", "log_every=5", "--set", "eval_trajectories=5"]
PPO_TINY = ["--set", "agent.n_envs=4", "--set", "agent.n_steps=32", "--set", "agent.batch_size=64",
            "--set", "agent.n_epochs=1"]


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("error: ")


@pytest.fixture(scope="module")
def world_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("w") / "dyn"
    r = cli("train", "dynamics", "rollouts:CartPole-v1", "--steps", 20, "--run-dir", run, "--no-track", "-q", *TINY)
    assert r.exit_code == 0, r.output
    assert "one-step error" in r.stdout and "held-out trajectories" in r.stdout
    return run


def test_a_world_model_run_has_the_usual_folder_and_eval(world_run):
    assert (world_run / "model.pt").is_file() and (world_run / "config.yaml").is_file()
    ev = json.loads((world_run / "eval.json").read_text())
    assert ev["kind"] == "world_model" and ev["env"] == "CartPole-v1" and ev["real_steps"] == 300
    r = cli("eval", world_run, "--n", 2)
    assert r.exit_code == 0, r.output
    assert "no change" in r.stdout and "open_loop_20" in r.stdout and "2 held-out trajectories" in r.stdout


def test_resume_of_a_world_model_run_repeats_it(world_run, tmp_path):
    from lab.runs import RunDir, load_state

    run = tmp_path / "again"
    r = cli("train", "dynamics", "rollouts:CartPole-v1", "--steps", 20, "--run-dir", run, "--no-track", "-q",
            "--checkpoint-every", 10, *TINY)
    assert r.exit_code == 0
    final = load_state(run / "model.pt")
    assert r.exit_code == 0
    # resuming a finished run does nothing; a run cut at its step-10 checkpoint ends where the whole one did
    for ck in RunDir(run).checkpoints()[1:]:
        ck.path.unlink()
    (run / "model.pt").unlink()
    r = cli("train", "--resume", run, "-q")
    assert r.exit_code == 0, r.output
    again = load_state(run / "model.pt")
    for k, v in final["agent"]["modules"]["net"].items():
        assert (again["agent"]["modules"]["net"][k] == v).all(), k


def test_an_agent_trains_inside_the_world_model_on_the_batched_vec_env(world_run, tmp_path):
    from envs.world import WorldVecEnv
    from lab.envs import resolve_env
    from lab.registry import AGENTS
    from lab.training import resolve_config

    r = cli("train", "ppo", f"world:{world_run}", "--steps", 256, "--run-dir", tmp_path / "ppo", "--no-track", "-q",
            *PPO_TINY)
    assert r.exit_code == 0, r.output
    cfg = resolve_config(algo="ppo", env=f"world:{world_run}")
    assert cfg.agent.n_envs == 16  # CartPole-v1's tuned values: the world model stands in for it
    env = resolve_env(f"world:{world_run}")
    agent = AGENTS.load("ppo")(resolve_config(algo="ppo", env=f"world:{world_run}", sets=["agent.n_envs=3", "agent.batch_size=96"]).agent,
                               env, seed=0, device="cpu")
    assert isinstance(agent.venv.venv, WorldVecEnv) and agent.venv.num_envs == 3
    # the agent then plays the real environment
    r = cli("eval", tmp_path / "ppo", "--env", "CartPole-v1", "--episodes", 2)
    assert r.exit_code == 0, r.output and "mean return" in r.stdout


def test_dream_loop_counts_real_steps_in_events(tmp_path):
    out = tmp_path / "dream"
    r = cli("dream", "CartPole-v1", "--out", out, "--real-steps", 600, "--steps-per-iteration", 300, "--world-steps", 10,
            "--agent-steps", 256, "--iterations", 3, "--target", 10_000, "-q",
            *[x for s in ("members=2", "hidden=16", "layers=1", "batch_size=32", "eval_trajectories=3")
              for x in ("--world-set", s)],
            *[x for s in ("agent.n_envs=4", "agent.n_steps=32", "agent.batch_size=64", "agent.n_epochs=1")
              for x in ("--agent-set", s)])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "dream.json").read_text())
    assert summary["real_steps"] == 600 and len(summary["iterations"]) == 2 and not summary["solved"]
    events = read_events(out / "events.jsonl")
    assert [(e["event"], e["step"]) for e in events if e["event"] == "RealStepsCollected"] == [
        ("RealStepsCollected", 300), ("RealStepsCollected", 600)]
    assert [e["iteration"] for e in events if e["event"] == "DreamIteration"] == [1, 2]
    world2 = (out / "world-2" / "config.yaml").read_text()
    assert f"random,{out / 'agent-1'}" in world2  # the second world model also learned from the agent's play
    assert json.loads((out / "world-2" / "eval.json").read_text())["real_steps"] == 600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "dynamics", "digits"], r"dynamics trains on real transitions with actions: rollouts:ENV_ID .*'digits' has no actions"),
        (["train", "dynamics", "rollouts:maze-9:procedural"], r"rollouts:maze-9:procedural: its observations are images or grids \(.*\); the dynamics model takes vector observations \(for images and grids train world-diffusion\)"),
        (["train", "world-diffusion", "rollouts:CartPole-v1"], r"rollouts:CartPole-v1: its observations are vectors \(4,\); world-diffusion models images and grids \(for vector observations train dynamics\)"),
        (["train", "world-diffusion", "digits"], r"world-diffusion trains on real transitions with actions: rollouts:ENV_ID .*'digits' has no actions"),
        (["train", "dynamics", "rollouts:Blackjack-v1"], r"rollouts:Blackjack-v1: its observation space Tuple\(.*\) is not a 1-D Box of numbers"),
        (["train", "ppo", "world:no/such/run"], r"world:no/such/run: no such run folder"),
    ],
)
def test_bad_input(args, message):
    import re

    line = one_error_line(cli(*args, "--no-track", "-q"))
    assert re.search(message, line), line


def test_world_of_a_run_that_is_no_world_model(tmp_path):
    run = tmp_path / "vae"
    r = cli("train", "vae", "digits", "--steps", 2, "--run-dir", run, "--no-track", "-q", "--set", "data.size=8",
            "--set", "latent=4", "--set", "channels=8", "--set", "batch_size=16", "--set", "grid_samples=4",
            "--set", "eval_samples=20", "--set", "log_every=1")
    assert r.exit_code == 0, r.output
    line = one_error_line(cli("train", "ppo", f"world:{run}", "--no-track", "-q"))
    assert line == f"world:{run}: a vae generator run, not a world model (train one: lab train dynamics or world-diffusion rollouts:ENV_ID)"


def test_a_world_model_of_another_env(world_run, tmp_path):
    line = one_error_line(cli("dream", "Acrobot-v1", "--out", tmp_path / "d", "--continue-from", world_run))
    assert line == f"--continue-from {world_run}: a world model of CartPole-v1, not of Acrobot-v1"


def test_sample_draws_real_beside_dreamed(world_run, tmp_path):
    import numpy as np

    r = cli("sample", world_run, "--rollout", 0, "--n", 3, "--out", tmp_path / "strip")
    assert r.exit_code == 0, r.output
    z = np.load(tmp_path / "strip" / "rollout.npz")
    assert z["dreamed"].shape == (3, len(z["real"]), 4) and (tmp_path / "strip" / "rollout.png").is_file()
    assert np.array_equal(z["dreamed"][:, 0], np.repeat(z["real"][:1], 3, axis=0))  # every dream starts at the real start
    line = one_error_line(cli("sample", world_run, "--rollout", 99, "--out", tmp_path / "x"))
    assert line.startswith("--rollout 99: expected a held-out trajectory 0..")


def test_the_world_env_of_a_trained_model_passes_check_env_and_reports_disagreement(world_run):
    import warnings

    from gymnasium.utils.env_checker import check_env

    from lab.envs import make_env, resolve_env

    info = resolve_env(f"world:{world_run}")
    real = resolve_env("CartPole-v1")
    assert (info.observation_space, info.action_space) == (real.observation_space, real.action_space)
    env = make_env(info)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CartPole's own infinite bounds, copied
        check_env(env, skip_render_check=True)
    env.reset(seed=0)
    _obs, reward, _term, _trunc, step_info = env.step(0)
    assert step_info["disagreement"] >= 0 and abs(reward - 1.0) < 0.5
