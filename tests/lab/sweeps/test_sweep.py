"""Sweep files (W&B format): validation messages, sampling, and sweeps run inline on tiny trials."""

from __future__ import annotations

import csv
import math
import textwrap

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from lab.cli import app
from lab.errors import ConfigError, LabError
from lab.sweeps import SweepOptions, check_sweep, run_sweep
from lab.sweeps.spec import Param, load_spec, parse_spec

PROGRAM = '''
import argparse, json, os, sys
ap = argparse.ArgumentParser()
ap.add_argument("--x", type=float)
ap.add_argument("--iters", type=int, default=1)
ap.add_argument("--name", default="score")
a = ap.parse_args()
assert os.path.exists(os.environ["WANDB_SWEEP_PARAM_PATH"])
for k in range(1, a.iters + 1):
    print(json.dumps({a.name: a.x * k}), flush=True)
'''


def _spec(**over):
    base = {"method": "random", "metric": {"name": "score", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_spec(method="gird"), "method: 'gird' is not a W&B sweep method; did you mean 'grid'?"),
        (_spec(parameters={"lr": {"distribution": "log_uniformm", "min": 1e-4, "max": 1e-2}}),
         "parameters.lr.distribution: 'log_uniformm' is not a W&B distribution; did you mean 'log_uniform'?"),
        (_spec(parameters={"lr": {"min": 0.1, "max": 0.01}}), "parameters.lr: min (0.1) is greater than max (0.01)"),
        (_spec(method="grid", parameters={"lr": {"min": 0.001, "max": 0.1}}),
         "parameters.lr: a grid cannot cover the continuous range [0.001, 0.1] (uniform); list values instead"),
        (_spec(parameters={"lr": {"values": [1, 2], "probabilities": [0.5, 0.6]}}),
         "parameters.lr.probabilities: expected non-negative numbers summing to 1, got [0.5, 0.6]"),
        (_spec(parameters={"lr": {"valeus": [1, 2]}}), "parameters.lr.valeus is not a W&B parameter key; did you mean 'values'?"),
        (_spec(metric={"name": "score", "goal": "maximise"}), "metric.goal: 'maximise' is not a goal; did you mean 'maximize'?"),
        (_spec(early_terminate={"type": "hyperband"}), "early_terminate: hyperband needs min_iter, or max_iter with s"),
        (_spec(paramters={}), "paramters: not a W&B sweep key; did you mean 'parameters'?"),
        (_spec(parameters={"n": {"distribution": "q_uniform", "min": 0, "max": 8, "q": 0}}),
         "parameters.n.q: expected a positive number, got 0"),
        (_spec(parameters={"f": {"distribution": "beta", "a": 0}}), "parameters.f.a: expected a positive number, got 0"),
        (_spec(parameters={"lr": {"distribution": "log_uniform", "min": 0, "max": 800}}),
         "parameters.lr: log_uniform takes natural-log bounds; exp(800) overflows"),
    ],
)
def test_bad_sweep_files_name_the_key(data, message):
    with pytest.raises(ConfigError) as e:
        parse_spec(data)
    assert str(e.value) == message


def test_parameter_that_is_not_a_config_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_spec(metric={"name": "eval/mean_return", "goal": "maximize"}, parameters={
        "algo": {"value": "ppo"}, "env": {"value": "CartPole-v1"}, "learning_rat": {"values": [0.001]}})))
    with pytest.raises(ConfigError) as e:
        check_sweep(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "learning_rat:" in text)
    assert str(e.value) == f"{path}:{line}: parameters.learning_rat: not a config key of ppo; did you mean 'learning_rate'?"


