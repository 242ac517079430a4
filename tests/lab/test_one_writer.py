"""One writer per run or sweep folder: a second writer exits 2 naming the holder; kill -9 leaves no stale lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab import locks
from lab.cli import main

ENV = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")


def lab(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lab.cli", *args], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_main(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def wait_for(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            pytest.fail("timed out")
        time.sleep(0.05)


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from lab import locks\n"
        f"with locks.hold({str(tmp_path)!r}, 'run folder'):\n"
        "    print('held', flush=True); time.sleep(120)\n"
    )], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(locks.FolderBusy) as e:
            with locks.hold(tmp_path, "run folder"):
                pass
        assert e.value.pid == holder.pid
        assert str(e.value) == (f"{tmp_path}: the run folder is in use by process {holder.pid} (another lab command "
                                "writing to it); wait for it to end or stop it, then run this again")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    with locks.hold(tmp_path, "run folder"):  # kill -9 released it: no stale lock
        assert locks.holder(tmp_path) == os.getpid()


def test_a_second_writer_of_a_run_exits_2_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("algo: ppo\nenv: CartPole-v1\nsteps: 1024\ntrack: false\n")
    with locks.hold(run, "run folder"):  # as a running `lab train` holds it
        code, err = run_main(["train", "--resume", str(run), "-q"], capsys)
        assert code == 2
        assert err == f"error: {run}: the run folder is in use by process {os.getpid()} (another lab command " \
                      "writing to it); wait for it to end or stop it, then run this again\n"
        code, err = run_main(["train", "ppo", "CartPole-v1", "--steps", "1024", "--run-dir", str(tmp_path / "new"),
                              "--no-track", "-q"], capsys)
        assert code == 0, err  # another folder: not blocked
    assert sorted(p.name for p in run.iterdir()) == [".lock", "config.yaml"]  # the refused resume wrote nothing


def test_a_reader_never_blocks_and_eval_does_not_write_into_a_busy_run(tmp_path, capsys):
    from lab.training import resolve_config, train

    train(resolve_config(algo="ppo", env="CartPole-v1", flags={"steps": 1024, "track": False}),
          run_dir=tmp_path / "r", display=False)
    before = (tmp_path / "r" / "eval.json").read_bytes()
    with locks.hold(tmp_path / "r", "run folder"):
        code, err = run_main(["plot", str(tmp_path / "r"), "-o", str(tmp_path / "c.png")], capsys)
        assert code == 0 and (tmp_path / "c.png").exists()
        code, err = run_main(["eval", str(tmp_path / "r"), "--episodes", "2"], capsys)
        assert code == 0
        assert err.startswith(f"warning: eval.json not written: {tmp_path / 'r'}: the run folder is in use by process")
    assert (tmp_path / "r" / "eval.json").read_bytes() == before


def test_two_resumes_of_one_run_at_once_one_runs_and_each_step_is_counted_once(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("algo: ppo\nenv: CartPole-v1\nsteps: 20480\ntrack: false\neval_episodes: 2\n")
    procs = [lab("train", "--resume", "r", "-q", cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    (winner,) = [p for p, r in zip(procs, results) if r[0] == 0]
    (loser,) = [r for r in results if r[0] == 2]
    assert loser[2].count("\n") == 1 and "Traceback" not in loser[2]
    assert loser[2] == (f"error: r: the run folder is in use by process {winner.pid} (another lab command writing "
                        "to it); wait for it to end or stop it, then run this again\n")
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("RunStarted") == 1 and kinds.count("RunFinished") == 1
    steps = [e["step"] for e in events if e["event"] == "EpisodeEnded"]
    assert steps == sorted(steps) and steps[-1] <= 20480  # one writer: a single, increasing count
    assert events[-1]["step"] == 20480


def test_two_fresh_runs_on_one_run_dir_at_once_only_one_gets_it(tmp_path):
    procs = [lab("train", "ppo", "CartPole-v1", "--steps", "1024", "--run-dir", "r", "--no-track", "-q", cwd=tmp_path)
             for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert sorted(r[0] for r in results) == [0, 2], results
    err = next(r[2] for r in results if r[0] == 2)
    assert err.count("\n") == 1 and ("in use by process" in err or "already exists and holds a run" in err), err  # never "holds files"
    kinds = [json.loads(line)["event"] for line in (tmp_path / "r" / "events.jsonl").read_text().splitlines()]
    assert kinds.count("RunStarted") == 1 and kinds.count("RunFinished") == 1


def _sleeping_sweep(tmp_path: Path) -> Path:
    """A one-trial program sweep whose program waits while ``hold`` exists, then reports a loss."""
    (tmp_path / "prog.py").write_text(
        "import json, os, sys, time\n"
        "while os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'hold')):\n"
        "    time.sleep(0.1)\n"
        "print(json.dumps({'loss': 1.0}), flush=True)\n"
    )
    (tmp_path / "hold").write_text("")
    spec = {"name": "s", "program": "prog.py", "method": "random", "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_two_sweeps_on_one_out_and_ctrl_c_stops_queuing_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    spec = _sleeping_sweep(tmp_path)
    out = tmp_path / "out"
    first = lab("sweep", str(spec), "--out", str(out), "--trials", "2", "--workers", "1", "-q", cwd=tmp_path)
    try:
        wait_for(lambda: (out / "trials" / "trial-0000").exists() and locks.holder(out) == first.pid)
        monkeypatch.chdir(tmp_path)
        code, err = run_main(["sweep", str(spec), "--out", str(out), "--trials", "2", "-q"], capsys)
        assert code == 2
        assert err == (f"error: {out}: the sweep folder is in use by process {first.pid} (another lab command "
                       "writing to it); wait for it to end or stop it, then run this again\n")
        first.send_signal(signal.SIGINT)  # to the sweep's process only, not its group
        code = first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    stdout, stderr = first.communicate()
    assert code == 130, (stdout, stderr)
    assert f"Resume with: lab sweep {spec} --out {out} --trials 2 --workers 1" in stderr
    assert "Traceback" not in stderr
    assert "0/2 trials: none ended" in stdout  # the interrupted trial is not counted, and no second one was started
    assert not (out / "trials" / "trial-0001").exists()
    (tmp_path / "hold").unlink()
    code, err = run_main(["sweep", str(spec), "--out", str(out), "--trials", "2", "--workers", "1", "-q",
                          "--backend", "inline"], capsys)
    assert code == 0, err
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and all(",complete," in r for r in rows[1:]), rows


def test_a_sweep_in_which_no_trial_succeeds_exits_non_zero(tmp_path, capsys, monkeypatch):
    (tmp_path / "fail.py").write_text("import sys\nsys.exit(3)\n")
    spec = {"name": "f", "program": "fail.py", "method": "random", "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}}
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(tmp_path)
    code, err = run_main(["sweep", "f.yaml", "--trials", "2", "--retries", "0", "--backend", "inline", "-q"], capsys)
    assert code == 1
    assert err.strip().splitlines()[-1] == "error: no trial succeeded; each trial's error is in sweeps/f/results.csv"
