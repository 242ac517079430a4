"""The generator:RUN_DIR level source: batched, buffered, deterministic per seed, checked like every source."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from typer.testing import CliRunner

from envs.mazes.env import MazeEnv
from envs.mazes.generated import GeneratorSource, dataset_maze_size
from lab.cli import app
from lab.envs import make_env, resolve_env
from lab.errors import LabError
from lab.training import resolve_config, train

runner = CliRunner()
TINY_DIFFUSION = ["channels=[8,16,16]", "batch_size=16", "grid_samples=4", "eval_samples=20", "train_timesteps=50",
                  "sample_steps=3", "log_every=2", "data.levels=60"]
TINY_VAE = ["latent=4", "channels=8", "batch_size=16", "grid_samples=4", "eval_samples=20", "log_every=2"]


def _train(path, algo, dataset, sets):
    cfg = resolve_config(algo=algo, env=dataset, sets=[*sets, "steps=2"], flags={"track": False})
    assert train(cfg, run_dir=path, display=False).status == "finished"
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "maze7": _train(root / "diffusion-mazes7", "diffusion", "mazes-7", TINY_DIFFUSION),
        "maze9": _train(root / "vae-mazes9", "vae", "mazes-9", [*TINY_VAE, "data.levels=60"]),
        "digits": _train(root / "vae-digits", "vae", "digits", [*TINY_VAE, "data.size=8"]),
    }


def test_dataset_names():
    assert dataset_maze_size("mazes") == 13 and dataset_maze_size("mazes-9") == 9
    assert dataset_maze_size("digits") is None and dataset_maze_size("folder:mazes-9") is None


def test_check_env_passes_and_info_names_the_source(runs):
    env = make_env(resolve_env(f"maze-7:generator:{runs['maze7']}", {}))
    check_env(env, skip_render_check=True)
    _obs, info = env.reset(seed=1)
    assert info["level_source"] in (f"generator:{runs['maze7']}", "procedural")
    assert env.observation_space.shape == (3, 7, 7)


def test_samples_in_batches_into_a_pool_and_draws_are_seeded(runs):
    a = GeneratorSource(7, str(runs["maze7"]), batch=8, pool=16, background=False)
    b = GeneratorSource(7, str(runs["maze7"]), batch=8, pool=16, background=False)
    assert a.levels_sampled == 8 and a.pool_size == 16 and len(a._pool) == 8  # one batch, then growing
    ra, rb = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(40):
        np.testing.assert_array_equal(a.draw(ra), b.draw(rb))
    assert a.swaps == 40 // 8 - 1 and a.levels_sampled == 8 + 8 * a.swaps  # a fresh batch after every 8 draws
    assert len(a._pool) == 16
    level = a.draw(ra)
    assert level.dtype == np.int8 and level.shape == (7, 7)
    c = GeneratorSource(7, str(runs["maze7"]), batch=8, pool=16, background=False)
    first = c.generator.data.to_levels(c.generator.sample(8, seed=0))  # batch 0: seed 0, thresholded, not repaired
    np.testing.assert_array_equal(c._pool, first)


def test_background_thread_samples_ahead_and_never_blocks_a_draw(runs):
    src = GeneratorSource(7, str(runs["maze7"]), batch=8, pool=16)
    try:
        rng = np.random.default_rng(0)
        for _ in range(200):
            src.draw(rng)
        assert src.swaps + src.stale_swaps == 24  # a batch is due after every 8 draws (draws 9, 17, ..., 193)
        assert src.levels_sampled >= 8 + 8 * src.swaps and src.levels_per_second() > 0
    finally:
        src.close()
    assert src._thread is None


def test_bad_levels_are_repaired_or_replaced_and_every_draw_is_an_event(runs):
    env = MazeEnv(7, GeneratorSource(7, str(runs["maze7"]), batch=8, pool=8, background=False), max_tries=2)
    outcomes = []
    for seed in range(30):
        env.reset(seed=seed)
        _obs, _r, _term, _trunc, info = env.step(0)
        (event,) = info["lab_events"]
        assert event.source == f"generator:{runs['maze7']}"
        outcomes.append(event.outcome)
    assert set(outcomes) <= {"ok", "repaired", "fallback"} and len(outcomes) == 30
    assert "fallback" in outcomes or "repaired" in outcomes  # two steps of training: mostly not valid yet


def test_a_pickled_source_rebuilds_itself(runs):
    import pickle

    src = GeneratorSource(7, str(runs["maze7"]), batch=8, pool=8, background=False)
    copy = pickle.loads(pickle.dumps(src))
    assert isinstance(copy, GeneratorSource) and copy.run_dir == src.run_dir and copy.pool_size == 8


def test_bad_runs_are_one_line_and_exit_2(runs, tmp_path):
    with pytest.raises(LabError, match=r"trained on mazes-9, but this env is maze-7"):
        GeneratorSource(7, str(runs["maze9"]))
    with pytest.raises(LabError, match=r"a vae run trained on data set 'digits', not on mazes"):
        GeneratorSource(7, str(runs["digits"]))
    for run, message in [
        (runs["maze9"], f"level source generator:{runs['maze9']}: trained on mazes-9, but this env is maze-7"),
        (runs["digits"], f"level source generator:{runs['digits']}: a vae run trained on data set 'digits'"),
        (tmp_path / "nothing", f"level source generator:{tmp_path / 'nothing'}: "),
    ]:
        result = runner.invoke(app, ["train", "ppo", f"maze-7:generator:{run}", "--steps", "256", "--no-track",
                                     "--run-dir", str(tmp_path / "ppo")])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
        assert not (tmp_path / "ppo").exists()