def test_sweep_file_errors_name_the_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "method: random\n"
        "metric:\n  name: eval/mean_return\n  goal: maximise\n"
        "parameters:\n  algo: {value: ppo}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    assert str(e.value) == f"{path}:4: metric.goal: 'maximise' is not a goal; did you mean 'maximize'?"
    path.write_text(
        "method: random\nmetric: {name: eval/mean_return}\nparameters:\n"
        "  agent.learning_rate:\n    distribution: log_uniform_values\n    min: 0.1\n    max: 0.01\n"
    )
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    assert str(e.value) == f"{path}:4: parameters.agent.learning_rate: min (0.1) is greater than max (0.01)"
    path.write_text("metric: {name: x}\nparameters: {a: {value: 1}}\n")
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    assert str(e.value) == f"{path}: method: missing; use grid, random or bayes"


def test_sampling_known_answers():
    trial = optuna.trial.FixedTrial({"lr": 0.01, "n": 3, "c": "b", "z#u": 0.5, "p#u": 0.65, "e": math.exp(1)})
    assert Param("lr", "log_uniform_values", low=1e-4, high=1e-1).sample(trial) == 0.01
    assert Param("n", "int_uniform", low=1, high=5).sample(trial) == 3
    assert Param("c", "categorical", ("a", "b")).sample(trial) == "b"
    assert Param("z", "normal", mu=2.0, sigma=3.0).sample(trial) == pytest.approx(2.0)  # median of N(2, 3)
    assert Param("p", "categorical", ("a", "b", "c"), (0.5, 0.25, 0.25)).sample(trial) == "b"  # 0.5 < 0.65 <= 0.75
    assert Param("e", "log_uniform", low=0.0, high=2.0).sample(trial) == pytest.approx(math.e)  # exponents
    assert Param("z", "q_normal", mu=11.0, sigma=3.0, q=4.0).sample(trial) == 12  # round(11 / 4) * 4
    assert Param("z", "log_normal", mu=0.0, sigma=1.0).sample(trial) == pytest.approx(1.0)
    # FixedTrial returns the value it holds whatever the range: check the ranges Optuna was asked for
    dist = optuna.distributions.FloatDistribution
    assert trial.distributions["lr"] == dist(1e-4, 1e-1, log=True)
    assert trial.distributions["e"] == dist(1.0, math.exp(2.0), log=True)


