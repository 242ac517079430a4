"""The plugin registry: lazy targets, duplicate names, unknown names with suggestions."""

from __future__ import annotations

import pytest

from lab.errors import LabError, UnknownNameError, closest, unknown_name
from lab.registry import AGENTS, Registry, load_target


def test_register_is_lazy_and_loads_module_attr():
    reg = Registry("widget", None)
    reg.register("od", "collections:OrderedDict", description="ordered dict")
    reg.register("never", "no_such_module_anywhere:Thing")  # not imported until used
    assert reg.names() == ["never", "od"]
    from collections import OrderedDict

    assert reg.load("od") is OrderedDict
    assert reg.describe("od") == "ordered dict"
    assert reg.describe("never").startswith("(unavailable: cannot import")


def test_duplicate_name_is_an_error():
    reg = Registry("widget", None)
    reg.register("a", "collections:OrderedDict")
    with pytest.raises(LabError, match="widget 'a' is registered twice: 'collections:OrderedDict' .* and 'collections:deque'"):
        reg.register("a", "collections:deque")


def test_target_must_be_module_attr():
    reg = Registry("widget", None)
    with pytest.raises(LabError, match="target 'collections.deque' is not a 'module:attr' string"):
        reg.register("d", "collections.deque")


def test_unknown_name_lists_choices_and_suggests_closest():
    reg = Registry("agent", None)
    for name in ("ppo", "dqn", "sac"):
        reg.register(name, "collections:deque")
    with pytest.raises(UnknownNameError) as e:
        reg.get("ppp")
    assert str(e.value) == "unknown agent 'ppp'; did you mean 'ppo'? Available: dqn, ppo, sac"
    assert str(unknown_name("agent", "zzz", ["a"])) == "unknown agent 'zzz' Available: a"
    assert closest("cartpole-v1", ["CartPole-v1", "Acrobot-v1"]) == ["CartPole-v1"]


def test_load_target_errors_are_readable():
    with pytest.raises(LabError, match="module 'collections' has no attribute 'Nope'"):
        load_target("collections:Nope")


def test_entry_points_register_the_sb3_agents():
    assert {"a2c", "dqn", "ppo", "sac", "td3"} <= set(AGENTS.names())
    assert AGENTS.get("ppo").target == "agents.sb3:PPO"
    assert AGENTS.describe("dqn").startswith("Deep Q-Network")
