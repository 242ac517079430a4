"""Run folders, atomic writes and checkpoints that survive crashes."""

from __future__ import annotations

import pickle

import pytest
import torch

from lab import atomic
from lab.errors import RunDirError
from lab.runs import CHECKPOINT_FORMAT, RunDir, agent_checkpoint_state, check_agent_checkpoint, default_run_dir, load_state


def test_atomic_write_leaves_the_old_file_on_error(tmp_path):
    path = tmp_path / "f.txt"
    atomic.write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_write(path) as f:
            f.write("half")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary left behind


def test_default_run_dir_names():
    assert default_run_dir("ppo", "CartPole-v1").name.startswith("ppo-CartPole-v1-")
    assert default_run_dir("ppo", "my_pkg.envs:GridWorld").name.startswith("ppo-GridWorld-")


def test_create_never_overwrites_a_run(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.config_path.write_text("algo: ppo\n")
    with pytest.raises(RunDirError) as e:
        RunDir.create(tmp_path / "r")
    assert str(e.value) == (
        f"{tmp_path / 'r'} already exists and holds a run; choose another --run-dir; "
        f"continue it with: lab train --resume {tmp_path / 'r'}"
    )


def test_open_refuses_folders_that_are_not_runs(tmp_path):
    with pytest.raises(RunDirError, match="is not a run folder: it does not exist"):
        RunDir.open(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match="is not a run folder: it has no config.yaml"):
        RunDir.open(tmp_path / "empty")


def test_checkpoints_keep_the_last_k_and_load_weights_only(tmp_path):
    run = RunDir.create(tmp_path / "r")
    for step in (100, 200, 300, 400):
        run.save_checkpoint(step, {"step": step, "w": torch.full((2,), float(step))}, keep=2)
    assert [c.step for c in run.checkpoints()] == [300, 400]
    ckpt, state = run.load_checkpoint()
    assert ckpt.step == 400 and torch.equal(state["w"], torch.tensor([400.0, 400.0]))


def test_truncated_checkpoint_is_reported_and_an_older_one_named(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.save_checkpoint(100, {"step": 100}, keep=3)
    newest = run.save_checkpoint(200, {"step": 200, "w": torch.zeros(1000)}, keep=3)
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    with pytest.raises(RunDirError) as e:
        run.load_checkpoint()
    msg = str(e.value)
    assert msg.startswith(f"{newest}: corrupt or truncated checkpoint (")
    assert msg.endswith("the checkpoint at step 100 is intact (it loads): move step_000000200.pt away to resume from it")


def test_when_every_checkpoint_is_truncated_none_is_called_intact(tmp_path):
    run = RunDir.create(tmp_path / "r")
    paths = [run.save_checkpoint(s, {"step": s, "w": torch.zeros(1000)}, keep=3) for s in (100, 200, 300)]
    for p in paths:
        p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(RunDirError) as e:
        run.load_checkpoint()
    assert str(e.value).endswith("; no older checkpoint loads either")
    assert "intact" not in str(e.value)
    paths[2].unlink()  # following the advice of an older message must not lead to a false claim either
    with pytest.raises(RunDirError, match="no older checkpoint loads either"):
        run.load_checkpoint()


def test_a_pickled_object_is_never_unpickled(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    path = tmp_path / "x.pt"
    torch.save({"obj": Evil()}, path, pickle_module=pickle)
    with pytest.raises(RunDirError, match=r"x.pt: not loaded: it holds pickled Python objects, which the lab does not unpickle"):
        load_state(path)


def test_interrupted_write_temporaries_are_ignored_and_cleaned(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.save_checkpoint(100, {"step": 100})
    (run.checkpoints_dir / ".step_000000200.pt.abc.tmp").write_bytes(b"partial")
    assert [c.step for c in run.checkpoints()] == [100]
    run.clean_temporaries()
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["step_000000100.pt"]


def test_one_check_for_every_agent_checkpoint(tmp_path):
    from agents.alphazero import AlphaZero
    from agents.sb3 import PPO

    good = agent_checkpoint_state(7, {"w": torch.zeros(1)}, algo="ppo", env="CartPole-v1")
    assert good["format"] == CHECKPOINT_FORMAT
    ckpt = check_agent_checkpoint(good, tmp_path / "m.pt", algo="ppo")
    assert (ckpt.algo, ckpt.step, ckpt.env, list(ckpt.agent)) == ("ppo", 7, "CartPole-v1", ["w"])
    assert check_agent_checkpoint(good, tmp_path / "m.pt", algo=PPO).algo == "ppo"  # by class: any registered name
    with pytest.raises(RunDirError, match=r"m.pt: not a lab checkpoint \(format None, no step; expected format"):
        check_agent_checkpoint({"agent": {}, "algo": "ppo"}, tmp_path / "m.pt")
    with pytest.raises(RunDirError, match=r"^.*m.pt holds a 'ppo' agent but config.yaml says 'sac'$"):
        check_agent_checkpoint(good, tmp_path / "m.pt", algo="sac", expected_by="config.yaml")
    with pytest.raises(RunDirError, match=r"m.pt holds a 'ppo' checkpoint, not an AlphaZero one$"):
        check_agent_checkpoint(good, tmp_path / "m.pt", algo=AlphaZero)


def test_load_agent_prefers_the_final_model_then_the_latest_checkpoint(tmp_path):
    run = RunDir.create(tmp_path / "r")
    with pytest.raises(RunDirError, match="has no model to evaluate: no model.pt and no checkpoints/step_"):
        run.load_agent()
    run.save_checkpoint(5, agent_checkpoint_state(5, {}, algo="ppo"))
    assert run.load_agent(algo="ppo").step == 5
    torch.save(agent_checkpoint_state(9, {}, algo="ppo"), run.model_path)
    assert run.load_agent(algo="ppo").path == run.model_path