def test_check_prints_the_search_space(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        name: demo
        method: bayes
        metric: {name: eval/mean_return, goal: maximize, target: 475}
        parameters:
          algo: {value: ppo}
          env: {value: CartPole-v1}
          learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}
          n_steps: {values: [64, 128]}
        early_terminate: {type: hyperband, min_iter: 2, eta: 3}
        """))
    result = CliRunner().invoke(app, ["sweep", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "sweep 'demo': bayes search, maximize eval/mean_return (stop at 475)",
        "  algo: 'ppo' (fixed)",
        "  env: 'CartPole-v1' (fixed)",
        "  learning_rate: log_uniform_values in [0.0001, 0.01]",
        "  n_steps: one of [64, 128]",
        "early termination: hyperband, min_iter=2, eta=3",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("log_uniform_values", "log_uniformm"))
    result = CliRunner().invoke(app, ["sweep", str(bad), "--check"])
    assert result.exit_code == 2
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "log_uniformm" in text)
    assert result.output.strip() == (
        f"error: {bad}:{line}: parameters.learning_rate.distribution: 'log_uniformm' is not a W&B distribution; "
        "did you mean 'log_uniform'?"
    )


def _program_sweep(tmp_path, **over):
    (tmp_path / "prog.py").write_text(PROGRAM)
    data = {"name": "prog", "method": "grid", "program": str(tmp_path / "prog.py"),
            "metric": {"name": "score", "goal": "maximize"}, "parameters": {"x": {"values": [1, 3, 2]}}}
    data.update(over)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _rows(out):
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_grid_program_sweep_known_results(tmp_path):
    path = _program_sweep(tmp_path)
    out = tmp_path / "out"
    summary = run_sweep(path, SweepOptions(backend="inline", out=str(out), display=False))
    assert summary.states == {"complete": 3}
    rows = _rows(out)
    assert [(r["trial"], r["x"], r["score"], r["state"]) for r in rows] == [
        ("0", "1", "1.0", "complete"), ("1", "3", "3.0", "complete"), ("2", "2", "2.0", "complete")]
    assert list(rows[0]) == ["trial", "x", "score", "state", "seconds", "error"]
    assert yaml.safe_load((out / "best.yaml").read_text()) == {"x": 3}
    assert (out / "trials.png").stat().st_size > 0 and (out / "parallel.png").stat().st_size > 0
    # the same command again: nothing left to do, nothing rerun
    again = run_sweep(path, SweepOptions(backend="inline", out=str(out), display=False))
    assert (again.kept, again.rerun, len(_rows(out))) == (3, 0, 3)


def test_grid_sweep_without_a_metric_runs_every_trial_and_lists_what_each_logged(tmp_path):
    path = _program_sweep(tmp_path, metric=None)
    data = yaml.safe_load(path.read_text())
    del data["metric"]
    path.write_text(yaml.safe_dump(data))
    assert "no metric (every trial runs; results.csv lists what each logged; no best.yaml)" in check_sweep(path).describe()
    out = tmp_path / "out"
    summary = run_sweep(path, SweepOptions(backend="inline", out=str(out), display=False))
    assert summary.states == {"complete": 3} and summary.best is None and summary.metric_less
    rows = _rows(out)
    assert [(r["trial"], r["x"], r["score"], r["state"]) for r in rows] == [
        ("0", "1", "1.0", "complete"), ("1", "3", "3.0", "complete"), ("2", "2", "2.0", "complete")]
    assert list(rows[0]) == ["trial", "x", "score", "state", "seconds", "error"]
    assert not (out / "best.yaml").exists()
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "; no metric: results.csv lists what each trial logged, no best.yaml" in result.output


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"method": "bayes"}, "metric.name: missing; bayes search needs the metric to optimize, e.g. eval/mean_return"),
        ({"early_terminate": {"type": "hyperband", "min_iter": 2}},
         "metric.name: missing; early_terminate needs the metric to prune on, e.g. eval/mean_return"),
        ({"metric": {"goal": "maximize"}}, "metric.name: missing; name the metric to optimize, e.g. eval/mean_return"),
    ],
)
def test_only_bayes_and_early_termination_need_a_metric(over, message):
    data = _spec(**over)
    if "metric" not in over:
        del data["metric"]
    with pytest.raises(ConfigError) as e:
        parse_spec(data)
    assert str(e.value) == message
    assert parse_spec({"method": "random", "parameters": {"x": {"values": [1]}}}).metric is None


def test_metric_never_reported_is_an_error_per_trial(tmp_path):
    path = _program_sweep(tmp_path, metric={"name": "scor", "goal": "maximize"})
    out = tmp_path / "out"
    with pytest.raises(LabError) as e:
        run_sweep(path, SweepOptions(backend="inline", out=str(out), display=False))
    assert str(e.value).startswith(
        "metric 'scor' was never reported by any trial: metric.name: 'scor' was never reported by this trial; "
        "did you mean 'score'? It reported: score"
    )
    rows = _rows(out)
    assert [r["state"] for r in rows] == ["failed"] * 3
    assert rows[0]["error"].startswith("LabError: metric.name: 'scor' was never reported by this trial")


def test_hyperband_prunes_poor_trials(tmp_path):
    path = _program_sweep(
        tmp_path, parameters={"x": {"values": [8, 7, 6, 1, 2, 3, 0.5, 0.2, 0.1]}, "iters": {"value": 9}},
        early_terminate={"type": "hyperband", "min_iter": 1, "eta": 2},
    )
    out = tmp_path / "out"
    summary = run_sweep(path, SweepOptions(backend="inline", out=str(out), display=False))
    rows = _rows(out)
    assert len(rows) == 9 and summary.states.get("pruned", 0) >= 1
    pruned = [float(r["x"]) for r in rows if r["state"] == "pruned"]
    assert max(pruned) < 8  # the best trial runs to the end
    assert next(r for r in rows if r["x"] == "8")["state"] == "complete"


def test_interrupted_trial_is_rerun_and_total_kept(tmp_path):
    path = _program_sweep(tmp_path, method="random", parameters={"x": {"min": 0.0, "max": 1.0}})
    out = tmp_path / "out"
    run_sweep(path, SweepOptions(trials=2, backend="inline", out=str(out), display=False))
    # a sweep killed with a trial in flight leaves it RUNNING in the study
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    study = optuna.load_study(study_name="prog", storage=JournalStorage(JournalFileBackend(str(out / "study.journal"))))
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    trial.set_user_attr("slot", 2)
    trial.set_user_attr("params", {"x": trial.params["x"]})
    x_in_flight = trial.params["x"]
    summary = run_sweep(path, SweepOptions(trials=4, backend="inline", out=str(out), display=False))
    assert (summary.kept, summary.rerun) == (2, 1)
    rows = _rows(out)
    assert [r["trial"] for r in rows] == ["0", "1", "2", "3"]
    assert float(rows[2]["x"]) == x_in_flight  # rerun with the same parameters
    assert all(r["state"] == "complete" for r in rows)


def test_train_sweep_inline_writes_best_yaml_for_lab_train(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        name: tiny
        project: lab-tests
        method: random
        metric: {name: eval/mean_return, goal: maximize}
        parameters:
          algo: {value: ppo}
          env: {value: CartPole-v1}
          steps: {value: 128}
          eval_episodes: {value: 1}
          n_envs: {value: 1}
          batch_size: {value: 32}
          learning_rate: {distribution: log_uniform_values, min: 0.0001, max: 0.01}
          n_steps: {values: [32, 64]}
        """))
    out = tmp_path / "out"
    summary = run_sweep(path, SweepOptions(trials=1, backend="inline", out=str(out), display=False))
    assert summary.states == {"complete": 1}
    from lab.training import resolve_config

    cfg = resolve_config(config_file=str(out / "best.yaml"))
    row = _rows(out)[0]
    assert (cfg.algo, cfg.env, cfg.steps, cfg.agent.n_steps) == ("ppo", "CartPole-v1", 128, int(row["n_steps"]))
    assert cfg.agent.learning_rate == pytest.approx(float(row["learning_rate"]))
    assert (cfg.wandb.group, cfg.wandb.project) == ("tiny", "lab-tests")
    assert len(list((out / "trials" / "trial-0000" / "wandb").glob("offline-run-*/run-*.wandb"))) == 1


