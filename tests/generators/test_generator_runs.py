"""Generators through `lab train`, `lab sample` and `lab eval`: the run folder, exact resume, and every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from lab.cli import app
from lab.eventlog import read_events
from lab.events import SafePoint, StopRequested
from lab.runs import RunDir, load_state
from lab.training import resolve_config, resume, train

runner = CliRunner()
TINY = {
    "diffusion": ["data.size=8", "channels=[8,16]", "batch_size=16", "grid_samples=4", "eval_samples=20",
                  "table_samples=10", "train_timesteps=50", "sample_steps=3", "log_every=2", "grid_every=2"],
    "vae": ["data.size=8", "latent=4", "channels=8", "batch_size=16", "grid_samples=4", "eval_samples=20", "log_every=2"],
}


def _cfg(algo, steps=4, **flags):
    return resolve_config(algo=algo, env="digits", sets=[*TINY[algo], f"steps={steps}"], flags={"track": False, **flags})


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0][len("error: ") :]


@pytest.fixture(scope="module")
def diffusion_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "diffusion"
    result = train(_cfg("diffusion"), run_dir=path, display=False)
    assert result.status == "finished"
    return path


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "vae"
    train(_cfg("vae"), run_dir=path, display=False)
    return path


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "ppo"
    cfg = resolve_config(algo="ppo", env="CartPole-v1", sets=["steps=128", "agent.n_steps=64", "agent.batch_size=64",
                                                             "agent.n_epochs=1", "agent.n_envs=1"],
                         flags={"track": False, "eval_episodes": 1})
    train(cfg, run_dir=path, display=False)
    return path


def test_run_folder_events_grids_and_eval_json(diffusion_run):
    run = RunDir(diffusion_run)
    events = read_events(run.events_path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    metrics = [e for e in events if e["event"] == "MetricsLogged" and "train/loss" in e["metrics"]]
    assert [e["step"] for e in metrics] == [2, 4] and metrics[-1]["metrics"]["train/images_per_s"] > 0
    saved = [e for e in events if e["event"] == "ImageSaved"]
    assert [e["step"] for e in saved] == [2, 4]  # every grid_every steps and at the end
    assert all((diffusion_run / "samples" / f"samples_step_{s:09d}.png").is_file() for s in (2, 4))
    with Image.open(diffusion_run / "samples.png") as grid:
        assert grid.size[0] >= 64
    evaluated = [e for e in events if e["event"] == "SamplesEvaluated"]
    assert len(evaluated) == 1 and evaluated[0]["step"] == 4
    result = json.loads(run.eval_path.read_text())
    for key in ("fd", "fd_real", "fd_gmm", "coverage", "coverage_real", "copy_rate", "class_accuracy_guidance_2"):
        assert key in result
    assert result["fd_real"] < result["fd_gmm"] and result["n"] == 20
    assert "steps_table" not in result  # the slow table is for `lab eval`
    assert load_state(run.model_path)["algo"] == "diffusion"


def test_stop_and_resume_equals_an_uninterrupted_run(tmp_path):
    class StopAt:
        def attach(self, bus):
            bus.subscribe(SafePoint, lambda e: e.step == 3 and bus.publish(StopRequested(reason="test")))

    whole = train(_cfg("diffusion", steps=6), run_dir=tmp_path / "whole", display=False)
    first = train(_cfg("diffusion", steps=6), run_dir=tmp_path / "cut", subscribers=[StopAt()], display=False)
    assert first.status == "stopped" and first.step == 3
    done = resume(tmp_path / "cut", display=False)
    assert done.status == "finished" and done.step == whole.step == 6
    a = load_state(tmp_path / "whole" / "model.pt")["agent"]
    b = load_state(tmp_path / "cut" / "model.pt")["agent"]
    for name, tensor in a["modules"]["unet"].items():
        assert torch.equal(tensor, b["modules"]["unet"][name]), name
    for x, y in zip(a["ema"]["shadow_params"], b["ema"]["shadow_params"], strict=True):
        assert torch.equal(x, y)
    assert json.loads((tmp_path / "whole" / "eval.json").read_text())["fd"] == \
        json.loads((tmp_path / "cut" / "eval.json").read_text())["fd"]


def test_lab_sample_writes_samples_and_grid(diffusion_run, tmp_path):
    res = cli("sample", diffusion_run, "--n", 12, "--out", tmp_path / "s", "--seed", 1)
    assert res.exit_code == 0, res.output
    samples = np.load(tmp_path / "s" / "samples.npy")
    assert samples.shape == (12, 1, 8, 8) and samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert (tmp_path / "s" / "grid.png").is_file()
    res = cli("sample", diffusion_run, "--n", 5, "--class", 3, "--guidance", 2, "--sampler", "ddpm", "--steps", 10,
              "--out", tmp_path / "c")
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "c" / "labels.npy").tolist() == [3] * 5


def test_vae_samples_and_interpolates(vae_run, tmp_path):
    assert cli("sample", vae_run, "--n", 6, "--interpolate", "0,5", "--out", tmp_path / "i").exit_code == 0
    walk = np.load(tmp_path / "i" / "samples.npy")
    assert walk.shape == (6, 1, 8, 8)
    # default: the latent mixture fitted at the end of training (saved with the model); --prior normal: N(0, I)
    state = load_state(vae_run / "model.pt")
    assert state["agent"]["latent_prior"]["means"].shape == (10, 4)  # 10 components over the 4-d latent
    for prior in ("gmm", "normal"):
        assert cli("sample", vae_run, "--n", 8, "--prior", prior, "--out", tmp_path / prior).exit_code == 0
    gmm, normal = np.load(tmp_path / "gmm" / "samples.npy"), np.load(tmp_path / "normal" / "samples.npy")
    assert gmm.shape == normal.shape == (8, 1, 8, 8) and not np.array_equal(gmm, normal)
    assert cli("sample", vae_run, "--n", 8, "--out", tmp_path / "default").exit_code == 0
    assert np.array_equal(np.load(tmp_path / "default" / "samples.npy"), gmm)
    assert "prior_normal" in json.loads((vae_run / "eval.json").read_text())  # eval.json shows both priors


def test_lab_eval_generator_run_has_both_references_and_the_steps_table(diffusion_run):
    res = cli("eval", diffusion_run, "--n", 20)
    assert res.exit_code == 0, res.output
    assert "fd" in res.stdout and "gmm" in res.stdout
    result = json.loads((diffusion_run / "eval.json").read_text())
    assert [(r["sampler"], r["steps"]) for r in result["steps_table"]] == [
        ("ddim", 10), ("ddim", 25), ("ddim", 50), ("ddpm", 1000)]


def _folder(tmp_path, sizes):
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    return f"folder:{tmp_path}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "diffusion", "digitz"), r"^unknown data set 'digitz'; did you mean 'digits'\?"),
        (("train", "difusion", "digits"), r"^unknown agent or generator 'difusion'; did you mean 'diffusion'( or 'world-diffusion')?\?"),
        (("train", "vae", "folder:{empty}"), r"the folder is empty"),
        (("train", "vae", "folder:{junk}"), r"none of its 1 files is a readable image"),
        (("train", "vae", "folder:{mixed}"), r"images of mixed sizes .*; pass --resize"),
    ],
)
def test_train_bad_data_is_one_line(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("not an image")
    (tmp_path / "mixed").mkdir()
    _folder(tmp_path / "mixed", [(8, 8), (12, 12)])
    args = [a.format(empty=tmp_path / "empty", junk=tmp_path / "junk", mixed=tmp_path / "mixed") for a in args]
    msg = one_error_line(cli(*args, "--run-dir", tmp_path / "run", "--no-track"))
    assert __import__("re").search(message, msg), msg
    assert not (tmp_path / "run").exists()  # bad input leaves no run folder behind


def test_resize_makes_mixed_sizes_trainable(tmp_path):
    (tmp_path / "imgs").mkdir()
    spec = _folder(tmp_path / "imgs", [(8, 8), (12, 12)] * 5)
    res = cli("train", "vae", spec, "--resize", "--set", "data.size=8", *sum((["--set", s] for s in TINY["vae"][1:]), []),
              "--steps", 2, "--run-dir", tmp_path / "run", "--no-track", "--quiet")
    assert res.exit_code == 0, res.output
    assert "fd" in res.stdout


def test_sampling_bad_input_is_one_line(diffusion_run, vae_run, agent_run, tmp_path):
    out = tmp_path / "o"
    msg = one_error_line(cli("sample", vae_run, "--guidance", 2, "--out", out))
    assert msg == "--guidance: vae models do not take it (they are unconditional)"
    msg = one_error_line(cli("sample", vae_run, "--class", 1, "--out", out))
    assert msg.startswith("--class: this vae model cannot sample a class")
    msg = one_error_line(cli("sample", diffusion_run, "--class", 12, "--out", out))
    assert msg == "--class 12: outside the labels; expected 0..9 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)"
    msg = one_error_line(cli("sample", diffusion_run, "--n", 10**13, "--out", out))
    assert msg.startswith("--n 10000000000000: 10,000,000,000,000 samples of 1x8x8 float32 need ")
    assert "more than half of the" in msg
    msg = one_error_line(cli("sample", diffusion_run, "--sampler", "euler", "--out", out))
    assert msg == "--sampler euler: expected ddim or ddpm"
    msg = one_error_line(cli("sample", vae_run, "--prior", "uniform", "--out", out))
    assert msg == "--prior uniform: expected gmm or normal"
    msg = one_error_line(cli("sample", diffusion_run, "--prior", "normal", "--out", out))
    assert msg == "--prior: diffusion models do not take it"
    before = (diffusion_run / "eval.json").read_bytes() if (diffusion_run / "eval.json").exists() else None
    msg = one_error_line(cli("eval", diffusion_run, "--n", 10**13))
    assert msg.startswith("--n 10000000000000: 10,000,000,000,000 samples of 1x8x8 float32 need ")
    assert ((diffusion_run / "eval.json").read_bytes() if before is not None else None) == before
    assert not out.exists()  # nothing written for bad input


def test_unconditional_diffusion_refuses_guidance(tmp_path):
    cfg = resolve_config(algo="diffusion", env="digits", sets=[*TINY["diffusion"], "steps=1", "conditional=false"],
                         flags={"track": False})
    train(cfg, run_dir=tmp_path / "u", display=False)
    msg = one_error_line(cli("sample", tmp_path / "u", "--guidance", 2, "--out", tmp_path / "o"))
    assert msg == "--guidance: this diffusion model is unconditional (trained without class labels)"


def test_agent_and_generator_runs_are_not_interchangeable(diffusion_run, agent_run, tmp_path):
    msg = one_error_line(cli("sample", agent_run, "--out", tmp_path / "o"))
    assert msg.startswith(f"lab sample: {agent_run} is a ppo agent run, not a generator run")
    msg = one_error_line(cli("eval", agent_run, "--n", 10))
    assert msg.startswith(f"--n: {agent_run} is a ppo agent run")
    msg = one_error_line(cli("eval", diffusion_run, "--episodes", 3))
    assert msg.startswith(f"--episodes: {diffusion_run} is a diffusion generator run")
    msg = one_error_line(cli("eval", diffusion_run, "--video"))
    assert msg.startswith(f"--video: {diffusion_run} is a diffusion generator run")
    msg = one_error_line(cli("play", "tictactoe", "--opponent", f"alphazero:{diffusion_run}"))
    assert "diffusion" in msg
    msg = one_error_line(cli("analyze", "tictactoe", "--agent", f"alphazero:{diffusion_run}"))
    assert "diffusion" in msg


def test_rollouts_played_by_a_trained_run(agent_run, diffusion_run):
    from generators.datasets import DataConfig, load_dataset
    from lab.errors import LabError

    ds = load_dataset("rollouts:CartPole-v1", DataConfig(policy=str(agent_run), episodes=1, max_frames=20, size=16))
    assert ds.shape == (3, 16, 16) and len(ds.train) + len(ds.held_out) == 20
    with pytest.raises(LabError, match="a diffusion generator run, not an agent run"):
        load_dataset("rollouts:CartPole-v1", DataConfig(policy=str(diffusion_run), episodes=1, max_frames=5))
    with pytest.raises(LabError, match="trained on CartPole-v1, not on Acrobot-v1"):
        load_dataset("rollouts:Acrobot-v1", DataConfig(policy=str(agent_run), episodes=1, max_frames=5))
