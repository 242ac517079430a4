"""The mazes data set and maze generators through `lab train`, `lab sample` and `lab eval`: known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from envs.mazes.levels import held_out_levels, is_held_out
from envs.mazes.maze import is_perfect, level_hash, procedural_maze
from generators.datasets import DataConfig, load_dataset
from generators.mazes import MazeDataset, draw_levels, maze_spec, padded_side, tuned
from lab.cli import app
from lab.errors import LabError
from lab.training import resolve_config, train

runner = CliRunner()
TINY = {
    "diffusion": ["channels=[8,16,16]", "batch_size=16", "grid_samples=4", "eval_samples=40", "train_timesteps=50",
                  "sample_steps=3", "log_every=2", "grid_every=2", "data.levels=60"],
    "vae": ["latent=4", "channels=8", "batch_size=16", "grid_samples=4", "eval_samples=40", "log_every=2",
            "data.levels=60"],
    "gan": ["latent=8", "channels=16", "batch_size=16", "grid_samples=4", "eval_samples=40", "log_every=2",
            "data.levels=60"],
}


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("error: ")


@pytest.fixture(scope="module")
def maze_runs(tmp_path_factory):
    runs = {}
    for algo, sets in TINY.items():
        path = tmp_path_factory.mktemp("runs") / algo
        cfg = resolve_config(algo=algo, env="mazes-7", sets=[*sets, "steps=3"], flags={"track": False})
        assert train(cfg, run_dir=path, display=False).status == "finished"
        runs[algo] = path
    return runs


def test_data_set_names_sizes_and_padding():
    assert maze_spec("mazes") == 13 and maze_spec("mazes-9") == 9 and maze_spec("digits") is None
    assert [padded_side(s) for s in (5, 7, 9, 13, 17, 21)] == [8, 8, 16, 16, 32, 32]
    ds = load_dataset("mazes-7", DataConfig(levels=30))
    assert isinstance(ds, MazeDataset) and ds.name == "mazes-7" and ds.shape == (1, 8, 8) and ds.maze_size == 7
    assert (ds.train[:, 0, 7, :] == 1).all() and (ds.train[:, 0, :, 7] == 1).all()  # padding is wall
    assert set(np.unique(ds.train)) == {0.0, 1.0}
    assert load_dataset("mazes", DataConfig(levels=5)).name == "mazes-13"


def test_splits_are_fixed_disjoint_perfect_and_the_held_out_one_is_the_envs():
    a = load_dataset("mazes-9", DataConfig(levels=200))
    b = load_dataset("mazes-9", DataConfig(levels=200))
    train, held = a.to_levels(a.train), a.to_levels(a.held_out)
    np.testing.assert_array_equal(train, b.to_levels(b.train))
    np.testing.assert_array_equal(held, held_out_levels(9))
    train_hashes = {level_hash(g) for g in train}
    assert len(train_hashes) == 200 and not train_hashes & {level_hash(g) for g in held}
    assert all(is_perfect(g) and not is_held_out(g) for g in train)
    first = next(procedural_maze(9, seed=s) for s in range(10) if not is_held_out(procedural_maze(9, seed=s)))
    np.testing.assert_array_equal(train[0], first)  # seeds 0, 1, ... in order


@pytest.mark.parametrize("spec, message", [
    ("mazes-12", "data set 'mazes-12': maze size: expected an odd number >= 5, got 12"),
    ("mazes-3", "data set 'mazes-3': maze size: expected an odd number >= 5, got 3"),
    ("mazes-x", "data set 'mazes-x': maze size: expected an odd number >= 5, got 'x'"),
])
def test_bad_maze_sizes_are_one_line(spec, message):
    with pytest.raises(LabError, match=f"^{message}$"):
        load_dataset(spec)
    assert one_error_line(runner.invoke(app, ["train", "vae", spec, "--no-track"])) == message


def test_to_levels_crops_and_thresholds_at_one_half():
    ds = load_dataset("mazes-7", DataConfig(levels=3))
    raw = np.full((2, 1, 8, 8), 0.2, np.float32)
    raw[0, 0, 0, 0], raw[1, 0, 2, 3], raw[1, 0, 2, 4] = 0.7, 0.5, 0.49
    levels = ds.to_levels(raw)
    assert levels.dtype == np.int8 and levels.shape == (2, 7, 7)
    assert levels[0].sum() == 1 and levels[0, 0, 0] == 1 and levels[1].sum() == 1 and levels[1, 2, 3] == 1


def test_tuned_defaults_apply_to_mazes_only():
    assert tuned("diffusion", "mazes-13")["prediction"] == "v_prediction" and tuned("diffusion", "digits") == {}
    assert tuned("gan", "mazes")["steps"] > 0 and tuned("vae", "mazes-bad") == {}


def test_grid_marks_invalid_levels():
    good, bad = procedural_maze(5, seed=0), np.zeros((5, 5), np.int8)
    img = draw_levels(np.stack([good, bad]), np.array([False, True]))
    assert img.shape == (2, 3, 5, 5)
    open_good = img[0][:, good == 0][:, 1:-1]  # open cells other than start and goal: light grey
    assert np.allclose(open_good, 0.95)
    assert np.allclose(img[1][:, 2, 2], (0.95, 0.55, 0.55))  # an invalid level's open cells are tinted red


@pytest.mark.parametrize("algo", sorted(TINY))
def test_lab_sample_writes_unrepaired_int8_levels_and_a_grid(maze_runs, algo, tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(app, ["sample", str(maze_runs[algo]), "--n", "12", "--out", str(out), "--seed", "3"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    levels = np.load(out / "samples.npy")
    assert levels.dtype == np.int8 and levels.shape == (12, 7, 7) and set(np.unique(levels)) <= {0, 1}
    assert (out / "grid.png").stat().st_size > 0
    from lab.sampling import load_generator

    gen = load_generator(maze_runs[algo])
    raw = gen.sample(12, seed=3)
    np.testing.assert_array_equal(levels, (raw[:, 0, :7, :7] >= 0.5).astype(np.int8))  # not repaired


def test_lab_eval_scores_levels_beside_random_and_held_out_procedural(maze_runs):
    result = runner.invoke(app, ["eval", str(maze_runs["diffusion"]), "--n", "30"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((maze_runs["diffusion"] / "eval.json").read_text())
    for key in ("perfect_rate", "solvable_rate", "duplicate_rate", "novelty", "path_ks"):
        assert 0.0 <= report[key] <= 1.0
        assert key in report["random"] and key in report["held_out"] and key in report["procedural"]
    assert report["n"] == 30 and report["dataset"] == "mazes-7"
    held = report["held_out"]
    assert held["perfect_rate"] == 1.0 and held["solvable_rate"] == 1.0 and held["path_ks"] == 0.0
    assert held["duplicate_rate"] == 0.0 and held["novelty"] == 1.0
    assert report["procedural"]["perfect_rate"] == 1.0 and report["random"]["perfect_rate"] == 0.0
    assert "perfect_rate" in result.output
