"""The contract every registered world-model generator meets (taken from the registry), and known answers of the
dynamics ensemble and of the evaluation's two references."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch

from generators.transitions import Transitions
from generators.world_eval import evaluate_world_model, linear_reference, no_change_reference
from lab.agent import Budget, TrainContext
from lab.config import field_docs
from lab.events import EventBus, MetricsLogged, SafePoint
from lab.generator import Generator
from lab.registry import GENERATORS
from lab.world import WorldModel

WORLDS = [n for n in GENERATORS.names() if getattr(GENERATORS.load(n), "world_model", None)]


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


_DATA: dict[str, Transitions] = {}


@pytest.fixture(params=WORLDS)
def world_cls(request):
    return GENERATORS.load(request.param)


@pytest.fixture
def tiny_data(world_cls):
    """The class's own tiny data set (CartPole for vector models, a small maze for grid ones), loaded once."""
    key = world_cls.tiny_dataset
    if key not in _DATA:
        _DATA[key] = world_cls.load_data(key, world_cls.tiny_config())
    return _DATA[key]


def _make(cls, data, seed=0):
    return cls(cls.tiny_config(), data, seed=seed, device="cpu")


def _learn(gen, steps):
    bus, seen = EventBus(), []
    for t in (MetricsLogged, SafePoint):
        bus.subscribe(t, seen.append)
    gen.learn(TrainContext(bus=bus, run_dir="."), steps)
    return seen


def _flat(state, prefix=""):
    out = {}
    for k, v in (state.items() if isinstance(state, dict) else enumerate(state)):
        if isinstance(v, (dict, list, tuple)):
            out.update(_flat(v, f"{prefix}/{k}"))
        else:
            out[f"{prefix}/{k}"] = v
    return out


def test_config_is_documented_and_the_class_meets_both_protocols(world_cls, tiny_data):
    docs = field_docs(world_cls.Config)
    assert all(docs.get(f.name) for f in dataclasses.fields(world_cls.Config())), "every Config field needs a docstring"
    g = _make(world_cls, tiny_data)
    assert isinstance(g, Generator) and isinstance(g, WorldModel)
    assert g.step == 0 and g.budget(7) == Budget(7.0, "steps")
    assert f"rollouts:{g.env_id}" == world_cls.tiny_dataset and g.max_episode_steps > 0


def test_learn_publishes_metrics_and_safe_points(world_cls, tiny_data):
    seen = _learn(_make(world_cls, tiny_data), 4)
    assert [e.step for e in seen if isinstance(e, MetricsLogged)] == [2, 4]
    assert [e.step for e in seen if isinstance(e, SafePoint)] == [1, 2, 3, 4]
    last = [e for e in seen if isinstance(e, MetricsLogged)][-1].metrics
    assert all(np.isfinite(last[k]) for k in world_cls.progress_metrics)


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(world_cls, tiny_data):
    whole = _make(world_cls, tiny_data)
    _learn(whole, 6)
    first = _make(world_cls, tiny_data)
    _learn(first, 3)
    second = _make(world_cls, tiny_data, seed=0)
    torch.manual_seed(123)  # the global RNG must not matter
    second.load_state_dict(_roundtrip(first.state_dict(full=True)))
    _learn(second, 6)
    a, b = _flat(whole.state_dict(full=True)), _flat(second.state_dict(full=True))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k], k


def test_dream_steps_are_seeded_batched_and_the_weights_round_trip(world_cls, tiny_data):
    a, b = _make(world_cls, tiny_data, 0), _make(world_cls, tiny_data, 1)
    b.load_state_dict(_roundtrip(a.state_dict(full=False)))
    obs = np.resize(a.start_observations(), (5, *a.observation_space.shape))
    acts = np.array([0, 1, 0, 1, 1])
    x = a.dream_step(obs, acts, np.random.default_rng(2))
    y = b.dream_step(obs, acts, np.random.default_rng(2))
    assert x["obs"].shape == (5, *a.observation_space.shape) and a.observation_space.contains(x["obs"][0])
    assert x["reward"].shape == x["terminated"].shape == x["disagreement"].shape == (5,)
    for k in x:
        assert np.array_equal(x[k], y[k]), k
    assert x["terminated"].dtype == bool and (x["disagreement"] >= 0).all()


def test_evaluation_has_every_score_beside_both_references(world_cls, tiny_data):
    out = _make(world_cls, tiny_data).evaluate(5, seed=0)
    assert out["kind"] == "world_model" and out["n"] == min(5, len(tiny_data.held_out_episodes))
    for key in ("one_step", "open_loop_5", "open_loop_20", "open_loop_50", "reward_accuracy", "termination_accuracy"):
        assert key in out and f"{key}_no_change" in out and f"{key}_linear" in out


def _linear_data(n_ep=6, length=60):
    """x' = 0.9 x + 0.1 a (a in {0, 1}), reward = x[0], terminates on the last step of each episode."""
    rng = np.random.default_rng(0)
    rows = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "terminated", "episode")}
    for e in range(n_ep):
        x = rng.normal(size=2).astype(np.float32)
        for t in range(length):
            a = int(rng.integers(2))
            nxt = (0.9 * x + 0.1 * a).astype(np.float32)
            for k, v in zip(rows, (x, a, x[0], nxt, t == length - 1, e), strict=True):
                rows[k].append(v)
            x = nxt
    arr = {k: np.asarray(v) for k, v in rows.items()}
    return Transitions(name="t", env_id="Linear-v0", obs=arr["obs"].astype(np.float32), actions=arr["actions"],
                       rewards=arr["rewards"].astype(np.float32), next_obs=arr["next_obs"].astype(np.float32),
                       terminated=arr["terminated"], episode=arr["episode"], held_out_episodes=np.array([0, 3]),
                       real_steps=len(arr["obs"]))


def test_references_known_answers_on_a_linear_system():
    from gymnasium import spaces

    data = _linear_data()
    space = spaces.Discrete(2)
    ho = data.split(held_out=True)
    std = data.split(held_out=False)["obs"].std(0)
    out = evaluate_world_model(data, linear_reference(data, space), space, 10)
    assert out["one_step"] < 1e-10 and out["open_loop_50"] < 1e-8  # the linear reference is exact here
    assert out["reward_accuracy"] == 1.0
    # "no change": the one-step error is the mean squared change, in training standard deviations
    expected = float((((ho["next_obs"] - ho["obs"]) / std) ** 2).mean())
    assert out["one_step_no_change"] == pytest.approx(expected, rel=1e-5)
    assert out["termination_recall_no_change"] == 0.0
    assert out["termination_accuracy_no_change"] == pytest.approx(1 - 1 / 60)
    nxt, rew, p = no_change_reference(data)(ho["obs"][:3], ho["actions"][:3])
    assert np.array_equal(nxt, ho["obs"][:3]) and (p == 0).all()
    assert out["windows"] == {"5": 40, "20": 40, "50": 22}
