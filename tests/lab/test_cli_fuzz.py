"""Property: no combination of options and values makes a ``lab`` command print a traceback.

Commands and their options are read from the CLI itself (a new command is fuzzed for free); values are
drawn from each option's type and its edge values (0, negative, huge, non-finite, empty, very long,
non-UTF-8). A seeded generator keeps every failure reproducible: the failing command line is printed.
The work behind a valid command line (training, sweeps, long evaluations, searches) is replaced by
stubs, so only parsing and validation run.
"""

from __future__ import annotations

import collections
import io
import os
import random
import subprocess
import sys
import time
from pathlib import Path
import typing
from typing import Any

import numpy as np
import pytest
import typer

from lab.cli import app, main

SEED = int(os.environ.get("LAB_FUZZ_SEED", "20261202"))
"""Another seed explores other command lines: LAB_FUZZ_SEED=7 pytest tests/lab/test_cli_fuzz.py"""
ITERATIONS = 400
BUDGET_S = 35.0
"""The loop stops after this many seconds even if ITERATIONS are not done (CI machines vary)."""

INTS = ["0", "-1", "1", "2", "3", "7", str(2**31), str(2**63), str(10**30), "-" + str(10**25), "nan", "", "1e3", "x"]
FLOATS = ["0", "-1", "0.5", "1", "nan", "inf", "-inf", "1e308", "1e309", "-0", "", "x"]
NON_UTF8 = os.fsdecode(b"\xff\xfe\x80run")  # how Python hands a non-UTF-8 argument to the program
STRINGS = [
    "", "x" * 5000, NON_UTF8, "run", "afile", "ok.yaml", "../..", "/proc/lab", "/", ".", "-", "runs/new",
    "ppo", "dqn", "sac", "alphazero", "CartPole-v1", "Pendulum-v1", "tictactoe", "connect_four", "CartPol-v1",
    "random", "minimax", "mcts:abc", "mcts:0", "mcts:-1", "mcts:5", "alphazero:run", "alphazero:afile:sims=x",
    "cpu", "cuda", "tpu", "auto", "a=b", "learning_rate=nan", "steps=0", "steps=1e30", "agent.n_envs=-1",
    "n_steps=[1,2", "1" * 5000, "4453", "-", "agents", "envs",
]
BOGUS = ["--bogus", "--steps", "-n", "--", "--help", NON_UTF8]
PLAUSIBLE = {
    # half of the values come from here, by parameter name, so that command lines also get past validation
    "algo": ["ppo", "dqn", "a2c", "sac", "alphazero"], "env": ["CartPole-v1", "Pendulum-v1", "tictactoe"],
    "game": ["tictactoe", "connect_four"], "run_dir": ["run"], "run_dirs": ["run"], "resume": ["run"],
    "sweep_file": ["ok.yaml"], "opponent": ["random", "minimax", "mcts:5", "alphazero:run"],
    "agent": ["random", "mcts:5", "minimax"], "device": ["cpu", "auto"], "kind": ["agents", "envs", "players"],
    "steps": ["1024", "4096"], "seed": ["0", "1"], "episodes": ["1", "2"], "moves": ["4453", "-", "1", "5"],
    "n_envs": ["1", "2"], "trials": ["1", "2"], "workers": ["1", "2"], "backend": ["inline", "local"],
    "iterations": ["1"], "minutes": ["0.01"], "sets": ["seed=3", "agent.gamma=0.9"],
}


def _values(param: Any, rng: random.Random) -> list[str]:
    if param.name in PLAUSIBLE and rng.random() < 0.5:
        return PLAUSIBLE[param.name]
    kind = _kind(param)
    if kind is int:
        return INTS
    if kind is float:
        return FLOATS
    return STRINGS


def _kind(param: Any) -> Any:
    """The Python type of a parameter's value (``int`` for ``Optional[int]``, ``str`` for ``list[str]``)."""
    descriptor = getattr(param, "type_descriptor", None)  # typer >= 0.20
    if descriptor is not None:
        annotation = descriptor.annotation
        while typing.get_args(annotation):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        return annotation
    name = getattr(getattr(param, "type", None), "name", "")  # click's types
    return {"integer": int, "float": float}.get(name, str)


def random_argv(rng: random.Random, commands: dict[str, Any]) -> list[str]:
    name = rng.choice(sorted(commands))
    cmd = commands[name]
    argv = [name]
    options = [p for p in cmd.params if p.param_type_name == "option" and p.name != "help"]
    for p in rng.sample(options, k=min(len(options), rng.randint(0, 4))):
        flag = rng.choice(p.opts + p.secondary_opts)
        if p.is_flag:
            argv.append(flag)
        else:
            argv += [flag, rng.choice(_values(p, rng))]
    for p in (p for p in cmd.params if p.param_type_name == "argument"):
        count = 1 if p.nargs == 1 else rng.randint(0, 3)
        if rng.random() < 0.9:
            argv += [rng.choice(_values(p, rng)) for _ in range(count)]
    if rng.random() < 0.1:
        argv.insert(rng.randint(1, len(argv)), rng.choice(BOGUS))
    return argv


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    import yaml

    from lab.training import resolve_config, train

    root = tmp_path_factory.mktemp("fuzz")
    train(resolve_config(algo="ppo", env="CartPole-v1", flags={"steps": 1024, "track": False}),
          run_dir=root / "run", display=False)
    (root / "afile").write_text("x\n")
    (root / "ok.yaml").write_text(yaml.safe_dump({
        "method": "random", "metric": {"name": "eval/mean_return", "goal": "maximize"},
        "parameters": {"algo": {"value": "ppo"}, "env": {"value": "CartPole-v1"}, "steps": {"value": 2048},
                       "n_steps": {"values": [16, 32]}},
    }))
    return root


