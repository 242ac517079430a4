"""One contract every registered agent meets, taken from the registry (a new plugin is tested for free)."""

from __future__ import annotations

import dataclasses
import io
import threading

import pytest
import torch

from lab.agent import Budget, TrainContext
from lab.config import field_docs
from lab.envs import resolve_env
from lab.events import EventBus
from lab.registry import AGENTS
from lab.training import RUN_KEYS

CANDIDATE_ENVS = ("CartPole-v1", "Pendulum-v1", "tictactoe", "connect_four")


def _env_for(agent_cls):
    for env_id in CANDIDATE_ENVS:
        info = resolve_env(env_id)
        if agent_cls.supports(info) is None:
            return info
    pytest.fail(f"{agent_cls.__name__} supports none of {CANDIDATE_ENVS}")


def _config(agent_cls):
    """Default config; agents that need an explicit budget (self-play: iterations or minutes) get the smallest."""
    cfg = agent_cls.Config()
    names = {f.name for f in dataclasses.fields(cfg)}
    if "iterations" in names and getattr(cfg, "iterations", None) is None and getattr(cfg, "minutes", None) is None:
        cfg = dataclasses.replace(cfg, iterations=1)
    return cfg


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)  # what the lab does with every checkpoint


@pytest.fixture(params=AGENTS.names())
def agent_cls(request):
    return AGENTS.load(request.param)


def test_config_is_a_documented_dataclass(agent_cls):
    assert dataclasses.is_dataclass(agent_cls.Config)
    cfg = agent_cls.Config()  # every field has a default
    docs = field_docs(agent_cls.Config)
    assert all(docs.get(f.name) for f in dataclasses.fields(cfg)), "every Config field needs a docstring"


def test_supports_explains_refusals_in_one_line(agent_cls):
    env = _env_for(agent_cls)
    assert agent_cls.supports(env) is None
    for env_id in CANDIDATE_ENVS:
        reason = agent_cls.supports(resolve_env(env_id))
        assert reason is None or (isinstance(reason, str) and reason and "\n" not in reason)


def test_tuned_values_are_config_or_run_keys(agent_cls):
    env = _env_for(agent_cls)
    keys = {f.name for f in dataclasses.fields(agent_cls.Config)} | set(RUN_KEYS)
    assert set(agent_cls.tuned(env.id)) <= keys


def test_state_dict_round_trips_under_weights_only(agent_cls):
    env = _env_for(agent_cls)
    a = agent_cls(_config(agent_cls), env, seed=0, device="cpu")
    b = agent_cls(_config(agent_cls), env, seed=1, device="cpu")  # different initial weights
    assert a.step == 0
    assert isinstance(a.budget(None), Budget) and a.budget(None).total > 0
    for full in (True, False):
        b.load_state_dict(_roundtrip(a.state_dict(full=full)))
        ra, rb = a.evaluate(2, seed=123), b.evaluate(2, seed=123)
        assert len(ra) == 2 and all(isinstance(r, float) for r in ra)
        assert ra == rb, f"full={full}: a loaded state must act like the original"
    assert a.evaluate(2, seed=123) == a.evaluate(2, seed=123), "evaluation must be deterministic"


def test_learn_returns_promptly_when_asked_to_stop(agent_cls, tmp_path):
    env = _env_for(agent_cls)
    agent = agent_cls(_config(agent_cls), env, seed=0, device="cpu")
    ctx = TrainContext(bus=EventBus(), run_dir=tmp_path, device="cpu", stop_event=threading.Event())
    ctx.stop_event.set()
    t = threading.Thread(target=agent.learn, args=(ctx, None), daemon=True)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "learn() must honour ctx.should_stop()"