def test_ray_actors_and_a_program_sweep_on_one_local_ray_instance(tmp_path):
    ray = pytest.importorskip("ray")
    from lab.scheduler import Job, RayBackend, Scheduler

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with Scheduler(RayBackend(2, actors=True), retries=1) as sched:  # close() frees the actors' CPUs
            sched.submit(Job("env", "os:getenv", {"key": "LAB_RAY_TEST"}, env={"LAB_RAY_TEST": "sent"}))
            sched.submit(Job("power", "builtins:pow", {"base": 3, "exp": 2}))
            assert {o.name: o.result for o in sched.drain()} == {"env": "sent", "power": 9}
        path = _program_sweep(tmp_path)
        out = tmp_path / "out"
        summary = run_sweep(path, SweepOptions(backend="ray", workers=2, out=str(out), display=False))
        assert summary.states == {"complete": 3}
        assert sorted(r["score"] for r in _rows(out)) == ["1.0", "2.0", "3.0"]
    finally:
        ray.shutdown()


def test_wandb_engine_offline_says_why_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    path = _program_sweep(tmp_path)
    with pytest.raises(LabError) as e:
        run_sweep(path, SweepOptions(engine="wandb", out=str(tmp_path / "out"), display=False))
    assert str(e.value) == (
        "--engine wandb needs a W&B API key and the network (W&B's sweep controller runs on its server; "
        "no key is configured or WANDB_MODE is offline); the default --engine optuna runs the same file offline"
    )


