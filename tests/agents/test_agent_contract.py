"""One contract every registered agent meets, taken from the registry (a new plugin is tested for free)."""

from __future__ import annotations

import dataclasses
import inspect
import io
import os
import threading

import numpy as np
import pytest
import torch

from lab.agent import OPTIONAL_CAPABILITIES, Budget, TrainContext
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


def _members(protocol: type) -> list[str]:
    """The names a capability protocol declares (its methods and annotated attributes)."""
    names = [n for n, v in vars(protocol).items() if not n.startswith("_") and callable(getattr(protocol, n, None))]
    return sorted({*names, *getattr(protocol, "__annotations__", {})})


def _accepts(impl, declared) -> list[str]:
    """Problems of ``impl``'s signature against the protocol's ``declared`` one."""
    have, want = inspect.signature(impl).parameters, inspect.signature(declared).parameters
    problems = [f"no parameter {n!r}" for n in want if n not in have]
    problems += [f"{n!r} is {have[n].kind.description}, not {p.kind.description}" for n, p in want.items()
                 if n in have and have[n].kind != p.kind]
    problems += [f"extra parameter {n!r} without a default" for n, p in have.items()
                 if n not in want and p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return problems


def test_optional_capabilities_are_declared_whole_and_typed_as_the_contract_says(agent_cls):
    for protocol in OPTIONAL_CAPABILITIES:
        names = _members(protocol)
        present = [n for n in names if hasattr(agent_cls, n)]
        if not present:
            continue
        assert present == names, f"{agent_cls.__name__} has {present} of {protocol.__name__} but not all of {names}"
        assert isinstance(agent_cls, protocol)
        for name in names:
            declared = getattr(protocol, name, None)  # None: an attribute (annotated, no value)
            if callable(declared):
                problems = _accepts(getattr(agent_cls, name), declared)
                assert not problems, f"{agent_cls.__name__}.{name} vs {protocol.__name__}: {'; '.join(problems)}"


def test_default_threads_is_a_positive_count(agent_cls):
    threads = getattr(agent_cls, "default_threads", 1)
    assert isinstance(threads, int) and threads >= 1


def test_from_zoo_returns_a_config_layer_and_the_keys_it_ignored(agent_cls):
    if not hasattr(agent_cls, "from_zoo"):
        pytest.skip(f"{agent_cls.__name__} does not read zoo files")
    layer, ignored = agent_cls.from_zoo({"n_timesteps": 1000, "not_a_zoo_key": 1}, where="zoo.yml:1")
    assert isinstance(layer, dict) and list(ignored) == ["not_a_zoo_key"]
    assert set(layer) - {"agent"} <= set(RUN_KEYS) and isinstance(layer.get("agent", {}), dict)


def test_render_episode_gives_rgb_frames_and_the_return(agent_cls, monkeypatch):
    if not hasattr(agent_cls, "render_episode"):
        pytest.skip(f"{agent_cls.__name__} does not render episodes")
    monkeypatch.setitem(os.environ, "SDL_VIDEODRIVER", "dummy")
    agent = agent_cls(_config(agent_cls), _env_for(agent_cls), seed=0, device="cpu")
    frames, ret = agent.render_episode(seed=0, max_frames=50)
    assert isinstance(ret, float) and 1 <= len(frames) <= 50
    assert all(isinstance(f, np.ndarray) and f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)


def _smallest_budget_with_an_update(agent_cls, cfg) -> int:
    lo, hi = 1, 10**7  # check_budget(cfg, hi) is None; find the smallest such budget
    assert agent_cls.check_budget(cfg, hi) is None
    while lo < hi:
        mid = (lo + hi) // 2
        if agent_cls.check_budget(cfg, mid) is None:
            hi = mid
        else:
            lo = mid + 1
    return lo


def test_check_budget_is_exact_about_the_first_update(agent_cls, tmp_path):
    """The budget check and the update counter agree: one step less than the smallest accepted budget trains nothing."""
    if not hasattr(agent_cls, "check_budget") or not hasattr(agent_cls, "updates"):
        pytest.skip(f"{agent_cls.__name__} does not check budgets or count updates")
    env = _env_for(agent_cls)
    default = _config(agent_cls)
    names = {f.name for f in dataclasses.fields(default)}
    tuned = dataclasses.replace(default, **{k: v for k, v in agent_cls.tuned(env.id).items() if k in names})
    # the config whose first update comes soonest: the test stays fast
    first, cfg = min(((_smallest_budget_with_an_update(agent_cls, c), i, c) for i, c in enumerate((default, tuned))),
                     key=lambda t: t[:2])[0::2]
    reason = agent_cls.check_budget(cfg, first - 1)
    assert isinstance(reason, str) and reason and "\n" not in reason
    for steps, trains in ((first - 1, False), (first, True)):
        agent = agent_cls(cfg, env, seed=0, device="cpu")
        assert agent.updates == 0
        agent.learn(TrainContext(bus=EventBus(), run_dir=tmp_path, device="cpu"), steps)
        assert (agent.updates > 0) is trains, (steps, agent.updates)
        restored = agent_cls(cfg, env, seed=1, device="cpu")
        restored.load_state_dict(_roundtrip(agent.state_dict(full=True)))
        assert restored.updates == agent.updates  # checkpointed with the agent
