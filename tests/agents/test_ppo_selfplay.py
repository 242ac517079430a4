"""PPO self-play on board games: the env's contract, the league on known answers, determinism, a short run
through `lab train`, the `ppo:RUN_DIR` player and the bad-input lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv
from typer.testing import CliRunner

from agents.sb3.agent import PPO
from agents.sb3.config import PPOConfig
from agents.sb3.selfplay.agent import LeagueUpdated, SelfPlayPPO
from agents.sb3.selfplay.config import LeagueConfig
from agents.sb3.selfplay.env import SelfPlayEnv, SelfPlayVecEnv
from agents.sb3.selfplay.league import League
from agents.sb3.selfplay.player import PPOPlayer, fixed_opponent
from envs.games.connect_four import ConnectFour
from envs.games.tictactoe import TicTacToe
from lab.agent import TrainContext
from lab.cli import app
from lab.envs import EnvInfo, resolve_env
from lab.errors import ConfigError, LabError
from lab.events import EventBus
from lab.players import PlayerSpecError, make_player, play_games
from lab.training.run import check_fits

runner = CliRunner()


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --- the env ---------------------------------------------------------------------------------------


class Scripted:
    """An opponent playing the lowest legal move (deterministic)."""

    def act(self, game, rng=None):
        return game.legal_actions()[0]

    def act_many(self, games, rng=None):
        return [self.act(g) for g in games]


def scripted_league(**cfg) -> League:
    league = League(LeagueConfig(players=["random"], **cfg), lambda member, weights: Scripted())
    return league


def test_masks_are_exactly_the_legal_moves_and_the_opponent_moves_inside_step():
    rng = np.random.default_rng(0)
    for game_cls in (TicTacToe, ConnectFour):
        env = SelfPlayEnv(game_cls, scripted_league())
        for episode in range(6):
            obs, _ = env.reset(seed=0 if episode == 0 else None)  # seeded once: colours alternate from there
            assert env.learner_first == (episode % 2 == 0)
            assert len(env.game.history) == (0 if env.learner_first else 1)  # the opponent opened inside reset
            done = False
            while not done:
                mask = env.action_masks()
                assert mask.dtype == bool and mask.tolist() == [a in env.game.legal_actions() for a in range(game_cls.num_actions)]
                np.testing.assert_array_equal(obs, env.game.observation().ravel())  # seen from the learner, to move
                before = len(env.game.history)
                obs, reward, done, truncated, info = env.step(int(rng.choice(np.flatnonzero(mask))))
                assert not truncated
                assert len(env.game.history) == before + 2 or done  # the opponent's reply came inside step
                if not done:
                    assert reward == 0.0 and info == {}
            assert info["selfplay"]["score"] == (reward + 1) / 2
            assert info["episode"]["r"] == reward


def test_rewards_are_the_learners():
    env = SelfPlayEnv(TicTacToe, scripted_league())
    env.reset(seed=0)  # the learner moves first (X); the opponent answers 1, 2, ... (its lowest legal move)
    assert env.step(3)[1:3] == (0.0, False)  # X 3 (row 2), O 0
    assert env.step(4)[1:3] == (0.0, False)  # X 4, O 1
    _, reward, done, _, info = env.step(5)  # X 5: the middle row
    assert (reward, done, info["selfplay"]["score"], info["selfplay"]["learner_first"]) == (1.0, True, 1.0, True)
    env.reset()  # the next game: the learner is O; X (the opponent) opened at 0
    assert env.game.history == [0]
    env.step(8)  # O 8, X 1
    _, reward, done, _, info = env.step(7)  # O 7, X 2: the top row
    assert (reward, done, info["selfplay"]["score"], info["selfplay"]["learner_first"]) == (-1.0, True, 0.0, False)


def test_passes_gymnasium_and_sb3_env_checks():
    for game_cls in (TicTacToe, ConnectFour):
        gym_check_env(SelfPlayEnv(game_cls, scripted_league()), skip_render_check=True)
        sb3_check_env(SelfPlayEnv(game_cls, scripted_league()))


def test_batched_opponents_play_the_same_games_as_opponents_inside_step():
    def make():
        league = scripted_league()
        return [lambda: SelfPlayEnv(ConnectFour, league) for _ in range(3)]

    plain, batched = DummyVecEnv(make()), SelfPlayVecEnv(make())
    for v in (plain, batched):
        v.seed(7)
    obs = [plain.reset(), batched.reset()]
    np.testing.assert_array_equal(*obs)
    rng = np.random.default_rng(0)
    for _ in range(60):
        masks = np.stack(plain.env_method("action_masks"))
        np.testing.assert_array_equal(masks, np.stack(batched.env_method("action_masks")))
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        a, b = plain.step(actions), batched.step(actions)
        for x, y in zip(a[:3], b[:3]):
            np.testing.assert_array_equal(x, y)
        assert [i.get("selfplay") for i in a[3]] == [i.get("selfplay") for i in b[3]]


# --- the league -------------------------------------------------------------------------------------


def test_admission_by_score_over_the_window_and_every_k_steps():
    league = scripted_league(window=4, admit_score=0.75)
    league.admit(0, {"w": torch.zeros(1)})
    assert league.learner_id == "gen1" and [m.id for m in league.members] == ["random", "gen0"]
    for s in (1.0, 1.0, 0.0):
        league.record("gen0", s, True)
    assert not league.admission_due(100)  # 3 games < window
    league.record("gen0", 0.5, True)
    assert not league.admission_due(100)  # 2.5 / 4 = 0.625 < 0.75
    league.record("gen0", 1.0, False)  # the window is the last 4: 1, 0, 0.5, 1 -> 0.625
    league.record("gen0", 1.0, False)  # 0, 0.5, 1, 1 -> 0.625
    league.record("gen0", 1.0, False)  # 0.5, 1, 1, 1 -> 0.875
    assert league.admission_due(100)
    league.admit(100, {"w": torch.ones(1)})
    assert league.learner_id == "gen2" and not league.admission_due(100)  # the window starts again
    every = scripted_league(admit_every=1000)
    every.admit(0, {"w": torch.zeros(1)})
    assert not every.admission_due(999) and every.admission_due(1000)


def test_pool_size_drops_the_oldest_snapshot_and_keeps_fixed_players():
    league = scripted_league(pool_size=2)
    for step in range(4):
        league.admit(step, {"w": torch.full((1,), float(step))})
    assert [m.id for m in league.members] == ["random", "gen2", "gen3"]
    assert sorted(league.weights) == ["gen2", "gen3"] and float(league.weights["gen3"]["w"]) == 3.0


def test_pfsp_weights_opponents_by_how_often_they_beat_the_learner():
    league = scripted_league(sampling="pfsp", pfsp_power=2.0)
    league.admit(0, {"w": torch.zeros(1)})
    league.admit(1, {"w": torch.zeros(1)})  # members: random, gen0, gen1
    for _ in range(3):
        league.record("random", 1.0, True)  # always beaten: x = 1
    league.record("gen0", 0.0, True)  # beats the learner: x = 0
    # gen1 unplayed: x = 0.5. Weights (1 - x)^2 + 1e-3: 0.001, 1.001, 0.251
    expected = np.array([0.001, 1.001, 0.251]) / 1.253
    np.testing.assert_allclose(league.probabilities(), expected)
    draws = [league.draw(np.random.default_rng(i)) for i in range(400)]
    assert draws.count("gen0") > draws.count("gen1") > draws.count("random")
    uniform = scripted_league(sampling="uniform")
    uniform.admit(0, {"w": torch.zeros(1)})
    np.testing.assert_allclose(uniform.probabilities(), [0.5, 0.5])


def test_results_are_recorded_from_both_colours_and_rated():
    league = scripted_league()
    league.admit(0, {"w": torch.zeros(1)})
    league.record("random", 1.0, True)  # gen1 (first) beat random
    league.record("random", 1.0, False)  # random (first) lost to gen1
    league.record("gen0", 0.5, False)  # gen0 (first) drew
    records = sorted(league.game_records(), key=lambda r: (r["first"], r["second"]))
    assert records == [
        {"first": "gen0", "second": "gen1", "result": 0.5},
        {"first": "gen1", "second": "random", "result": 1.0},
        {"first": "random", "second": "gen1", "result": 0.0},
    ]
    ratings = league.ratings().by_name()
    assert ratings["random"].rating == 0.0 and ratings["gen1"].rating > 0.0


def test_league_state_survives_weights_only_loading():
    league = scripted_league(window=3)
    league.admit(5, {"w": torch.arange(3.0)})
    league.record("gen0", 1.0, True)
    league.record("random", 0.0, False)
    buf = io.BytesIO()
    torch.save(league.state_dict(), buf)
    buf.seek(0)
    again = scripted_league(window=3)
    again.load_state_dict(torch.load(buf, weights_only=True))
    assert again.summary() == league.summary()
    assert again.game_records() == league.game_records() and again.last_admit_step == 5
    torch.testing.assert_close(again.weights["gen0"]["w"], torch.arange(3.0))


# --- the agent ---------------------------------------------------------------------------------------


TINY = dict(n_envs=4, n_steps=32, batch_size=64, n_epochs=2, net_arch=[16, 16])


def _agent(seed=0, **league) -> SelfPlayPPO:
    cfg = PPOConfig(**TINY, league=LeagueConfig(players=["random"], **league))
    return PPO(cfg, resolve_env("tictactoe"), seed=seed, device="cpu")


def _learn(agent, steps):
    bus = EventBus()
    seen = []
    bus.subscribe(LeagueUpdated, seen.append)
    agent.learn(TrainContext(bus=bus, run_dir=Path(".")), steps)
    return seen


def test_ppo_on_a_game_is_maskable_ppo_by_self_play():
    agent = _agent()
    assert isinstance(agent, SelfPlayPPO) and type(agent.model).__name__ == "MaskablePPO"
    assert isinstance(agent.venv, SelfPlayVecEnv) and agent.venv.num_envs == 4
    assert [m.id for m in agent.league.members] == ["random", "gen0"]


def test_same_seed_same_training_and_league(tmp_path):
    def trained(seed):  # one at a time: SB3 seeds torch's global generator, which the learner samples from
        agent = _agent(seed=seed, admit_every=128)
        _learn(agent, 256)
        return agent

    a, b, c = trained(3), trained(3), trained(4)
    pa, pb, pc = (x.model.policy.state_dict() for x in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)
    assert a.league.game_records() == b.league.game_records() and a.league.generation == b.league.generation > 1


def test_snapshots_join_and_ratings_are_published():
    agent = _agent(admit_every=128)
    events = _learn(agent, 384)
    assert [e.admitted for e in events] == ["gen1", "gen2", "gen3"][: len(events)] and len(events) >= 2
    last = events[-1]
    assert {p["name"] for p in last.ratings["players"]} >= {"random", "gen0"}
    assert last.ratings["anchor"] == {"name": "random", "rating": 0.0}
    assert [m["id"] for m in last.pool["members"]][:2] == ["random", "gen0"]


def test_checkpoint_roundtrip_restores_the_league():
    agent = _agent(admit_every=128)
    _learn(agent, 256)
    buf = io.BytesIO()
    torch.save(agent.state_dict(), buf)
    buf.seek(0)
    again = _agent(admit_every=128)
    again.load_state_dict(torch.load(buf, weights_only=True))
    assert again.league.summary() == agent.league.summary() and again.step == agent.step
    with pytest.raises(ConfigError, match="trained on tictactoe, not connect_four"):
        PPO(PPOConfig(**TINY), resolve_env("connect_four"), seed=0, device="cpu").load_state_dict(agent.state_dict())


def test_a_game_without_action_masks_is_refused():
    class NoMasks:
        kind, name = "game", "nomasks"

    info = EnvInfo(id="nomasks", kind="game", factory=NoMasks)
    with pytest.raises(LabError, match=r"^ppo cannot train on nomasks: PPO self-play needs action masks and "
                                      r"observations from the game, and NoMasks has no legal_mask, batch_legal"):
        check_fits("ppo", PPO, info)


# --- through the CLI: a short run, its player, the bad-input lines ----------------------------------


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("error: ")


@pytest.fixture(scope="module")
def ttt_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ppo") / "ttt"
    result = runner.invoke(app, [
        "train", "ppo", "tictactoe", "--steps", "512", "--seed", "0", "--run-dir", str(run), "--no-track", "--quiet",
        "--set", "n_envs=4", "--set", "n_steps=64", "--set", "batch_size=64", "--set", "n_epochs=1",
        "--set", "net_arch=[16,16]", "--set", "league.admit_every=256", "--set", "eval_episodes=4",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return run


def test_lab_train_ppo_tictactoe_writes_a_run_with_league_events(ttt_run):
    events = [json.loads(line) for line in (ttt_run / "events.jsonl").read_text().splitlines()]
    kinds = {e["event"] for e in events}
    assert {"RunStarted", "LeagueUpdated", "EvalCompleted", "RunFinished"} <= kinds
    metrics = {k for e in events if e["event"] == "MetricsLogged" for k in e["metrics"]}
    assert {"selfplay/games_per_s", "league/score", "league/pool", "league/rating/gen0"} <= metrics
    evaluation = json.loads((ttt_run / "eval.json").read_text())
    assert evaluation["episodes"] == 4 and all(r in (0.0, 0.5, 1.0) for r in evaluation["returns"])


def test_ppo_run_is_a_player(ttt_run):
    player = make_player(f"ppo:{ttt_run}", TicTacToe)
    assert isinstance(player, PPOPlayer)
    game = TicTacToe.from_moves("5")
    policy, value = player.analyze(game)
    assert policy[4] == 0.0 and abs(policy.sum() - 1.0) < 1e-6 and -1.0 <= value <= 1.0
    assert player.act(game) == int(policy.argmax())  # greedy
    scores = play_games(TicTacToe, [player, make_player("random", TicTacToe, seed=1)], 6)
    assert len(scores) == 6
    result = runner.invoke(app, ["analyze", "tictactoe", "5", "--agent", f"ppo:{ttt_run}"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # AlphaZero can be evaluated against it
    from agents.alphazero import AlphaZero, AlphaZeroConfig

    AlphaZero(AlphaZeroConfig(iterations=1, eval_opponents=[f"ppo:{ttt_run}"]), resolve_env("tictactoe"), seed=0, device="cpu")


def test_ppo_player_in_a_tournament(ttt_run, tmp_path):
    out = tmp_path / "t"
    result = runner.invoke(app, [
        "tournament", "tictactoe", "--player", f"ppo=ppo:{ttt_run}", "--player", "r=random",
        "--games-per-pair", "4", "--backend", "inline", "--out", str(out),
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ratings = json.loads((out / "ratings.json").read_text())
    assert {p["name"] for p in ratings["players"]} == {"ppo", "r"}


def test_ppo_spec_errors_are_one_line(ttt_run, tmp_path):
    msg = one_error_line(runner.invoke(app, ["analyze", "connect_four", "4", "--agent", f"ppo:{ttt_run}"]))
    assert msg == f"player spec 'ppo:{ttt_run}': {ttt_run / 'model.pt'} was trained on tictactoe, not connect_four"
    cartpole = tmp_path / "cp"
    result = runner.invoke(app, ["train", "ppo", "CartPole-v1", "--steps", "130", "--set", "n_steps=64", "--set", "batch_size=64",
                                 "--set", "n_envs=1", "--run-dir", str(cartpole), "--no-track", "--quiet"])
    assert result.exit_code == 0, result.output
    with pytest.raises(PlayerSpecError, match="is a PPO run on CartPole-v1, not a board-game run of `lab train ppo GAME`"):
        make_player(f"ppo:{cartpole}", TicTacToe)
    msg = one_error_line(runner.invoke(app, ["analyze", "tictactoe", "5", "--agent", f"ppo:{tmp_path / 'none'}"]))
    assert msg.endswith("none is not a folder")
    with pytest.raises(PlayerSpecError, match="unknown option 'sims'"):
        make_player(f"ppo:{ttt_run}:sims=3", TicTacToe)


def test_lab_config_shows_the_league():
    result = runner.invoke(app, ["config", "ppo", "tictactoe"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for line in ("  league:", "    players: [random, minimax]", "    sampling: pfsp", "    pool_size: 10", "    eval_opponent: minimax"):
        assert line in result.output
    bad = runner.invoke(app, ["config", "ppo", "tictactoe", "--set", "league.sampling=best"])
    assert bad.exit_code == 2 and "league.sampling" in bad.stderr


def test_resume_continues_with_the_pool(ttt_run, tmp_path):
    import shutil

    from lab.runs import RunDir, load_state

    run = tmp_path / "resumed"
    shutil.copytree(ttt_run, run)
    checkpoints = RunDir(run).checkpoints()
    assert len(checkpoints) >= 2
    for later in checkpoints[1:]:  # as if killed after the first checkpoint
        later.path.unlink()
    (run / "model.pt").unlink()
    events = (run / "events.jsonl").read_text().splitlines()
    (run / "events.jsonl").write_text("\n".join(e for e in events if '"RunFinished"' not in e) + "\n")
    before = load_state(checkpoints[0].path)["agent"]["league"]
    result = runner.invoke(app, ["train", "--resume", str(run), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    after = load_state(RunDir(run).latest_checkpoint().path)["agent"]["league"]
    assert after["games"] > before["games"] and after["generation"] >= before["generation"]
    assert after["members"][: len(before["members"])][:2] == before["members"][:2]  # random, gen0 kept