def test_out_folder_of_another_sweep_is_refused(tmp_path):
    path = _program_sweep(tmp_path)
    out = tmp_path / "out"
    run_sweep(path, SweepOptions(trials=1, backend="inline", out=str(out), display=False))
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text().replace("maximize", "minimize"))
    with pytest.raises(LabError) as e:
        run_sweep(other, SweepOptions(trials=1, backend="inline", out=str(out), display=False))
    assert str(e.value) == (
        f"--out {out} holds a different sweep ({out / 'sweep.yaml'}); use another --out or remove the folder"
    )


def test_program_metric_read_from_its_offline_wandb_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    (tmp_path / "logs_to_wandb.py").write_text(textwrap.dedent("""\
        import wandb
        run = wandb.init(settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))
        for k in (1, 2, 3):
            run.log({"score": run.config["x"] * k})  # x from WANDB_SWEEP_PARAM_PATH, as under a W&B agent
        run.finish()
        """))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "wb", "method": "grid", "program": str(tmp_path / "logs_to_wandb.py"),
                                    "metric": {"name": "score", "goal": "maximize"},
                                    "parameters": {"x": {"values": [2]}}}))
    out = tmp_path / "out"
    run_sweep(path, SweepOptions(backend="inline", out=str(out), display=False))
    assert [(r["x"], r["score"], r["state"]) for r in _rows(out)] == [("2", "6.0", "complete")]


def test_grid_ignores_probabilities_and_covers_every_value():
    spec = parse_spec(_spec(method="grid", parameters={"x": {"values": [1, 2, 3], "probabilities": [0.2, 0.3, 0.5]}}))
    assert spec.grid_size() == 3 and spec.params[0].probabilities == ()


def test_bad_sweep_options_are_one_line(tmp_path):
    path = tmp_path / "s.yaml"
    (tmp_path / "p.py").write_text("")
    path.write_text(yaml.safe_dump(_spec(program="p.py")))
    (tmp_path / "file").write_text("")
    with pytest.raises(LabError, match=r"^--trials: expected a positive number, got 0$"):
        run_sweep(path, SweepOptions(trials=0))
    with pytest.raises(LabError, match=r"^--workers: expected a positive number, got 0$"):
        run_sweep(path, SweepOptions(trials=1, workers=0))
    with pytest.raises(LabError, match=r"file: is a file, not a folder$"):
        run_sweep(path, SweepOptions(trials=1, out=str(tmp_path / "file")))
    with pytest.raises(LabError, match=r"cannot create the sweep folder"):
        run_sweep(path, SweepOptions(trials=1, out=str(tmp_path / "file" / "sub")))


def test_a_trial_that_made_no_update_is_not_ranked(tmp_path, monkeypatch):
    """Were an untrained trial to get past the budget check, it fails instead of scoring the initial policy."""
    import lab.training.run

    monkeypatch.setattr(lab.training.run, "check_budget", lambda cfg: None)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "u", "method": "grid", "metric": {"name": "eval/mean_return", "goal": "maximize"},
        "parameters": {"algo": {"value": "ppo"}, "env": {"value": "CartPole-v1"}, "steps": {"value": 512},
                       "track": {"value": False}, "eval_episodes": {"value": 2}},
    }))
    monkeypatch.setattr("lab.sweeps.check._check_budgets", lambda *a: None)
    summary = run_sweep(path, SweepOptions(out=str(tmp_path / "out"), backend="inline", retries=0, display=False))
    assert summary.states == {"failed": 1} and summary.best is None
    with open(tmp_path / "out" / "results.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert "made no update in 512 steps" in row["error"] and not (tmp_path / "out" / "best.yaml").exists()