@pytest.fixture
def stubbed_work(monkeypatch):
    """Everything a valid command line would go on to do for long is replaced by something instant."""
    import lab.players
    import lab.sweeps.loop
    import lab.training.evaluate
    import lab.training.run
    from lab.evaluation import eval_event
    from lab.sweeps.options import SweepSummary
    from lab.training.run import TrainResult

    def execute(cfg, run, agent, *, device, start=0, **_kw):
        return TrainResult(run.path, "finished", start, 0.0, {"mean_return": 1.0, "std_return": 0.0, "episodes": 1},
                           updates=1)

    def run_optuna(spec, sweep_file, folder, total, opts):
        return SweepSummary(out=folder.path, total=total, states={"complete": total})

    real_make_player = lab.players.make_player

    class Quick:
        def __init__(self, player):
            self.player, self.name = player, player.name

        def analyze(self, board):
            legal = board.legal_actions()
            return np.full(board.num_actions, 1.0 / max(1, len(legal))), 0.0

        def act(self, board):
            return board.legal_actions()[0]

    monkeypatch.setattr(lab.training.run, "execute", execute)
    monkeypatch.setattr(lab.sweeps.loop, "run_optuna", run_optuna)
    monkeypatch.setattr(lab.training.evaluate, "evaluate_agent",
                        lambda agent, episodes, seed, step: eval_event(step, [0.0] * min(episodes, 3)))
    monkeypatch.setattr(lab.players, "make_player", lambda *a, **k: Quick(real_make_player(*a, **k)))
    from agents.sb3.agent import SB3Agent

    monkeypatch.setattr(SB3Agent, "render_episode",
                        lambda self, *, seed, max_frames=2000: ([np.zeros((4, 4, 3), np.uint8)] * 2, 0.0))
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n2\nq\n"))  # lab play: two moves, then quit
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("LAB_DEBUG", raising=False)


def test_no_argument_combination_prints_a_traceback(workspace, stubbed_work, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    commands = typer.main.get_command(app).commands
    rng = random.Random(SEED)
    start, done = time.monotonic(), 0
    outcomes: collections.Counter = collections.Counter()
    for i in range(ITERATIONS):
        if time.monotonic() - start > BUDGET_S:
            break
        argv = random_argv(rng, commands)
        shown = " ".join(repr(a[:40]) for a in argv)
        capsys.readouterr()
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code
        except BaseException as e:  # noqa: BLE001 - the property under test
            pytest.fail(f"iteration {i}: lab {shown} raised {type(e).__name__}: {e}")
        err = capsys.readouterr().err
        assert "Traceback" not in err and "error: unexpected" not in err, f"iteration {i}: lab {shown}\n{err[-3000:]}"
        assert code in (0, 1, 2, 130), f"iteration {i}: lab {shown} exited {code!r}\n{err[-2000:]}"
        outcomes[(argv[0], code)] += 1
        done += 1
    print("outcomes (command, exit code):", sorted(outcomes.items()))
    assert done >= 50, f"only {done} command lines in {BUDGET_S} s"
    assert sum(n for (_c, code), n in outcomes.items() if code == 0) >= 10, "too few command lines got past validation"


def test_non_utf8_arguments_through_the_real_console_streams(tmp_path):
    """Real stdout/stderr (strict UTF-8 on stdout): echoing a non-UTF-8 argument back must not crash."""
    script = (
        "import os, sys\n"
        "from lab.cli import main\n"
        "bad = os.fsdecode(b'\\xff\\xfe')\n"
        "for argv in (['train', bad, 'CartPole-v1'], ['eval', bad], ['list', bad], ['config', 'ppo', bad],\n"
        "             ['plot', bad], ['train', '--' + bad], [bad], ['analyze', 'tictactoe', bad, '--agent', 'random'],\n"
        "             ['sweep', bad, '--check']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        print('exit', e.code, file=sys.stderr, flush=True)\n"
    )
    env = dict(os.environ, WANDB_MODE="offline", PYTHONIOENCODING="utf-8")
    env.pop("LAB_DEBUG", None)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, timeout=180)
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "unexpected" not in err, err
    assert err.count("exit ") == 9 and all(line.split()[1] in ("1", "2") for line in err.splitlines() if line.startswith("exit ")), err
