"""world-diffusion through the lab on a small maze: `lab train`, `lab eval`, resume, `lab sample --rollout`, the
world:RUN_DIR env (check_env, valid one-hot grids), an agent inside it, and known answers of the grid snapping."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from generators.world_diffusion import karras_sigmas, snap_grids
from lab.cli import app

runner = CliRunner()
TINY = ["--set", "data.steps=300", "--set", "channels=[8,16]", "--set", "head_channels=8", "--set", "batch_size=8",
        "--set", "warmup_steps=2", "--set", "log_every=5", "--set", "eval_trajectories=2", "--set", "sample_steps=2"]
MAZE = "rollouts:maze-7:procedural"


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("wd") / "grid"
    r = cli("train", "world-diffusion", MAZE, "--steps", 10, "--run-dir", run, "--no-track", "-q",
            "--checkpoint-every", 5, *TINY)
    assert r.exit_code == 0, r.output
    assert "one-step error" in r.stdout
    return run


def test_snap_keeps_walls_and_puts_one_agent_and_one_goal_on_free_cells():
    soft = np.zeros((2, 3, 3, 3))
    soft[:, 0, 0, :] = 0.8  # a top wall row
    soft[0, 1, 0, 1] = 0.9  # the agent's best cell is a wall cell: the next best free cell wins
    soft[0, 1, 2, 2] = 0.4
    soft[1, 1] = 0.1  # nothing stands out: still exactly one agent
    soft[:, 2, 1, 1] = 0.3
    g = snap_grids(soft, np.array([False, True, True]))
    assert (g[:, 0, 0] == 1).all() and g[:, 0, 1:].sum() == 0
    assert (g[:, 1:].reshape(2, 2, -1).sum(-1) == 1).all()
    assert g[0, 1, 2, 2] == 1 and g[:, 2, 1, 1].tolist() == [1, 1]
    assert not (g[:, 1] * g[:, 0]).any()  # no agent on a wall


def test_the_sampling_schedule_runs_from_sigma_max_to_zero():
    s = karras_sigmas(3, 0.002, 5.0, 7.0)
    assert s[0] == pytest.approx(5.0) and s[-2] == pytest.approx(0.002) and s[-1] == 0 and (s[:-1] > s[1:]).all()


def test_a_grid_world_model_run_has_the_usual_folder_and_eval(grid_run):
    assert (grid_run / "model.pt").is_file() and (grid_run / "config.yaml").is_file()
    ev = json.loads((grid_run / "eval.json").read_text())
    assert ev["kind"] == "world_model" and ev["env"] == "maze-7:procedural" and ev["real_steps"] == 300
    for key in ("one_step", "open_loop_5", "open_loop_20", "grid_exact", "grid_exact_no_change"):
        assert key in ev
    r = cli("eval", grid_run, "--n", 1)
    assert r.exit_code == 0, r.output
    assert "no change" in r.stdout and "open_loop_20" in r.stdout and "1 held-out trajectories" in r.stdout


def test_resume_from_the_step_5_checkpoint_ends_where_the_whole_run_did(grid_run, tmp_path):
    import shutil

    from lab.runs import RunDir, load_state

    run = tmp_path / "again"
    shutil.copytree(grid_run, run)
    final = load_state(run / "model.pt")
    for ck in RunDir(run).checkpoints()[1:]:
        ck.path.unlink()
    (run / "model.pt").unlink()
    r = cli("train", "--resume", run, "-q")
    assert r.exit_code == 0, r.output
    again = load_state(run / "model.pt")
    for part in ("unet", "heads"):
        for k, v in final["agent"]["modules"][part].items():
            assert (again["agent"]["modules"][part][k] == v).all(), k


def test_sample_writes_a_real_vs_dreamed_strip(grid_run, tmp_path):
    r = cli("sample", grid_run, "--rollout", 0, "--n", 2, "--out", tmp_path / "strip")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "strip" / "rollout.npz") as f:
        z = {k: f[k] for k in f.files}
    t = len(z["real"])
    assert z["real"].shape == (t, 3, 7, 7) and z["dreamed"].shape == (2, t, 3, 7, 7)
    assert np.array_equal(z["dreamed"][:, 0], np.repeat(z["real"][:1], 2, axis=0))
    assert (z["dreamed"][:, :, 1:].reshape(2, t, 2, -1).sum(-1) == 1).all()  # one agent and one goal in every frame
    assert (tmp_path / "strip" / "rollout.png").stat().st_size > 1000


def test_the_world_env_passes_check_env_and_dreams_valid_grids(grid_run):
    from gymnasium.utils.env_checker import check_env

    from lab.envs import make_env, resolve_env

    info = resolve_env(f"world:{grid_run}")
    real = resolve_env("maze-7:procedural")
    assert (info.observation_space, info.action_space) == (real.observation_space, real.action_space)
    env = make_env(info)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    for a in (0, 1, 2, 3):
        obs, reward, _term, _trunc, step_info = env.step(a)
        assert set(np.unique(obs)) <= {0.0, 1.0} and obs[1].sum() == 1 and obs[2].sum() == 1
        assert step_info["disagreement"] >= 0 and np.isfinite(reward)


def test_an_agent_trains_inside_the_grid_world_model(grid_run, tmp_path):
    r = cli("train", "ppo", f"world:{grid_run}", "--steps", 128, "--run-dir", tmp_path / "ppo", "--no-track", "-q",
            "--set", "agent.n_envs=2", "--set", "agent.n_steps=32", "--set", "agent.batch_size=32",
            "--set", "agent.n_epochs=1")
    assert r.exit_code == 0, r.output
