"""A hostile user's inputs, one table: each exits 2 with one line naming the problem, and changes no file that existed.

The commands run in-process through ``lab.cli.main`` (what the console script runs, crash handler
included) in a workspace holding a small finished run and broken copies of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from lab.cli import main

LONG = "x" * 300


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """``lab ARGV`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``root``: its size and content hash (not the lock files a writer takes: see lab.locks)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, hashlib.sha1(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"
    }


def folders(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A finished 1,024-step PPO run and broken variants of it, each in its own folder."""
    from lab.training import resolve_config, train

    root = tmp_path_factory.mktemp("hostile")
    cfg = resolve_config(algo="ppo", env="CartPole-v1", flags={"steps": 1024, "track": False})
    train(cfg, run_dir=root / "run", display=False)
    (root / "run" / ".lock").unlink()  # as a fresh copy would be; the lock file itself is harmless

    def variant(name: str) -> Path:
        shutil.copytree(root / "run", root / name)
        return root / name

    (variant("nulrun") / "config.yaml").write_bytes(b"algo: ppo\nenv: CartPole-v1\x00\n")
    (variant("rndrun") / "model.pt").write_bytes(os.urandom(5000).replace(b"\x80", b"\x00").replace(b"PK", b"pk"))
    nomodel = variant("nomodel")
    (nomodel / "model.pt").unlink()
    shutil.rmtree(nomodel / "checkpoints")
    cfgdir = variant("cfgdir")
    (cfgdir / "config.yaml").unlink()
    (cfgdir / "config.yaml").mkdir()
    trunc = variant("truncated")
    (trunc / "model.pt").unlink()
    (trunc / "events.jsonl").write_text("")
    for ckpt in (trunc / "checkpoints").iterdir():
        ckpt.write_bytes(ckpt.read_bytes()[:200])
    pickled = variant("pickled")
    import pickle

    (pickled / "model.pt").write_bytes(pickle.dumps({"format": "lab-checkpoint/1", "agent": Path("x")}))
    (root / "afile").write_text("not a folder\n")
    (root / "hp.yml").write_text("CartPole-v1:\n  n_timesteps: 1000\n  n_steps: lots\n")
    sweep = {
        "method": "grid", "metric": {"name": "eval/mean_return", "goal": "maximize"},
        "parameters": {"algo": {"value": "ppo"}, "env": {"value": "CartPole-v1"}, "steps": {"value": 2048},
                       "n_envs": {"value": 16}, "n_steps": {"values": [32, 128, 256]}},
    }
    (root / "untrained.yaml").write_text(yaml.safe_dump(sweep))
    dqn = {**sweep, "method": "random",
           "parameters": {"algo": {"value": "dqn"}, "env": {"value": "CartPole-v1"}, "steps": {"value": 3000},
                          "learning_starts": {"distribution": "int_uniform", "min": 100, "max": 5000}}}
    (root / "dqnrange.yaml").write_text(yaml.safe_dump(dqn))
    bad_env = {**sweep, "parameters": {**sweep["parameters"], "env": {"value": "CartPol-v1"}, "n_steps": {"value": 32}}}
    (root / "badenv.yaml").write_text(yaml.safe_dump(bad_env))
    escape = {**sweep, "name": "../../escape", "parameters": {**sweep["parameters"], "n_steps": {"value": 32}}}
    (root / "escape.yaml").write_text(yaml.safe_dump(escape))
    ok = {**sweep, "parameters": {**sweep["parameters"], "n_steps": {"value": 32}}}
    (root / "ok.yaml").write_text(yaml.safe_dump(ok))
    return root


CASES = [
    # (id, argv, the message's specific content)
    ("train-seed-negative", ["train", "ppo", "CartPole-v1", "--seed", "-1"], "--seed: expected 0 <= seed <= 4294967295"),
    ("train-seed-huge", ["train", "ppo", "CartPole-v1", "--seed", "100000000000000000000"], "got 100000000000000000000"),
    ("eval-seed-negative", ["eval", "run", "--seed", "-1"], "--seed: expected 0 <= seed"),
    ("eval-seed-huge", ["eval", "run", "--seed", "100000000000000000000"], "--seed: expected 0 <= seed"),
    ("eval-device-tpu", ["eval", "run", "--device", "tpu"], "--device: unknown device 'tpu'"),
    ("plot-out-folder", ["plot", "run", "-o", "run"], "--out run: is a folder; give a file name"),
    ("run-dir-long", ["train", "ppo", "CartPole-v1", "--run-dir", LONG], "300 characters long"),
    ("run-dir-proc", ["train", "ppo", "CartPole-v1", "--run-dir", "/proc/lab-run"], "cannot write under /proc"),
    ("resume-nul-config", ["train", "--resume", "nulrun"], "nulrun/config.yaml:2: not a text file: it contains a NUL byte"),
    ("minutes-nan", ["train", "alphazero", "tictactoe", "--minutes", "nan"], "--minutes: expected a finite number, got nan"),
    ("minutes-inf", ["train", "alphazero", "tictactoe", "--minutes", "inf"], "--minutes: expected a finite number, got inf"),
    ("steps-beyond-int64", ["train", "ppo", "CartPole-v1", "--steps", str(10**23)],
     "--steps: expected at most 9,223,372,036,854,775,807 (what an int64 counter holds)"),
    ("n-envs-memory", ["train", "ppo", "CartPole-v1", "--n-envs", "100000000", "--steps", str(10**12), "--no-track"],
     "environments fit"),
    ("all-checkpoints-truncated", ["train", "--resume", "truncated"], "no older checkpoint loads either"),
    ("config-unknown-env", ["config", "ppo", "CartPol-v1"], "unknown environment 'CartPol-v1'; did you mean 'CartPole-v1'"),
    ("config-sac-discrete", ["config", "sac", "CartPole-v1"], "sac cannot train on CartPole-v1"),
    ("config-alphazero-gym", ["config", "alphazero", "CartPole-v1"], "alphazero cannot train on CartPole-v1"),
    ("config-budget", ["config", "ppo", "CartPole-v1", "--set", "steps=500"], "so this budget makes no update"),
    ("file-as-run-folder", ["eval", "afile"], "afile is not a run folder: it is a file"),
    ("file-as-resume", ["train", "--resume", "afile"], "afile is not a run folder: it is a file"),
    ("file-as-run-dir", ["train", "ppo", "CartPole-v1", "--run-dir", "afile"], "afile is a file, not a folder"),
    ("eval-nothing-saved", ["eval", "nomodel"], "has no model to evaluate: no model.pt and no checkpoints/step_*.pt"),
    ("random-bytes-model", ["eval", "rndrun"], "rndrun/model.pt: not a checkpoint: neither a torch file nor a pickle"),
    ("pickled-model", ["eval", "pickled"], "holds pickled Python objects, which the lab does not unpickle"),
    ("config-yaml-is-folder", ["eval", "cfgdir"], "its config.yaml is a folder, not a file"),
    ("hyperparams-line", ["train", "ppo", "CartPole-v1", "--hyperparams", "hp.yml"], "hp.yml:3 (CartPole-v1): agent.n_steps: expected int"),
    ("gpus-per-trial-negative", ["sweep", "ok.yaml", "--gpus-per-trial", "-1", "--trials", "1"],
     "--gpus-per-trial: expected 0 or a positive share of a GPU"),
    ("run-dir-empty", ["train", "ppo", "CartPole-v1", "--run-dir", ""], "--run-dir: the path is empty"),
    ("eval-empty", ["eval", ""], "RUN_DIR: the path is empty"),
    ("resume-empty", ["train", "--resume", ""], "--resume: the path is empty"),
    ("budget-on-policy", ["train", "ppo", "CartPole-v1", "--steps", "500"],
     "steps 500: ppo updates after each rollout of n_steps x n_envs = 32 x 16 = 512 steps, so this budget makes no update"),
    ("budget-off-policy", ["train", "dqn", "CartPole-v1", "--steps", "500", "--set", "learning_starts=1000"],
     "dqn makes its first update after learning_starts = 1,000 steps"),
    ("sweep-check-untrained-grid", ["sweep", "untrained.yaml", "--check"],
     "the trials with n_steps=128 would make no update: steps 2,048"),
    ("sweep-check-untrained-range", ["sweep", "dqnrange.yaml", "--check"],
     "the trials with learning_starts=5000 would make no update"),
    ("sweep-check-unknown-env", ["sweep", "badenv.yaml", "--check"],
     "parameters.env: unknown environment 'CartPol-v1'; did you mean 'CartPole-v1'"),
    ("sweep-name-escape", ["sweep", "escape.yaml", "--check"], "name: '../../escape' cannot be a folder name"),
    ("sweep-out-file", ["sweep", "ok.yaml", "--out", "afile", "--trials", "1"], "--out afile: is a file, not a folder"),
    ("analyze-huge-move", ["analyze", "tictactoe", "9" * 100_000, "--agent", "random"], "(100,000 characters)"),
]


@pytest.mark.parametrize("argv,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_exit_2_and_changes_nothing(workspace, monkeypatch, capsys, argv, expected):
    monkeypatch.chdir(workspace)
    before, dirs = snapshot(workspace), folders(workspace)
    code, _out, err = run_main(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (code, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert "Traceback" not in err and "unexpected" not in err
    assert expected in lines[0], lines[0]
    assert snapshot(workspace) == before, "a file that existed before was changed, or a new one made"
    assert folders(workspace) == dirs, "a (half-made) folder was left behind"


def test_a_huge_move_in_lab_play_is_refused_and_play_goes_on(workspace, monkeypatch):
    from typer.testing import CliRunner

    from lab.cli import app

    monkeypatch.chdir(workspace)
    result = CliRunner().invoke(app, ["play", "tictactoe", "--opponent", "random"], input="9" * 100_000 + "\nq\n")
    assert result.exit_code == 0, result.output[-500:]
    assert "(100,000 characters) is not a move" in result.output


def test_eval_prints_the_result_when_eval_json_cannot_be_written(workspace, monkeypatch, capsys):
    import lab.training.evaluate as evaluate

    def refuse(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.chdir(workspace)
    monkeypatch.setattr(evaluate, "write_eval_json", refuse)
    before = snapshot(workspace)
    code, out, err = run_main(["eval", "run", "--episodes", "2"], capsys)
    assert code == 0, err
    assert out.startswith("mean return ") and "not written: could not write run/eval.json (Permission denied)" in out
    assert err.strip() == "warning: could not write run/eval.json (Permission denied)"
    assert snapshot(workspace) == before


def test_eval_of_a_run_without_model_pt_says_which_checkpoint_it_evaluates(workspace, monkeypatch, capsys, tmp_path):
    shutil.copytree(workspace / "run", tmp_path / "r")
    (tmp_path / "r" / "model.pt").unlink()
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["eval", "r", "--episodes", "2"], capsys)
    assert code == 0, err
    assert err.strip() == (
        "warning: r has no model.pt (the run has not finished): evaluating its latest checkpoint, "
        "checkpoints/step_000001024.pt (step 1,024)"
    )


def test_resume_without_checkpoints_says_it_restarts(workspace, monkeypatch, capsys, tmp_path):
    shutil.copytree(workspace / "run", tmp_path / "r")
    shutil.rmtree(tmp_path / "r" / "checkpoints")
    (tmp_path / "r" / "model.pt").unlink()
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["train", "--resume", "r", "-q"], capsys)
    assert code == 0, err
    assert err.splitlines()[0] == "warning: r has no checkpoint (checkpoints/ is empty or missing): restarting the run from step 0"
    assert "finished 1,024 steps" in out


def test_a_run_that_made_no_update_says_so_in_its_summary_and_eval_json(monkeypatch, capsys, tmp_path):
    import lab.training.run as run_module

    monkeypatch.setattr(run_module, "check_budget", lambda cfg: None)  # the refusal this test goes around
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["train", "ppo", "CartPole-v1", "--steps", "512", "--run-dir", "r", "-q", "--no-track"], capsys)
    assert code == 0, err
    assert "over 10 episodes (no update was made: this is the untrained initial policy)" in out
    data = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert data["updates"] == 0 and data["warning"] == "no update was made: this is the untrained initial policy"
    code, out, err = run_main(["eval", "r", "--episodes", "2"], capsys)
    assert "no update was made" in out


def test_updates_are_counted_in_the_summary_and_eval_json(workspace):
    data = json.loads((workspace / "run" / "eval.json").read_text())
    assert data["updates"] == 20  # 2 rollouts of 512 steps; the budget stops the second before its update: 1 x 20 epochs


def test_an_unexpected_exception_is_one_line_with_the_log_path(workspace, monkeypatch, capsys):
    import lab.training

    def boom(*_a, **_k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.chdir(workspace)
    monkeypatch.setattr(lab.training, "evaluate_run", boom)
    monkeypatch.delenv("LAB_DEBUG", raising=False)
    code, _out, err = run_main(["eval", "run"], capsys)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and line.startswith("error: unexpected RuntimeError: boom; the traceback is in ")
    assert line.endswith(" (LAB_DEBUG=1 prints it here)")
    log = Path(line.split("the traceback is in ")[1].split(" (LAB_DEBUG")[0])
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom" in text and "command: lab eval run" in text
    log.unlink()
    monkeypatch.setenv("LAB_DEBUG", "1")
    code, _out, err = run_main(["eval", "run"], capsys)
    assert code == 2 and "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("error: unexpected RuntimeError: boom; the traceback is in ")
    Path(err.strip().splitlines()[-1].split("the traceback is in ")[1]).unlink()
