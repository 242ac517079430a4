"""Mazes from the command line: a short PPO run logs its level draws, lab eval on held-out levels, bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lab.cli import app

runner = CliRunner()


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("error: ")


def test_ppo_on_mazes_logs_level_draws_and_evaluates_on_held_out_levels(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = tmp_path / "run"
    result = runner.invoke(
        app,
        ["train", "ppo", "maze-7:procedural", "--steps", "256", "--n-envs", "2", "--no-track", "-q",
         "--run-dir", str(run), "--set", "n_steps=64", "--set", "batch_size=64", "--set", "net_arch=[16]",
         "--set", "env.max_steps=20", "--eval-episodes", "4"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    draws = [e for e in events if e["event"] == "LevelDrawn"]
    episodes = [e for e in events if e["event"] == "EpisodeEnded"]
    assert len(draws) >= len(episodes) >= 2 * (128 // 20)  # 2 envs, 128 steps each, 20-step episodes
    assert {d["source"] for d in draws} == {"procedural"} and {d["outcome"] for d in draws} == {"ok"}
    assert all(d["step"] > 0 for d in draws)
    result = runner.invoke(
        app, ["eval", str(run), "--env", "maze-7:procedural", "--levels", "held-out", "--episodes", "6"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "success rate" in result.output and "mean length" in result.output
    ev = json.loads((run / "eval.json").read_text())
    assert ev["env"] == "maze-7:procedural" and ev["env_options"] == {"max_steps": 20, "levels": "held-out"}
    assert ev["episodes"] == 6 and 0.0 <= ev["success_rate"] <= 1.0
    assert ev["success_rate"] == sum(r > 0 for r in ev["returns"]) / 6
    assert 1 <= ev["mean_length"] <= 20
    msg = one_error_line(runner.invoke(app, ["eval", str(run), "--env", "maze-9:procedural"]))
    assert msg.startswith("--env maze-9:procedural: its observation space Box(0.0, 1.0, (3, 9, 9), float32) differs")


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "ppo", "maze-12:procedural"], "environment 'maze-12:procedural': maze size: expected an odd number >= 5, got 12"),
        (["train", "ppo", "maze-13:procedral"], "environment 'maze-13:procedral': unknown level source 'procedral'; did you mean 'procedural'? (choices: procedural, file:PATH, generator:RUN_DIR)"),
        (["train", "ppo", "maze-13:procedural", "--set", "env.veiw=5"], "env.veiw: not an option of maze environments; did you mean 'env.view'?"),
        (["train", "ppo", "maze-13:file:/nonexistent/levels.txt", "--steps", "10"], "environment 'maze-13:file:/nonexistent/levels.txt': level file /nonexistent/levels.txt: cannot read it (No such file or directory)"),
    ],
)
def test_bad_maze_input_is_one_line_and_exit_2(args, message):
    assert one_error_line(runner.invoke(app, args)) == message


def test_level_file_with_an_unknown_character_names_line_and_column(tmp_path):
    path = tmp_path / "levels.txt"
    path.write_text("#####\n#...#\n#.#.#\n#..x#\n#####\n")
    msg = one_error_line(runner.invoke(app, ["train", "ppo", f"maze-5:file:{path}", "--steps", "10"]))
    assert msg == f"environment 'maze-5:file:{path}': {path}:4:4: unknown character 'x' (levels use '#' for wall and '.' for open)"


def test_sampled_evaluation_is_seeded_and_leaves_the_training_generator_alone(tmp_path):
    import torch

    from agents.sb3 import PPO
    from lab.envs import resolve_env

    cfg = PPO.Config(n_envs=2, n_steps=64, batch_size=64, net_arch=[16], eval_deterministic=False)
    agent = PPO(cfg, resolve_env("maze-7:procedural", {"max_steps": 100}), seed=0, device="cpu")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = agent.evaluate_episodes(16, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    assert agent.evaluate_episodes(16, seed=5) == a
    greedy = PPO(PPO.Config(n_envs=2, n_steps=64, batch_size=64, net_arch=[16]), agent.env, seed=0, device="cpu")
    greedy.model.policy.load_state_dict(agent.model.policy.state_dict())
    assert greedy.evaluate_episodes(16, seed=5) != a, "sampled and greedy evaluations differ"
